"""IRF-style curves per energy bin (resolution, bias, effective area, AUC) and the migration matrix.

A curve is drawn as points at the bin's geometric centre with the bin width as horizontal bar and a
shaded band (a bootstrap confidence interval for one run, mean +- std over seeds for a sweep);
baseline runs are dashed and requirement curves black lines, so any figure can carry both.

A curve figure reads on its own: its title line is the caption (data set, cuts, test events), the legend
names the runs and, in its title, what the bands are; a lower panel gives the events in each bin, and
bins with fewer than :data:`MIN_EVENTS_PER_BIN` events are drawn grey (the figure says so); a bin
with events but no value (an AUC where the bin holds one class only) is marked with a cross at the bottom.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from matplotlib.axes import Axes
from matplotlib.axis import Axis
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter

from showerlearn.metrics.binning import bin_centers
from showerlearn.viz.figures import add_caption, new_figure

#: Bins with fewer events than this are drawn grey, outside line and band: their statistic is mostly noise.
MIN_EVENTS_PER_BIN = 10
#: the colour of those bins and of the notes about them
LOW_STATISTICS_COLOR = "0.65"


@dataclass(frozen=True)
class CurveSeries:
    """One curve to draw: values per bin of ``edges`` with an optional band ``[low, high]``, described by
    ``band`` (``"95 % bootstrap interval"``, ``"mean ± std over 3 seeds"``), and the events in each bin;
    ``counted_none``: per bin, whether a run behind the value counted nothing there (for a mean over runs, any
    of them), where a family's value is a one-sided limit (``curves_figure``'s ``empty_limit``)."""

    label: str
    edges: np.ndarray
    value: np.ndarray
    low: np.ndarray | None = None
    high: np.ndarray | None = None
    baseline: bool = False
    n_events: np.ndarray | None = None
    band: str = ""
    counted_none: np.ndarray | None = None


@dataclass(frozen=True)
class ReferenceCurve:
    """A curve given at points (e.g. a CTA requirement): energy [TeV] and value."""

    label: str
    energy: np.ndarray
    value: np.ndarray


def _any_positive(arrays: Sequence[np.ndarray]) -> bool:
    return any(np.any(np.asarray(a, dtype=float) > 0) for a in arrays)


def _few_events(curve: CurveSeries, min_events: int) -> np.ndarray:
    """Per bin: True where the bin has fewer than ``min_events`` events (False for all without counts)."""
    if curve.n_events is None:
        return np.zeros(len(curve.value), dtype=bool)
    return np.asarray(curve.n_events, dtype=float) < min_events


def draw_curve(
    ax: Axes, curve: CurveSeries, color: str | None = None, positive_only: bool = False,
    min_events: int = MIN_EVENTS_PER_BIN, limits: np.ndarray | None = None,
) -> str:
    """Draw one binned curve (points, bin-width bars, band) on ``ax``; returns its colour.

    ``positive_only`` (log y axis) leaves a gap at values <= 0, e.g. a zero effective area below
    threshold, instead of a line plunging to minus infinity. Bins with fewer than ``min_events`` events
    are drawn grey, without line or band; bins of ``limits`` (a mask) not at all: :func:`_mark_limits` draws them.
    """

    def values(v: np.ndarray, keep: np.ndarray) -> np.ndarray:
        v = np.where(keep, np.asarray(v, dtype=float), np.nan)
        return np.where(v > 0, v, np.nan) if positive_only else v

    edges = np.asarray(curve.edges, dtype=float)
    few = _few_events(curve, min_events) & (True if limits is None else ~limits)
    x = bin_centers(edges)
    xerr = [x - edges[:-1], edges[1:] - x]
    style = {"linestyle": "--", "marker": "s", "mfc": "none"} if curve.baseline else {"linestyle": "-", "marker": "o"}
    drawn = ~few & (True if limits is None else ~limits)
    line = ax.errorbar(x, values(curve.value, drawn), xerr=xerr, label=curve.label, color=color, markersize=4, capsize=0, **style)
    color = line.lines[0].get_color()
    if few.any():
        ax.errorbar(x, values(curve.value, few), xerr=xerr, color=LOW_STATISTICS_COLOR, markersize=4, capsize=0,
                    **{**style, "linestyle": "none", "mfc": "none"})
    if curve.low is not None and curve.high is not None:
        ax.fill_between(x, values(curve.low, drawn), values(curve.high, drawn), color=color, alpha=0.25, linewidth=0)
    return color


def _mark_missing(ax: Axes, curve: CurveSeries, color: str) -> bool:
    """A cross at the bottom of the axes under each bin with events but no value; True if there is one."""
    if curve.n_events is None:
        return False
    missing = (np.asarray(curve.n_events) > 0) & ~np.isfinite(np.asarray(curve.value, dtype=float))
    if missing.any():
        ax.plot(bin_centers(np.asarray(curve.edges, dtype=float))[missing], np.full(missing.sum(), 0.03), "x", color=color,
                markersize=6, transform=ax.get_xaxis_transform(), clip_on=False)
    return bool(missing.any())


#: the marker of a one-sided limit, by side: a triangle pointing where the true value may lie
LIMIT_MARKERS = {"lower": "^", "upper": "v"}


def _limits(curve: CurveSeries) -> np.ndarray:
    """Per bin: a value behind which a run counted nothing (:attr:`CurveSeries.counted_none`)."""
    value = np.asarray(curve.value, dtype=float)
    return np.zeros(len(value), bool) if curve.counted_none is None else np.asarray(curve.counted_none, bool) & np.isfinite(value)


def _mark_limits(ax: Axes, curve: CurveSeries, color: str, side: str, positive_only: bool) -> bool:
    """A triangle on each value that is a one-sided limit (``side``, :func:`_limits`); True if there is one."""
    value = np.asarray(curve.value, dtype=float)
    limit = _limits(curve) & ((value > 0) | (not positive_only))
    if limit.any():
        ax.plot(bin_centers(np.asarray(curve.edges, dtype=float))[limit], value[limit], LIMIT_MARKERS[side], color=color,
                markersize=7, linestyle="none")
    return bool(limit.any())


def band_title(curves: Sequence[CurveSeries]) -> str:
    """What the bands of ``curves`` are, for the legend's title: one line when they agree."""
    bands = {c.label: c.band for c in curves if c.band and c.low is not None}
    if len(set(bands.values())) <= 1:
        return f"band: {next(iter(bands.values()))}" if bands else ""
    return "bands: " + "; ".join(f"{label}: {band}" for label, band in bands.items())


