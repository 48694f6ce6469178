"""``showerlearn simulate``: generate events with truth, written in the field's own file format.

Each detector family adds its own sub-command (``showerlearn simulate iact``...) through
:meth:`showerlearn.family.Family.add_commands`.
"""

from __future__ import annotations

import typer

app = typer.Typer(help="Simulate events with truth.", no_args_is_help=True)
