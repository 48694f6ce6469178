"""``showerlearn sweep``: one experiment over N seeds, aggregated into mean and dispersion."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from showerlearn.cli.common import (
    ConfigArgument, OverrideOption, console, load, metrics_table, quiet_libraries, scalar_units, user_errors,
)
from showerlearn.io.atomic import read_json_object


def sweep(
    config: ConfigArgument,
    seeds: Annotated[int, typer.Option(help="Number of seeds (config seed, seed+1, ...).")] = 3,
    jobs: Annotated[int, typer.Option(help="Runs trained in parallel processes.", min=1)] = 1,
    overrides: OverrideOption = None,
    resume: Annotated[
        Path | None,
        typer.Option(help="Continue this sweep folder (stopped by a time limit or a crash, or with failed seeds): "
                     "completed seeds are kept, started ones continue from their last checkpoint."),
    ] = None,
    progress: Annotated[bool, typer.Option(help="Show progress bars (only with --jobs 1: runs trained in parallel show none).")] = True,
) -> None:
    """Train the same experiment with N seeds and aggregate every metric (mean, standard deviation)."""
    quiet_libraries()
    with user_errors():
        from showerlearn.engine.sweep import AGGREGATE_FILE, SweepError, sweep as run_sweep

        experiment = load(config, overrides)
        try:
            folder = run_sweep(experiment, seeds, jobs=jobs, progress=progress, resume=resume)
        except SweepError as error:
            console.print(f"[bold red]sweep incomplete:[/] {error}")
            raise typer.Exit(1) from None
    aggregate = read_json_object(folder / AGGREGATE_FILE)
    units = scalar_units(experiment)
    console.print(metrics_table(aggregate, f"test split, mean ± std over {seeds} seeds", units))
    console.print(f"[green]sweep complete:[/] {folder}\n  aggregate: {folder / AGGREGATE_FILE}")
