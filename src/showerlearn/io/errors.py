"""The error of a data file that cannot be read as asked, the base of each reader's own error."""

from __future__ import annotations

from pathlib import Path

__all__ = ["FileProblemError", "hdf5_open_problem"]

#: the signature an HDF5 file begins with (or after a user block of 512, 1024, 2048... bytes)
HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


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


def hdf5_open_problem(path: str | Path, error: OSError) -> str:
    """Why h5py could not open ``path``, for a message after the file's name: a file with the HDF5 signature is an
    HDF5 file cut short (a copy or download that stopped) or damaged; one without it is no HDF5 file at all."""
    with open(path, "rb") as file:
        size = file.seek(0, 2)
        offsets = [0] + [512 << k for k in range(12) if 512 << k < size]
        for offset in offsets:
            file.seek(offset)
            if file.read(len(HDF5_SIGNATURE)) == HDF5_SIGNATURE:
                return f"an HDF5 file that cannot be opened: cut short or damaged? (h5py: {error})"
    return f"not an HDF5 file ({error})"
