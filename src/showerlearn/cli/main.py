"""The ``showerlearn`` command: one sub-command per module of this package."""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Callable
from typing import Any

import typer

from showerlearn.cli import board, config, convert, ensemble, evaluate, explain, export, plot, predict, simulate, sweep, train
from showerlearn.cli.common import set_verbose
from showerlearn.engine.launch import note_stop_signal
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
        sys.unraisablehook = _redeliver_swallowed_termination(sys.unraisablehook)


#: seconds before a swallowed SIGTERM is delivered again
_REDELIVERY_DELAY_S = 0.05


class _Terminated(SystemExit):
    """The exit :func:`_terminated` raises, told apart from others where Python swallows it."""


def _terminated(signum: int, frame: object) -> None:
    note_stop_signal(signum)
    raise _Terminated(128 + signum)


def _redeliver_swallowed_termination(previous: Callable[[Any], object]) -> Callable[[Any], object]:
    """A ``sys.unraisablehook`` that delivers SIGTERM again when its exit was raised where Python ignores
    exceptions. A signal's handler runs at whatever line the main thread is at, and that may be a weak-reference
    callback or a ``__del__`` (h5py's object registry has them): there the exit is printed and dropped, and the
    command went on to the end (1 SIGTERM in 5 during ``simulate``). The signal comes again from another thread a
    moment later, when the main thread is out of that callback (within it, it would be dropped again). Other
    unraisable exceptions go to ``previous``."""

    def hook(unraisable: Any) -> None:
        if not isinstance(unraisable.exc_value, _Terminated):
            previous(unraisable)
        elif not sys.is_finalizing():  # at the interpreter's end, the command has ended: nothing left to stop
            again = threading.Timer(_REDELIVERY_DELAY_S, _signal_main_thread, args=(unraisable.exc_value.code - 128,))
            again.daemon = True
            again.start()

    return hook


def _signal_main_thread(signum: int) -> None:
    """``signum`` to the main thread: a signal, not a flag (``_thread.interrupt_main``), so that it wakes a main
    thread waiting on a lock or a sleep; nothing once the main thread has ended."""
    with contextlib.suppress(ProcessLookupError):
        signal.pthread_kill(threading.main_thread().ident, signum)


app.command()(train.train)
app.command()(sweep.sweep)
app.command()(evaluate.evaluate)
app.command()(predict.predict)
app.command()(export.export)
app.command()(ensemble.ensemble)
app.command()(board.board)
app.command()(explain.explain)
for family in installed_families().values():  # each family adds its own `simulate NAME`, `convert NAME`, `plot NAME`
    family.add_commands(simulate.app)
    family.add_convert_commands(convert.app)
    family.add_plot_commands(plot.app)
app.add_typer(simulate.app, name="simulate")
app.add_typer(convert.app, name="convert")
app.add_typer(plot.app, name="plot")
app.add_typer(config.app, name="config")

if __name__ == "__main__":
    app()
