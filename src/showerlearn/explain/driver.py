"""The ``explain`` driver: maps of chosen events and criteria over all events of one input file, for a run
of any detector family.

One pass over the events the run's DataModule selects in the file (its prediction set: the cuts and
transforms of training) computes, per batch, the Grad-CAM map of every target and the network's
attention maps, all on the detector's elements (a camera's pixels). Maps are kept for the chosen events
only; criteria against the true signal are computed for every event. Whatever depends on the detector
comes from the run's family through its :class:`ExplainAdapter`: the true signal, how a layer map
reaches the detector's elements, which attention maps the network has, the criteria, the event figure.

Map names: ``gradcam:<target>`` (``gradcam:particle:0``), ``attention:<name>`` (the adapter's names:
``attention:1``, ``attention:product``), and ``randomized:<map name>`` for the control below.

Criteria of a Grad-CAM map count only events where its head is trained (the head's loss mask in the
batch; IACT: energy, direction and impact on gammas only); other maps count every event.

With ``control=True`` the Grad-CAM maps are also computed on a copy of the network whose weights are
randomly re-initialised (the model-randomisation sanity check of Adebayo et al., NeurIPS 2018), and
their criteria are reported under ``randomized:<map name>``. A criterion says something about what the
network learned only where the trained value differs from that control: a map that looks like the
signal for random weights too reflects the input (e.g. a cleaned image), not the training.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from copy import deepcopy
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import torch
from torch import Tensor, nn
from torch.utils.data import Dataset

from showerlearn.data.base import ShowerDataModule
from showerlearn.data.collate import concatenate_batches, join_padded
from showerlearn.engine.run_dir import RunDir
from showerlearn.engine.runner import trained_outputs
from showerlearn.explain.attention import AttentionWeights, capture_attention
from showerlearn.explain.gradcam import CAM_METHODS, OutputSelector, Projection, grad_cam
from showerlearn.explain.loading import TrainedRun, check_explainable, load_trained_module
from showerlearn.explain.seeds import summarise_over_seeds
from showerlearn.family import family_of

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "ATTENTION_PREFIX",
    "CONTROL_PREFIX",
    "GRADCAM_PREFIX",
    "REFERENCES",
    "ProgressHook",
    "CriteriaSettings",
    "ExplainAdapter",
    "FigureRow",
    "RunExplanation",
    "default_targets",
    "explain_run",
    "randomized_copy",
    "summarise_criteria",
]

GRADCAM_PREFIX = "gradcam:"
ATTENTION_PREFIX = "attention:"
CONTROL_PREFIX = "randomized:"
#: what Grad-CAM activations are measured against: nothing, or the empty detector (all-zero input)
REFERENCES = ("none", "empty")

#: one row of an event figure: ``(row label, [(panel title, values on the detector's elements), ...])``
FigureRow = tuple[str, Sequence[tuple[str, np.ndarray]]]


@dataclass(frozen=True)
class CriteriaSettings:
    """How the true signal is defined for the criteria (the family's adapter applies them)."""

    signal_threshold: float = 1.0  # true signal for an element to count as signal (IACT: p.e. in a pixel)
    dilation: int = 1  # rings of neighbours added around the signal
    level: float = 0.5  # relevant elements: map >= level x max
    whole_cells: bool = True  # grow the signal region to whole cells of the map's own layer

    def __post_init__(self) -> None:
        # NaN passes every comparison: it would count no element as signal, and a negative threshold every one
        if not math.isfinite(self.signal_threshold) or self.signal_threshold < 0:
            raise ValueError(f"--signal-threshold must be a number >= 0, got {self.signal_threshold}")
        if not 0 < self.level <= 1:
            raise ValueError(f"the relevance level must be in (0, 1], got {self.level}")


class ExplainAdapter(Protocol):
    """What the explain driver asks a detector family about one trained run (``Family.explain_adapter``).

    Events are named by their positions in the run's prediction set (the events its DataModule selects
    in the input file). Maps are on the detector's elements: ``(n_events, n_elements)``.

    Optional members, read when an adapter has them:

    * ``channels_last`` (bool): the family's Grad-CAM layers put channels last, ``(B, tokens, C)``
      (transformer tokens) instead of ``(B, C, positions)``;
    * ``accumulate(maps, batch, counted)``: called with each batch's maps, the collated batch and the
      events of it the criteria count (a boolean mask), so that an adapter can gather statistics over
      all events (maps averaged per class) instead of the chosen events only;
    * ``summary_figures() -> dict[str, Figure]``: figures of those statistics, by file stem, drawn
      after the pass next to the event figures;
    * ``real_elements(inputs) -> Tensor``: ``(B, n_elements)`` bool, False on the padding of a batch's
      inputs (token or hit slots an event does not fill): Grad-CAM maps are zeroed there, since a
      layer's activations on padding are not evidence of anything in the event;
    * ``default_targets(outputs, head_kinds) -> list[str]``: the outputs Grad-CAM explains when the user
      names none (default: :func:`default_targets`); an empty list explains with attention maps only, for
      networks with no one score per event (per-hit and per-pair outputs);
    * ``criteria_settings`` (frozenset of :class:`CriteriaSettings` field names): the settings its
      ``criteria`` read (default: all of them); criteria.json records the others as null, since they shaped
      nothing.
    """

    #: title of the true signal's panel in event figures (IACT: ``"true p.e."``)
    truth_label: str
    #: criterion name -> one-line definition, written next to the numbers in criteria.json
    criteria_definitions: Mapping[str, str]
    #: meta columns that identify an event, in figure names and titles (IACT: obs_id, event_id, tel_id)
    id_columns: Sequence[str]

    def has_truth(self, positions: np.ndarray) -> bool:
        """Whether the true signal of these events can be read (simulated input files)."""
        ...

    def truth(self, positions: np.ndarray) -> np.ndarray:
        """The true signal of these events on the detector's elements ``(n, n_elements)``."""
        ...

    def projection(self, model: nn.Module, layer: str | None = None) -> Projection | None:
        """How Grad-CAM maps of ``model``'s ``layer`` (None: the model's default) reach the detector's elements,
        for the trained network or its randomised copy; None leaves them on the layer."""
        ...

    def attention_maps(self, model: nn.Module, records: Sequence[AttentionWeights]) -> dict[str, Tensor]:
        """The attention maps of ``model``'s latest forward pass on the detector's elements, by name (empty
        for a network without attention); ``records``: the per-head weights of its
        ``nn.MultiheadAttention`` calls in that pass (:func:`~showerlearn.explain.attention.capture_attention`)."""
        ...

    def criteria(
        self, name: str, maps: np.ndarray, truth: np.ndarray, settings: CriteriaSettings, layer_shape: tuple[int, ...] | None
    ) -> dict[str, np.ndarray]:
        """Per-event values of each criterion of ``criteria_definitions`` for maps ``name`` (without the
        ``randomized:`` prefix: a control reads as its map) against ``truth``. ``layer_shape``: the
        positions of the layer a Grad-CAM map was made on (``(N,)``, ``(h, w)``); None for attention maps."""
        ...

    def input_panels(self, inputs: Any) -> list[tuple[str, np.ndarray]]:
        """Panels of one event's network inputs (the batch's ``inputs`` of that event, as numpy)."""
        ...

    def event_figure(self, title: str, rows: Sequence[FigureRow]) -> Figure:
        """One event's panels drawn on the detector, row by row (input row first, then map rows)."""
        ...


@dataclass
class RunExplanation:
    """Explanations of one run on one input file.

    Attributes:
        run: the run directory.
        label: the model's name in the run's config.
        adapter: the family's adapter that read the events (and draws them).
        selected: positions (in the DataModule's selection of the file) of the events with maps.
        counted: positions of the events the criteria, predictions and summaries are over (all events,
            or ``max_events`` of them spread evenly over the file).
        ids: the adapter's identifying meta columns of the selected events.
        inputs: network inputs of the selected events (``(n_selected, C, n_elements)``, or a dict of them).
        true_image: their true signal ``(n_selected, n_elements)``, or None (file without truth).
        maps: map name (``gradcam:particle:0``, ``attention:1``, ``attention:product``) -> ``(n_selected, n_elements)``.
        criteria: map name -> criterion -> per-event values over all events (NaN where not applicable),
            or None without truth.
        true_size: total true signal of each of all events, or None without truth.
        predictions: decoded prediction columns of all events.
    """

    run: RunDir
    label: str
    adapter: ExplainAdapter
    selected: np.ndarray
    counted: np.ndarray
    ids: dict[str, np.ndarray]
    inputs: Any
    true_image: np.ndarray | None
    maps: dict[str, np.ndarray]
    criteria: dict[str, dict[str, np.ndarray]] | None
    true_size: np.ndarray | None
    predictions: dict[str, np.ndarray]

    @property
    def n_events(self) -> int:
        """Events the criteria and predictions are over (``counted``: the predictions of a family may be several
        tables, whose first's length is no event count)."""
        return len(self.counted)

    def event_inputs(self, event: int) -> Any:
        """The network inputs of the ``event``-th selected event (an array, or a dict of arrays)."""
        if isinstance(self.inputs, np.ndarray):
            return self.inputs[event]
        return {name: values[event] for name, values in self.inputs.items()}


#: ``progress(done, total)``: events of one run processed so far, out of all it processes
ProgressHook = Callable[[int, int], None]


def default_targets(outputs: Mapping[str, torch.Tensor], head_kinds: Mapping[str, str]) -> list[str]:
    """One target per task column: class 0 of classification heads, every regression column."""
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
    progress: ProgressHook | None = None,
) -> RunExplanation:
    """Maps of ``events`` and criteria over ``max_events`` events (all by default) of ``input_file``.

    Args:
        run_path: a trained run directory (of a family with an explanation adapter).
        input_file: a file the run's DataModule reads; events are those it selects, in file order.
        events: positions of the events to keep maps of.
        targets: output selectors (default: :func:`default_targets`).
        layer: layer name for Grad-CAM (default: the model's backbone output).
        max_events: limit of events for the criteria, predictions and per-class summaries, taken evenly
            spread over the file (files may be ordered by class); the chosen events are always processed.
        method: ``"gradcam"`` or ``"hirescam"`` (:func:`showerlearn.explain.gradcam.grad_cam`).
        control: also compute the criteria of the Grad-CAM maps of the network with random weights.
        reference: ``"empty"``: measure activations against those of the all-zero input (IACT: with the
            charge transforms and times relative to the event mean, a camera without any light);
            ``"none"``: plain Grad-CAM (the gamma-PhysNet paper's maps).
        progress: called after each batch with the events processed so far and the total; without it the run's
            DataModule shows no progress bar either (``explain --no-progress``).
    """
    if reference not in REFERENCES:
        raise ValueError(f"reference must be one of {REFERENCES}, got {reference!r}")
    if method not in CAM_METHODS:  # before any work, and for networks explained by attention alone as well
        raise ValueError(f"method must be one of {CAM_METHODS}, got {method!r}")
    trained = load_trained_module(run_path, [input_file], progress=progress is not None)  # --no-progress: no bars at all
    check_explainable(trained.model, str(trained.run.path))
    adapter = family_of(trained.config).explain_adapter(trained)
    dataset = trained.datamodule.predict_set
    order, chosen, counted = _positions(dataset, input_file, events, max_events)
    maker = _MapMaker(trained, adapter, targets, layer, method, reference, control)
    collector = _Collector(adapter, settings, chosen, counted, has_truth=adapter.has_truth(order))
    done = 0
    for positions, batch in _batches(trained.datamodule, order):
        collector.add(positions, batch, maker(batch["inputs"], batch.get("masks", {})))
        done += len(positions)
        if progress is not None:
            progress(done, len(order))
    return collector.explanation(trained)


