"""``showerlearn plot``: quick-look figures of prediction files, measured data's included, which have no truth
to evaluate against.

Each detector family adds its own sub-command (``showerlearn plot calorimeter``...) through
:meth:`showerlearn.family.Family.add_plot_commands`.
"""

from __future__ import annotations

import typer

app = typer.Typer(help="Quick-look figures of prediction files (cluster energy spectra...), with or without truth.",
                  no_args_is_help=True)
