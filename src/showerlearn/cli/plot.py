"""``showerlearn plot``: quick-look figures of prediction files, measured data's included, which have no truth
to evaluate against.

Each detector family adds its own sub-command (``showerlearn plot calorimeter``...) through
:meth:`showerlearn.family.Family.add_plot_commands`; what they share is here: the figure file checked before any
work, each file's legend label, and the figure written atomically.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from showerlearn.cli.common import check_output_file

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["FigureOption", "LabelOption", "app", "check_figure_output", "prediction_labels", "write_figure"]

app = typer.Typer(help="Quick-look figures of prediction files (cluster energy spectra, gammaness...), with or without "
                       "truth.", no_args_is_help=True)

#: the ``--output`` option of every family's plot command
FigureOption = Annotated[Path, typer.Option("--output", "-o", help="Figure to write; its format from the suffix (.png, "
                                                                   ".pdf, .svg).")]
#: the ``--label`` option of every family's plot command
LabelOption = Annotated[list[str] | None, typer.Option(
    help="Legend label of each file, in order (repeatable; default: the name of the run that predicted it).")]


def check_figure_output(output: Path, overwrite: bool) -> None:
    """Refuse, before any work, an output whose suffix names no figure format, or one that exists (unless
    ``overwrite``)."""
    from showerlearn.viz.figures import figure_format

    try:
        figure_format(output)
    except ValueError as error:
        raise ValueError(f"--output {error}") from None
    check_output_file(output, overwrite)


def prediction_labels(files: Sequence[Path], labels: Sequence[str] | None) -> list[str]:
    """The legend label of each prediction file (a missing one refused): ``labels`` (one per file, each its own), or
    the name of the run that predicted it (its stamp's ``run_path``, or the run folder it lies in: a run's own
    ``predictions.h5``; else the file's name), with the file's name, then its place, where two share one."""
    from showerlearn.engine.run_dir import RunDir
    from showerlearn.io.tables import read_attributes

    if missing := [str(path) for path in files if not path.is_file()]:
        raise FileNotFoundError(f"{', '.join(missing)}: no such file")
    if labels is not None:
        if len(labels) != len(files):
            raise ValueError(f"--label given {len(labels)} times for {len(files)} files: one label per file, in order")
        if len(set(labels)) != len(labels):
            raise ValueError(f"--label: {', '.join(sorted({x for x in labels if labels.count(x) > 1}))} given for two "
                             "files; each file needs its own")
        return list(labels)
    names = []
    for path in files:
        stamped = str(read_attributes(path).get("run_path", ""))
        run = Path(stamped) if stamped else path.parent if RunDir(path.parent).status_file.is_file() else Path()
        names.append(run.parent.name or path.stem)
    # a run named twice (two seeds, or two inputs it predicted): each with its file, then with its place
    found = [f"{name} ({path.name})" if names.count(name) > 1 else name for name, path in zip(names, files)]
    return [f"{name} (file {number + 1})" if found.count(name) > 1 else name for number, name in enumerate(found)]


def write_figure(figure: Figure, output: Path, overwrite: bool) -> None:
    """``figure`` into ``output``, in the format its suffix names, written whole or not at all."""
    from showerlearn.io.atomic import atomic_path
    from showerlearn.viz.figures import figure_format

    fmt = figure_format(output)
    with atomic_path(output, overwrite=overwrite) as tmp:
        try:
            figure.savefig(tmp, format=fmt, dpi=150)
        except RuntimeError as error:  # pgf needs a LaTeX installation, say (a full disk stays what it is)
            raise ValueError(f"--output {output}: matplotlib cannot write {fmt} here ({error}); png, pdf and svg need "
                             "nothing else") from None
