"""One split of collider events in memory: the preprocessed token streams, labels and meta, served one
event at a time with its real tokens only (the DataModule's collate pads a batch and adds the masks).

The streams are padded on first use: estimators on high-level features read only the event records, and
the padded tokens of 400k events (and the transient arrays padding them) would more than double their memory."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import cached_property
from typing import Any

import awkward as ak
import numpy as np
import torch
from torch.utils.data import Dataset

from showerlearn.collider.data.preprocessing import Padded

__all__ = ["ColliderDataset"]


class ColliderDataset(Dataset):
    """Events as ``{"inputs": {stream: (n_real, F)}, "targets": {"label"}, "meta": {...}}``.

    ``pad``: makes the padded streams by input name (``constituents``, ``objects``, and ``*_p4`` where the
    models take pairwise features), called once, on first use (:attr:`padded`); ``meta``: per-event columns
    carried to the predictions (``label`` is added); ``records``: the events' full records, for high-level
    features (None for sources without them).
    """

    def __init__(
        self, pad: Callable[[], Mapping[str, Padded]], labels: np.ndarray, meta: Mapping[str, np.ndarray],
        records: ak.Array | None,
    ) -> None:  # fmt: skip
        self._pad: Callable[[], Mapping[str, Padded]] | None = pad
        self.labels = np.asarray(labels, dtype=np.int64)
        self.meta = {**{name: np.asarray(values) for name, values in meta.items()}, "label": self.labels}
        self._meta = {name: torch.as_tensor(values) for name, values in self.meta.items()}
        self.records = records

    @cached_property
    def padded(self) -> dict[str, Padded]:
        """The padded streams by input name, made on first access."""
        assert self._pad is not None
        padded, self._pad = dict(self._pad()), None  # drop the closure: it holds the unpadded token records
        return padded

    @cached_property
    def features(self) -> dict[str, torch.Tensor]:
        return {name: torch.from_numpy(padded.features) for name, padded in self.padded.items()}

    @cached_property
    def counts(self) -> dict[str, np.ndarray]:
        """Real tokens per event of each stream."""
        return {name: padded.mask.sum(axis=1) for name, padded in self.padded.items()}

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> dict[str, Any]:
        inputs = {name: values[index, : self.counts[name][index]] for name, values in self.features.items()}
        return {
            "inputs": inputs,
            "targets": {"label": self._meta["label"][index]},
            "meta": {name: values[index] for name, values in self._meta.items()},
        }
