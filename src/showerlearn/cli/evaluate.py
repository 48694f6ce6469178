"""``showerlearn evaluate``: recompute metrics and figures of runs and sweeps, or score another predictions
file of a run (its test split predicted again, or a new labelled file it predicted)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from showerlearn.cli.common import console, metrics_table, quiet_libraries, scalar_units, user_errors

if TYPE_CHECKING:
    from showerlearn.engine.run_dir import RunDir


def evaluate(
    runs: Annotated[list[Path], typer.Argument(metavar="RUN_OR_SWEEP", help="Run directories and/or sweep folders.", show_default=False)],
    predictions: Annotated[
        Path | None,
        typer.Option(
            "--predictions", "-p",
            help="A predictions file of the one RUN: its test split predicted again (showerlearn predict RUN -o FILE "
            "--set ...) or a new labelled file it predicted (showerlearn predict RUN new.h5 -o DIR; calorimeter and "
            "collider runs): score it, with the config it was predicted with, into --output.",
        ),
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="With --predictions: the folder of its metrics.json and plots/.")
    ] = None,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="With --predictions: replace an earlier score in --output (metrics.json, plots/).")
    ] = False,
    overrides: Annotated[
        list[str] | None,
        typer.Option("--set", "-s", metavar="KEY=VALUE", help="With --predictions: change the evaluation, evaluation.KEY=VALUE (repeatable).",
                     show_default=False),
    ] = None,
) -> None:
    """Write metrics.json and figures for each run; for a sweep also the aggregate over seeds.

    With --predictions FILE --output DIR: the metrics and figures of FILE into DIR, FILE being the test split of the
    one RUN predicted again with other settings, or the predictions of a new labelled file by RUN
    (DIR/new.predictions.h5 of showerlearn predict RUN new.h5 -o DIR: its own events, a new beta or multiplicity,
    another sample). New files are scored by evaluators that read the predictions alone (calorimeter, collider),
    not by one that reads the run's data set (IACT: the effective area of its simulated production). --set
    evaluation.KEY=VALUE changes how it is scored; the run itself is left as it is.
    """  # fmt: skip
    quiet_libraries()
    with user_errors():
        if predictions is not None or output is not None or overrides or overwrite:
            _evaluate_file(runs, predictions, output, overwrite, overrides or [])
            return
        from showerlearn.engine.run_dir import RunDir
        from showerlearn.engine.sweep import AGGREGATE_FILE, aggregate_sweep, is_sweep, sweep_runs

        for path in runs:  # every argument a run or sweep before any is scored: a typo stops nothing half done
            if not is_sweep(path):
                RunDir.existing(path)
        for path in runs:
            if not is_sweep(path):
                metrics = _evaluate_run(RunDir.existing(path))
                console.print(metrics_table(metrics, "test split", _units(path)))
                continue
            members = sweep_runs(path)  # warns of the listed runs that are missing
            for run in members:  # every seed's file checked before any is scored: none is left half done
                run.checked_predictions()
            for run in members:
                _evaluate_run(run)
            aggregate = aggregate_sweep(path, members)
            console.print(metrics_table(aggregate, f"test split, mean ± std over {len(members)} seeds",
                                        _units(members[0].path)))
            if left_out := aggregate.get("left_out"):  # the mean is over fewer seeds than the sweep lists: say which
                console.print("left out: " + ", ".join(f"{name} ({why})" for name, why in left_out.items()), soft_wrap=True)
            console.print(f"[green]aggregate over seeds:[/] {Path(path) / AGGREGATE_FILE}")


def _evaluate_run(run: RunDir) -> dict[str, Any]:
    """Score ``run``'s predictions file into its metrics.json and plots (a missing file is named with why it is
    missing and how to get it back: :meth:`RunDir.checked_predictions`)."""
    from showerlearn.engine.runner import evaluate as evaluate_run

    metrics = evaluate_run(run)
    console.print(f"evaluated {run.path}")
    return metrics


def _evaluate_file(
    runs: list[Path], predictions: Path | None, output: Path | None, overwrite: bool, overrides: list[str]
) -> None:
    from showerlearn.engine.rescore import METRICS_FILE, evaluate_predictions, scored_events
    from showerlearn.engine.sweep import is_sweep

    if predictions is None or output is None:
        raise ValueError("--predictions and --output go together (and --set and --overwrite need them): the file to "
                         "score and the folder of its metrics")
    if len(runs) != 1 or is_sweep(runs[0]):
        raise ValueError(f"--predictions: give the one run directory whose model predicted {predictions}, got "
                         f"{', '.join(map(str, runs))}")
    metrics = evaluate_predictions(runs[0], predictions, output, overwrite=overwrite, overrides=overrides)
    console.print(metrics_table(metrics, scored_events(predictions), _units(runs[0])))
    console.print(f"evaluated {predictions}: [green]{output / METRICS_FILE}[/]")


def _units(run: Path) -> dict[str, str]:
    """The units of the scalars of ``run``'s family (its ``config.yaml``)."""
    from showerlearn.config import load_config

    return scalar_units(load_config(Path(run) / "config.yaml"))
