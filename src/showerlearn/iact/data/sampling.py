"""Energy-weighted sampling of the training split: show the rare high-energy showers more often.

Simulated spectra fall steeply (E^-2 for gammas, E^-2.7 for protons): of 100k training gammas a few hundred are
above a few TeV, too few for a network to learn those images, where Hillas + random forest does better. Drawing
training events with weights that flatten each particle's spectrum in log10(true energy) by ``flatten`` shows them
more often, without weighting the loss (the loss keeps its meaning per event) and without changing the share of
each particle in an epoch (:func:`showerlearn.data.sampling.flattening_weights`).
"""

from __future__ import annotations


import numpy as np
from pydantic import ConfigDict, Field

from showerlearn.config.base import SettingsModel
from showerlearn.data.sampling import flattening_weights

__all__ = ["EnergySampling", "energy_sampling_weights"]


class EnergySampling(SettingsModel):
    """How training events are drawn by their true energy (docs/data_iact.md, "Energy-weighted sampling")."""

    model_config = ConfigDict(frozen=True)

    flatten: float = Field(
        0.0, ge=0.0, le=1.0,
        description="0: every training event once per epoch, shuffled; 1: events drawn with replacement so that each "
        "particle's log10(true energy) distribution is flat (up to max_weight); in between: weight = (share of the event's energy bin) "
        "** -flatten (0.5 turns an E^-2 spectrum into about E^-1.5).")
    bins: int = Field(20, ge=1, description="log10(true energy) bins, over each particle's range, of the share above.")
    max_weight: float = Field(
        20.0, ge=1.0, description="Largest weight relative to the particle's mean, so that a bin of a few events is not "
        "drawn dozens of times an epoch.")


def energy_sampling_weights(true_energy: np.ndarray, particle: np.ndarray, spec: EnergySampling) -> np.ndarray:
    """The training split's sampling weights (``true_energy`` [TeV], particle class per event)."""
    energy = np.asarray(true_energy, dtype=np.float64)
    if (invalid := int(np.sum(~(np.isfinite(energy) & (energy > 0))))) > 0:
        raise ValueError(f"data.params.energy_sampling: {invalid} of {len(energy)} training events have no positive true "
                         "energy to weigh them by (cut them with cuts.min_energy, or set flatten: 0)")
    return flattening_weights(np.log10(energy), np.asarray(particle), spec.flatten, spec.bins, spec.max_weight)
