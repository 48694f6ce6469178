"""Per-event samples of hit sets for the engine's padded batches (:func:`showerlearn.data.collate.collate_padded`).

One sample::

    inputs  = {"hits": (n, F) standardised hit features[, "clusters": (m, F_c) pre-cluster features]}
    targets = {"objects": (n,) true gamma per hit (-1 background),
               "pairs": (n, n) 1 where both hits come from the same gamma (background pairs with nothing)
               [, "cluster_pairs": (m, m) the same for the pre-clusters, by the gamma owning most of their energy]}
    meta    = {"event_id", "file", "beta": per event,
               "hits": (n, len(HIT_META)) physical hit columns (and each hit's pre-cluster),
               "gammas": (g, len(GAMMA_COLUMNS)) the event's true gammas}
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from showerlearn.calorimeter.data.events import GAMMA_COLUMNS, HitEvents
from showerlearn.calorimeter.data.preclustering import Preclusters

__all__ = ["HIT_META", "HitEventDataset", "same_object"]

#: columns of ``meta["hits"]``: the physical hit, its truth and its pre-cluster (-1 without pre-clustering)
HIT_META = ("energy", "theta", "phi", "time", "crystal_id", "true_gamma", "precluster")


def same_object(objects: torch.Tensor) -> torch.Tensor:
    """``(n, n)``: 1.0 where both elements belong to the same object (index >= 0), else 0."""
    return ((objects[:, None] == objects[None, :]) & (objects[:, None] >= 0)).float()


class HitEventDataset(Dataset):
    """Events of :class:`~showerlearn.calorimeter.data.events.HitEvents` with their standardised hit ``features``
    (flat, one row per hit) and optional pre-clusters (their features standardised)."""

    def __init__(self, events: HitEvents, features: np.ndarray, preclusters: Preclusters | None = None) -> None:
        if len(features) != len(events.hits["energy"]):
            raise ValueError(f"{len(features)} feature rows for {len(events.hits['energy'])} hits")
        self.events = events
        self.features = features
        self.preclusters = preclusters
        hit_cluster = preclusters.hit_cluster if preclusters is not None else np.full(len(features), -1)
        self.hit_meta = np.column_stack([*(events.hits[key] for key in HIT_META[:-1]), hit_cluster]).astype(np.float64)
        self.gamma_meta = np.column_stack([events.gammas[key] for key in GAMMA_COLUMNS]).astype(np.float64)

    def __len__(self) -> int:
        return len(self.events)

    def __getitem__(self, i: int) -> dict[str, Any]:
        events = self.events
        a, b = events.hit_offsets[i], events.hit_offsets[i + 1]
        objects = torch.as_tensor(events.hits["true_gamma"][a:b], dtype=torch.long)
        sample: dict[str, Any] = {
            "inputs": {"hits": torch.from_numpy(self.features[a:b])},
            "targets": {"objects": objects, "pairs": same_object(objects)},
            "meta": {
                "event_id": torch.tensor(events.event_id[i]), "file": torch.tensor(events.file[i]),
                "beta": torch.tensor(events.beta[i]), "hits": torch.from_numpy(self.hit_meta[a:b]),
                "gammas": torch.from_numpy(self.gamma_meta[events.gamma_offsets[i]:events.gamma_offsets[i + 1]]),
            },
        }
        if self.preclusters is not None:
            c, d = self.preclusters.offsets[i], self.preclusters.offsets[i + 1]
            sample["inputs"]["clusters"] = torch.from_numpy(self.preclusters.features[c:d])
            sample["targets"]["cluster_pairs"] = same_object(torch.as_tensor(self.preclusters.owner[c:d], dtype=torch.long))
        return sample
