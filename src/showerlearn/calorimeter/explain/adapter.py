"""The calorimeter family's explanation adapter (:class:`showerlearn.explain.driver.ExplainAdapter`).

An event's "detector elements" are its hits, in the order of the file, padded to the largest number of hits of
an event in the explained file (``n_slots``). The networks' outputs are per hit and per hit pair (same-gamma
logits, condensation strengths): no one score per event, so Grad-CAM explains nothing by default, and a
``--target`` of a per-element head is refused (its columns are other hits in every batch). What is explained is
the attention of the transformers over the hits (``hit_transformer``, ``hit_condensation``,
``hit_slot_attention``'s encoder): each head of the last self-attention layer, one ``(hits x hits)`` map per
event, flattened.

The truth is each hit's gamma (-1: a background hit, or no gamma of its own; NaN: a padding slot). Criterion
per event, over the hits of a gamma that has other hits, in events with hits of another origin too:

* ``same_gamma``: the share of a hit's attention on the other hits that goes to hits of its own gamma;
* ``same_gamma_uniform``: that share for attention spread evenly over the other hits (the chance level).

The difference is what the network learned about which hits belong together. Over all events the adapter also
gathers, per head, the attention a hit gives another relative to even attention (weight x (hits - 1)) against
their opening angle, separately for hits of the same gamma and of others (``attention_vs_angle.png``): a
network that only looked at distance would give both the same curve.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import Tensor, nn

from showerlearn.calorimeter.data.datamodule import CalorimeterDataModule
from showerlearn.calorimeter.data.dataset import HIT_META
from showerlearn.calorimeter.explain.figures import AngleProfile, attention_vs_angle_figure, event_figure
from showerlearn.calorimeter.geometry import unit_vectors
from showerlearn.calorimeter.models.layers import directions
from showerlearn.explain.attention import AttentionWeights
from showerlearn.explain.driver import ATTENTION_PREFIX, CriteriaSettings, FigureRow
from showerlearn.explain.gradcam import Projection
from showerlearn.explain.loading import TrainedRun

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["CalorimeterExplainAdapter", "same_gamma_shares"]

#: the input panel with the hits' (theta, phi, energy)
HITS_PANEL = "hits"


class CalorimeterExplainAdapter:
    """Explains a run of the calorimeter DataModule on the hits of each event."""

    truth_label = "true gamma"
    #: the same-gamma share needs no signal threshold, dilation or relevance level: none is read
    criteria_settings: frozenset[str] = frozenset()
    criteria_definitions: Mapping[str, str] = {
        "same_gamma": "share of a hit's attention on the other hits that goes to hits of its own gamma "
                      "(hits of gammas with other hits, in events with hits of another origin)",
        "same_gamma_uniform": "the same share for attention spread evenly over the other hits: the chance level",
    }  # fmt: skip
    id_columns = ("file", "event_id")
    channels_last = True

    def __init__(self, trained: TrainedRun) -> None:
        datamodule = trained.datamodule
        if not isinstance(datamodule, CalorimeterDataModule) or datamodule.predict_set is None:
            raise TypeError(f"the calorimeter adapter explains runs of the calorimeter DataModule, not {type(datamodule).__name__}")
        self.events = datamodule.predict_set.events
        self.spec = datamodule.hit_spec
        self.n_slots = max(int(self.events.n_hits.max(initial=0)), 1)
        self.layout: dict[str, str] = getattr(trained.model, "explain_attention", {})
        self.profiles: dict[str, AngleProfile] = {}

    # --- the driver's questions ----------------------------------------------------------------------
    def default_targets(self, outputs: Mapping[str, Tensor], head_kinds: Mapping[str, str]) -> list[str]:
        """None: the outputs are per hit and per hit pair, without one score per event to explain."""
        return []

    def has_truth(self, positions: np.ndarray) -> bool:
        return bool((self.events.hits["true_gamma"][self.events.hit_rows(positions)] >= 0).any())

    def truth(self, positions: np.ndarray) -> np.ndarray:
        """Each hit's true gamma ``(n, n_slots)``, NaN on padding slots."""
        truth = np.full((len(positions), self.n_slots), np.nan)
        for row, position in enumerate(positions):
            a, b = self.events.hit_offsets[position], self.events.hit_offsets[position + 1]
            truth[row, : b - a] = self.events.hits["true_gamma"][a:b]
        return truth

    def projection(self, model: nn.Module, layer: str | None = None) -> Projection:
        """Per-hit layer maps ``(B, N)`` padded to the file's ``n_slots``."""
        return lambda cam: _pad(cam, (self.n_slots,))

    def attention_maps(self, model: nn.Module, records: Sequence[AttentionWeights]) -> dict[str, Tensor]:
        """One flattened ``(n_slots x n_slots)`` map per head of each layer the model names in ``explain_attention``."""
        maps = {}
        for record in records:
            if record.name in self.layout:
                padded = _pad(record.weights, (self.n_slots, self.n_slots))
                for head in range(padded.shape[1]):
                    maps[f"{self.layout[record.name]}, head {head}"] = padded[:, head].reshape(padded.shape[0], -1)
        return maps

    def criteria(
        self, name: str, maps: np.ndarray, truth: np.ndarray, settings: CriteriaSettings, layer_shape: tuple[int, ...] | None
    ) -> dict[str, np.ndarray]:
        if not name.startswith(ATTENTION_PREFIX):
            return {}  # a per-hit Grad-CAM map of a named target: no criterion says what it should be
        shares, uniform = same_gamma_shares(maps.reshape(-1, self.n_slots, self.n_slots), truth)
        return {"same_gamma": shares, "same_gamma_uniform": uniform}

    # --- statistics over all events ------------------------------------------------------------------
    def accumulate(self, maps: Mapping[str, np.ndarray], batch: Mapping[str, Any], counted: np.ndarray) -> None:
        """Attention relative to even attention against the opening angle, per head, for hits of the same
        gamma and of others."""
        hits = batch["meta"]["hits"].numpy()[counted]
        real = batch["meta"]["hits_mask"].numpy()[counted]
        n = hits.shape[1]
        gamma = hits[..., HIT_META.index("true_gamma")]
        direction = unit_vectors(hits[..., HIT_META.index("theta")], hits[..., HIT_META.index("phi")])
        angle = np.arccos(np.clip(np.einsum("eik,ejk->eij", direction, direction), -1.0, 1.0))
        pair = real[:, :, None] & real[:, None, :] & ~np.eye(n, dtype=bool)
        same = (gamma[:, :, None] == gamma[:, None, :]) & (gamma[:, :, None] >= 0)
        others = real.sum(axis=1) - 1
        for name, values in maps.items():
            if name.startswith(ATTENTION_PREFIX):
                weights = values[counted].reshape(-1, self.n_slots, self.n_slots)[:, :n, :n]
                relative = weights * others[:, None, None]
                profile = self.profiles.setdefault(name[len(ATTENTION_PREFIX) :], AngleProfile())
                profile.add(angle[pair], relative[pair], same[pair])

    def summary_figures(self) -> dict[str, Figure]:
        if not self.profiles:
            return {}
        return {"attention_vs_angle": attention_vs_angle_figure(self.profiles, truth=self.events.truth)}

    # --- one event -----------------------------------------------------------------------------------
    def input_panels(self, inputs: Mapping[str, np.ndarray]) -> list[tuple[str, np.ndarray]]:
        """The hits as ``(n_slots, 3)`` (theta, phi [rad], energy [MeV]), NaN on padding slots, like the maps."""
        features = np.asarray(inputs["hits"], dtype=np.float64)
        real = np.asarray(inputs["hits_mask"], dtype=bool)
        direction = directions(torch.from_numpy(features), self.spec).numpy()
        names = self.spec.names
        energy = (
            self.spec.physical(features, "energy") if "energy" in names
            else np.exp(self.spec.physical(features, "log_energy")) if "log_energy" in names
            else np.ones(len(features))
        )  # fmt: skip
        hits = np.full((self.n_slots, 3), np.nan)  # the explained events' inputs are padded to their own largest
        hits[: len(real)][real] = np.stack(
            [np.arccos(np.clip(direction[:, 2], -1, 1)), np.arctan2(direction[:, 1], direction[:, 0]), energy], axis=1
        )[real]
        return [(HITS_PANEL, hits)]

    def event_figure(self, title: str, rows: Sequence[FigureRow]) -> Figure:
        return event_figure(title, rows, HITS_PANEL, self.truth_label)


