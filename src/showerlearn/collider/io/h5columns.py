"""Jagged columns in HDF5 (h5py), read back as awkward arrays: the layout of the generated event files.

An awkward record array with scalar fields and list-of-records fields (one list per event) is stored as

* ``/events/<field>``: one value per event (the scalar fields);
* ``/<collection>/counts``: entries per event of a list field, and ``/<collection>/<field>``: the
  entries of all events one after the other (the fields of its records).

This is the counts-and-values form of ROOT's jagged branches and of awkward's own list layout, so a
collection is read back with ``ak.unflatten(values, counts)`` by any tool that has h5py. Datasets are
chunked, gzip-compressed and appended to batch by batch, so a file grows without holding all of it in
memory.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import awkward as ak
import h5py
import numpy as np

from showerlearn.collider.io.errors import ColliderDataError

__all__ = ["EVENTS", "ColumnWriter", "read_columns", "read_h5_column"]

#: group of the per-event scalar fields
EVENTS = "events"
_COUNTS = "counts"
_COMPRESSION = {"compression": "gzip", "compression_opts": 4, "shuffle": True}


class ColumnWriter:
    """Appends record arrays to an open HDF5 file in the layout of this module.

    Floating-point fields are stored as float32 except those named in ``double_fields``.
    """

    def __init__(self, h5: h5py.File, double_fields: Iterable[str] = ()) -> None:
        self.h5 = h5
        self.double_fields = frozenset(double_fields)

    def append(self, records: ak.Array) -> None:
        for field in records.fields:
            column = records[field]
            if column.ndim == 1:
                self._extend(f"{EVENTS}/{field}", ak.to_numpy(column))
            else:
                self._extend(f"{field}/{_COUNTS}", ak.to_numpy(ak.num(column)).astype(np.int32))
                for inner in column.fields:
                    self._extend(f"{field}/{inner}", ak.to_numpy(ak.flatten(column[inner])))

    def _extend(self, name: str, values: np.ndarray) -> None:
        if values.dtype.kind == "f" and name.rsplit("/", 1)[-1] not in self.double_fields:
            values = values.astype(np.float32)
        if name not in self.h5:
            self.h5.create_dataset(
                name, data=values, maxshape=(None,), chunks=(max(1024, min(len(values), 65536)),), **_COMPRESSION
            )
            return
        dataset = self.h5[name]
        start = dataset.shape[0]
        dataset.resize((start + len(values),))
        dataset[start:] = values


def read_h5_column(h5: h5py.File, key: str, path: str | Path) -> ak.Array | np.ndarray:
    """One column by its key: ``events/<field>`` (flat numpy) or ``<collection>/<field>`` (jagged)."""
    if key not in h5 or not isinstance(h5[key], h5py.Dataset):
        raise ColliderDataError(
            path, f"no dataset {key!r}; the file has {', '.join(sorted(_dataset_keys(h5))) or 'none'}"
        )
    values = h5[key][()]
    group = key.rsplit("/", 1)[0] if "/" in key else ""
    counts_key = f"{group}/{_COUNTS}"
    if group == EVENTS or counts_key not in h5:
        return values
    counts = h5[counts_key][()]
    if counts.sum() != len(values):
        raise ColliderDataError(path, f"{key!r} has {len(values)} entries but {counts_key!r} adds up to {counts.sum()}")
    return ak.unflatten(values, counts)


def _dataset_keys(h5: h5py.File) -> list[str]:
    keys: list[str] = []
    h5.visititems(lambda name, item: keys.append(name) if isinstance(item, h5py.Dataset) else None)
    return keys


def read_columns(path: str | Path, collections: Iterable[str] | None = None) -> ak.Array:
    """All event fields and the ``collections`` (default: every one) of a file as one record array."""
    with h5py.File(path, "r") as h5:
        available = [name for name in h5 if isinstance(h5[name], h5py.Group) and name != EVENTS]
        wanted = available if collections is None else list(collections)
        missing = sorted(set(wanted) - set(available))
        if missing:
            raise ColliderDataError(
                path, f"no collection {', '.join(map(repr, missing))}; the file has {', '.join(available)}"
            )
        fields: dict[str, ak.Array | np.ndarray] = {}
        if EVENTS in h5:
            fields.update({name: h5[EVENTS][name][()] for name in h5[EVENTS]})
        for collection in wanted:
            inner = {name: h5[collection][name][()] for name in h5[collection] if name != _COUNTS}
            fields[collection] = ak.unflatten(ak.zip(inner), h5[collection][_COUNTS][()])
    return ak.zip(fields, depth_limit=1)
