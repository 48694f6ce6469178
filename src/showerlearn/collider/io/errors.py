"""The errors of the collider readers: each names the file, the key or branch, and what was expected."""

from __future__ import annotations

from showerlearn.io.errors import FileProblemError

__all__ = ["ColliderDataError"]


class ColliderDataError(FileProblemError):
    """A collider data file that cannot be read as asked: missing key or branch, wrong shape, NaN..."""
