"""The errors of the collider readers: each names the file, the key or branch, and what was expected."""

from __future__ import annotations

from pathlib import Path

__all__ = ["ColliderDataError"]


class ColliderDataError(ValueError):
    """A collider data file that cannot be read as asked: missing key or branch, wrong shape, NaN..."""

    def __init__(self, path: str | Path, problem: str) -> None:
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{path}: {problem}")
