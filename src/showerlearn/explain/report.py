"""Explanation figures in the gamma-PhysNet layout, the criteria JSON/markdown table, and the whole
``showerlearn explain`` job.

One figure per chosen event, drawn on the detector by the run family's adapter (IACT: camera displays
on the true pixel layout)::

    row 1   network inputs (IACT: charge, peak time) and the true signal when the file has it
    row 2   Grad-CAM per task                    (sweep: mean over seeds)
    row 3                                        (sweep: standard deviation over seeds)
    row 4   attention maps (IACT: Dual Attention per block, product)   (sweep: mean over seeds)
    row 5                                        (sweep: standard deviation over seeds)

Where things go: each run's figures in ``RUN/plots/explain/`` (the board embeds every PNG there),
a sweep's mean/std figures in ``SWEEP/plots/explain/``, and the criteria of every compared model in
``RUN_OR_SWEEP/explain/criteria.json`` and ``criteria.md`` (plus ``plots/explain/criteria.png``).
Each of these folders is replaced as a whole at the end (:mod:`showerlearn.io.staging`): nothing of
an earlier explanation stays among the new files, and a failure leaves the earlier ones as they were. A
folder this explanation writes nothing into (the sweep's ``plots/explain/`` when it has one run and no
criteria) is removed, not left empty.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from showerlearn.explain.driver import (
    ATTENTION_PREFIX,
    CONTROL_PREFIX,
    GRADCAM_PREFIX,
    CriteriaSettings,
    FigureRow,
    ProgressHook,
    RunExplanation,
    explain_run,
    summarise_criteria,
)
from showerlearn.config import load_config
from showerlearn.data.files import expand_patterns
from showerlearn.engine.run_dir import RunDir
from showerlearn.explain.gradcam import OutputSelector
from showerlearn.explain.loading import network_checkpoint, resolve_runs
from showerlearn.explain.seeds import criteria_table, stack_over_seeds
from showerlearn.io.atomic import write_json_atomic, write_text_atomic
from showerlearn.io.staging import StagedFolders, holds_anything
from showerlearn.viz.board import EXPLAIN_FOLDER
from showerlearn.viz.figures import new_figure, save_figure

__all__ = ["CRITERIA_FOLDER", "criteria_figure", "write_explanations"]

#: Inside a run directory or sweep folder: criteria.json and criteria.md.
CRITERIA_FOLDER = "explain"

Panel = tuple[str, np.ndarray]

log = logging.getLogger(__name__)


def _map_title(name: str) -> str:
    if name.startswith(CONTROL_PREFIX):
        return "random weights: " + _map_title(name[len(CONTROL_PREFIX) :])
    if name.startswith(GRADCAM_PREFIX):
        return f"Grad-CAM {name[len(GRADCAM_PREFIX):]}"
    block = name[len(ATTENTION_PREFIX) :]
    return "attention product" if block == "product" else f"attention block {block}"


def _input_panels(explanation: RunExplanation, event: int) -> list[Panel]:
    panels = explanation.adapter.input_panels(explanation.event_inputs(event))
    if explanation.true_image is not None:
        panels.append((explanation.adapter.truth_label, explanation.true_image[event]))
    return panels


def _event_title(explanation: RunExplanation, event: int, source: str) -> tuple[str, str]:
    ids = {name: int(values[event]) for name, values in explanation.ids.items()}
    position = int(explanation.selected[event])
    stem = f"event{position:05d}" + "".join(f"_{k.split('_')[0]}{v}" for k, v in ids.items())
    title = f"{source} — event {position}: " + ", ".join(f"{k}={v}" for k, v in ids.items())
    return stem, title


def _map_rows(names: Sequence[str], maps: Mapping[str, Any], std: Mapping[str, Any] | None) -> list[FigureRow]:
    """Grad-CAM row(s) then attention row(s); with ``std``, a mean row and a std row for each."""
    rows = []
    for prefix in (GRADCAM_PREFIX, ATTENTION_PREFIX):
        chosen = [n for n in names if n.startswith(prefix)]
        if not chosen:
            continue
        rows.append(("mean over seeds" if std else "", [(_map_title(n), maps[n]) for n in chosen]))
        if std:
            rows.append(("std over seeds", [(_map_title(n), std[n]) for n in chosen]))
    return rows


def write_run_figures(explanation: RunExplanation, folder: Path) -> list[Path]:
    """One figure per chosen event in ``folder`` (the run's ``plots/explain/``), and the adapter's summary
    figures over all events (``summary_figures``, an optional member of the adapter) next to them."""
    summaries = getattr(explanation.adapter, "summary_figures", None)
    written = []
    for stem, figure in (summaries() if callable(summaries) else {}).items():
        written += save_figure(figure, folder / stem, formats=("png",), dpi=100)
    for event in range(len(explanation.selected)):
        stem, title = _event_title(explanation, event, f"{explanation.label} ({explanation.run.path.name})")
        rows: list[FigureRow] = [("input", _input_panels(explanation, event))]
        rows += _map_rows(list(explanation.maps), {n: m[event] for n, m in explanation.maps.items()}, None)
        figure = explanation.adapter.event_figure(title, rows)
        written += save_figure(figure, folder / stem, formats=("png",), dpi=80)
    return written


def write_sweep_figures(explanations: Sequence[RunExplanation], folder: Path) -> list[Path]:
    """Per-pixel mean and std over seeds of every map, one figure per chosen event, in ``folder`` (the
    sweep's ``plots/explain/``)."""
    stats = stack_over_seeds([e.maps for e in explanations])
    first = explanations[0]
    written = []
    for event in range(len(first.selected)):
        stem, title = _event_title(first, event, f"{first.label} — {len(explanations)} seeds")
        rows: list[FigureRow] = [("input", _input_panels(first, event))]
        means = {n: s.mean[event] for n, s in stats.items()}
        stds = {n: s.std[event] for n, s in stats.items()}
        rows += _map_rows(list(stats), means, stds)
        figure = first.adapter.event_figure(title, rows)
        written += save_figure(figure, folder / stem, formats=("png",), dpi=80)
    return written


def criteria_figure(models: Mapping[str, Mapping[str, Mapping[str, Mapping[str, Any]]]], criteria: Sequence[str]) -> Figure:
    """One panel per criterion: mean +- std over seeds for every map, one marker series per model."""
    names = list(dict.fromkeys(n for summary in models.values() for n in summary))
    columns = 2
    figure = new_figure(6.0 * columns, 3.2 * math.ceil(len(criteria) / columns))
    for k, criterion in enumerate(criteria):
        ax = figure.add_subplot(math.ceil(len(criteria) / columns), columns, k + 1)
        for m, (label, summary) in enumerate(models.items()):
            offset = (m - (len(models) - 1) / 2) * 0.15
            stats = [summary.get(n, {}).get(criterion, {}) for n in names]
            mean = [np.nan if s.get("mean") is None else s["mean"] for s in stats]
            std = [0.0 if s.get("std") is None else s["std"] for s in stats]
            ax.errorbar(np.arange(len(names)) + offset, mean, yerr=std, fmt="o", capsize=3, label=label)
        ax.set_xticks(np.arange(len(names)), [_map_title(n) for n in names], rotation=30, ha="right", fontsize=7)
        ax.set_title(criterion, fontsize=9)
        ax.set_ylabel("mean ± std over seeds", fontsize=7)
        ax.grid(alpha=0.3)
    figure.axes[0].legend(fontsize=7)
    figure.suptitle("explanation criteria of each map (definitions: explain/criteria.json)", fontsize=9)
    return figure


def _unique_labels(groups: Sequence[tuple[Path, list[RunExplanation]]]) -> list[str]:
    """Model names, with the folder (then a number) added where two compared models share one."""
    labels = [explanations[0].label for _, explanations in groups]
    labels = [f"{label} ({path.name})" if labels.count(label) > 1 else label for label, (path, _) in zip(labels, groups)]
    return [f"{label} #{i + 1}" if labels.count(label) > 1 else label for i, label in enumerate(labels)]


def write_explanations(
    run_or_sweep: str | Path,
    input_file: str | Path,
    events: Sequence[int] = (0,),
    targets: Sequence[str] | None = None,
    layer: str | None = None,
    *,
    compare: Sequence[str | Path] = (),
    max_events: int | None = None,
    settings: CriteriaSettings = CriteriaSettings(),
    method: str = "gradcam",
    control: bool = True,
    reference: str = "none",
    overwrite: bool = True,
    progress: Callable[[RunDir], ProgressHook] | None = None,
) -> dict[str, Any]:
    """The whole ``showerlearn explain`` job; returns the criteria document written to criteria.json (its
    models' ``criteria`` None where there are none), with the absolute paths of the figure folders written
    under ``"figures"``.

    ``control``: criteria of the Grad-CAM maps of each network with random weights too
    (``randomized:`` rows, see :mod:`showerlearn.explain.driver`). ``reference``: what Grad-CAM
    activations are measured against (``"empty"`` detector or ``"none"``, see :func:`explain_run`).
    ``overwrite``: replace earlier explanations (else they are refused before any work; the command's
    default). ``progress``: gives the progress hook of each run's pass over the events.

    Every run of ``run_or_sweep`` and of each ``compare`` path is explained on ``input_file``; figures
    go to each run (and each sweep), the criteria of all models to ``run_or_sweep/explain/``. Every path,
    option and checkpoint is checked before anything is written, and each output folder is replaced as a
    whole once all is done.
    """
    main = Path(run_or_sweep)
    input_file = _check_inputs(input_file, targets)
    groups = [(path, resolve_runs(path)) for path in [main, *map(Path, compare)]]
    for _, runs in groups:
        for run in runs:
            network_checkpoint(run)  # an estimator, unfinished or unexplainable run fails here, not after the others' work
    _check_one_kind_of_data(groups)
    figures = _figure_folders(main, groups)
    folders = [*figures, main / CRITERIA_FOLDER]
    if not overwrite and (earlier := [folder for folder in folders if holds_anything(folder)]):
        raise FileExistsError(f"{earlier[0]}: holds an earlier explanation; pass --overwrite to replace it")
    with StagedFolders(folders) as staged:
        explained = []
        for path, runs in groups:
            explanations = [
                explain_run(
                    run, input_file, events, targets, layer, max_events=max_events, settings=settings, method=method,
                    control=control, reference=reference, progress=progress(run) if progress else None,
                )
                for run in runs
            ]
            for explanation in explanations:
                write_run_figures(explanation, staged.folder(explanation.run.path / EXPLAIN_FOLDER))
            if len(explanations) > 1:
                write_sweep_figures(explanations, staged.folder(path / EXPLAIN_FOLDER))
            explained.append((path, explanations))
        document = _criteria_document(explained, input_file, layer, settings, method, reference)
        if not _made_gradcam(explained) and (method, reference, layer) != ("gradcam", "none", None):
            log.warning("no Grad-CAM map was made (the networks are explained by their attention maps): --method, "
                        "--reference and --layer shape Grad-CAM only, and were not used")
        if unread := _unread_settings(explained, settings):
            log.warning("the criteria of these runs' family do not read %s: not used",
                        ", ".join("--" + name.replace("_", "-") for name in unread))
        _write_criteria(document, staged.folder(main / CRITERIA_FOLDER), staged.folder(main / EXPLAIN_FOLDER))
    # a folder left with nothing is none (io.staging): not named
    return {**document, "figures": list(dict.fromkeys(str(folder.resolve()) for folder in figures if folder.is_dir()))}


def _check_one_kind_of_data(groups: Sequence[tuple[Path, Sequence[RunDir]]]) -> None:
    """The compared models read the same data (DataModule): their maps are on one detector's elements, of one
    input file; else the file would be blamed for not being what the other model reads."""
    read = {path: {load_config(run.config_file).data.name for run in runs} for path, runs in groups}
    if len(kinds := set().union(*read.values())) > 1:
        listing = "; ".join(f"{path}: {', '.join(sorted(names))}" for path, names in read.items())
        raise ValueError(f"explain: the compared models read different data ({', '.join(sorted(kinds))}: {listing}); "
                         "compare models of one detector, explained on one file")


def _check_inputs(input_file: str | Path, targets: Sequence[str] | None) -> Path:
    """The file to explain (a pattern must match one: event positions and the criteria's spread are of one file),
    and what the passes would find wrong only after loading a run and reading the file."""
    matches = expand_patterns([input_file], "--input", FileNotFoundError, folders=False, find_copies=False)
    if len(matches) > 1:
        raise FileNotFoundError(f"--input {input_file}: matches {len(matches)} files "
                                f"({', '.join(map(str, matches[:3]))}...): explain reads one")
    path = matches[0]
    if path.is_dir():
        raise ValueError(f"--input {path}: a folder, not a file of events")
    if not path.exists():
        raise FileNotFoundError(f"--input {path}: no such file")
    for target in targets or ():
        OutputSelector.parse(target)
    return path


def _figure_folders(main: Path, groups: Sequence[tuple[Path, Sequence[RunDir]]]) -> list[Path]:
    """Every figure folder the job writes: each run's, each sweep's, the main path's (criteria figure)."""
    folders = [run.path / EXPLAIN_FOLDER for _, runs in groups for run in runs]
    folders += [path / EXPLAIN_FOLDER for path, runs in groups if len(runs) > 1]
    return [*folders, main / EXPLAIN_FOLDER]


def _criteria_document(
    groups: Sequence[tuple[Path, Sequence[RunExplanation]]], input_file: str | Path, layer: str | None,
    settings: CriteriaSettings, method: str, reference: str,
) -> dict[str, Any]:
    """The content of criteria.json: the settings, the criteria's definitions, each model's summary."""
    models = {}
    for label, (path, explanations) in zip(_unique_labels(groups), groups):
        models[label] = {
            "source": str(path),
            "runs": [str(e.run.path) for e in explanations],
            "n_seeds": len(explanations),
            "n_events": explanations[0].n_events,
            "criteria": summarise_criteria(explanations),
        }
    # the control is of Grad-CAM maps, with criteria: a run explained by attention maps alone, or without a true
    # signal to compare maps with, has none
    controlled = any(name.startswith(CONTROL_PREFIX) for _, explanations in groups for e in explanations
                     for name in (e.criteria or {}))
    # networks whose heads get no Grad-CAM (attention maps alone): its settings shaped nothing, so none is recorded
    gradcam = _made_gradcam(groups)
    return {
        "input": str(input_file),
        "settings": {
            "method": method if gradcam else None, "reference": reference if gradcam else None,
            "layer": (layer or "the model's explain_layer, else its backbone") if gradcam else None,
            "randomized_control": controlled,
            **_criteria_settings(groups, settings),
        },
        "definitions": dict(groups[0][1][0].adapter.criteria_definitions),
        "models": models,
    }


def _criteria_settings(groups: Sequence[tuple[Path, Sequence[RunExplanation]]], settings: CriteriaSettings
                       ) -> dict[str, Any]:
    """``settings`` for criteria.json: those the family's criteria do not read (its adapter's
    ``criteria_settings``) are null (the compared models read one kind of data, so have one adapter)."""
    recorded = asdict(settings)
    read = getattr(groups[0][1][0].adapter, "criteria_settings", frozenset(recorded))
    return {name: value if name in read else None for name, value in recorded.items()}


def _unread_settings(groups: Sequence[tuple[Path, Sequence[RunExplanation]]], settings: CriteriaSettings) -> list[str]:
    """The criteria settings given other values than their defaults that the family's criteria do not read."""
    recorded = _criteria_settings(groups, settings)
    return [name for name, value in asdict(settings).items() if recorded[name] is None and value != getattr(CriteriaSettings(), name)]


def _made_gradcam(groups: Sequence[tuple[Path, Sequence[RunExplanation]]]) -> bool:
    """Whether any explained network got Grad-CAM maps (a calorimeter attention network gets attention maps only)."""
    return any(name.startswith(GRADCAM_PREFIX) for _, explanations in groups for e in explanations for name in e.maps)


def _write_criteria(document: Mapping[str, Any], folder: Path, figures: Path) -> None:
    """criteria.json in ``folder``; with criteria, the table next to it and their figure in ``figures``."""
    write_json_atomic(folder / "criteria.json", document)
    summaries = {label: model["criteria"] for label, model in document["models"].items() if model["criteria"] is not None}
    if summaries:
        write_text_atomic(folder / "criteria.md", criteria_table(summaries))
        save_figure(criteria_figure(summaries, list(document["definitions"])), figures / "criteria", formats=("png",))
