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

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from showerlearn.calorimeter.data.events import GAMMA_COLUMNS, HitEvents
from showerlearn.calorimeter.data.features import FeatureSpec, turn_azimuth
from showerlearn.calorimeter.data.preclustering import Preclusters

__all__ = ["HIT_META", "AzimuthalTurns", "HitEventDataset", "same_object", "turned_inputs"]

#: columns of ``meta["hits"]``: the physical hit, its truth and its pre-cluster (-1 without pre-clustering)
HIT_META = ("energy", "theta", "phi", "time", "crystal_id", "true_gamma", "precluster")


def same_object(objects: torch.Tensor) -> torch.Tensor:
    """``(n, n)``: 1.0 where both elements belong to the same object (index >= 0), else 0."""
    return ((objects[:, None] == objects[None, :]) & (objects[:, None] >= 0)).float()


@dataclass(frozen=True)
class AzimuthalTurns:
    """A training augmentation from the symmetries the calorimeter and the physics share about the beam (the
    z axis): every sample's hits (and pre-clusters) turned by a random multiple of 2 pi / ``turns`` and, if
    ``mirror``, mirrored in azimuth first with probability 1/2; each such turn maps every crystal onto a crystal,
    so a turned event is one the calorimeter could have recorded. Only the network's inputs change: targets,
    truth and physical hit columns stay. The draws come from torch's generator, which the engine seeds (a
    DataLoader worker gets a seed of its own)."""

    hit_spec: FeatureSpec
    cluster_spec: FeatureSpec | None = None
    turns: int = 1
    mirror: bool = False

    def draw(self) -> tuple[float, bool]:
        """A turn angle [rad] and whether to mirror first."""
        step = int(torch.randint(self.turns, ()))
        mirror = self.mirror and bool(torch.rand(()) < 0.5)
        return 2 * math.pi * step / self.turns, mirror


def turned_inputs(inputs: Mapping[str, torch.Tensor], angle: float, mirror: bool, hit_spec: FeatureSpec,
                  cluster_spec: FeatureSpec | None = None) -> dict[str, torch.Tensor]:
    """A batch's padded inputs (``hits``, optional ``clusters``, with their ``*_mask``) mirrored in azimuth if
    ``mirror``, then turned by ``angle`` about the beam axis (:func:`turn_azimuth`; a test-time view); padding
    stays as it was."""
    turned = dict(inputs)
    for name, spec in (("hits", hit_spec), ("clusters", cluster_spec)):
        if name not in inputs:
            continue
        values = inputs[name]
        moved = turn_azimuth(values.detach().cpu().numpy().reshape(-1, values.shape[-1]), spec, angle, mirror)
        moved = torch.from_numpy(moved.reshape(values.shape)).to(device=values.device, dtype=values.dtype)
        turned[name] = torch.where(inputs[f"{name}_mask"][..., None], moved, values)
    return turned


class HitEventDataset(Dataset):
    """Events of :class:`~showerlearn.calorimeter.data.events.HitEvents` with their standardised hit ``features``
    (flat, one row per hit), optional pre-clusters (their features standardised) and an optional augmentation
    of the inputs (:class:`AzimuthalTurns`, for the training split)."""

    def __init__(self, events: HitEvents, features: np.ndarray, preclusters: Preclusters | None = None,
                 turns: AzimuthalTurns | None = None) -> None:
        if len(features) != len(events.hits["energy"]):
            raise ValueError(f"{len(features)} feature rows for {len(events.hits['energy'])} hits")
        self.events = events
        self.features = features
        self.preclusters = preclusters
        if turns is not None and preclusters is not None and turns.cluster_spec is None:
            raise ValueError("turning pre-clusters about the beam axis needs their feature standardisation")
        self.turns = turns
        hit_cluster = preclusters.hit_cluster if preclusters is not None else np.full(len(features), -1)
        self.hit_meta = np.column_stack([*(events.hits[key] for key in HIT_META[:-1]), hit_cluster]).astype(np.float64)
        self.gamma_meta = np.column_stack([events.gammas[key] for key in GAMMA_COLUMNS]).astype(np.float64)

    def __len__(self) -> int:
        return len(self.events)

    def __getitem__(self, i: int) -> dict[str, Any]:
        events = self.events
        a, b = events.hit_offsets[i], events.hit_offsets[i + 1]
        objects = torch.as_tensor(events.hits["true_gamma"][a:b], dtype=torch.long)
        turn = self.turns.draw() if self.turns is not None else None
        hits = self.features[a:b] if turn is None else turn_azimuth(self.features[a:b], self.turns.hit_spec, *turn)
        sample: dict[str, Any] = {
            "inputs": {"hits": torch.from_numpy(hits)},
            "targets": {"objects": objects, "pairs": same_object(objects)},
            "meta": {
                "event_id": torch.tensor(events.event_id[i]), "file": torch.tensor(events.file[i]),
                "beta": torch.tensor(events.beta[i]), "hits": torch.from_numpy(self.hit_meta[a:b]),
                "gammas": torch.from_numpy(self.gamma_meta[events.gamma_offsets[i]:events.gamma_offsets[i + 1]]),
            },
        }
        if self.preclusters is not None:
            c, d = self.preclusters.offsets[i], self.preclusters.offsets[i + 1]
            clusters = self.preclusters.features[c:d]
            if turn is not None:
                clusters = turn_azimuth(clusters, self.turns.cluster_spec, *turn)
            sample["inputs"]["clusters"] = torch.from_numpy(clusters)
            sample["targets"]["cluster_pairs"] = same_object(torch.as_tensor(self.preclusters.owner[c:d], dtype=torch.long))
        return sample
