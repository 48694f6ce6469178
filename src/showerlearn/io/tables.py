"""Column tables (predictions, features) in HDF5, written atomically, read back with their units."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
from astropy.table import Table

from showerlearn.io.atomic import atomic_path

PREDICTIONS_KEY = "predictions"


def write_columns(path: str | Path, columns: Mapping[str, np.ndarray], key: str = PREDICTIONS_KEY) -> Path:
    """Write equal-length 1-D columns as an HDF5 table (astropy format, readable by pandas/h5py)."""
    lengths = {name: len(values) for name, values in columns.items()}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"columns of {path} differ in length: {lengths}")
    table = Table({name: np.asarray(values) for name, values in columns.items()})
    with atomic_path(path) as tmp:
        table.write(tmp, path=key, format="hdf5", serialize_meta=True, compression=True)
    return Path(path)


def read_columns(path: str | Path, key: str = PREDICTIONS_KEY) -> dict[str, np.ndarray]:
    """Read a table written by :func:`write_columns` back into a dict of numpy arrays."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no predictions file {path}")
    try:
        table = Table.read(path, path=key, format="hdf5")
    except (OSError, KeyError, ValueError) as error:
        raise ValueError(f"{path}: cannot read table {key!r} ({error})") from None
    return {name: np.asarray(table[name]) for name in table.colnames}
