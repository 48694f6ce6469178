"""Quick-look figures of IACT prediction files (``showerlearn plot iact``), real data's included, which have no
truth: the gammaness of every event and, for the gamma-like ones (above a gammaness cut), their reconstructed
energy and their angular distance to the telescope's pointing, one line per file. A file fills the panels its
network's heads give (a model without a particle head: every event counts as gamma-like). A simulated file (with
``true_shower_primary_id``) also shows the gammaness of its true gammas and of the rest (protons and every other
primary), as the evaluation splits them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from showerlearn.iact.particles import GAMMA_PRIMARY_ID
from showerlearn.metrics.resolution import angular_separation
from showerlearn.viz.figures import new_figure

__all__ = ["PANEL_COLUMNS", "TRUTH_COLUMN", "prediction_histograms", "predictions_figure"]

#: the prediction columns each panel reads
PANEL_COLUMNS = {
    "gammaness": ("gammaness",),
    "energy": ("reco_energy",),
    "offset": ("reco_alt", "reco_az", "pointing_alt", "pointing_az"),
}
#: the simulated primary of each event (negative: none, as in real data)
TRUTH_COLUMN = "true_shower_primary_id"
#: the gammaness of a simulated file's events by their true primary: gammas, and the rest as the background
TRUE_CLASSES = ("true gammas", "true background")
#: each panel's bins: gammaness; reconstructed energy [TeV], 10 GeV to 1 PeV, 10 per decade; offset [deg]
EDGES = {"gammaness": np.linspace(0.0, 1.0, 41), "energy": np.logspace(-2.0, 3.0, 51), "offset": np.linspace(0.0, 5.0, 51)}
_AXES = {
    "gammaness": ("gammaness", "events"),
    "energy": ("reconstructed energy [TeV]", "gamma-like events"),
    "offset": ("angular distance to the pointing [deg]", "gamma-like events"),
}


def prediction_histograms(columns: Mapping[str, np.ndarray], gammaness_cut: float) -> dict[str, Any]:
    """Counts over :data:`EDGES` of each panel ``columns`` can fill (rows with a non-finite value are left out of
    that panel); ``events``, and ``gamma_like``, the events above ``gammaness_cut`` (all of them without a
    gammaness), which the energy and offset panels count; ``gammaness_true``, the gammaness counts of each of
    :data:`TRUE_CLASSES`, where :data:`TRUTH_COLUMN` knows some event's primary."""
    n = len(next(iter(columns.values()))) if columns else 0
    record: dict[str, Any] = {"events": n}
    gamma_like = np.ones(n, dtype=bool)
    if "gammaness" in columns:
        gammaness = np.asarray(columns["gammaness"], dtype=float)
        finite = np.isfinite(gammaness)
        record["gammaness"] = np.histogram(gammaness[finite], EDGES["gammaness"])[0]
        gamma_like = finite & (np.where(finite, gammaness, -np.inf) > gammaness_cut)
        if TRUTH_COLUMN in columns and (primary := np.asarray(columns[TRUTH_COLUMN])).max(initial=-1) >= 0:
            is_gamma = primary == GAMMA_PRIMARY_ID
            record["gammaness_true"] = {
                name: np.histogram(gammaness[finite & chosen], EDGES["gammaness"])[0]
                for name, chosen in zip(TRUE_CLASSES, (is_gamma, (primary >= 0) & ~is_gamma), strict=True)
            }
    record["gamma_like"] = int(gamma_like.sum())
    if "reco_energy" in columns:
        energy = np.asarray(columns["reco_energy"], dtype=float)
        record["energy"] = np.histogram(energy[gamma_like & np.isfinite(energy)], EDGES["energy"])[0]
    if all(name in columns for name in PANEL_COLUMNS["offset"]):
        reco_alt, reco_az, alt, az = (np.asarray(columns[name], dtype=float) for name in PANEL_COLUMNS["offset"])
        known = gamma_like & np.isfinite(reco_alt) & np.isfinite(reco_az) & np.isfinite(alt) & np.isfinite(az)
        offset = angular_separation(alt[known], az[known], reco_alt[known], reco_az[known])
        record["offset"] = np.histogram(offset, EDGES["offset"])[0]
    return record


def predictions_figure(records: Mapping[str, Mapping[str, Any]], gammaness_cut: float) -> Figure:
    """One panel per quantity some file has (:func:`prediction_histograms` records, ``label -> record``), a step
    histogram per file, the gammaness cut drawn."""
    panels = [panel for panel in PANEL_COLUMNS if any(panel in record for record in records.values())]
    if not panels:
        raise ValueError("no panel to draw: the files have no gammaness, reco_energy or reco_alt/az with pointing")
    figure = new_figure(4.2 * len(panels) + 0.6, 4.0)
    for ax, panel in zip(np.atleast_1d(figure.subplots(1, len(panels))), panels):
        edges = EDGES[panel]
        for label, record in records.items():
            if panel in record:
                line = ax.stairs(record[panel], edges, linewidth=1.2, label=label)
                for name, style in zip(TRUE_CLASSES, ("--", ":")):
                    if panel == "gammaness" and "gammaness_true" in record:
                        ax.stairs(record["gammaness_true"][name], edges, linewidth=1.0, linestyle=style,
                                  color=line.get_edgecolor(), label=f"{label}: {name}")
        if panel == "gammaness":
            ax.axvline(gammaness_cut, color="black", linestyle="--", linewidth=1, label=f"cut {gammaness_cut:g}")
        if panel == "energy":
            ax.set_xscale("log")
        if any(np.asarray(record[panel]).any() for record in records.values() if panel in record):
            ax.set_yscale("log")  # a log axis without any count fails when drawn
        xlabel, ylabel = _AXES[panel]
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize="x-small")
    return figure