def _positions(
    dataset: Dataset | None, input_file: str | Path, events: Sequence[int], max_events: int | None
) -> tuple[np.ndarray, np.ndarray, int]:
    """``(order, chosen, counted)``: every position to process, those to keep maps of, and those the
    criteria count: all, or ``max_events`` spread evenly over the selection (deterministically), since the
    first ones of a file ordered by process (generated collider files: signal first) may hold one class only."""
    n_total = len(dataset) if dataset is not None else 0
    if n_total == 0:
        raise ValueError(f"{input_file}: no event passes the run's selection")
    chosen = np.asarray(events, dtype=np.int64)
    if chosen.size and (chosen.min() < 0 or chosen.max() >= n_total):
        raise ValueError(
            f"{input_file}: event positions must be in 0..{n_total - 1} (events passing the run's selection), got {chosen.tolist()}"
        )
    count = n_total if max_events is None else min(max_events, n_total)
    counted = np.arange(count, dtype=np.int64) * n_total // count  # exact integers, strictly increasing
    return np.union1d(counted, chosen), chosen, counted


def _batches(datamodule: ShowerDataModule, order: np.ndarray) -> Iterator[tuple[np.ndarray, dict[str, Any]]]:
    """The events at ``order`` of the prediction set, batch by batch, collated by the DataModule's hook."""
    dataset = datamodule.predict_set
    assert dataset is not None  # checked by _positions
    for start in range(0, len(order), datamodule.batch_size):
        positions = order[start : start + datamodule.batch_size]
        yield positions, datamodule.collate([dataset[int(i)] for i in positions])


