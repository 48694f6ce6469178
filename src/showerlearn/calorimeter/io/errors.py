"""The error of calorimeter files a user can fix: always names the file and the key."""

from __future__ import annotations

__all__ = ["CalorimeterFileError"]


class CalorimeterFileError(ValueError):
    """A hit file (HDF5 or ROOT) that cannot be read: missing key, wrong shape, NaN, truncated..."""

    def __init__(self, path: object, problem: str) -> None:
        self.path = str(path)
        super().__init__(f"{path}: {problem}")