def same_gamma_shares(attention: np.ndarray, truth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per event, the mean over its hits of the share of attention on the other hits that goes to hits of the
    same gamma, and that share for even attention.

    ``attention`` ``(n, N, N)`` (query hit, key hit), ``truth`` ``(n, N)``: each hit's gamma, -1 for none, NaN
    on padding. Hits count where their gamma has another hit and some other hit is of another origin;
    an event without such hits gives NaN.
    """
    real = np.isfinite(truth)
    gamma = np.where(real, truth, -2)
    n = truth.shape[1]
    other = real[:, :, None] & real[:, None, :] & ~np.eye(n, dtype=bool)
    same = other & (gamma[:, :, None] == gamma[:, None, :]) & (gamma[:, :, None] >= 0)
    n_same, n_other = same.sum(axis=2), other.sum(axis=2)
    counted = (n_same > 0) & (n_same < n_other)
    on_others = np.where(other, attention, 0.0).sum(axis=2)
    on_same = np.where(same, attention, 0.0).sum(axis=2)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(counted, on_same / on_others, 0.0)
        chance = np.where(counted, n_same / np.maximum(n_other, 1), 0.0)
        events = counted.sum(axis=1)
        return (np.where(events > 0, share.sum(axis=1) / events, np.nan),
                np.where(events > 0, chance.sum(axis=1) / events, np.nan))  # fmt: skip


def _pad(values: Tensor, size: tuple[int, ...]) -> Tensor:
    """``values`` zero-padded at the end of its last ``len(size)`` axes to ``size``."""
    widths: list[int] = []
    for have, want in zip(reversed(values.shape[-len(size) :]), reversed(size)):
        if have > want:
            raise ValueError(f"a map over {have} hits does not fit the {want} hit slots of the explained file")
        widths += [0, want - have]
    return torch.nn.functional.pad(values, widths)