@dataclass
class _BatchMaps:
    """The maps of one batch on the detector's elements, the layer each Grad-CAM map was made on, the outputs."""

    maps: dict[str, np.ndarray]
    layer_shapes: dict[str, tuple[int, ...]]
    outputs: dict[str, np.ndarray]


class _MapMaker:
    """Grad-CAM and attention maps of one run's batches (and Grad-CAM of its randomised copy)."""

    def __init__(
        self, trained: TrainedRun, adapter: ExplainAdapter, targets: Sequence[str] | None, layer: str | None,
        method: str, reference: str, control: bool,
    ) -> None:
        self.model, self.head_kinds, self.adapter = trained.model, trained.head_kinds, adapter
        self.targets = list(targets) if targets is not None else None
        self.layer, self.method, self.reference = layer, method, reference
        # each seed of a sweep gets its own random weights, so the control's spread over seeds is real
        self.randomized = randomized_copy(trained.model, seed=trained.config.seed) if control else None

    def __call__(self, inputs: Tensor | Mapping[str, Tensor], masks: Mapping[str, Tensor]) -> _BatchMaps:
        """The maps of one batch (``masks``: the batch's loss masks, which tell per-element heads)."""
        with torch.no_grad(), capture_attention(self.model) as records:
            plain = self.model(inputs)
        attention = self.adapter.attention_maps(self.model, records)
        if self.targets is None:
            # a family whose outputs have no one score per event to explain (per-hit pairs) chooses its own
            choose = getattr(self.adapter, "default_targets", default_targets)
            self.targets = list(choose(plain, self.head_kinds))
        _refuse_per_element_targets(self.targets, masks, bool(attention))
        maps, shapes, outputs = self._grad_cam(self.model, inputs, "") if self.targets else ({}, {}, {})
        outputs = outputs or {name: values.float().numpy() for name, values in plain.items()}
        maps.update({ATTENTION_PREFIX + name: values.double().numpy() for name, values in attention.items()})
        if not maps:
            raise ValueError(_nothing_to_explain(type(self.model).__name__, masks))
        if self.randomized is not None and self.targets:
            control, control_shapes, _ = self._grad_cam(self.randomized, inputs, CONTROL_PREFIX)
            maps.update(control)
            shapes.update(control_shapes)
        return _BatchMaps(maps, shapes, outputs)

    def _grad_cam(
        self, model: nn.Module, inputs: Tensor | Mapping[str, Tensor], prefix: str
    ) -> tuple[dict[str, np.ndarray], dict[str, tuple[int, ...]], dict[str, np.ndarray]]:
        reference = _zeros_like_one(inputs) if self.reference == "empty" else None
        result = grad_cam(
            model, inputs, self.targets or [], self.layer, projection=self.adapter.projection(model, self.layer),
            method=self.method, reference=reference, channels_last=getattr(self.adapter, "channels_last", False),
        )
        prefix += GRADCAM_PREFIX
        real = getattr(self.adapter, "real_elements", None)
        keep = real(inputs).double() if callable(real) else 1.0
        maps = {prefix + name: (values.double() * keep).numpy() for name, values in result.maps.items()}
        shapes = {prefix + name: tuple(values.shape[1:]) for name, values in result.layer_maps.items()}
        return maps, shapes, {name: values.float().numpy() for name, values in result.outputs.items()}


