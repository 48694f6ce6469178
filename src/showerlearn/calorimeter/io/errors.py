"""The error of calorimeter files a user can fix: always names the file and the key."""

from __future__ import annotations

from showerlearn.io.errors import FileProblemError

__all__ = ["CalorimeterFileError"]


class CalorimeterFileError(FileProblemError):
    """A hit file (HDF5 or ROOT) that cannot be read: missing key, wrong shape, NaN, truncated..."""
