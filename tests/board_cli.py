"""``showerlearn board`` run through typer's test runner, and its messages compared as rich wraps them."""

from __future__ import annotations

from typer import Typer
from typer.testing import CliRunner

from showerlearn.cli.board import board


def run_board(*args: str) -> tuple[int, str]:
    """The exit code and output of ``showerlearn board ARGS``."""
    app = Typer()
    app.command()(board)
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def says(output: str, message: str) -> bool:
    """``message`` is in ``output``, ignoring whitespace (rich wraps long lines anywhere)."""
    return "".join(message.split()) in "".join(output.split())
