"""Metrics of calorimeter clustering as pure functions on flat tables: per-gamma reconstruction efficiency,
fake clusters, photopeak efficiency and energy resolution per gamma energy, clusters per event against the
truth, the adjusted Rand index, and lab and Doppler-corrected energy spectra.

May import: showerlearn.calorimeter.kinematics, showerlearn.calorimeter.simulation.response, numpy,
scikit-learn; awkward inside the functions that read awkward arrays.
"""

from showerlearn.calorimeter.evaluation.metrics import (
    adjusted_rand_index,
    cluster_multiplicity,
    energy_resolution_by_energy,
    fake_clusters,
    gamma_matches,
    photopeak_efficiency_by_energy,
    reconstruction_efficiency,
)
from showerlearn.calorimeter.evaluation.spectra import energy_spectra
from showerlearn.calorimeter.evaluation.tables import cluster_table, flat_labels, gamma_table, hit_table

__all__ = [
    "adjusted_rand_index",
    "cluster_multiplicity",
    "cluster_table",
    "energy_resolution_by_energy",
    "energy_spectra",
    "fake_clusters",
    "flat_labels",
    "gamma_matches",
    "gamma_table",
    "hit_table",
    "photopeak_efficiency_by_energy",
    "reconstruction_efficiency",
]
