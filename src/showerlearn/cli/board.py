"""``showerlearn board``: one self-contained HTML file comparing runs and sweeps (see docs/board.md).

Each run is read by its family (its DataModule's; for a run directory whose config names no data, the
family of the evaluator that wrote its metrics.json): the family labels the metrics, finds the ROC
columns of its predictions and reads the reference curves of ``--requirements``.
"""

from __future__ import annotations

import reprlib
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import numpy as np
import typer

from showerlearn.cli.common import OverwriteOption, check_output_file, console, quiet_libraries, user_errors

if TYPE_CHECKING:  # the command imports its layers lazily: `showerlearn --help` stays fast
    from showerlearn.family import Family
    from showerlearn.viz.board import BoardEntry, BoardRoc
    from showerlearn.viz.resolution import CurveSeries

#: Runs in these states (run.json) may lack metrics.json: the board lists them with their state, no numbers.
UNFINISHED_STATES = ("running", "failed", "interrupted")

#: What a ROC record of metrics.json holds (``evaluation.curves.roc_record``), said when one does not.
ROC_RECORD = "'roc' must be an object with lists 'fpr' and 'tpr' of numbers (null: missing) of one length"


def _labels(paths: Sequence[Path]) -> list[str]:
    """Short unique labels: the last two path parts (``experiment/run``), more where that is ambiguous."""
    resolved = [path.resolve() for path in paths]
    depth = 2
    while True:
        labels = ["/".join(path.parts[-depth:]) for path in resolved]
        if len(set(labels)) == len(labels) or depth >= max(len(p.parts) for p in resolved):
            return labels
        depth += 1


def _run_family(config: Mapping[str, Any], metrics: Mapping[str, Any]) -> Family:
    """The family of a run: its DataModule's, else that of the evaluator that wrote its metrics.json (a
    run directory put together by hand), else the generic family."""
    from showerlearn.family import GENERIC, family_of_component
    from showerlearn.registry import DATAMODULES, EVALUATORS

    data = config.get("data")
    data_name = data.get("name") if isinstance(data, Mapping) else None
    for name, registry in ((data_name, DATAMODULES), (metrics.get("evaluator"), EVALUATORS)):
        if isinstance(name, str) and name in registry:
            return family_of_component(registry.get(name))
    return GENERIC


def _roc_from_predictions(path: Path, family: Family) -> BoardRoc | None:
    """The ROC of a predictions table (the family's classification columns), thinned for the page."""
    from showerlearn.evaluation.curves import roc_record
    from showerlearn.io.tables import read_columns
    from showerlearn.metrics import classification as cls

    found = family.classification_columns(read_columns(path))
    if found is None:
        return None
    labels, scores = np.asarray(found[0]), np.asarray(found[1], dtype=float)
    finite = np.isfinite(scores)  # events a baseline left unclassified (NaN) have no place on the ROC
    return _roc(roc_record(cls.roc_curve(labels[finite], scores[finite])), path)


@contextmanager
def _malformed(source: Path, expected: str) -> Iterator[None]:
    """Around reading a record of ``source``: its KeyError, TypeError or ValueError as one ValueError naming the
    file and what is ``expected`` there (numpy's or a dict's message alone names neither)."""
    try:
        yield
    except (KeyError, TypeError, ValueError) as error:
        raise ValueError(f"{source}: {expected} ({type(error).__name__}: {error})") from None


def _shown(value: Any) -> str:
    """A JSON value in a message: its type and a repr cut short (``str 'high'``, ``list [0.8]``)."""
    return f"{type(value).__name__} {reprlib.repr(value)}"


def _roc(record: Any, source: Path) -> BoardRoc | None:
    """A ROC record (metrics.json's, or one computed from predictions) as the board draws it; ``None`` when it
    has no points (a test set of one class). Checked, naming ``source``: coordinates that are not numbers, or
    unequal in number, would be drawn as a wrong curve, not stop anything."""
    from showerlearn.viz.board import BoardRoc

    with _malformed(source, ROC_RECORD):
        if not isinstance(record, dict):
            raise TypeError(f"got {type(record).__name__}")
        fpr, tpr = _numbers(record, "fpr"), _numbers(record, "tpr")
        if fpr.size != tpr.size:
            raise ValueError(f"'fpr' has {fpr.size} points, 'tpr' {tpr.size}")
    return BoardRoc(fpr, tpr) if fpr.size else None