class _Collector:
    """What one pass keeps: maps, inputs and truth of the chosen events; criteria, sizes, outputs and meta
    of the events the criteria count."""

    def __init__(
        self, adapter: ExplainAdapter, settings: CriteriaSettings, chosen: np.ndarray, counted: np.ndarray, has_truth: bool
    ) -> None:
        self.adapter, self.settings, self.chosen, self.counted, self.has_truth = adapter, settings, chosen, counted, has_truth
        self.positions: list[np.ndarray] = []
        self.maps: dict[str, list[np.ndarray]] = {}
        self.criteria: dict[str, dict[str, list[np.ndarray]]] = {}
        self.inputs: list[Any] = []
        self.truth: list[np.ndarray] = []
        self.sizes: list[np.ndarray] = []
        self.outputs: list[dict[str, np.ndarray]] = []
        self.meta: list[dict[str, np.ndarray]] = []

    def add(self, positions: np.ndarray, batch: Mapping[str, Any], made: _BatchMaps) -> None:
        keep, counted = np.isin(positions, self.chosen), np.isin(positions, self.counted)
        self.positions.append(positions)
        for name, values in made.maps.items():
            if not name.startswith(CONTROL_PREFIX):  # the control is a criterion, not a figure
                self.maps.setdefault(name, []).append(values[keep])
        self.inputs.append(_numpy(batch["inputs"], keep))
        self.outputs.append(made.outputs)
        accumulate = getattr(self.adapter, "accumulate", None)
        if callable(accumulate):
            accumulate({n: v for n, v in made.maps.items() if not n.startswith(CONTROL_PREFIX)}, batch, counted)
        self.meta.append({name: values.numpy() for name, values in batch["meta"].items()})
        if self.has_truth:
            truth = self.adapter.truth(positions)
            self.truth.append(truth[keep])
            self.sizes.append(truth[counted].sum(axis=1))
            self._add_criteria(made, truth[counted], counted, batch.get("masks", {}))

    def _add_criteria(self, made: _BatchMaps, truth: np.ndarray, counted: np.ndarray, masks: Mapping[str, Tensor]) -> None:
        for name, values in made.maps.items():
            own = name.removeprefix(CONTROL_PREFIX)
            per_event = self.adapter.criteria(own, values[counted], truth, self.settings, made.layer_shapes.get(name))
            trained = _trained_events(own, masks, len(counted))[counted]
            for criterion, column in per_event.items():
                self.criteria.setdefault(name, {}).setdefault(criterion, []).append(np.where(trained, column, np.nan))

    def explanation(self, trained: TrainedRun) -> RunExplanation:
        order = np.concatenate(self.positions)
        kept, counted = np.isin(order, self.chosen), np.isin(order, self.counted)
        outputs, meta = concatenate_batches(self.outputs), concatenate_batches(self.meta)
        criteria = {n: {c: np.concatenate(v) for c, v in per.items()} for n, per in self.criteria.items()}
        predictions = trained.datamodule.decode_predictions(
            trained_outputs({k: v[counted] for k, v in outputs.items()}, trained.config), {k: v[counted] for k, v in meta.items()}
        )
        return RunExplanation(
            run=trained.run,
            label=trained.config.model.name if trained.config.model else "",  # always a network here (loading checks)
            adapter=self.adapter,
            selected=order[kept],
            counted=order[counted],
            ids={name: meta[name][kept] for name in self.adapter.id_columns if name in meta},
            inputs=_concatenate(self.inputs),
            true_image=np.concatenate(self.truth) if self.has_truth else None,
            maps={name: np.concatenate(parts) for name, parts in self.maps.items()},
            criteria=criteria if self.has_truth else None,
            true_size=np.concatenate(self.sizes) if self.has_truth else None,
            predictions=predictions,
        )


