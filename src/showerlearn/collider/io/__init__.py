"""Readers of collider data: the generated event files, NumPy ``.npz`` per class (the paper's public
layout), weaver-style columnar ROOT / parquet / HDF5 with jagged branches, and Delphes ROOT trees; each
names the file and the key or branch in its errors.

May import: showerlearn.io, showerlearn.config.base (typed settings), showerlearn.collider.particles,
showerlearn.collider.kinematics, h5py, awkward, uproot, vector, pydantic, numpy.
"""

from showerlearn.collider.io.columnar import ColumnarEvents, ColumnarSource, read_columnar
from showerlearn.collider.io.delphes import DEFAULT_EFLOW_BRANCHES, check_eflow_branches, read_delphes
from showerlearn.collider.io.errors import ColliderDataError
from showerlearn.collider.io.events import EventFile, ProcessSummary, read_events
from showerlearn.collider.io.npz import PaddedTokens, read_npz_classes

__all__ = [
    "DEFAULT_EFLOW_BRANCHES",
    "ColliderDataError",
    "ColumnarEvents",
    "ColumnarSource",
    "EventFile",
    "PaddedTokens",
    "ProcessSummary",
    "check_eflow_branches",
    "read_columnar",
    "read_delphes",
    "read_events",
    "read_npz_classes",
]
