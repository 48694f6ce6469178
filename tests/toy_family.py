"""A throw-away detector family, given to the engine by import path only (no entry point, no change to
the core): every event is a padded set of 2-D hits plus a second token stream of "objects".

Targets at three granularities, as the calorimeter and collider families will have them:

* ``kind`` — per event, three classes: how many objects the event has (1, 2 or 3), which a model only
  learns by pooling the object stream over its real tokens (padding would add zeros);
* ``hits`` — per hit, two classes: which side of the origin the hit lies on;
* ``pairs`` — per hit pair: whether both hits belong to the same cluster.

The family object names its board style, so the board labels this family's curve as the family says.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn
from torch.utils.data import Dataset

from showerlearn.data.base import ShowerDataModule
from showerlearn.data.collate import collate_padded, pair_mask
from showerlearn.evaluation.classification import evaluate_classification
from showerlearn.evaluation.curves import curve_record
from showerlearn.family import BoardStyle, Family

KINDS = ("one", "two", "three")


class ToyFamily(Family):
    name: ClassVar[str] = "toy"
    title: ClassVar[str] = "hit sets with an object stream (a test family)"

    def board_style(self) -> BoardStyle:
        return BoardStyle(
            metric_style={"hit_accuracy": {"ylabel": "hit accuracy (toy family)", "logy": False}},
            axis_labels={"n_hits": "hits per event"},
            scalar_direction={"hit_accuracy": "higher", "auc_macro": "higher"},
            scalar_order=("hit_accuracy", "auc_macro"),
        )


FAMILY = ToyFamily()


def toy_events(n_events: int, seed: int) -> list[dict[str, np.ndarray]]:
    """Two clusters of 3-8 hits each event, and 1-3 objects of 3 features each."""
    rng = np.random.default_rng(seed)
    events = []
    for i in range(n_events):
        n_hits, n_objects = int(rng.integers(3, 9)), int(rng.integers(1, 4))
        centres = rng.normal(scale=2.0, size=(2, 2))
        cluster = rng.integers(0, 2, size=n_hits)
        hits = centres[cluster] + rng.normal(scale=0.3, size=(n_hits, 2))
        objects = rng.normal(loc=1.0, size=(n_objects, 3))
        events.append({
            "hits": hits.astype(np.float32), "objects": objects.astype(np.float32), "cluster": cluster,
            "hit_id": np.arange(n_hits) + 100 * i, "event_id": i,
        })
    return events


class ToyEvents(Dataset):
    def __init__(self, events: list[dict[str, np.ndarray]]) -> None:
        self.events = events

    def __len__(self) -> int:
        return len(self.events)

    def __getitem__(self, i: int) -> dict[str, Any]:
        event = self.events[i]
        cluster = torch.as_tensor(event["cluster"])
        kind, side = torch.tensor(len(event["objects"]) - 1), torch.as_tensor(event["hits"][:, 0] > 0).long()
        return {
            "inputs": {"hits": torch.as_tensor(event["hits"]), "objects": torch.as_tensor(event["objects"])},
            "targets": {"kind": kind, "hits": side, "pairs": (cluster[:, None] == cluster[None, :]).float()},
            # the truth the decoding writes next to the predictions
            "meta": {"event_id": torch.tensor(event["event_id"]), "hit_id": torch.as_tensor(event["hit_id"]), "kind": kind, "side": side},
        }


class ToyData(ShowerDataModule):
    """Seeded toy events; a padded hit set and a padded object stream, each with its mask."""

    family: ClassVar[Family] = FAMILY
    model_input_names: ClassVar[frozenset[str]] = frozenset({"hit_features", "object_features", "n_kinds"})

    def __init__(self, events: int = 96, batch_size: int = 16, num_workers: int = 0, seed: int = 0) -> None:
        super().__init__(batch_size=batch_size, num_workers=num_workers, seed=seed)
        self.events = events

    def setup(self, stage: str | None = None) -> None:
        events = toy_events(self.events, self.seed)
        third = self.events // 3
        self.train_set = ToyEvents(events[:third])
        self.val_set = ToyEvents(events[third : 2 * third])
        self.test_set = ToyEvents(events[2 * third :])

    def collate(self, samples: list[dict[str, Any]]) -> dict[str, Any]:
        return collate_padded(
            samples,
            elements=["inputs.hits", "inputs.objects", "targets.hits", "meta.hit_id", "meta.side"],
            pairs=["targets.pairs"],
        )

    def model_inputs(self) -> dict[str, Any]:
        return {"hit_features": 2, "object_features": 3, "n_kinds": len(KINDS)}

    def decode_predictions(self, outputs: dict[str, np.ndarray], meta: dict[str, np.ndarray]) -> dict[str, dict[str, np.ndarray]]:
        real = meta["hit_id_mask"]
        kind = torch.softmax(torch.as_tensor(outputs["kind"]), dim=-1).numpy()
        hit_logits = outputs["hits"][real]
        events, _ = np.nonzero(real)
        first, second = np.nonzero(pair_mask(torch.from_numpy(real)).numpy().reshape(len(real), -1))
        return {
            "predictions": {
                "event_id": meta["event_id"], "label": np.asarray(meta["kind"]),
                **{f"score_{name}": kind[:, i] for i, name in enumerate(KINDS)}, "n_hits": real.sum(axis=1),
            },
            "hits": {
                "event_index": events, "hit_id": meta["hit_id"][real], "true_side": meta["side"][real],
                "score": 1.0 / (1.0 + np.exp(hit_logits[:, 0] - hit_logits[:, 1])),
            },
            "pairs": {"event_index": first, "pair": second, "score": outputs["pairs"].reshape(len(real), -1)[first, second]},
        }


def masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean over the real tokens of each event: padding never enters."""
    weights = mask.unsqueeze(-1).to(values.dtype)
    return (values * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1.0)


