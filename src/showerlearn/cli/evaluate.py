"""``showerlearn evaluate``: recompute metrics and figures of runs and sweeps."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from showerlearn.cli.common import console, quiet_libraries, user_errors


def evaluate(
    runs: Annotated[list[Path], typer.Argument(help="Run directories and/or sweep folders.", show_default=False)],
) -> None:
    """Write metrics.json and figures for each run; for a sweep also the aggregate over seeds."""
    quiet_libraries()
    with user_errors():
        from showerlearn.engine.runner import evaluate as evaluate_run
        from showerlearn.engine.sweep import AGGREGATE_FILE, aggregate_sweep, is_sweep, sweep_runs

        for path in runs:
            targets = sweep_runs(path) if is_sweep(path) else [path]
            for run in targets:
                evaluate_run(run)
                console.print(f"evaluated {getattr(run, 'path', run)}")
            if is_sweep(path):
                aggregate_sweep(path)
                console.print(f"[green]aggregate over seeds:[/] {Path(path) / AGGREGATE_FILE}")