def _numbers(record: Mapping[str, Any], key: str) -> np.ndarray:
    """``record[key]``, a JSON list of numbers (null: missing), as a float array with NaN; a TypeError saying
    what it holds instead (numpy would read ``"0.9"`` or ``true`` as numbers)."""
    from showerlearn.evaluation.curves import as_array
    from showerlearn.viz.board import is_number

    values = record[key]
    if not isinstance(values, list):
        raise TypeError(f"{key!r} is {_shown(values)}")
    wrong = [value for value in values if value is not None and not is_number(value)]
    if wrong:
        raise TypeError(f"{key!r} holds {_shown(wrong[0])}")
    return as_array(values)


def _scalars(metrics: Mapping[str, Any], source: Path) -> dict[str, Any]:
    """metrics.json's ``scalars`` (checked with its top-level ``n_events``): each a number, or null (or NaN) for a
    metric undefined on the events (one class, no gamma). Anything else stops the board naming ``source`` and
    the key: the table would show it blank, as if the metric were undefined."""
    from showerlearn.viz.board import is_number

    scalars = metrics.get("scalars")
    if not isinstance(scalars, dict):
        found = type(scalars).__name__ if "scalars" in metrics else "nothing"
        raise ValueError(f"{source}: 'scalars' must map metric names to numbers (null: undefined), got {found}")
    named = {f"scalar {name!r}": value for name, value in scalars.items()}
    for key, value in {**named, "'n_events'": metrics.get("n_events")}.items():
        if value is not None and not is_number(value):
            raise ValueError(f"{source}: {key} must be a number or null, got {_shown(value)}")
    return dict(scalars)


def _limits(metrics: Mapping[str, Any], source: Path) -> dict[str, str]:
    """metrics.json's one-sided limits, name -> ``"lower"`` or ``"upper"`` (with an earlier version's ``unbounded``:
    :func:`~showerlearn.metrics.limits.scalar_limits`). Anything else stops the board naming ``source``: a limit
    shown as an estimate would claim what the sample cannot tell."""
    from showerlearn.metrics.limits import LEGACY_UNBOUNDED, LIMIT_SIGNS, SCALAR_LIMITS, scalar_limits

    limits, legacy = metrics.get(SCALAR_LIMITS, {}), metrics.get(LEGACY_UNBOUNDED, [])
    scalars = metrics.get("scalars", {})
    if not isinstance(limits, Mapping) or any(name not in scalars or not isinstance(side, str) or side not in LIMIT_SIGNS
                                              for name, side in limits.items()):
        raise ValueError(f"{source}: {SCALAR_LIMITS!r} must map scalars to 'lower' or 'upper', got {_shown(limits)}")
    if not isinstance(legacy, list) or any(not isinstance(name, str) or scalars.get(name, 0) is not None for name in legacy):
        raise ValueError(f"{source}: {LEGACY_UNBOUNDED!r} must list scalars whose null means infinite, got {_shown(legacy)}")
    return scalar_limits(metrics)


def _series(curves: Any, label: str, source: Path) -> dict[str, CurveSeries]:
    """metrics.json curve records -> drawable series, naming the file when a record is malformed."""
    from showerlearn.evaluation.curves import series_from_record

    if not isinstance(curves, dict):
        raise ValueError(f"{source}: 'curves' must map curve names to records, got {type(curves).__name__}")
    series = {}
    for name, record in curves.items():
        with _malformed(source, f"curve {name!r} is not a curve record with 'edges' and 'value' or 'mean'/'std'"):
            series[name] = series_from_record(record, label)
    return series


