"""The ``showerlearn`` command: one sub-command per module of this package."""

from __future__ import annotations

import signal
import threading

import typer

from showerlearn.cli import board, config, convert, ensemble, evaluate, explain, export, predict, simulate, sweep, train
from showerlearn.cli.common import set_verbose
from showerlearn.family import installed_families

app = typer.Typer(
    name="showerlearn",
    help="Deep-learning event reconstruction for particle and astroparticle physics.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    # click's plain help wraps long option names and texts; rich's panels cut them at 80 columns
    rich_markup_mode=None,
)


@app.callback()
def main(
    verbose: bool = typer.Option(
        False, "--verbose", "-v", help="Full messages of the libraries below (HDF5 back traces) in errors."
    ),
) -> None:
    """Deep-learning event reconstruction for particle and astroparticle physics."""
    set_verbose(verbose)
    _exit_cleanly_on_sigterm()


def _exit_cleanly_on_sigterm() -> None:
    """SIGTERM (a batch system's time limit, ``kill``) ends the command as an exception would: the half-written
    temporary files of the outputs are removed on the way out, where the default action leaves them behind.
    A handler someone else installed (Lightning's on SLURM) is kept."""
    if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _terminated)


def _terminated(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


app.command()(train.train)
app.command()(sweep.sweep)
app.command()(evaluate.evaluate)
app.command()(predict.predict)
app.command()(export.export)
app.command()(ensemble.ensemble)
app.command()(board.board)
app.command()(explain.explain)
for family in installed_families().values():  # each family adds its own `simulate NAME` and `convert NAME`
    family.add_commands(simulate.app)
    family.add_convert_commands(convert.app)
app.add_typer(simulate.app, name="simulate")
app.add_typer(convert.app, name="convert")
app.add_typer(config.app, name="config")

if __name__ == "__main__":
    app()
