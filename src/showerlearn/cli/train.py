"""``showerlearn train``: run one experiment (train, predict the test set, evaluate)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from showerlearn.cli.common import ConfigArgument, OverrideOption, console, load, quiet_libraries, user_errors
from showerlearn.config import ConfigError


def train(
    config: ConfigArgument,
    overrides: OverrideOption = None,
    resume: Annotated[
        Path | None, typer.Option(help="Continue this interrupted run directory from its last checkpoint.")
    ] = None,
    run_dir: Annotated[
        Path | None,
        typer.Option(help="Write the run into this new folder instead of OUTPUT_DIR/NAME/<time>_seed<seed>. Every "
                     "process of a multi-node job started by torchrun or srun must be given the same one."),
    ] = None,
    progress: Annotated[bool, typer.Option(help="Show progress bars.")] = True,
) -> None:
    """Train a model (or fit an estimator), predict the test set and evaluate it, in one run directory."""
    quiet_libraries()
    with user_errors():
        from lightning.pytorch.utilities import rank_zero_only

        from showerlearn.engine.runner import train as run_training

        experiment = load(config, overrides)
        # rank 0 only: the DDP processes Lightning starts re-run this command line after rank 0 wrote the folder
        if run_dir is not None and resume is None and (run_dir / "config.yaml").is_file() and rank_zero_only.rank == 0:
            raise ConfigError(str(run_dir), ["already holds a run: continue it with --resume, or choose a new folder"])
        run = run_training(experiment, resume=resume, run_dir=run_dir, progress=progress)
    if rank_zero_only.rank == 0:  # under DDP the other processes end here too: one report is enough
        console.print(f"[green]run complete:[/] {run.path}")
        console.print(f"  metrics: {run.metrics_file}\n  predictions: {run.predictions_file}\n  plots: {run.plots}")
