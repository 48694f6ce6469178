"""File input/output shared by every layer: atomic writes and table files.

May import: the standard library, numpy, astropy, h5py. Nothing else from showerlearn.
"""

from showerlearn.io.atomic import atomic_path, write_json_atomic, write_text_atomic

__all__ = ["atomic_path", "write_json_atomic", "write_text_atomic"]
