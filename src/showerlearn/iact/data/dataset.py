"""Torch dataset over many DL1 files: images read lazily, one file handle set per worker process.

The per-event scalars (targets, masks, weights, meta, and where each event lives) and each file's
metadata (pixel mapping, row index) are small and kept in memory; images are read from disk when an
event is requested. Each process (main or DataLoader worker) opens its own PyTables handles on first
use — HDF5 handles must not cross a fork — and keeps at most ``max_open_files`` of them open (least
recently used are closed; reopening is cheap since the metadata stays), so memory stays bounded
however many files there are. :meth:`IACTDataset.load_into_memory` trades that bound for speed: it
reads and transforms every image once, and later epochs take them from memory.
"""

from __future__ import annotations

import logging
import os
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from lightning.pytorch.utilities.rank_zero import rank_zero_only
from torch.utils.data import Dataset

from showerlearn.iact.data.augment import Augmenter
from showerlearn.iact.io.reader import DL1File
from showerlearn.iact.data.targets import IMPACT_SCALE_M, transform_direction, transform_impact
from showerlearn.iact.data.transforms import ImageTransform

__all__ = ["IACTDataset"]

log = logging.getLogger(__name__)


class IACTDataset(Dataset):
    """Events ``(file_index[i], row[i])`` of ``files`` as per-event dicts of the batch contract.

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

    def load_into_memory(self, name: str = "dataset", chunk: int = 4096) -> None:
        """Read and transform every event's image now (``4 * channels * n_pixels`` bytes an event).

        Reading whole chunks sorted by file is much faster than one row at a time, and the cleaning and
        transforms are paid once instead of every epoch. Loader worker processes inherit the array.
        Loading again is a no-op.
        """
        if self._inputs is not None:
            return
        started, n = time.monotonic(), len(self)
        inputs: np.ndarray | None = None
        for start in range(0, n, chunk):
            span = np.arange(start, min(start + chunk, n))
            for file in np.unique(self.file_index[span]):
                events = span[self.file_index[span] == file]
                data = self._file(int(file)).read(self.row[events])
                for j, event in enumerate(events):
                    transformed = self.transform(data["image"][j], data["peak_time"][j])
                    if inputs is None:
                        inputs = np.empty((n, *transformed.shape), dtype=np.float32)
                        if rank_zero_only.rank == 0:  # every DDP process loads its own copy: one message
                            log.info("reading the %s's %d images into memory (%.1f GB)", name, n, inputs.nbytes / 1e9)
                    inputs[event] = transformed
        self._inputs = inputs
        if rank_zero_only.rank == 0:
            log.info("%s in memory after %.0f s", name, time.monotonic() - started)

    def __getitem__(self, i: int) -> dict[str, Any]:
        if self._inputs is not None:
            inputs = self._inputs[i].copy()  # the item's tensor must not be a window onto the store
        else:
            event = self._file(int(self.file_index[i])).read([int(self.row[i])])
            inputs = self.transform(event["image"][0], event["peak_time"][0])
        targets = {name: values[i] for name, values in self.targets.items()}
        if self.augmenter is not None:
            op = self.augmenter.draw(float(torch.rand(())))
            if op is not None:
                inputs = inputs[:, op.perm]
                targets = self._turn_targets(i, targets, op.matrix)
        return {
            "inputs": torch.from_numpy(np.ascontiguousarray(inputs)),
            "targets": {name: torch.as_tensor(value) for name, value in targets.items()},
            "masks": {name: torch.as_tensor(values[i]) for name, values in self.masks.items()},
            "weights": torch.as_tensor(self.weights[i]),
            "meta": {name: torch.as_tensor(values[i]) for name, values in self.meta.items()},
        }

    def _turn_targets(self, i: int, targets: dict[str, np.ndarray], matrix: np.ndarray) -> dict[str, np.ndarray]:
        """Direction and impact targets moved by the same camera map as the image."""
        targets = dict(targets)
        if "direction" in targets and self.masks["direction"][i]:
            targets["direction"] = transform_direction(matrix, targets["direction"][None].astype(np.float64))[0].astype(
                np.float32
            )
        if "impact" in targets and self.masks["impact"][i]:
            m = self.meta
            core = targets["impact"][None].astype(np.float64) * IMPACT_SCALE_M
            telescope = np.array([[m["tel_pos_x"][i], m["tel_pos_y"][i]]])
            turned = transform_impact(
                matrix, core, telescope, np.array([m["pointing_alt"][i]]), np.array([m["pointing_az"][i]])
            )
            targets["impact"] = (turned[0] / IMPACT_SCALE_M).astype(np.float32)
        return targets


