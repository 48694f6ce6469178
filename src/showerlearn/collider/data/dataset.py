"""One split of collider events in memory: the preprocessed token streams, labels and meta, served one
event at a time with its real tokens only (the DataModule's collate pads a batch and adds the masks)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import awkward as ak
import numpy as np
import torch
from torch.utils.data import Dataset

from showerlearn.collider.data.preprocessing import Padded

__all__ = ["ColliderDataset"]


class ColliderDataset(Dataset):
    """Events as ``{"inputs": {stream: (n_real, F)}, "targets": {"label"}, "meta": {...}}``.

    ``streams``: the padded streams by input name (``constituents``, ``objects``, and ``*_p4`` where the
    models take pairwise features); ``meta``: per-event columns carried to the predictions (``label`` is
    added); ``records``: the events' full records, for high-level features (None for sources without them).
    """

    def __init__(
        self, streams: Mapping[str, Padded], labels: np.ndarray, meta: Mapping[str, np.ndarray], records: ak.Array | None
    ) -> None:
        self.padded = dict(streams)
        self.features = {name: torch.from_numpy(padded.features) for name, padded in self.padded.items()}
        self.counts = {name: padded.mask.sum(axis=1) for name, padded in self.padded.items()}
        self.labels = np.asarray(labels, dtype=np.int64)
        self.meta = {**{name: np.asarray(values) for name, values in meta.items()}, "label": self.labels}
        self._meta = {name: torch.as_tensor(values) for name, values in self.meta.items()}
        self.records = records

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> dict[str, Any]:
        inputs = {name: values[index, : self.counts[name][index]] for name, values in self.features.items()}
        return {
            "inputs": inputs,
            "targets": {"label": self._meta["label"][index]},
            "meta": {name: values[index] for name, values in self._meta.items()},
        }
