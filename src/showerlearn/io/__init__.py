"""File input/output shared by every layer: atomic writes (of files, and of whole folders: ``staging``), table
files, file digests and the error of an unreadable file.

May import: the standard library, numpy, astropy, h5py. Nothing else from showerlearn.
"""

from showerlearn.io.atomic import atomic_path, read_json_object, write_json_atomic, write_text_atomic
from showerlearn.io.digest import file_sha256
from showerlearn.io.errors import FileProblemError, hdf5_open_problem

__all__ = ["FileProblemError", "atomic_path", "hdf5_open_problem", "file_sha256", "read_json_object", "write_json_atomic", "write_text_atomic"]
