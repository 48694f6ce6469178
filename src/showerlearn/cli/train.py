"""``showerlearn train``: run one experiment (train, predict the test set, evaluate)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from showerlearn.cli.common import ConfigArgument, OverrideOption, console, load, quiet_libraries, user_errors


def train(
    config: ConfigArgument,
    overrides: OverrideOption = None,
    resume: Annotated[
        Path | None, typer.Option(help="Continue this interrupted run directory from its last checkpoint.")
    ] = None,
    progress: Annotated[bool, typer.Option(help="Show progress bars.")] = True,
) -> None:
    """Train a model (or fit an estimator), predict the test set and evaluate it, in one run directory."""
    quiet_libraries()
    with user_errors():
        from showerlearn.engine.runner import train as run_training

        experiment = load(config, overrides)
        from lightning.pytorch.utilities import rank_zero_only

        run = run_training(experiment, resume=resume, progress=progress)
    if rank_zero_only.rank == 0:  # under DDP the other processes end here too: one report is enough
        console.print(f"[green]run complete:[/] {run.path}")
        console.print(f"  metrics: {run.metrics_file}\n  predictions: {run.predictions_file}\n  plots: {run.plots}")