def _events_panel(ax: Axes, curves: Sequence[CurveSeries], colors: Sequence[str], min_events: int, counted: str) -> None:
    """Events (or the ``counted`` objects) per bin of each curve (steps over the bins from its first to its last
    with any), with the low-statistics threshold."""
    for curve, color in zip(curves, colors, strict=True):
        counts = np.asarray(curve.n_events if curve.n_events is not None else [], dtype=float)
        filled = np.flatnonzero(counts > 0)
        if filled.size:
            first, last = filled[0], filled[-1] + 1
            ax.stairs(counts[first:last], np.asarray(curve.edges, dtype=float)[first : last + 1], color=color,
                      linestyle="--" if curve.baseline else "-", baseline=None)
    ax.axhline(min_events, color=LOW_STATISTICS_COLOR, linestyle=":", linewidth=1)
    ax.text(0.99, 0.95, f"grey points: bins with < {min_events} {counted}", transform=ax.transAxes, ha="right", va="top",
            fontsize="x-small", color="0.4")
    if ax.patches:
        ax.set_yscale("log")
        _plain_log_labels(ax.yaxis)
    ax.set_ylabel(counted if " " in counted else f"{counted} / bin")  # a phrase says what it counts itself
    ax.grid(True, which="major", alpha=0.3)


def _plain_log_labels(axis: Axis) -> None:
    """Log-axis labels as plain numbers (0.5, 2, 40) rather than 2 x 10^0; on an axis spanning less than two
    decades the 2 and 5 between the decades are labelled too, so that it has more than one label."""

    def minor(value: float, _: int) -> str:
        low, high = sorted(axis.get_view_interval())
        mantissa = round(value / 10 ** np.floor(np.log10(value)), 6)
        return f"{value:g}" if low > 0 and high / low < 100 and mantissa in (2, 5) else ""

    axis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    axis.set_minor_formatter(FuncFormatter(minor))


