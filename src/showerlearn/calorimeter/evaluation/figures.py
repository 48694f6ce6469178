"""Figures of calorimeter clustering: the reconstructed energy spectra of one or several methods on the same
events, in the lab and Doppler-corrected, with the truth (the gammas' lab and rest-frame energies) overlaid
where there is one."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from showerlearn.viz.figures import new_figure

__all__ = ["spectra_figure"]

#: what a panel without any cluster says
_EMPTY = {"lab": "no cluster in the range",
          "doppler_corrected": "no cluster in the range: events without a velocity\n(showerlearn convert calorimeter --beta)"}


def spectra_figure(spectra: Mapping[str, Mapping[str, Any]], max_mev: float | None = None) -> Figure:
    """Two panels, lab and Doppler-corrected cluster energies: a step histogram per method (``label -> the
    "spectra" record of a clustering report``, or of :func:`~showerlearn.calorimeter.evaluation.spectra.prediction_spectra`,
    all on the same bins) and the truth in black (the first record's, if it has one). A panel without any count
    says why (Doppler-corrected: events without a velocity)."""
    if not spectra:
        raise ValueError("spectra_figure needs at least one method's spectra")
    figure = new_figure(11.0, 4.2)
    axes = figure.subplots(1, 2, sharey=True)
    first = next(iter(spectra.values()))
    edges = np.asarray(first["edges"], dtype=float)
    panels = (("lab", "truth_lab", "cluster energy, lab [MeV]", "true lab energy"),
              ("doppler_corrected", "truth_rest", "cluster energy, Doppler-corrected [MeV]", "true rest-frame energy"))
    for ax, (key, truth, xlabel, truth_label) in zip(axes, panels):
        if truth in first:
            ax.stairs(np.asarray(first[truth]), edges, color="black", linewidth=1.6, label=truth_label)
        for label, record in spectra.items():
            ax.stairs(np.asarray(record[key]), edges, linewidth=1.0, label=label)
        if any(np.asarray(record[key]).any() for record in spectra.values()):
            ax.set_yscale("log")  # (shared by both panels) a log axis without any count fails when drawn
        else:
            ax.text(0.5, 0.5, _EMPTY[key], transform=ax.transAxes, ha="center", va="center", fontsize="small", wrap=True)
        ax.set_xlabel(xlabel)
        ax.set_xlim(0.0, max_mev if max_mev is not None else edges[-1])
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize="x-small")
    axes[0].set_ylabel(f"clusters per {edges[1] - edges[0]:.2g} MeV")
    return figure
