"""IRF-style curves per energy bin (resolution, bias, effective area, AUC) and the migration matrix.

A curve is drawn as points at the bin's geometric centre with the bin width as horizontal bar and a
shaded band (a bootstrap confidence interval for one run, mean +- std over seeds for a sweep);
baseline runs are dashed and requirement curves black lines, so any figure can carry both.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure

from showerlearn.metrics.binning import bin_centers
from showerlearn.viz.figures import new_figure


@dataclass(frozen=True)
class CurveSeries:
    """One curve to draw: values per bin of ``edges`` with an optional band ``[low, high]``."""

    label: str
    edges: np.ndarray
    value: np.ndarray
    low: np.ndarray | None = None
    high: np.ndarray | None = None
    baseline: bool = False


@dataclass(frozen=True)
class ReferenceCurve:
    """A curve given at points (e.g. a CTA requirement): energy [TeV] and value."""

    label: str
    energy: np.ndarray
    value: np.ndarray


def _any_positive(arrays: Sequence[np.ndarray]) -> bool:
    return any(np.any(np.asarray(a, dtype=float) > 0) for a in arrays)


def draw_curve(ax: Axes, curve: CurveSeries, color: str | None = None, positive_only: bool = False) -> None:
    """Draw one binned curve (points, bin-width bars, band) on ``ax``.

    ``positive_only`` (log y axis) leaves a gap at values <= 0, e.g. a zero effective area below
    threshold, instead of a line plunging to minus infinity.
    """

    def values(v: np.ndarray) -> np.ndarray:
        v = np.asarray(v, dtype=float)
        return np.where(v > 0, v, np.nan) if positive_only else v

    edges = np.asarray(curve.edges, dtype=float)
    value = values(curve.value)
    x = bin_centers(edges)
    style = {"linestyle": "--", "marker": "s", "mfc": "none"} if curve.baseline else {"linestyle": "-", "marker": "o"}
    line = ax.errorbar(
        x, value, xerr=[x - edges[:-1], edges[1:] - x], label=curve.label, color=color, markersize=4, capsize=0, **style
    )
    if curve.low is not None and curve.high is not None:
        ax.fill_between(
            x,
            values(curve.low),
            values(curve.high),
            color=line.lines[0].get_color(),
            alpha=0.25,
            linewidth=0,
        )


def curves_figure(
    curves: Sequence[CurveSeries],
    *,
    xlabel: str,
    ylabel: str,
    title: str = "",
    references: Sequence[ReferenceCurve] = (),
    logx: bool = True,
    logy: bool = False,
    hline: float | None = None,
) -> Figure:
    """A figure of binned curves with optional reference (requirement) curves and a horizontal line."""
    figure = new_figure()
    ax = figure.add_subplot()
    values = [c.value for c in curves] + [r.value for r in references]
    # log axes need data (positive for y), or matplotlib fails at draw time (e.g. no events at all)
    has_data = any(np.isfinite(np.asarray(v, dtype=float)).any() for v in values)
    logy = logy and _any_positive(values)
    for curve in curves:
        draw_curve(ax, curve, positive_only=logy)
    for reference in references:
        ax.plot(reference.energy, reference.value, color="black", linewidth=1.5, label=reference.label)
    if hline is not None:
        ax.axhline(hline, color="grey", linewidth=0.8)
    if not has_data:
        ax.text(0.5, 0.5, "no events", transform=ax.transAxes, ha="center", va="center", color="grey")
    if logx and has_data:
        ax.set_xscale("log")
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    if curves or references:
        ax.legend(fontsize="small")
    return figure


def migration_figure(
    probability: np.ndarray, true_edges: np.ndarray, reco_edges: np.ndarray, title: str = ""
) -> Figure:
    """Energy migration: P(reco bin | true bin) as a colour map, with the diagonal."""
    figure = new_figure(6.4, 5.4)
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
