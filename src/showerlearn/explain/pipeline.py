"""Explaining trained runs on a DL1 file: maps of chosen events and criteria over all events.

One pass over the file's events (as the run's DataModule selects and transforms them) computes, per
batch, the Grad-CAM map of every target and, for Dual Attention models, every block's spatial map and
their product, all on the camera pixels. Maps are kept for the chosen events only; the criteria of
:mod:`showerlearn.iact.explain.criteria` are computed against the true p.e. image for every event.

Criteria of a Grad-CAM map count only events where its head is trained (the DataModule's loss mask:
energy, direction and impact on gammas only). Attention criteria use the amplification ``map - 1``
(a Dual Attention factor of 1 leaves a pixel as it is), so its "mass" is how much was amplified.
The signal region of a map from a coarse stage is grown to that stage's cells (``whole_cells``).

With ``control=True`` the same maps are also computed on a copy of the network whose weights are
randomly re-initialised (the model-randomisation sanity check of Adebayo et al., NeurIPS 2018), and
their criteria are reported under ``randomized:<map name>``. A criterion says something about what the
network learned only where the trained value differs from that control: a map that looks like the
shower for random weights too reflects the input (e.g. a cleaned image), not the training.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from copy import deepcopy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import default_collate

from showerlearn.engine.run_dir import RunDir
from showerlearn.explain.attention import dual_attention_maps, dual_attention_modules, global_spatial_attention
from showerlearn.iact.explain.criteria import explanation_criteria, summarise_over_seeds
from showerlearn.explain.gradcam import OutputSelector, grad_cam
from showerlearn.explain.loading import TrainedRun, load_trained_module
from showerlearn.iact.explain.projection import PixelProjector

__all__ = [
    "REFERENCES",
    "CriteriaSettings",
    "RunExplanation",
    "SignalFraction",
    "default_targets",
    "explain_run",
    "grad_cam_signal_fraction",
    "randomized_copy",
    "summarise_criteria",
]

GRADCAM_PREFIX = "gradcam:"
ATTENTION_PREFIX = "attention:"
CONTROL_PREFIX = "randomized:"
ID_COLUMNS = ("obs_id", "event_id", "tel_id")
#: what Grad-CAM activations are measured against: nothing, or the empty camera (all-zero input)
REFERENCES = ("none", "empty")


@dataclass(frozen=True)
class CriteriaSettings:
    """How the true signal is defined for the criteria (see :func:`explanation_criteria`)."""

    signal_threshold: float = 1.0  # true p.e. for a pixel to count as signal
    dilation: int = 1  # rings of neighbours added around the signal
    level: float = 0.5  # relevant pixels: map >= level x max
    whole_cells: bool = True  # grow the signal region to whole cells of the map's own lattice


@dataclass
class RunExplanation:
    """Explanations of one run on one input file.

    Attributes:
        run: the run directory.
        label: the model's name in the run's config.
        channels: names of the input channels.
        camera: the camera geometry the pixels belong to.
        selected: positions (in the DataModule's selection of the file) of the events with maps.
        ids: ``obs_id``, ``event_id``, ``tel_id`` of the selected events.
        inputs: network inputs of the selected events ``(n_selected, C, n_pixels)``.
        true_image: their true p.e. images ``(n_selected, n_pixels)``, or None (file without truth images).
        maps: map name (``gradcam:particle:0``, ``attention:1``, ``attention:product``) -> ``(n_selected, n_pixels)``.
        criteria: map name -> criterion -> per-event values over all events (NaN where not applicable),
            or None without true images.
        true_size: total true p.e. of all events, or None without true images.
        predictions: decoded prediction columns of all events.
    """

    run: RunDir
    label: str
    channels: list[str]
    camera: Any
    selected: np.ndarray
    ids: dict[str, np.ndarray]
    inputs: np.ndarray
    true_image: np.ndarray | None
    maps: dict[str, np.ndarray]
    criteria: dict[str, dict[str, np.ndarray]] | None
    true_size: np.ndarray | None
    predictions: dict[str, np.ndarray]


def default_targets(outputs: Mapping[str, torch.Tensor], head_kinds: Mapping[str, str]) -> list[str]:
    """One target per task column: class 0 (gamma) of classification heads, every regression column."""
    targets = []
    for head, values in outputs.items():
        columns = values.reshape(values.shape[0], -1).shape[1]
        if head_kinds.get(head) == "classification":
            targets.append(f"{head}:0")
        elif values.dim() == 1:
            targets.append(head)
        else:
            targets.extend(f"{head}:{i}" for i in range(columns))
    return targets


def explain_run(
    run_path: str | Path | RunDir,
    input_file: str | Path,
    events: Sequence[int] = (0,),
    targets: Sequence[str] | None = None,
    layer: str | None = None,
    *,
    max_events: int | None = None,
    settings: CriteriaSettings = CriteriaSettings(),
    method: str = "gradcam",
    control: bool = False,
    reference: str = "none",
) -> RunExplanation:
    """Maps of ``events`` and criteria over the first ``max_events`` events (all by default) of ``input_file``.

    Args:
        run_path: a trained run directory.
        input_file: a DL1 file; events are those the run's DataModule selects (quality cuts), in file order.
        events: positions of the events to keep maps of.
        targets: output selectors (default: :func:`default_targets`).
        layer: layer name for Grad-CAM (default: the model's backbone output).
        max_events: limit of events for the criteria (the chosen events are always processed).
        method: ``"gradcam"`` or ``"hirescam"`` (:func:`showerlearn.explain.gradcam.grad_cam`).
        control: also compute the criteria of the Grad-CAM maps of the network with random weights.
        reference: ``"empty"``: measure activations against those of the all-zero input (with the
            IACT charge transforms and times relative to the event mean: a camera without any light);
            ``"none"``: plain Grad-CAM (the gamma-PhysNet paper's maps).
    """
    if reference not in REFERENCES:
        raise ValueError(f"reference must be one of {REFERENCES}, got {reference!r}")
    trained = load_trained_module(run_path, [input_file])
    # each seed of a sweep gets its own random weights, so the control's spread over seeds is real
    randomized = randomized_copy(trained.model, seed=trained.config.seed) if control else None
    dataset = trained.datamodule.predict_set
    if dataset is None or len(dataset) == 0:
        raise ValueError(f"{input_file}: no event passes the run's selection")
    n_total = len(dataset)
    chosen = np.asarray(events, dtype=np.int64)
    if chosen.size and (chosen.min() < 0 or chosen.max() >= n_total):
        raise ValueError(f"{input_file}: event positions must be in 0..{n_total - 1} (events passing the run's cuts), got {chosen.tolist()}")
    count = n_total if max_events is None else min(max_events, n_total)
    order = np.union1d(np.arange(count), chosen)
    in_criteria = order < count
    model_inputs = trained.datamodule.model_inputs()
    lattice, camera = model_inputs["lattice"], model_inputs["camera"]
    neighbours = lattice.neighbours(1)
    blocks = dual_attention_modules(trained.model)
    projector = PixelProjector(trained.model, lattice)
    cells: dict[str, np.ndarray | None] = {}
    files = dataset.files
    has_truth = all(files[i].has_true_image for i in np.unique(dataset.file_index[order]))
    batch_size = trained.datamodule.batch_size

    kept_maps: dict[str, list[np.ndarray]] = {}
    criteria: dict[str, dict[str, list[np.ndarray]]] = {}
    outputs_parts, meta_parts, kept_inputs, kept_truth, sizes = [], [], [], [], []
    for start in range(0, len(order), batch_size):
        positions = order[start : start + batch_size]
        batch = default_collate([dataset[int(i)] for i in positions])
        if targets is None:
            with torch.no_grad():
                targets = default_targets(trained.model(batch["inputs"]), trained.head_kinds)
        baseline = _zeros_like_one(batch["inputs"]) if reference == "empty" else None
        result = grad_cam(trained.model, batch["inputs"], targets, layer, lattice=lattice, method=method, reference=baseline)
        maps = {GRADCAM_PREFIX + name: values.double().numpy() for name, values in result.maps.items()}
        controls = {}
        if randomized is not None:
            random_result = grad_cam(
                randomized, batch["inputs"], targets, layer, lattice=lattice, method=method, reference=baseline
            )
            controls = {CONTROL_PREFIX + GRADCAM_PREFIX + n: v.double().numpy() for n, v in random_result.maps.items()}
        if blocks:
            spatial = dual_attention_maps(trained.model, lattice)
            maps.update({f"{ATTENTION_PREFIX}{i + 1}": m.double().numpy() for i, m in enumerate(spatial)})
            maps[ATTENTION_PREFIX + "product"] = global_spatial_attention(spatial).double().numpy()
        if not cells and settings.whole_cells:
            sizes_of = {GRADCAM_PREFIX + n: m.shape[-1] for n, m in result.layer_maps.items() if m.dim() == 2}
            sizes_of.update({f"{ATTENTION_PREFIX}{i + 1}": b.lattice.n_pixels for i, b in enumerate(blocks)})
            cells = {name: projector(np.arange(n)) if n in projector.chains else None for name, n in sizes_of.items()}
            cells.update({CONTROL_PREFIX + name: cell for name, cell in cells.items()})
        truth = _true_images(dataset, positions) if has_truth else None
        keep = np.isin(positions, chosen)
        for name, values in maps.items():
            kept_maps.setdefault(name, []).append(values[keep])
        kept_inputs.append(batch["inputs"].double().numpy()[keep])
        if truth is not None:
            kept_truth.append(truth[keep])
            counted = in_criteria[start : start + batch_size]
            sizes.append(truth[counted].sum(axis=1))
            for name, values in {**maps, **controls}.items():
                per_event = _criteria(name, values[counted], truth[counted], lattice, neighbours, settings, cells.get(name))
                applies = _applies(name, dataset, positions[counted])
                for criterion, column in per_event.items():
                    criteria.setdefault(name, {}).setdefault(criterion, []).append(np.where(applies, column, np.nan))
        outputs_parts.append({k: v.float().numpy() for k, v in result.outputs.items()})
        meta_parts.append({k: v.numpy() for k, v in batch["meta"].items()})

    outputs, meta = _join(outputs_parts), _join(meta_parts)
    predictions = trained.datamodule.decode_predictions(
        {k: v[in_criteria] for k, v in outputs.items()}, {k: v[in_criteria] for k, v in meta.items()}
    )
    kept_positions = order[np.isin(order, chosen)]
    return RunExplanation(
        run=trained.run,
        label=trained.config.model.name if trained.config.model else "",  # always a network here (loading checks)
        channels=_channel_names(trained, kept_inputs[0].shape[1]),
        camera=camera,
        selected=kept_positions,
        ids={name: meta[name][np.isin(order, chosen)] for name in ID_COLUMNS if name in meta},
        inputs=np.concatenate(kept_inputs),
        true_image=np.concatenate(kept_truth) if kept_truth else None,
        maps={name: np.concatenate(parts) for name, parts in kept_maps.items()},
        criteria={name: {c: np.concatenate(v) for c, v in per.items()} for name, per in criteria.items()} if has_truth else None,
        true_size=np.concatenate(sizes) if has_truth else None,
        predictions=predictions,
    )


def _zeros_like_one(inputs: torch.Tensor | Mapping[str, torch.Tensor]) -> torch.Tensor | dict[str, torch.Tensor]:
    """One all-zero event shaped like the batch ``inputs`` (a tensor or a dict of streams)."""
    if isinstance(inputs, torch.Tensor):
        return torch.zeros_like(inputs[:1])
    return {name: torch.zeros_like(values[:1]) for name, values in inputs.items()}


def randomized_copy(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """A copy of ``model`` with every layer re-initialised as at construction (batch-norm statistics too)."""
    copy = deepcopy(model)
    with torch.random.fork_rng(devices=[]):  # the caller's random streams are left as they were
        torch.random.default_generator.manual_seed(seed)
        for module in copy.modules():
            if module is not copy and hasattr(module, "reset_parameters"):
                module.reset_parameters()
    return copy.eval()


def _channel_names(trained: TrainedRun, n_channels: int) -> list[str]:
    """The DataModule's channel names (IACT: its image transform's), else numbered channels."""
    names = getattr(getattr(trained.datamodule, "transform", None), "channels", None)
    return list(names) if names is not None and len(names) == n_channels else [f"channel {i}" for i in range(n_channels)]


def _criteria(
    name: str, maps: np.ndarray, truth: np.ndarray, lattice: Any, neighbours: np.ndarray, settings: CriteriaSettings,
    cells: np.ndarray | None,
) -> dict[str, np.ndarray]:
    values = maps - 1.0 if name.startswith(ATTENTION_PREFIX) else maps
    return explanation_criteria(
        values, truth, lattice.x, lattice.y, neighbours,
        signal_threshold=settings.signal_threshold, dilation=settings.dilation, level=settings.level, cells=cells,
    )


def _applies(name: str, dataset: Any, positions: np.ndarray) -> np.ndarray:
    """Events for which map ``name`` is meaningful: its head's loss mask (all events for attention)."""
    name = name.removeprefix(CONTROL_PREFIX)
    if not name.startswith(GRADCAM_PREFIX):
        return np.ones(len(positions), dtype=bool)
    head = OutputSelector.parse(name[len(GRADCAM_PREFIX) :]).head
    masks = getattr(dataset, "masks", {})
    return np.asarray(masks[head])[positions] if head in masks else np.ones(len(positions), dtype=bool)


def _true_images(dataset: Any, positions: np.ndarray) -> np.ndarray:
    """True p.e. images of dataset events, read file by file."""
    file_index, rows = dataset.file_index[positions], dataset.row[positions]
    images = None
    for index in np.unique(file_index):
        where = np.flatnonzero(file_index == index)
        part = dataset.files[index].read(rows[where])["true_image"]
        images = np.zeros((len(positions), part.shape[1])) if images is None else images
        images[where] = part
    assert images is not None
    return images


def _join(parts: Sequence[Mapping[str, np.ndarray]]) -> dict[str, np.ndarray]:
    return {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}


def summarise_criteria(explanations: Sequence[RunExplanation]) -> dict[str, dict[str, dict[str, Any]]] | None:
    """Per map name and criterion: mean over events of each seed, then mean/std over seeds."""
    if any(e.criteria is None for e in explanations):
        return None
    names = [n for n in explanations[0].criteria or {} if all(n in (e.criteria or {}) for e in explanations)]
    return {name: summarise_over_seeds([e.criteria[name] for e in explanations if e.criteria]) for name in names}


@dataclass(frozen=True)
class SignalFraction:
    """Grad-CAM mass on the true signal per event, the chance level (``area``: the signal region's share
    of the camera), and which events count as well reconstructed; ``median``/``mean`` over those.
    ``control_median``: the same median for the network with random weights (None without control)."""

    fraction: np.ndarray
    area: np.ndarray
    well_reconstructed: np.ndarray
    median: float
    mean: float
    median_area: float
    control_median: float | None = None


def grad_cam_signal_fraction(
    run_dir: str | Path | RunDir,
    input_file: str | Path,
    target: str = "particle:0",
    *,
    min_gammaness: float = 0.5,
    min_true_pe: float = 50.0,
    max_events: int | None = None,
    settings: CriteriaSettings = CriteriaSettings(),
    method: str = "gradcam",
    layer: str | None = None,
    control: bool = False,
    reference: str = "none",
) -> SignalFraction:
    """Fraction of the Grad-CAM mass of ``target`` on the (dilated) true signal pixels, per event.

    Well-reconstructed events: true gammas classified as gammas (gammaness >= ``min_gammaness``) with
    at least ``min_true_pe`` true photo-electrons in the image; ``median``/``mean`` are over those.
    ``control``: also the median for the same network with random weights; ``reference``: what the
    activations are measured against (both as in :func:`explain_run`).
    """
    explanation = explain_run(
        run_dir, input_file, events=(), targets=[target], layer=layer, max_events=max_events, settings=settings,
        method=method, control=control, reference=reference,
    )
    if explanation.criteria is None:
        raise ValueError(f"{input_file}: no true p.e. images (simulated files with /simulation/event/telescope/images needed)")
    criteria = explanation.criteria[GRADCAM_PREFIX + target]
    fraction, area = criteria["signal_fraction"], criteria["signal_area"]
    predictions, size = explanation.predictions, explanation.true_size
    assert size is not None  # present whenever criteria are
    well = (
        (np.asarray(predictions["true_shower_primary_id"]) == 0)
        & (np.asarray(predictions["gammaness"]) >= min_gammaness)
        & (size >= min_true_pe)
        & np.isfinite(fraction)
    )
    chosen = fraction[well]
    control_median = None
    if control:
        control_fraction = explanation.criteria[CONTROL_PREFIX + GRADCAM_PREFIX + target]["signal_fraction"][well]
        control_median = float(np.nanmedian(control_fraction)) if chosen.size else float("nan")
    return SignalFraction(
        fraction=fraction,
        area=area,
        well_reconstructed=well,
        median=float(np.median(chosen)) if chosen.size else float("nan"),
        mean=float(np.mean(chosen)) if chosen.size else float("nan"),
        median_area=float(np.median(area[well])) if chosen.size else float("nan"),
        control_median=control_median,
    )
