"""``showerlearn plot``: quick-look figures of prediction files, measured data's included, which have no truth
to evaluate against.

Each detector family adds its own sub-command (``showerlearn plot calorimeter``...) through
:meth:`showerlearn.family.Family.add_plot_commands`; what they share is here: the figure file checked before any
work, each file's legend label, and the figure written atomically.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import numpy as np
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
    help="Legend label of each file, in order (repeatable; default: the experiment name of the run that predicted "
         "it).")]


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
    """The legend label of each prediction file (a missing one refused, and one stamped as another kind of file or
    as another showerlearn's tables): ``labels`` (one per file, each its own), or the experiment name of the run
    that predicted it (its stamp's config, or that of the run folder it lies in: a run's own ``predictions.h5``;
    else the file's name), with the file's name, then its place, where two share one."""
    if missing := [str(path) for path in files if not path.exists()]:
        raise FileNotFoundError(f"{', '.join(missing)}: no such file")
    stamps = [check_prediction_file(path) for path in files]
    if labels is not None:
        if len(labels) != len(files):
            raise ValueError(f"--label given {len(labels)} times for {len(files)} files: one label per file, in order")
        if len(set(labels)) != len(labels):
            raise ValueError(f"--label: {', '.join(sorted({x for x in labels if labels.count(x) > 1}))} given for two "
                             "files; each file needs its own")
        return list(labels)
    names = [_experiment_name(path, stamp) or path.stem for path, stamp in zip(files, stamps, strict=True)]
    # a run named twice (two seeds, or two inputs it predicted): each with its file, then with its place
    found = [f"{name} ({path.name})" if names.count(name) > 1 else name for name, path in zip(names, files)]
    return [f"{name} (file {number + 1})" if found.count(name) > 1 else name for number, name in enumerate(found)]


def check_prediction_file(path: Path) -> dict[str, Any]:
    """The stamp of the prediction file ``path`` (its attributes), refused if the file is missing, stamped as another
    kind of file, or of a layout newer than this version's (an earlier one's tables are read where they hold what
    the command needs); a run's own ``predictions.h5`` carries no stamp."""
    from showerlearn.engine.predict import FORMAT, LAYOUT
    from showerlearn.io.tables import read_attributes

    if path.is_dir():
        raise IsADirectoryError(f"{path}: is a folder; give a prediction file (a run's predictions.h5, or one that "
                                "showerlearn predict wrote)")
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    stamp = read_attributes(path)
    if "format" in stamp and stamp["format"] != FORMAT:
        raise ValueError(f"{path}: not a prediction file but a {stamp['format']!r} file (showerlearn predict RUN "
                         f"{path.name} -o DIR writes its predictions)")
    layout = stamp.get("layout") if stamp.get("format") == FORMAT else None
    if layout is not None and not (isinstance(layout, (int, np.integer)) and layout <= LAYOUT):
        raise ValueError(f"{path}: its tables are of layout {layout!r}, which this showerlearn (layouts up to {LAYOUT}) "
                         "does not know: written by a newer version?")
    return stamp


def _experiment_name(path: Path, stamp: Mapping[str, Any]) -> str | None:
    """The name of the experiment whose run predicted ``path``: from the config its stamp carries, else from the
    run folder the file lies in (an ensemble's: its members' experiment, said to be their ensemble); None when
    neither says."""
    import yaml

    from showerlearn.engine.run_dir import RunDir

    text = stamp.get("config")
    run = RunDir(path.parent)
    if not text and run.config_file.is_file():
        text = run.config_file.read_text()
    try:
        config = yaml.safe_load(text) if text else None
    except yaml.YAMLError:  # a damaged config names nothing; the file's name stands in
        return None
    name = config.get("name") if isinstance(config, dict) else None
    if name and not stamp.get("config") and run.is_ensemble():  # its config is its first member's
        return f"{name} (ensemble)"
    return str(name) if name else None


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
