"""``showerlearn train``: run one experiment (train, predict the test set, evaluate)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from showerlearn.cli.common import (
    ConfigArgument, OverrideOption, console, load, metrics_table, quiet_libraries, scalar_units, user_errors,
)
from showerlearn.engine.launch import launched_rank, started_by_lightning


def train(
    config: ConfigArgument,
    overrides: OverrideOption = None,
    resume: Annotated[
        Path | None, typer.Option(help="Continue this interrupted run directory from its last checkpoint; with a larger "
                     "trainer.max_epochs, max_steps or max_time, also a completed one. Where it trains may change too "
                     "(trainer.accelerator, devices, num_nodes, threads...), with as many processes as before.")
    ] = None,
    run_dir: Annotated[
        Path | None,
        typer.Option(help="Write the run into this folder (default: a new one in output_dir, named after the config, the time and the seed); if it holds "
                     "an unfinished run, continue it. Every process of a job started by torchrun, srun or mpirun "
                     "must be given the same one."),
    ] = None,
    progress: Annotated[bool, typer.Option(help="Show progress bars.")] = True,
) -> None:
    """Train a model (or fit an estimator), predict the test set and evaluate it, in one run directory."""
    quiet_libraries()
    with user_errors():
        from showerlearn.engine.runner import train as run_training
        from showerlearn.engine.runner import train_into

        experiment = load(config, overrides)
        owner = not started_by_lightning() and launched_rank() == 0  # before train() marks its DDP workers
        if run_dir is not None and resume is None:
            # the same command again (a requeued or restarted job) continues the run there; Lightning's DDP
            # workers, re-running this command line, continue it from the same checkpoint
            run = train_into(experiment, run_dir, progress)
        else:
            run = run_training(experiment, resume=resume, run_dir=run_dir, progress=progress)
    if owner:  # under DDP every process ends here: one report is enough
        metrics = run.metrics() if run.metrics_file.is_file() else {}
        console.print(metrics_table(metrics, "test split", scalar_units(experiment)))
        console.print(f"[green]run complete:[/] {run.path}")
        console.print(f"  metrics: {run.metrics_file}\n  predictions: {run.predictions_file}\n  plots: {run.plots}")
