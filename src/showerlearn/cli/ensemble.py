"""``showerlearn ensemble``: average the predictions of several finished runs into one run."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from showerlearn.cli.common import console, quiet_libraries, user_errors


def ensemble(
    members: Annotated[
        list[Path], typer.Argument(metavar="RUN_OR_SWEEP", help="Finished run directories and/or sweep folders (>= 2 runs).", show_default=False)
    ],
    output: Annotated[Path, typer.Option("--output", "-o", help="New folder for the ensemble run.")],
    progress: Annotated[bool, typer.Option("--progress/--no-progress", help="Show a progress bar while the members' networks predict again (calorimeter).")] = True,
) -> None:
    """Average the test-set predictions of runs of the same events (other seeds, other models) into a new
    run folder with its own metrics and figures; a sweep folder stands for all its completed seeds.

    IACT, collider and tabular predictions average as they are. Calorimeter cluster labels do not: each
    member's network (one with pair outputs) predicts the test split again, and the mean same-cluster
    probability of every pair of hits (or pre-clusters) is clustered as one network's.
    """
    quiet_libraries()
    with user_errors():
        from showerlearn.engine.ensemble import ensemble as build_ensemble
        from showerlearn.metrics.limits import limit_prefix, scalar_limits

        run = build_ensemble(members, output, progress=progress)
    metrics = run.metrics()
    limits = scalar_limits(metrics)
    summary = ", ".join(f"{k} {limit_prefix(limits.get(k))}{v:.4g}" for k, v in metrics.get("scalars", {}).items()
                        if isinstance(v, float))
    console.print(f"[green]ensemble written:[/] {run.path}" + (f"\n  {summary}" if summary else ""))
