"""Figures of calorimeter explanations: one event's hits and attention matrices, and the attention against the
opening angle of hit pairs over all events."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from showerlearn.viz.figures import new_figure

__all__ = ["ANGLE_EDGES", "AngleProfile", "attention_vs_angle_figure", "event_figure"]

#: opening-angle bins [rad] of the attention profiles: fine within a cluster (R3B's windows: 0.25-0.4 rad)
ANGLE_EDGES = np.array([0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.7, 1.0, 1.5, 2.0, np.pi + 1e-9])


class AngleProfile:
    """Mean of a pair quantity per opening-angle bin (:data:`ANGLE_EDGES`), for same-gamma and other pairs."""

    def __init__(self) -> None:
        self.total = np.zeros((2, len(ANGLE_EDGES) - 1))
        self.count = np.zeros((2, len(ANGLE_EDGES) - 1))

    def add(self, angle: np.ndarray, values: np.ndarray, same: np.ndarray) -> None:
        """Pairs' opening angles [rad], values and whether both hits are of the same gamma (all 1-D)."""
        bins = np.clip(np.searchsorted(ANGLE_EDGES, angle, side="right") - 1, 0, len(ANGLE_EDGES) - 2)
        for row, chosen in enumerate((same, ~same)):
            self.total[row] += np.bincount(bins[chosen], values[chosen], minlength=self.total.shape[1])
            self.count[row] += np.bincount(bins[chosen], minlength=self.total.shape[1])

    def mean(self) -> np.ndarray:
        """``(2, bins)``: same gamma, other; NaN in empty bins."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.count > 0, self.total / self.count, np.nan)


def attention_vs_angle_figure(profiles: Mapping[str, AngleProfile], truth: bool = True) -> Figure:
    """One panel per attention head: attention relative to even attention against the opening angle, for pairs of
    the same gamma and others; ``truth=False`` (measured data, every hit's gamma unknown): one curve of all pairs."""
    figure = new_figure(3.6 * len(profiles), 3.2)
    centres = np.degrees(0.5 * (ANGLE_EDGES[:-1] + np.minimum(ANGLE_EDGES[1:], np.pi)))
    # without truth every pair counts as "other": the same-gamma row is empty, not a finding
    curves = ((0, "same gamma"), (1, "other gamma or background")) if truth else ((1, "all pairs (no truth)"),)
    for k, (name, profile) in enumerate(profiles.items()):
        ax = figure.add_subplot(1, len(profiles), k + 1)
        for row, label in curves:
            ax.plot(centres, profile.mean()[row], marker="o", markersize=3, label=f"{label} ({int(profile.count[row].sum())} pairs)")
        ax.axhline(1.0, color="grey", linewidth=0.8, linestyle="--")
        ax.set_xscale("log")
        ax.set_xlabel("opening angle of the two hits [deg]", fontsize=7)
        ax.set_ylabel("attention / even attention", fontsize=7)
        ax.set_title(name, fontsize=8)
        ax.tick_params(labelsize=6)
        ax.legend(fontsize=6)
    figure.suptitle("Attention a hit gives another, relative to attention spread evenly over the event's hits", fontsize=9)
    return figure


def event_figure(title: str, rows: Sequence[tuple[str, Sequence[tuple[str, np.ndarray]]]], hits_panel: str,
                 truth_panel: str) -> Figure:  # fmt: skip
    """One event: the hits in (phi, theta) by energy and by true gamma, then each map: an attention map as the
    (query hit x key hit) matrix of the real hits, grouped by true gamma (then by decreasing energy); a per-hit
    map on the hits."""
    panels = dict(rows[0][1])
    hits = np.asarray(panels[hits_panel], dtype=float)
    real = np.isfinite(hits[:, 0])
    truth = np.asarray(panels[truth_panel], dtype=float)[real] if truth_panel in panels else None
    order = np.lexsort((-hits[real, 2], truth)) if truth is not None else np.argsort(-hits[real, 2])
    columns = max(len(p) for _, p in rows)
    figure = new_figure(3.3 * columns, 3.0 * len(rows) + 0.5)
    for r, (label, row_panels) in enumerate(rows):
        for c, (name, values) in enumerate(row_panels):
            ax = figure.add_subplot(len(rows), columns, r * columns + c + 1)
            values = np.asarray(values, dtype=float)
            if name == hits_panel:
                _hits(ax, hits[real], np.log10(hits[real, 2]), "log10(E / MeV)", "viridis")
            elif name == truth_panel:
                _hits(ax, hits[real], values[real], "true gamma (-1: none)", "tab10", (-1.5, 8.5))
            elif values.size == len(hits) ** 2:
                _matrix(ax, values.reshape(len(hits), len(hits))[np.ix_(real, real)], order, truth)
            else:
                _hits(ax, hits[real], values[real], "map value", "magma")
            ax.set_title(f"{label}: {name}" if label else name, fontsize=7)
            ax.tick_params(labelsize=6)
    figure.suptitle(title, fontsize=9)
    return figure


def _hits(ax: Axes, hits: np.ndarray, colour: np.ndarray, label: str, cmap: str,
          limits: tuple[float, float] = (None, None)) -> None:  # fmt: skip
    """The hits at (phi, theta) [deg], area by energy, coloured by ``colour`` (within ``limits``)."""
    points = ax.scatter(np.degrees(hits[:, 1]), np.degrees(hits[:, 0]), c=colour, cmap=cmap, vmin=limits[0], vmax=limits[1],
                        s=12 + 40 * np.sqrt(hits[:, 2] / max(hits[:, 2].max(initial=0.0), 1e-9)), edgecolors="k", linewidths=0.3)  # fmt: skip
    ax.figure.colorbar(points, ax=ax, shrink=0.8).set_label(label, fontsize=7)
    ax.set_xlabel("phi [deg]", fontsize=7)
    ax.set_ylabel("theta [deg]", fontsize=7)
    ax.invert_yaxis()  # forward (small theta) at the top, as the beam comes in


def _matrix(ax: Axes, attention: np.ndarray, order: np.ndarray, truth: np.ndarray | None) -> None:
    """An attention matrix with the hits in ``order``, lines between the hits of different true gammas."""
    image = ax.imshow(attention[np.ix_(order, order)], cmap="viridis", interpolation="nearest", aspect="auto")
    ax.figure.colorbar(image, ax=ax, shrink=0.8).set_label("attention weight", fontsize=7)
    if truth is not None:
        for edge in np.flatnonzero(np.diff(truth[order])) + 0.5:
            ax.axhline(edge, color="w", linewidth=0.6)
            ax.axvline(edge, color="w", linewidth=0.6)
    ax.set_xlabel("key hit (by true gamma, then energy)" if truth is not None else "key hit (by energy)", fontsize=7)
    ax.set_ylabel("query hit", fontsize=7)