def _caption(metrics: Mapping[str, Any]) -> str:
    """What a run's (or an aggregate's) data is: its ``caption`` (data set, cuts), ``""`` when it has none."""
    caption = metrics.get("caption")
    return caption if isinstance(caption, str) else ""


def _run_entry(path: Path, label: str) -> tuple[BoardEntry, dict[str, Any]]:
    """A run directory as a board entry (id = label), with its raw metrics (for the aggregate of a sweep).

    A completed run needs its metrics.json; an unfinished one (running, failed) is listed without numbers.
    A malformed metrics.json stops the board, before anything is written, naming the file and the key.
    """
    from showerlearn.config.loader import read_yaml
    from showerlearn.engine.run_dir import RunDir
    from showerlearn.viz.board import BoardEntry, run_images

    run = RunDir.existing(path)
    status = run.status()
    unfinished = not run.metrics_file.is_file() and status.get("state") in UNFINISHED_STATES
    metrics = {} if unfinished else run.metrics()
    config = read_yaml(run.config_file)
    family = _run_family(config, metrics)
    curves = _series(metrics.get("curves", {}), label, run.metrics_file)
    scalars = {} if unfinished else _scalars(metrics, run.metrics_file)
    limits = {} if unfinished else _limits(metrics, run.metrics_file)
    scalars.setdefault("n_events", metrics.get("n_events"))
    roc = _roc(metrics["roc"], run.metrics_file) if "roc" in metrics else None
    if roc is None and not unfinished and run.predictions_file.is_file():
        roc = _roc_from_predictions(run.predictions_file, family)
    if "train_seconds" in status:
        scalars["train_seconds"] = status["train_seconds"]
    entry = BoardEntry(
        id=label,
        label=label,
        path=str(run.path.resolve()),
        curves=curves,
        scalars=scalars,
        limits=limits,
        roc=roc,
        config=config,
        status=status.get("state", ""),
        images=run_images(run.path, family),
        family=family,
        caption=_caption(metrics),
    )
    return entry, metrics


def _sweep_entry(path: Path, label: str) -> BoardEntry:
    """A sweep folder as one entry (mean +- std over its runs) whose members are the runs."""
    from showerlearn.engine.sweep import sweep_runs
    from showerlearn.evaluation.aggregate import aggregate_runs
    from showerlearn.evaluation.curves import seeds_band
    from showerlearn.metrics.limits import scalar_limits
    from showerlearn.viz.board import BoardEntry, BoardRoc, explain_images

    runs = sweep_runs(path, completed_only=False)  # failed seeds are shown as such
    if not runs:
        raise ValueError(f"{path}: the sweep lists no runs in sweep.json")
    loaded = [_run_entry(run.path, f"{label}/{run.path.name}") for run in runs]
    members = [entry for entry, _ in loaded]
    # over the completed runs (as `evaluate` aggregates them: a failed or running seed may keep an earlier
    # metrics.json), with their table scalars (metrics.json's plus n_events and train time)
    completed = [(entry, metrics) for entry, metrics in loaded if metrics and entry.status == "completed"]
    evaluated = [{**metrics, "scalars": dict(entry.scalars)} for entry, metrics in completed]
    try:
        aggregate = aggregate_runs(evaluated) if evaluated else {"curves": {}, "scalars": {}}
    except ValueError as error:
        raise ValueError(f"sweep {path}: {error}") from None
    rocs = [entry.roc for entry, _ in completed if entry.roc is not None]
    roc = BoardRoc.mean_of(rocs, band_label=seeds_band)
    return BoardEntry(
        id=label,
        label=label,
        path=str(Path(path).resolve()),
        curves=_series(aggregate["curves"], label, Path(path)),
        scalars={name: stats["mean"] for name, stats in aggregate["scalars"].items()},
        scalar_std={name: stats["std"] for name, stats in aggregate["scalars"].items()},
        scalar_runs={name: (stats["n_runs"], len(evaluated)) for name, stats in aggregate["scalars"].items()},
        limits=scalar_limits(aggregate),
        roc=roc,
        status=", ".join(sorted({member.status for member in members if member.status})),
        members=members,
        images=explain_images(path),  # the mean/std-over-seeds explanation figures
        family=members[0].family,  # the seeds of a sweep share their config
        caption=_caption(aggregate),  # only when its runs' captions agree
    )