def _refuse_per_element_targets(targets: Sequence[str], masks: Mapping[str, Tensor], attention: bool) -> None:
    """Refuse Grad-CAM of a head with one value per detector element (per hit, per hit pair): its outputs are
    padded to each batch's largest event, so one column is another element (often padding) in every batch.
    ``attention``: whether the network has attention maps to explain instead (without --target)."""
    per_event = _per_event_heads(masks)
    for target in targets:
        head = OutputSelector.parse(target).head
        if head in masks and masks[head].dim() > 1:
            others = f"this run's are {per_event}" if per_event else "this run has none"
            if attention:
                instead = "this run's attention maps are explained without --target"
            elif per_event:
                instead = "name one of them with --target"
            else:  # no way round: say so, rather than send the user back to where they came from
                instead = ("nor has this network attention maps to explain without --target: there is nothing explain "
                           "can show for it")
            raise ValueError(
                f"--target {target}: output {head!r} has one value per detector element (hit, hit pair), padded "
                "differently in each batch, so no column of it is one element of every event. Grad-CAM explains "
                f"per-event outputs ({others}); {instead}"
            )


def _nothing_to_explain(model: str, masks: Mapping[str, Tensor]) -> str:
    """Why a network whose family reads no attention map of it, and with no Grad-CAM target, is refused."""
    if _per_event_heads(masks):
        return (f"{model} gives nothing to explain: no attention maps its family reads, and no Grad-CAM target (name "
                "one with --target, and its layer with --layer)")
    return (f"{model} gives nothing to explain: no attention maps its family reads, and no per-event output for "
            "Grad-CAM (--target) either, its outputs having one value per detector element: there is nothing explain "
            "can show for it")


