"""``showerlearn convert``: turn the field's own files into the ones showerlearn reads, and its predictions back
into the field's formats.

Each detector family adds its own sub-command (``showerlearn convert calorimeter``...) through
:meth:`showerlearn.family.Family.add_convert_commands`.
"""

from __future__ import annotations

import typer

app = typer.Typer(help="Convert the field's files (ROOT trees of crystal hits...) into showerlearn's, and predictions back (clusters as a ROOT tree...).", no_args_is_help=True)
