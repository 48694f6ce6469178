"""``showerlearn predict``: apply a trained run to new files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from showerlearn.cli.common import console, quiet_libraries, user_errors


def predict(
    run: Annotated[Path, typer.Argument(help="A completed run directory.", show_default=False)],
    inputs: Annotated[list[Path], typer.Option("--input", "-i", help="Input file(s) (repeatable).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Predictions file to write (HDF5).")],
) -> None:
    """Reconstruct the events of INPUT files with the model of RUN; write one row per event."""
    quiet_libraries()
    with user_errors():
        from showerlearn.engine.runner import predict as run_prediction

        written = run_prediction(run, inputs, output)
    console.print(f"[green]predictions written:[/] {written}")
