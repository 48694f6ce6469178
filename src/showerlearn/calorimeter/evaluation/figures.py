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

#: what a panel without any cluster says, and the Doppler-corrected one where clusters had no velocity
_EMPTY = "no cluster in the range"
_NO_VELOCITY = "no cluster in the range: events without a velocity\n(showerlearn convert calorimeter --beta)"


def spectra_figure(spectra: Mapping[str, Mapping[str, Any]], max_mev: float | None = None) -> Figure:
    """Two panels, lab and Doppler-corrected cluster energies: a step histogram per method (``label -> the
    "spectra" record of a clustering report``, or of :func:`~showerlearn.calorimeter.evaluation.spectra.prediction_spectra`,
    all on the same bins) and the true energies of the gammas in black (of the first record that has them). A panel
    without any count says so (and the Doppler-corrected one that its clusters had no velocity, where a prediction
    record counts ``clusters_without_beta``)."""
    if not spectra:
        raise ValueError("spectra_figure needs at least one method's spectra")
    figure = new_figure(11.0, 4.2)
    axes = figure.subplots(1, 2, sharey=True)
    first = next(iter(spectra.values()))
    edges = np.asarray(first["edges"], dtype=float)
    truth = next((record for record in spectra.values() if "truth_lab" in record), None)
    no_velocity = any(record.get("clusters_without_beta", 0) for record in spectra.values())
    panels = (("lab", "truth_lab", "cluster energy, lab [MeV]", "gammas, true lab energy", _EMPTY),
              ("doppler_corrected", "truth_rest", "cluster energy, Doppler-corrected [MeV]", "gammas, true rest-frame energy",
               _NO_VELOCITY if no_velocity else _EMPTY))
    for ax, (key, truth_key, xlabel, truth_label, empty) in zip(axes, panels):
        if truth is not None:
            ax.stairs(np.asarray(truth[truth_key]), edges, color="black", linewidth=1.6, label=truth_label)
        for label, record in spectra.items():
            ax.stairs(np.asarray(record[key]), edges, linewidth=1.0, label=label)
        if any(np.asarray(record[key]).any() for record in spectra.values()):
            ax.set_yscale("log")  # (shared by both panels) a log axis without any count fails when drawn
        else:
            ax.text(0.5, 0.5, empty, transform=ax.transAxes, ha="center", va="center", fontsize="small", wrap=True)
        ax.set_xlabel(xlabel)
        ax.set_xlim(0.0, max_mev if max_mev is not None else edges[-1])
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize="x-small")
    axes[0].set_ylabel(f"clusters (truth: gammas) per {edges[1] - edges[0]:.2g} MeV" if truth is not None
                       else f"clusters per {edges[1] - edges[0]:.2g} MeV")
    return figure
