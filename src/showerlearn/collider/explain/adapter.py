"""The collider family's explanation adapter (:class:`showerlearn.explain.driver.ExplainAdapter`).

A collider event's "detector elements" are its token slots: the ``n_constituents`` constituent slots,
then the ``n_objects`` object slots (the DataModule pads every batch to these sizes). Grad-CAM explains
a network's ``explain_layer`` (its last self-attention block over the constituents, or over the union
of both streams for the one-scale transformer), or the ``--layer`` given, token by token, channels last, and is
placed on the slots of the stream the layer's tokens belong to. The attention maps are those the network lists in
``explain_attention`` (the last self-attention block of each stream, every cross-attention block), one
map per head, flattened (query slots x key slots).

Without ``--target``, Grad-CAM explains the classification head's last class logit (``label:1``, signal
for the classes (background, signal)): what makes the network call an event signal. Maps on padded
token slots are zeroed.

Generated events carry no truth of which tokens matter, so there are no criteria. Instead the adapter
accumulates, over every explained event and separately per class (signal, background; events without a class,
as in every Delphes file to predict, in a group of their own, ``unlabelled``), drawing a row per group with events:

* the mean of each attention head's map, cell by cell over the events where both tokens are real
  (figures ``attention_<layer>.png``: constituents sorted by pT on one axis, objects on the other for
  cross-attention);
* the mean Grad-CAM per constituent position and the Grad-CAM map drawn as an (eta, phi) jet image
  after the alignment, next to the mean pT image of the same events (``gradcam_<target>.png``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import Tensor, nn

from showerlearn.collider.data.datamodule import ColliderDataModule
from showerlearn.collider.explain.figures import attention_figure, event_rows_figure, gradcam_figure
from showerlearn.collider.explain.summary import JetImages, MeanMaps, event_shares
from showerlearn.explain.attention import AttentionWeights
from showerlearn.explain.driver import ATTENTION_PREFIX, GRADCAM_PREFIX, CriteriaSettings, FigureRow, default_targets
from showerlearn.explain.gradcam import OutputSelector, Projection
from showerlearn.explain.loading import TrainedRun

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["ColliderExplainAdapter"]

log = logging.getLogger(__name__)

#: the group of the events without a class (files to predict carry no label)
UNLABELLED = "unlabelled"
#: half-width of the jet images (the generated large-R jets' radius)
JET_IMAGE_RADIUS = 1.0
_POSITION_FEATURES = ("deta", "dphi", "jet_index", "log_pt_rel")


class ColliderExplainAdapter:
    """Explains a run of the collider DataModule on the token slots of its two streams."""

    truth_label = "none"
    criteria_definitions: Mapping[str, str] = {}
    id_columns = ("file_index", "event")
    channels_last = True

    def __init__(self, trained: TrainedRun) -> None:
        datamodule = trained.datamodule
        if not isinstance(datamodule, ColliderDataModule):
            raise TypeError(f"the collider adapter explains runs of the collider DataModule, not {type(datamodule).__name__}")
        sizes = datamodule.model_inputs()
        n_constituents, n_objects = sizes["n_constituents"], sizes["n_objects"]
        self.sizes = {"constituents": n_constituents, "objects": n_objects, "union": n_constituents + n_objects}
        self.offsets = {"constituents": 0, "objects": n_constituents, "union": 0}
        self.class_names = datamodule.class_names
        #: the groups summarised: the classes, then the events without one (label -1)
        self.group_names = (*self.class_names, UNLABELLED)
        self.constituents = datamodule.preprocessors["constituents"]
        self.layout: dict[str, tuple[str, str, str]] = getattr(trained.model, "explain_attention", {})
        self.streams: dict[str, tuple[str, str]] = {}  # attention map name -> (query stream, key stream)
        self.attention: dict[str, MeanMaps] = {}
        self.profiles: dict[str, MeanMaps] = {}
        self.images: dict[str, JetImages] = {}
        self.group_events = np.zeros(len(self.group_names), dtype=np.int64)  # events summarised per group
        self.gradcam_stream = "constituents"  # set by projection(): the stream of the explained layer

    # --- the driver's questions ----------------------------------------------------------------------
    #: no criteria (no true map of what matters), so no setting of theirs is read
    criteria_settings: frozenset[str] = frozenset()

    def has_truth(self, positions: np.ndarray) -> bool:
        return False

    def truth(self, positions: np.ndarray) -> np.ndarray:
        raise ValueError("collider events carry no true map of the tokens that matter: no criteria")

    def default_targets(self, outputs: Mapping[str, Tensor], head_kinds: Mapping[str, str]) -> list[str]:
        """The driver's default with the last class of classification heads (signal) instead of class 0
        (background): the evidence for signal is what a collider analysis asks about."""
        last = len(self.class_names) - 1
        targets = [OutputSelector.parse(t) for t in default_targets(outputs, head_kinds)]
        return [f"{t.head}:{last}" if head_kinds.get(t.head) == "classification" else str(t) for t in targets]

    def projection(self, model: nn.Module, layer: str | None = None) -> Projection:
        """Token maps ``(B, L)`` of the stream of ``layer`` (None: the network's ``explain_layer``) ->
        ``(B, n_constituents + n_objects)`` slots. A two-stream network says which stream a layer's tokens belong
        to (``explain_stream_of``); a one-stream network's layers are all over its ``explain_stream``."""
        stream = getattr(model, "explain_stream", "constituents")
        if layer is not None and hasattr(model, "explain_stream_of"):
            stream = model.explain_stream_of(layer)
        self.gradcam_stream = stream  # the slots that hold the maps, for the summaries
        offset, size, total = self.offsets[stream], self.sizes[stream], self.sizes["union"]

        def to_slots(cam: Tensor) -> Tensor:
            # a layer of the other stream has other tokens: placed here, its values would pass for these slots'
            if cam.dim() != 2 or cam.shape[1] != size:
                raise ValueError(
                    f"a Grad-CAM map of shape {tuple(cam.shape)} is not on the {size} {stream} tokens the network's "
                    f"maps are placed on: --layer must be a layer over that stream (default: the network's explain_layer)"
                )
            slots = cam.new_zeros(cam.shape[0], total)
            slots[:, offset : offset + cam.shape[1]] = cam
            return slots

        return to_slots

    def real_elements(self, inputs: Mapping[str, Tensor]) -> Tensor:
        """``(B, n_constituents + n_objects)``: True on the token slots an event fills."""
        return torch.cat([inputs["constituents_mask"], inputs["objects_mask"]], dim=1).bool()

    def attention_maps(self, model: nn.Module, records: Sequence[AttentionWeights]) -> dict[str, Tensor]:
        """One flattened (query slots x key slots) map per head of each layer in the model's ``explain_attention``."""
        maps = {}
        for record in records:
            if record.name not in self.layout:
                continue
            label, query, key = self.layout[record.name]
            weights = record.weights
            for head in range(weights.shape[1]):
                name = f"{label} h{head}"
                self.streams[name] = (query, key)
                maps[name] = weights[:, head].reshape(weights.shape[0], -1)
        return maps

    def criteria(
        self, name: str, maps: np.ndarray, truth: np.ndarray, settings: CriteriaSettings, layer_shape: tuple[int, ...] | None
    ) -> dict[str, np.ndarray]:
        return {}

    # --- statistics over all events ------------------------------------------------------------------
    def accumulate(self, maps: Mapping[str, np.ndarray], batch: Mapping[str, Any], counted: np.ndarray) -> None:
        """Add the counted events of a batch to the per-group means (events of unknown class: the last group)."""
        labels = batch["meta"]["label"].numpy()[counted]
        labels = np.where(labels >= 0, labels, len(self.class_names))
        self.group_events += np.bincount(labels, minlength=len(self.group_names))
        inputs = {name: values.numpy()[counted] for name, values in batch["inputs"].items()}
        masks = {stream: inputs[f"{stream}_mask"] for stream in ("constituents", "objects")}
        masks["union"] = np.concatenate([masks["constituents"], masks["objects"]], axis=1)
        for name, values in maps.items():
            values = values[counted]
            if name.startswith(ATTENTION_PREFIX):
                self._add_attention(name[len(ATTENTION_PREFIX) :], values, masks, labels)
            elif name.startswith(GRADCAM_PREFIX):
                self._add_gradcam(name[len(GRADCAM_PREFIX) :], values, inputs, masks, labels)

    def _add_attention(self, name: str, values: np.ndarray, masks: Mapping[str, np.ndarray], labels: np.ndarray) -> None:
        query, key = self.streams[name]
        shape = (self.sizes[query], self.sizes[key])
        means = self.attention.setdefault(name, MeanMaps(len(self.group_names), shape))
        real = masks[query][:, :, None] & masks[key][:, None, :]
        means.add(values.reshape(-1, *shape), real, labels)

    def _add_gradcam(
        self, target: str, values: np.ndarray, inputs: Mapping[str, np.ndarray], masks: Mapping[str, np.ndarray],
        labels: np.ndarray,
    ) -> None:
        """The mean share of each token slot of the layer's stream, and (for constituents) the jet images."""
        stream = self.gradcam_stream
        offset, size = self.offsets[stream], self.sizes[stream]
        cam, real = values[:, offset : offset + size], masks[stream]
        profile = self.profiles.setdefault(target, MeanMaps(len(self.group_names), (1, size)))
        profile.add(event_shares(cam, real)[:, None, :], real[:, None, :], labels)
        if stream == "objects":
            return  # objects have no place in a jet image
        cam, real = cam[:, : self.sizes["constituents"]], masks["constituents"]
        coordinates = self._physical(inputs["constituents"])
        if coordinates is None:
            return  # a stream without jet coordinates has no jet image
        deta, dphi, jet, log_pt_share = coordinates
        n_jets = int(jet[real].max(initial=0)) + 1
        images = self.images.setdefault(target, JetImages(len(self.group_names), max(n_jets, 2), JET_IMAGE_RADIUS))
        images.add(deta, dphi, jet, np.exp(log_pt_share), cam, real, labels)

    def _physical(self, tokens: np.ndarray) -> tuple[np.ndarray, ...] | None:
        """The standardised constituent features needed for jet images back in their units, or None."""
        features = list(self.constituents.features)
        if not set(_POSITION_FEATURES) <= set(features):
            return None
        columns = []
        for name in _POSITION_FEATURES:
            values = tokens[..., features.index(name)].astype(np.float64)
            if name in (self.constituents.mean_ or {}):
                values = values * self.constituents.std_[name] + self.constituents.mean_[name]
            columns.append(np.rint(values).astype(np.int64) if name == "jet_index" else values)
        return tuple(columns)

    def summary_figures(self) -> dict[str, Figure]:
        """Mean attention per layer (rows: the groups with events, columns: heads) and Grad-CAM per target, by file
        stem."""
        self._say_missing_classes()
        shown = np.flatnonzero(self.group_events > 0)
        names = [self.group_names[row] for row in shown]
        figures: dict[str, Figure] = {}
        for label, query, key in self.layout.values():
            heads = sorted((n for n in self.attention if n.rsplit(" h", 1)[0] == label), key=_head)
            if heads:
                means = np.stack([self.attention[n].mean()[shown] for n in heads], axis=1)
                counts = self.attention[heads[0]].count.max(axis=(1, 2)).astype(int)[shown]
                figures[f"attention_{_stem(label)}"] = attention_figure(means, names, label, query, key, counts)
        for target, profile in self.profiles.items():
            images = self.images.get(target)
            figures[f"gradcam_{_stem(target)}"] = gradcam_figure(
                tuple(means[shown] for means in images.means()) if images is not None else None,
                profile.mean()[shown, 0], self.gradcam_stream, names,
                images.extent if images is not None else None, f"Grad-CAM of {target}",
            )
        return figures

    def _say_missing_classes(self) -> None:
        """Name the classes without any summarised event among labelled ones: they get no row."""
        labelled = self.group_events[: len(self.class_names)]
        empty = [name for name, count in zip(self.class_names, labelled) if count == 0]
        if empty and labelled.any() and (self.attention or self.profiles):
            log.warning(
                "no %s event among the %d summarised: no row of theirs (the input holds none, or none among the events "
                "explained: --max-events)", " or ".join(empty), int(self.group_events.sum()),
            )

    # --- one event -----------------------------------------------------------------------------------
    def input_panels(self, inputs: Mapping[str, np.ndarray]) -> list[tuple[str, np.ndarray]]:
        """The constituents as (delta eta, delta phi, pT share) and the object tokens (padding NaN)."""
        panels = []
        real = inputs["constituents_mask"].astype(bool)
        coordinates = self._physical(inputs["constituents"][None])
        if coordinates is not None:
            deta, dphi, _, log_pt_share = (values[0] for values in coordinates)
            points = np.stack([deta, dphi, np.exp(log_pt_share)], axis=1)
            panels.append(("constituents", np.where(real[:, None], points, np.nan)))
        objects = np.where(inputs["objects_mask"].astype(bool)[:, None], inputs["objects"], np.nan)
        panels.append(("objects (standardised features)", objects))
        return panels

    def event_figure(self, title: str, rows: Sequence[FigureRow]) -> Figure:
        shapes = {name: (self.sizes[q], self.sizes[k]) for name, (q, k) in self.streams.items()}
        return event_rows_figure(title, rows, shapes, boundary=self.sizes["constituents"])


def _head(name: str) -> int:
    return int(name.rsplit(" h", 1)[1])


def _stem(text: str) -> str:
    """A file-name-safe version of ``text``."""
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_")