def _per_event_heads(masks: Mapping[str, Tensor]) -> list[str]:
    """The heads of one value per event, by their loss masks (those of per-element heads have more dimensions)."""
    return sorted(name for name, mask in masks.items() if mask.dim() <= 1)


def _trained_events(name: str, masks: Mapping[str, Tensor], n: int) -> np.ndarray:
    """Events for which map ``name`` is meaningful: those its head is trained on (the batch's loss mask
    of the head; per-element masks: any element), every event for maps of no head (attention)."""
    if not name.startswith(GRADCAM_PREFIX):
        return np.ones(n, dtype=bool)
    head = OutputSelector.parse(name[len(GRADCAM_PREFIX) :]).head
    return masks[head].numpy().reshape(n, -1).any(axis=1) if head in masks else np.ones(n, dtype=bool)


def _zeros_like_one(inputs: Tensor | Mapping[str, Tensor]) -> Tensor | dict[str, Tensor]:
    """One all-zero event shaped like the batch ``inputs`` (a tensor or a dict of streams)."""
    if isinstance(inputs, Tensor):
        return torch.zeros_like(inputs[:1])
    return {name: torch.zeros_like(values[:1]) for name, values in inputs.items()}


def _numpy(inputs: Tensor | Mapping[str, Tensor], keep: np.ndarray) -> np.ndarray | dict[str, np.ndarray]:
    """The ``keep`` events of batch inputs (a tensor or a dict of streams) as float64 numpy."""
    if isinstance(inputs, Tensor):
        return inputs.double().numpy()[keep]
    return {name: values.double().numpy()[keep] for name, values in inputs.items()}


def _concatenate(parts: Sequence[Any]) -> np.ndarray | dict[str, np.ndarray]:
    """Per-batch inputs (arrays, or dicts of streams) as one, padded sets padded to the largest batch's."""
    return join_padded(parts) if isinstance(parts[0], np.ndarray) else concatenate_batches(parts)


def randomized_copy(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """A copy of ``model`` with every layer re-initialised as at construction (batch-norm statistics too):
    the layers' own resets (``reset_parameters``, attention's ``_reset_parameters``), and a draw from N(0, 0.02)
    for a parameter no layer resets (a class token, slot initialisations), so that nothing trained is left."""
    copy = deepcopy(model)
    reset: set[int] = set()
    with torch.random.fork_rng(devices=[]):  # the caller's random streams are left as they were
        torch.random.default_generator.manual_seed(seed)
        for module in copy.modules():
            method = getattr(module, "reset_parameters", None) or getattr(module, "_reset_parameters", None)
            if module is not copy and callable(method):
                method()
                reset.update(id(parameter) for parameter in module.parameters())
        with torch.no_grad():
            for parameter in copy.parameters():
                if id(parameter) not in reset:
                    torch.nn.init.normal_(parameter, std=0.02)
    return copy.eval()


def summarise_criteria(explanations: Sequence[RunExplanation]) -> dict[str, dict[str, dict[str, Any]]] | None:
    """Per map name and criterion: mean over events of each seed, then mean/std over seeds."""
    if any(e.criteria is None for e in explanations):
        return None
    names = [n for n in explanations[0].criteria or {} if all(n in (e.criteria or {}) for e in explanations)]
    return {name: summarise_over_seeds([e.criteria[name] for e in explanations if e.criteria]) for name in names}