def collect_entry(path: Path, label: str) -> BoardEntry:
    """One run directory or sweep folder as a board entry."""
    from showerlearn.engine.sweep import is_sweep

    if not path.is_dir():
        raise FileNotFoundError(f"{path} is neither a run directory nor a sweep folder")
    return _sweep_entry(path, label) if is_sweep(path) else _run_entry(path, label)[0]


def collect_entries(paths: Sequence[Path]) -> list[BoardEntry]:
    """Board entries of run directories and sweep folders, labelled by their (shortest unique) paths."""
    return collect_board(paths, None)[0]


def collect_board(paths: Sequence[Path], baseline: Path | None) -> tuple[list[BoardEntry], BoardEntry | None]:
    """The entries of ``paths`` and the ``baseline``'s, all labelled together (so that no label is another's)."""
    labels = _labels([*paths, *([baseline] if baseline is not None else [])])
    entries = [collect_entry(path, label) for path, label in zip(paths, labels[: len(paths)], strict=True)]
    return entries, _baseline_entry(baseline, labels[-1]) if baseline is not None else None


def _baseline_entry(path: Path, label: str) -> BoardEntry:
    """The baseline's entry: labelled by its path like the others (the page says "baseline" itself, once),
    with ids of its own, ``baseline: <label>`` (its members' too), that no entry shares."""
    from dataclasses import replace

    entry = collect_entry(path, label)
    members = tuple(replace(member, id=f"baseline: {member.id}") for member in entry.members)
    return replace(entry, id=f"baseline: {label}", members=members)


def _check_requirements(folder: Path | None) -> None:
    """Before any work: ``--requirements`` is a folder (the families read their files in it, and would say of a
    file that the folder does not exist)."""
    if folder is None or folder.is_dir():
        return
    if folder.exists():
        raise NotADirectoryError(f"--requirements {folder}: is a file, not a folder of reference curves")
    raise FileNotFoundError(f"--requirements {folder}: does not exist")


def board(
    runs: Annotated[list[Path], typer.Argument(metavar="RUN_OR_SWEEP", help="Run directories and/or sweep folders.", show_default=False)],
    output: Annotated[Path, typer.Option("--output", "-o", help="The HTML file to write.")] = Path("board.html"),
    baseline: Annotated[
        Path | None, typer.Option("--baseline", help="Run (e.g. Hillas + RF) drawn dashed in every plot.")
    ] = None,
    requirements: Annotated[
        Path | None,
        typer.Option("--requirements", help="Folder of reference curves to overlay, read by the runs' families "
                     "(IACT: cta_requirements_*.dat files)."),
    ] = None,
    overwrite: OverwriteOption = False,
) -> None:
    """Write one self-contained HTML page comparing runs and sweeps: curves, ROC, metrics, config differences."""
    quiet_libraries()
    with user_errors():
        from showerlearn.viz.board import entry_families, merged_style, reference_curves, write_board

        check_output_file(output, overwrite)
        _check_requirements(requirements)

        # each folder once; a baseline also given among the runs is shown as the baseline only
        skip = baseline.resolve() if baseline is not None else None
        unique = [path for path in dict.fromkeys(path.resolve() for path in runs) if path != skip]
        if not unique:
            raise ValueError("give at least one run directory or sweep folder besides the baseline")
        entries, baseline_entry = collect_board(unique, baseline)
        families = entry_families([*entries, *([baseline_entry] if baseline_entry else [])])
        written = write_board(
            output,
            entries,
            baseline=baseline_entry,
            references=reference_curves(families, requirements) if requirements is not None else None,
            style=merged_style(families),
        )
        console.print(f"[green]board:[/] {written} ({written.stat().st_size / 1e6:.2f} MB, {len(entries)} entries)")
