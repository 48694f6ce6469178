"""The error of a data file that cannot be read as asked, the base of each reader's own error."""

from __future__ import annotations

from pathlib import Path

__all__ = ["FileProblemError"]


class FileProblemError(ValueError):
    """A file that cannot be read as asked: the message names the file, then the problem (the key, column or
    row, the value found and what was expected)."""

    def __init__(self, path: str | Path, problem: str) -> None:
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{path}: {problem}")

    def __reduce__(self) -> tuple[type, tuple[str, str], dict]:
        # rebuilt from both arguments (and any notes): a worker process (simulation, benchmark runs) sends its
        # errors pickled
        return type(self), (self.path, self.problem), self.__dict__
