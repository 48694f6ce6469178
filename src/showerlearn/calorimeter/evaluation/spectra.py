"""Reconstructed energy spectra: cluster energies in the lab and Doppler-corrected with each cluster's angle."""

from __future__ import annotations

import numpy as np

from showerlearn.calorimeter.kinematics import doppler_correct

__all__ = ["energy_spectra"]


def energy_spectra(clusters: dict[str, np.ndarray], beta: np.ndarray, edges: np.ndarray) -> dict[str, np.ndarray]:
    """Histograms over ``edges`` [MeV] of the cluster energies: ``lab`` and ``doppler_corrected`` (each
    cluster's event velocity from ``beta``, one value per event)."""
    corrected = doppler_correct(clusters["energy"], clusters["theta"], np.asarray(beta)[clusters["event"]])
    return {"lab": np.histogram(clusters["energy"], edges)[0], "doppler_corrected": np.histogram(corrected, edges)[0]}
