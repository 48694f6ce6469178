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

from showerlearn.collider.io.checks import check_finite, reading
from showerlearn.collider.io.errors import ColliderDataError

__all__ = ["COUNTS", "EVENTS", "ColumnWriter", "collections_of", "read_columns", "read_h5_column", "read_open_columns"]

#: group of the per-event scalar fields
EVENTS = "events"
#: dataset of a collection with its entries per event
COUNTS = "counts"
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
                self._extend(f"{field}/{COUNTS}", ak.to_numpy(ak.num(column)).astype(np.int32))
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
    values = _values(h5, key, path)
    group = key.rsplit("/", 1)[0] if "/" in key else ""
    counts_key = f"{group}/{COUNTS}"
    if group == EVENTS or counts_key not in h5:
        return values
    return ak.unflatten(values, _counts(h5, group, path, {key: values}))


def _values(h5: h5py.File, key: str, path: str | Path) -> np.ndarray:
    """The values of the dataset ``key``: at least one axis (one value per event or per entry), decompressed with
    an error naming the file and the dataset when a block is damaged."""
    dataset = h5.get(key)
    if not isinstance(dataset, h5py.Dataset):
        found = "a group" if isinstance(dataset, h5py.Group) else "missing"
        raise ColliderDataError(path, f"{key!r} is {found}; expected a dataset of one value per event or per entry")
    if dataset.ndim == 0:
        raise ColliderDataError(path, f"dataset {key!r} is a single value; expected one value per event or per entry")
    with reading(path, f"dataset {key!r}"):
        return dataset[()]


def _counts(h5: h5py.File, group: str, path: str | Path, columns: dict[str, np.ndarray]) -> np.ndarray:
    """``<group>/counts``: one whole, non-negative number per event, adding up to the length of each of
    ``columns`` (the group's fields, by key), or an error naming the file and the dataset."""
    key = f"{group}/{COUNTS}"
    counts = _values(h5, key, path)
    if counts.ndim != 1 or counts.dtype.kind not in "iu":
        raise ColliderDataError(
            path, f"{key!r} is {counts.dtype} of shape {counts.shape}; expected one whole number per event (entries)"
        )
    if len(counts) and counts.min() < 0:
        event = int(np.argmax(counts < 0))
        raise ColliderDataError(
            path, f"{key!r} is negative ({counts[event]}) in event {event}; entries per event count up from 0"
        )
    total = int(counts.sum(dtype=np.int64))
    for name, values in columns.items():
        if len(values) != total:
            raise ColliderDataError(path, f"{name!r} has {len(values)} entries but {key!r} adds up to {total}")
    return counts


def _dataset_keys(h5: h5py.File) -> list[str]:
    keys: list[str] = []
    h5.visititems(lambda name, item: keys.append(name) if isinstance(item, h5py.Dataset) else None)
    return keys


def collections_of(h5: h5py.File) -> list[str]:
    """The collections of an open file: its groups besides ``/events``."""
    return [name for name in h5 if isinstance(h5[name], h5py.Group) and name != EVENTS]


def read_columns(path: str | Path, collections: Iterable[str] | None = None) -> ak.Array:
    """All event fields and the ``collections`` (default: every one) of a file as one record array.

    The layout is checked on the way: each collection's ``counts`` (whole, non-negative, adding up to the
    length of each of its fields), one number of events for every event field and every ``counts``, finite
    values; every problem names the file, the dataset and, for a NaN, the event."""
    with h5py.File(path, "r") as h5:
        available = collections_of(h5)
        wanted = available if collections is None else list(collections)
        missing = sorted(set(wanted) - set(available))
        if missing:
            raise ColliderDataError(
                path, f"no collection {', '.join(map(repr, missing))}; the file has {', '.join(available)}"
            )
        return read_open_columns(h5, path, wanted)


def read_open_columns(h5: h5py.File, path: str | Path, collections: Iterable[str]) -> ak.Array:
    """:func:`read_columns` of a file open already, whose caller checked that it holds the ``collections``."""
    fields: dict[str, ak.Array | np.ndarray] = {}
    lengths: dict[str, int] = {}  # events counted by each per-event dataset
    if EVENTS in h5:
        for name in h5[EVENTS]:
            key = f"{EVENTS}/{name}"
            fields[name] = _checked(path, key, _values(h5, key, path))
            lengths[key] = len(fields[name])
    for collection in collections:
        fields[collection], lengths[f"{collection}/{COUNTS}"] = _collection(h5, collection, path)
    if len(set(lengths.values())) > 1:
        raise ColliderDataError(path, f"the datasets hold different numbers of events: {lengths}")
    if not fields:
        raise ColliderDataError(path, "holds no events: no /events group and no collection")
    return ak.zip(fields, depth_limit=1)


def _collection(h5: h5py.File, collection: str, path: str | Path) -> tuple[ak.Array, int]:
    """One collection as ``[event][entry]`` records, and its number of events."""
    keys = [f"{collection}/{name}" for name in h5[collection] if name != COUNTS]
    if not keys:
        raise ColliderDataError(path, f"the collection {collection!r} has no field besides its counts")
    inner = {key: _values(h5, key, path) for key in keys}
    counts = _counts(h5, collection, path, inner)
    for key, values in inner.items():
        _checked(path, key, values, counts)
    return ak.unflatten(ak.zip({key.rsplit("/", 1)[1]: values for key, values in inner.items()}), counts), len(counts)


def _checked(path: str | Path, key: str, values: np.ndarray, counts: np.ndarray | None = None) -> np.ndarray:
    """``values`` of a generated file's field: one finite number per event or per entry (a 2-D block or text
    would fail later, in a message naming neither the file nor the dataset)."""
    if values.ndim != 1 or values.dtype.kind not in "biuf":
        raise ColliderDataError(path, f"dataset {key!r} holds {values.dtype} of shape {values.shape}; expected one "
                                      "number per event or per entry")
    check_finite(path, f"dataset {key!r}", values, counts)
    return values
