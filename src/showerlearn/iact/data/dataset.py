"""Torch dataset over many DL1 files: images read lazily, one file handle set per worker process.

The per-event scalars (targets, masks, weights, meta, and where each event lives) and each file's
metadata (pixel mapping, row index) are small and kept in memory; images are read from disk when an
event is requested. Each process (main or DataLoader worker) opens its own PyTables handles on first
use — HDF5 handles must not cross a fork — and keeps at most ``max_open_files`` of them open (least
recently used are closed; reopening is cheap since the metadata stays), so memory stays bounded
however many files there are. A batch is read at once (:meth:`IACTDataset.__getitems__`): one read per file,
cleaned and transformed together. :meth:`IACTDataset.load_into_memory` trades the memory bound for speed: it
reads and transforms every image once, into memory or into a memory-mapped file, and later epochs take them
from there.
"""

from __future__ import annotations

import logging
import os
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from lightning.pytorch.utilities.rank_zero import rank_zero_only
from torch.utils.data import Dataset, default_collate

from showerlearn.iact.data.augment import Augmenter
from showerlearn.iact.io.reader import DL1File
from showerlearn.iact.data.targets import transform_direction, turn_impact
from showerlearn.iact.data.transforms import ImageTransform
from showerlearn.io.atomic import atomic_path

__all__ = ["IACTDataset", "collate_batch"]

log = logging.getLogger(__name__)