class ToyNet(nn.Module):
    """One embedding per stream; event class from both streams' masked means, a class per hit, a score per pair."""

    def __init__(self, hit_features: int, object_features: int, n_kinds: int, hidden: int = 16) -> None:
        super().__init__()
        self.hits = nn.Sequential(nn.Linear(hit_features, hidden), nn.ReLU(), nn.Linear(hidden, hidden))
        self.objects = nn.Sequential(nn.Linear(object_features, hidden), nn.ReLU(), nn.Linear(hidden, hidden))
        self.count = nn.Linear(1, hidden)  # the object count enters as a feature of the pooled stream
        self.kind = nn.Linear(2 * hidden, n_kinds)
        self.side = nn.Linear(hidden, 2)

    def forward(self, inputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        hits = self.hits(inputs["hits"])
        objects = self.objects(inputs["objects"])
        count = inputs["objects_mask"].sum(dim=1, keepdim=True).float()
        pooled = torch.cat([masked_mean(hits, inputs["hits_mask"]), masked_mean(objects, inputs["objects_mask"]) + self.count(count)], dim=-1)
        return {"kind": self.kind(pooled), "hits": self.side(hits), "pairs": hits @ hits.transpose(1, 2) / hits.shape[-1]}


def evaluate_toy(
    predictions: dict[str, np.ndarray], output_dir: str | Path, tables: dict[str, dict[str, np.ndarray]]
) -> dict[str, Any]:
    """The core's multi-class evaluator on the event table, plus the hit accuracy per number of hits."""
    metrics = evaluate_classification(predictions, output_dir, class_names=KINDS)
    hits = tables["hits"]
    correct = (hits["score"] > 0.5) == (hits["true_side"] == 1)
    n_hits = predictions["n_hits"][hits["event_index"]]
    edges = np.arange(2.5, 9.0, 1.0)
    which = np.digitize(n_hits, edges) - 1
    per_bin = np.array([correct[which == b].mean() if np.any(which == b) else np.nan for b in range(len(edges) - 1)])
    counts = np.array([np.count_nonzero(which == b) for b in range(len(edges) - 1)])
    metrics["evaluator"] = "toy"
    metrics["scalars"]["hit_accuracy"] = float(correct.mean())
    metrics["curves"]["hit_accuracy_vs_n_hits"] = curve_record(edges, per_bin, counts, x="n_hits", x_unit="", unit="")
    return metrics
