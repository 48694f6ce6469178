"""``showerlearn predict``: apply a trained run to new files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from showerlearn.cli.common import OverrideOption, console, quiet_libraries, user_errors


def predict(
    run: Annotated[Path, typer.Argument(help="A completed run directory.", show_default=False)],
    output: Annotated[Path, typer.Option("--output", "-o", help="Predictions file to write (HDF5).")],
    inputs: Annotated[
        list[Path] | None, typer.Option("--input", "-i", help="Input file(s) (repeatable); none: the run's test split.")
    ] = None,
    overrides: OverrideOption = None,
) -> None:
    """Reconstruct the events of INPUT files (or the run's test split) with the model of RUN; one row per event.

    --set changes how the run predicts, e.g. --set data.params.augment.test_time=true or a batch size;
    settings that change the network's inputs (cleaning, transforms) no longer match what it learned.
    """
    quiet_libraries()
    with user_errors():
        from showerlearn.engine.runner import predict as run_prediction

        written = run_prediction(run, inputs, output, overrides or [])
    console.print(f"[green]predictions written:[/] {written}")
