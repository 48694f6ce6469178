"""Creating and saving figures without pyplot: no global state, no GUI backend, safe in workers.

``matplotlib.figure.Figure`` renders through the Agg canvas (PNG) and the PDF backend when saved,
whatever backend the user's session has selected, so evaluation never opens a window.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Literal, get_args

from matplotlib.figure import Figure
from pydantic import BeforeValidator

from showerlearn.io.atomic import atomic_path

#: A file format matplotlib writes, in any case as matplotlib takes it (an evaluator's ``figure_formats``: the
#: config check refuses another by its key, before a run trains rather than when its figures are saved).
FigureFormat = Annotated[
    Literal["png", "pdf", "svg", "svgz", "eps", "ps", "pgf", "jpg", "jpeg", "tif", "tiff", "webp", "avif", "gif", "raw", "rgba"],
    BeforeValidator(lambda value: value.lower() if isinstance(value, str) else value),
]
#: Formats every evaluation figure is written in: PNG to look at, PDF for papers.
FIGURE_FORMATS: tuple[FigureFormat, ...] = ("png", "pdf")


def figure_format(path: Path) -> str:
    """The :data:`FigureFormat` of a figure file, from its suffix (``ValueError`` naming the file if it has none)."""
    suffix = path.suffix.lstrip(".").lower()
    known = get_args(get_args(FigureFormat)[0])
    if suffix not in known:
        raise ValueError(f"{path}: a figure file's suffix names its format, one of {', '.join(known)}; got "
                         f"{path.suffix or 'none'!r}")
    return suffix


def new_figure(width: float = 6.4, height: float = 4.8) -> Figure:
    """A pyplot-free figure with constrained layout."""
    return Figure(figsize=(width, height), layout="constrained")


def caption_line(*parts: str) -> str:
    """The non-empty ``parts`` of a caption as one line: ``data set; cuts; test split: N events``."""
    return "; ".join(part for part in parts if part)


def add_caption(figure: Figure, caption: str) -> None:
    """The figure's first line: what it was made of (data set, cuts, test events), so that a figure copied
    into a talk or a logbook still says it. Nothing for an empty caption."""
    if caption:
        figure.suptitle(caption, fontsize="small", wrap=True)


def save_figure(
    figure: Figure, stem: str | Path, formats: Sequence[str] = FIGURE_FORMATS, dpi: int = 150
) -> list[Path]:
    """Write ``figure`` to ``stem.png``, ``stem.pdf`` ... atomically; return the written paths."""
    stem = Path(stem)
    written = []
    for fmt in formats:
        target = stem.with_name(f"{stem.name}.{fmt}")
        with atomic_path(target) as tmp:
            figure.savefig(tmp, format=fmt, dpi=dpi)
        written.append(target)
        # the first save placed the axes; re-running the layout for each further format costs the most time
        figure.set_layout_engine("none")
    return written
