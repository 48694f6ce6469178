"""Metrics of calorimeter clustering as pure functions on flat tables: per-gamma reconstruction efficiency,
fake clusters, photopeak efficiency and energy resolution per gamma energy, clusters per event against the
truth, the adjusted Rand index, and lab and Doppler-corrected energy spectra; ``report`` gathers them for one
method (overall and in the hard regime, ``regimes``), ``evaluator`` is the ``calorimeter`` evaluator of
``showerlearn evaluate`` and ``figures`` draws the spectra; ``checks`` refuses a damaged prediction file's tables
before they are scored or drawn.

May import: showerlearn.calorimeter.family, showerlearn.calorimeter.geometry, showerlearn.calorimeter.kinematics,
showerlearn.calorimeter.simulation.response, showerlearn.evaluation, showerlearn.metrics, showerlearn.registry,
showerlearn.viz, matplotlib, numpy, scikit-learn; awkward inside the functions that read awkward arrays.
"""

from showerlearn.calorimeter.evaluation.metrics import (
    adjusted_rand_index,
    binned_efficiency,
    cluster_multiplicity,
    energy_resolution_by_energy,
    fake_clusters,
    gamma_matches,
    in_photopeak,
    is_fake,
    photopeak_efficiency_by_energy,
    reconstructed,
    reconstruction_efficiency,
)
from showerlearn.calorimeter.evaluation.regimes import hard_events, hard_gammas, nearest_gamma_angle
from showerlearn.calorimeter.evaluation.report import DEFAULT_ENERGY_BINS, ReportSettings, clustering_report, split_tables
from showerlearn.calorimeter.evaluation.spectra import PREDICTION_TABLES, energy_spectra, prediction_spectra
from showerlearn.calorimeter.evaluation.tables import cluster_table, flat_labels, gamma_table, hit_table

__all__ = [
    "DEFAULT_ENERGY_BINS",
    "PREDICTION_TABLES",
    "ReportSettings",
    "adjusted_rand_index",
    "binned_efficiency",
    "clustering_report",
    "cluster_multiplicity",
    "cluster_table",
    "energy_resolution_by_energy",
    "energy_spectra",
    "fake_clusters",
    "flat_labels",
    "gamma_matches",
    "gamma_table",
    "hard_events",
    "hard_gammas",
    "hit_table",
    "in_photopeak",
    "is_fake",
    "nearest_gamma_angle",
    "photopeak_efficiency_by_energy",
    "prediction_spectra",
    "reconstructed",
    "reconstruction_efficiency",
    "split_tables",
]
