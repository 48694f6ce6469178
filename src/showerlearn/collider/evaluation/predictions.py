"""Quick looks at collider prediction files (``showerlearn plot collider``): the distribution of a score column per
process, one panel per file, each event weighted by its cross section (``weight_pb``) where the file has it, so
that the processes compare as they are produced; without processes, all events as one."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from showerlearn.viz.figures import new_figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["SCORE_EDGES", "score_figure", "score_histograms", "score_problem"]

#: the bins of a score (a probability)
SCORE_EDGES = np.linspace(0.0, 1.0, 41)
#: the group of a file without processes
ALL_EVENTS = "all events"


def score_problem(values: np.ndarray, column: str) -> str | None:
    """The first value of a score ``column`` that is no probability (the networks' and estimators' scores are
    softmax or sigmoid outputs): infinite or outside [0, 1]; None when there is none. NaN is no value (the rows of
    events a run's cuts removed, kept by ``predict --keep-invalid``)."""
    values = np.asarray(values, dtype=float)
    with np.errstate(invalid="ignore"):
        bad = ~np.isnan(values) & ~((values >= 0.0) & (values <= 1.0))
    if not bad.any():
        return None
    row = int(np.flatnonzero(bad)[0])
    return (f"{column} is {values[row]} at row {row} ({int(bad.sum())} such rows); expected a probability in [0, 1] "
            "(a damaged prediction file? predict it again)")


def score_histograms(columns: Mapping[str, np.ndarray], score: str, process_names: Sequence[str] | None) -> dict[str, Any]:
    """``processes``: process name -> the sum of weights (``weight_pb``; else 1 per event) of its events per bin of
    :data:`SCORE_EDGES` (events without a score, or with a non-finite weight, are left out); ``events``;
    ``weighted``. The scores are probabilities (checked by the caller, :func:`score_problem`)."""
    values = np.asarray(columns[score], dtype=float)
    weighted = "weight_pb" in columns
    weights = np.asarray(columns["weight_pb"], dtype=float) if weighted else np.ones(len(values))
    codes = np.asarray(columns["process"], dtype=np.int64) if "process" in columns else np.zeros(len(values), dtype=np.int64)
    finite = np.isfinite(values) & np.isfinite(weights)
    processes = {}
    for code in np.unique(codes):
        name = ALL_EVENTS if "process" not in columns else _process_name(int(code), process_names)
        chosen = finite & (codes == code)
        processes[name] = np.histogram(values[chosen], SCORE_EDGES, weights=weights[chosen])[0]
    return {"processes": processes, "events": len(values), "weighted": weighted}


def _process_name(code: int, names: Sequence[str] | None) -> str:
    return names[code] if names is not None and 0 <= code < len(names) else f"process {code}"


def score_figure(records: Mapping[str, Mapping[str, Any]], score: str) -> Figure:
    """One panel per file (``label -> score_histograms record``), a step histogram per process."""
    figure = new_figure(4.6 * len(records) + 0.6, 4.0)
    for ax, (label, record) in zip(np.atleast_1d(figure.subplots(1, len(records), squeeze=False)[0]), records.items()):
        for name, counts in record["processes"].items():
            ax.stairs(counts, SCORE_EDGES, linewidth=1.2, label=name)
        if any(np.asarray(counts).any() for counts in record["processes"].values()):
            ax.set_yscale("log")  # a log axis without any count fails when drawn
        ax.set_title(label, fontsize="small")
        ax.set_xlabel(score)
        ax.set_ylabel("cross section per bin [pb]" if record["weighted"] else "events per bin")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize="x-small")
    return figure