def curves_figure(
    curves: Sequence[CurveSeries],
    *,
    xlabel: str,
    ylabel: str,
    title: str = "",
    caption: str = "",
    references: Sequence[ReferenceCurve] = (),
    logx: bool = True,
    logy: bool = False,
    hline: float | None = None,
    missing: str = "no value",
    min_events: int = MIN_EVENTS_PER_BIN,
    counted: str = "events",
    empty_limit: str | None = None,
) -> Figure:
    """A figure of binned curves with optional reference (requirement) curves and a horizontal line.

    ``caption``: the data set and cuts, the figure's first line; ``missing``: why a bin with events has
    no value (the legend's word for the crosses). With event counts (``CurveSeries.n_events``), a lower
    panel shows them per bin and bins below ``min_events`` are grey; ``counted``: what they count (``gammas``).
    ``empty_limit``: ``"lower"`` or ``"upper"`` where the value of a bin whose count is 0 is such a limit (a
    rejection where the cut keeps no background event), marked with a triangle.
    """
    has_counts = any(c.n_events is not None for c in curves)
    figure = new_figure(6.4, 6.0 if has_counts else 4.8)
    add_caption(figure, caption)
    if has_counts:
        ax, events_ax = figure.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    else:
        ax, events_ax = figure.add_subplot(), None
    values = [c.value for c in curves] + [r.value for r in references]
    # log axes need data (positive for y), or matplotlib fails at draw time (e.g. no events at all)
    has_data = any(np.isfinite(np.asarray(v, dtype=float)).any() for v in values)
    logy = logy and _any_positive(values)
    colors = [draw_curve(ax, curve, positive_only=logy, min_events=min_events,
                         limits=_limits(curve) if empty_limit is not None else None) for curve in curves]
    handles, labels = ax.get_legend_handles_labels()
    marked = [_mark_missing(ax, curve, color) for curve, color in zip(curves, colors, strict=True)]
    if any(marked):
        handles.append(Line2D([], [], marker="x", linestyle="none", color="0.3"))
        labels.append(missing)
    if empty_limit is not None and any([_mark_limits(ax, curve, color, empty_limit, logy)
                                        for curve, color in zip(curves, colors, strict=True)]):
        handles.append(Line2D([], [], marker=LIMIT_MARKERS[empty_limit], linestyle="none", color="0.3"))
        labels.append(f"{empty_limit} limit: no {counted}")
    for reference in references:
        (line,) = ax.plot(reference.energy, reference.value, color="black", linewidth=1.5)
        handles.append(line)
        labels.append(reference.label)
    if hline is not None:
        ax.axhline(hline, color="grey", linewidth=0.8)
    if not has_data:
        ax.text(0.5, 0.5, "no events", transform=ax.transAxes, ha="center", va="center", color="grey")
    if events_ax is not None:
        _events_panel(events_ax, curves, colors, min_events, counted)
    if logx and has_data:
        ax.set_xscale("log")
    if logy:
        ax.set_yscale("log")
        _plain_log_labels(ax.yaxis)
    (events_ax or ax).set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    if handles:
        ax.legend(handles, labels, fontsize="small", title=band_title(curves) or None, title_fontsize="small")
    return figure


def migration_figure(
    probability: np.ndarray, true_edges: np.ndarray, reco_edges: np.ndarray, title: str = "", caption: str = ""
) -> Figure:
    """Energy migration: P(reco bin | true bin) as a colour map, with the diagonal; ``caption`` the data set."""
    figure = new_figure(6.4, 5.4)
    add_caption(figure, caption)
    ax = figure.add_subplot()
    matrix = np.ma.masked_invalid(np.asarray(probability, dtype=float))
    positive = matrix[matrix > 0]
    norm = LogNorm(vmin=max(float(positive.min()), 1e-3), vmax=1.0) if positive.size else None
    mesh = ax.pcolormesh(true_edges, reco_edges, np.ma.masked_less_equal(matrix, 0).T, norm=norm, cmap="viridis")
    figure.colorbar(mesh, ax=ax, label="P(reco bin | true bin)")
    low, high = max(true_edges[0], reco_edges[0]), min(true_edges[-1], reco_edges[-1])
    ax.plot([low, high], [low, high], color="white", linewidth=0.8, linestyle="--")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("true energy [TeV]")
    ax.set_ylabel("reconstructed energy [TeV]")
    if title:
        ax.set_title(title)
    return figure
