"""One split of collider events in memory: the preprocessed token streams, labels and meta, served one
event at a time with its real tokens only (the DataModule's collate pads a batch and adds the masks).

The streams are padded on first use: estimators on high-level features read only the event records, and
the padded tokens of 400k events (and the transient arrays padding them) would more than double their memory."""

from __future__ import annotations

from collections.abc import Callable, Mapping
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
    models take pairwise features), called once, on first use (:meth:`pad`); ``meta``: per-event columns
    carried to the predictions (``label`` is added); ``records``: the events' full records, for high-level
    features (None for sources without them).
    """

    def __init__(
        self, pad: Callable[[], Mapping[str, Padded]], labels: np.ndarray, meta: Mapping[str, np.ndarray],
        records: ak.Array | None,
    ) -> None:  # fmt: skip
        self._pad: Callable[[], Mapping[str, Padded]] | None = pad
        self._padded: dict[str, Padded] = {}
        self._features: dict[str, torch.Tensor] = {}
        self._counts: dict[str, np.ndarray] = {}
        self.labels = np.asarray(labels, dtype=np.int64)
        self.meta = {**{name: np.asarray(values) for name, values in meta.items()}, "label": self.labels}
        self._meta = {name: torch.as_tensor(values) for name, values in self.meta.items()}
        self.records = records

    def pad(self) -> None:
        """Pad the streams, if not yet done: the loaders call it before their worker processes start, each of
        which would otherwise pad its own copy."""
        if self._pad is None:
            return
        self._padded = dict(self._pad())
        self._pad = None  # it holds the unpadded tokens, no longer needed
        self._views()

    def _views(self) -> None:
        """The tensors over the padded features (sharing their memory) and the real tokens per event."""
        self._features = {name: torch.from_numpy(padded.features) for name, padded in self._padded.items()}
        self._counts = {name: padded.mask.sum(axis=1) for name, padded in self._padded.items()}

    @property
    def is_padded(self) -> bool:
        return self._pad is None

    @property
    def padded(self) -> dict[str, Padded]:
        """The padded streams by input name."""
        self.pad()
        return self._padded

    @property
    def features(self) -> dict[str, torch.Tensor]:
        self.pad()
        return self._features

    @property
    def counts(self) -> dict[str, np.ndarray]:
        """Real tokens per event of each stream."""
        self.pad()
        return self._counts

    def __getstate__(self) -> dict[str, Any]:
        # a loader worker started by spawn (macOS, forkserver) gets a pickled copy: padded here, once, and without
        # the tensors, which pickle would copy apart from the arrays they share memory with
        self.pad()
        return {name: value for name, value in self.__dict__.items() if name not in ("_features", "_counts")}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._views()

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> dict[str, Any]:
        inputs = {name: values[index, : self.counts[name][index]] for name, values in self.features.items()}
        return {
            "inputs": inputs,
            "targets": {"label": self._meta["label"][index]},
            "meta": {name: values[index] for name, values in self._meta.items()},
        }