class IACTDataset(Dataset):
    """Events ``(file_index[i], row[i])`` of ``files`` as stacked batches of the batch contract.

    A loader over it takes ``collate_fn=collate_batch``: :meth:`__getitems__` gives whole batches, which torch's
    ``default_collate`` cannot take again.

    Args:
        files: the opened DL1 files (their handles may be closed; each process reopens its own).
        file_index, row: for each event, which file and which event of that file.
        targets, masks: encoded targets and loss masks per head (arrays with one row per event).
        weights: per-event loss weights.
        meta: per-event columns carried into predictions.
        transform: charge/time normalisation and cleaning.
        augmenter: lattice symmetries drawn per event (training only), or None.
        max_open_files: file handles kept open per process.
    """

    def __init__(
        self,
        files: Sequence[DL1File],
        file_index: np.ndarray,
        row: np.ndarray,
        targets: Mapping[str, np.ndarray],
        masks: Mapping[str, np.ndarray],
        weights: np.ndarray,
        meta: Mapping[str, np.ndarray],
        transform: ImageTransform,
        augmenter: Augmenter | None = None,
        max_open_files: int = 8,
    ) -> None:
        self.files = list(files)
        self.file_index = np.asarray(file_index, dtype=np.int64)
        self.row = np.asarray(row, dtype=np.int64)
        n = len(self.row)
        for name, column in [*targets.items(), *masks.items(), *meta.items(), ("weights", weights)]:
            if len(column) != n:
                raise ValueError(f"column {name!r} has {len(column)} rows, expected {n}")
        self.targets = {k: np.asarray(v) for k, v in targets.items()}
        self.masks = {k: np.asarray(v, dtype=bool) for k, v in masks.items()}
        self.weights = np.asarray(weights, dtype=np.float32)
        self.meta = {k: np.asarray(v) for k, v in meta.items()}
        self.transform = transform
        self.augmenter = augmenter
        self.max_open_files = max_open_files
        self._open_files: OrderedDict[int, None] = OrderedDict()
        self._pid = os.getpid()
        self._inputs: np.ndarray | None = None  # (n, C, n_pixels) after load_into_memory()
        self._store: Path | None = None  # the file _inputs maps, if any

    def __len__(self) -> int:
        return len(self.row)

    def _file(self, index: int) -> DL1File:
        if self._pid != os.getpid():  # forked into a worker: DL1File reopens its handle itself
            self._open_files = OrderedDict()
            self._pid = os.getpid()
        if index in self._open_files:
            self._open_files.move_to_end(index)
        else:
            while len(self._open_files) >= self.max_open_files:
                oldest, _ = self._open_files.popitem(last=False)
                self.files[oldest].close()
            self._open_files[index] = None
        return self.files[index]

    @property
    def loaded(self) -> bool:
        """Whether the inputs were read once (:meth:`load_into_memory`), into memory or a mapped file."""
        return self._inputs is not None

    def load_into_memory(self, name: str = "dataset", *, store: Path | None = None, chunk: int = 4096) -> None:
        """Read and transform every event's image now (``4 * channels * n_pixels`` bytes an event).

        Reading whole chunks sorted by file is much faster than one row at a time, and the cleaning and
        transforms are paid once instead of every epoch. Loader worker processes inherit the array.
        ``store``: a ``.npy`` file instead of memory, written once (whole, or not at all) and mapped from disk
        (by later runs too, while it exists): for data sets larger than memory. A write that is killed leaves a
        ``.inputs_*.tmp.npy`` beside it, never a partial ``store``. Loading again is a no-op.
        """
        if self._inputs is not None:
            return
        shape = self._input_shape(len(self))
        if store is not None and store.exists():
            self._inputs, self._store = _mapped(store, shape), store
            _log(f"the {name}'s {shape[0]} pre-processed images mapped from {store}")
            return
        started = time.monotonic()
        where = "into memory" if store is None else f"into {store}"
        _log(f"reading the {name}'s {shape[0]} images {where} ({4 * np.prod(shape) / 1e9:.1f} GB)")
        if store is None:
            self._inputs = self._fill(np.empty(shape, dtype=np.float32), chunk)
        else:
            with atomic_path(store) as tmp:
                self._fill(np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float32, shape=shape), chunk).flush()
            self._inputs, self._store = _mapped(store, shape), store
        _log(f"{name} {where} after {time.monotonic() - started:.0f} s")

    def __getstate__(self) -> dict[str, Any]:
        """Pickled for a loader worker started by spawn: a mapped store travels as its path, not its contents."""
        state = dict(self.__dict__)
        if self._store is not None:
            state["_inputs"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        if self._store is not None:
            self._inputs = np.load(self._store, mmap_mode="r")

    def _input_shape(self, n: int) -> tuple[int, int, int]:
        return n, len(self.transform.channels), self.transform.camera.n_pixels

    def _fill(self, inputs: np.ndarray, chunk: int) -> np.ndarray:
        for start in range(0, len(self), chunk):
            span = np.arange(start, min(start + chunk, len(self)))
            inputs[span] = self._read_inputs(span)
        return inputs

    def _read_inputs(self, events: np.ndarray) -> np.ndarray:
        """The network inputs (n, C, n_pixels) of ``events``: one read per file, cleaned and transformed together."""
        inputs = np.empty(self._input_shape(len(events)), dtype=np.float32)
        files = self.file_index[events]
        for file in np.unique(files):
            where = np.flatnonzero(files == file)
            data = self._file(int(file)).read(self.row[events[where]])
            inputs[where] = self.transform.batch(data["image"], data["peak_time"])
        return inputs

    def __getitem__(self, i: int) -> dict[str, Any]:
        """Event ``i`` (the batch of :meth:`__getitems__` for one event, unstacked)."""
        return _first(self.__getitems__([i]))

    def __getitems__(self, indices: Sequence[int]) -> dict[str, Any]:
        """A whole batch at once, already stacked (torch's loaders call this rather than one ``__getitem__`` per
        event, and pass the result through :func:`collate_batch`): the images of each file in one read, cleaned
        and transformed together, which costs a fraction of reading them one by one."""
        events = np.asarray(indices, dtype=np.int64)
        inputs = self._inputs[events] if self._inputs is not None else self._read_inputs(events)
        targets = {name: values[events] for name, values in self.targets.items()}
        if self.augmenter is not None:
            for j, event in enumerate(events):  # one draw per event, in batch order
                op = self.augmenter.draw(float(torch.rand(())))
                if op is not None:
                    inputs[j] = inputs[j][:, op.perm]
                    turned = self._turn_targets(int(event), {name: values[j] for name, values in targets.items()}, op.matrix)
                    for name, value in turned.items():
                        targets[name][j] = value
        return {
            "inputs": torch.from_numpy(np.ascontiguousarray(inputs)),
            "targets": {name: torch.as_tensor(values) for name, values in targets.items()},
            "masks": {name: torch.as_tensor(values[events]) for name, values in self.masks.items()},
            "weights": torch.as_tensor(self.weights[events]),
            "meta": {name: torch.as_tensor(values[events]) for name, values in self.meta.items()},
        }

    def _turn_targets(self, i: int, targets: dict[str, np.ndarray], matrix: np.ndarray) -> dict[str, np.ndarray]:
        """Direction and impact targets moved by the same camera map as the image."""
        targets = dict(targets)
        if "direction" in targets and self.masks["direction"][i]:
            targets["direction"] = transform_direction(matrix, targets["direction"][None].astype(np.float64))[0].astype(
                np.float32
            )
        if "impact" in targets and self.masks["impact"][i]:
            targets["impact"] = turn_impact(matrix, targets["impact"].astype(np.float64)).astype(np.float32)
        return targets


def collate_batch(batch: dict[str, Any] | list[dict[str, Any]]) -> dict[str, Any]:
    """The loaders' ``collate_fn``: a batch :meth:`IACTDataset.__getitems__` made as it is, a list of events stacked."""
    return batch if isinstance(batch, dict) else default_collate(batch)


def _first(batch: Any) -> Any:
    """Event 0 of a stacked batch (nested dicts of tensors)."""
    return {key: _first(value) for key, value in batch.items()} if isinstance(batch, dict) else batch[0]


def _mapped(store: Path, shape: tuple[int, ...]) -> np.ndarray:
    """The pre-processed inputs in ``store``, mapped read-only, checked to be those of this split."""
    try:
        inputs = np.load(store, mmap_mode="r")
    except (OSError, ValueError, EOFError) as error:
        raise ValueError(f"{store}: not a pre-processed input file ({error}); delete it to write it again") from error
    if inputs.shape != shape or inputs.dtype != np.float32:
        raise ValueError(f"{store}: holds {inputs.dtype} inputs of shape {inputs.shape}, expected float32 {shape}; "
                         "delete it to write it again")
    return inputs


def _log(message: str) -> None:
    if rank_zero_only.rank == 0:  # every DDP process loads its own copy: one message
        log.info(message)
