"""Every clustering metric of one method on one set of events, from the prediction tables a run writes: the
``hits`` table (each hit's truth and cluster ``label``), the ``gammas`` table (the truth) and each event's
``beta``. Pure numbers (scalars, curve records, the multiplicity matrix and the spectra); no figures.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from showerlearn.calorimeter.evaluation.checks import prediction_table_problem
from showerlearn.calorimeter.evaluation.metrics import (
    adjusted_rand_index,
    binned_efficiency,
    cluster_multiplicity,
    energy_resolution_by_energy,
    gamma_matches,
    in_photopeak,
    is_fake,
    reconstructed,
)
from showerlearn.calorimeter.evaluation.regimes import hard_events, hard_gammas
from showerlearn.calorimeter.evaluation.spectra import energy_spectra
from showerlearn.calorimeter.evaluation.tables import cluster_table
from showerlearn.calorimeter.kinematics import doppler_correct
from showerlearn.evaluation.curves import NON_NEGATIVE, SHARE, binomial_band, curve_record, json_float, json_list
from showerlearn.metrics.resolution import ONE_SIGMA_CONTAINMENT

__all__ = ["DEFAULT_ENERGY_BINS", "ReportSettings", "clustering_report", "split_tables"]

#: bins of the gammas' rest-frame energy [MeV] for the per-energy curves
DEFAULT_ENERGY_BINS = (0.3, 0.5, 1.0, 2.0, 3.0, 5.0, 7.5, 10.0)


@dataclass(frozen=True)
class ReportSettings:
    """The knobs of the metrics (docs/calorimeter.md, "Metrics")."""

    energy_bins: Sequence[float] = DEFAULT_ENERGY_BINS
    tolerance: float = 0.05
    resolution_fwhm_662: float = 0.077
    n_sigma: float = 3.0
    hard_separation_rad: float = 0.25
    hard_energy_mev: float = 5.0
    hard_multiplicity: int = 5
    spectrum_max_mev: float = 25.0
    spectrum_bin_mev: float = 0.1


def split_tables(predictions: Mapping[str, np.ndarray], tables: Mapping[str, Mapping[str, np.ndarray]]
                 ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], np.ndarray]:
    """``(hits, gammas, beta)`` in the metrics' layout (an ``event`` column) from a run's prediction tables."""
    missing = [name for name in ("hits", "gammas") if name not in tables]
    if missing:
        raise KeyError(f"the calorimeter evaluator needs the per-element tables hits and gammas; missing {missing} "
                       f"(predictions written by the calorimeter DataModule have them)")
    if problem := prediction_table_problem(predictions, tables):
        raise ValueError(f"{problem} (a damaged prediction file? predict it again)")
    hits = {key: np.asarray(value) for key, value in tables["hits"].items()}
    gammas = {key: np.asarray(value) for key, value in tables["gammas"].items()}
    for name, table, needed in (("hits", hits, ("energy", "theta", "phi", "true_gamma", "label")),
                                ("gammas", gammas, ("index", "energy_rest", "energy_lab", "theta", "phi"))):
        if absent := [key for key in (*needed, "event_index") if key not in table]:
            raise KeyError(f"the {name} table lacks the columns {absent}")
        table["event"] = table.pop("event_index")
    return hits, gammas, np.asarray(predictions["beta"], dtype=float)


def clustering_report(hits: dict[str, np.ndarray], gammas: dict[str, np.ndarray], beta: np.ndarray,
                      settings: ReportSettings = ReportSettings()) -> dict[str, Any]:
    """``{"settings", "scalars", "curves", "multiplicity", "spectra"}`` of the labels ``hits["label"]``."""
    n_events = len(beta)
    labels = np.asarray(hits["label"], dtype=np.int64)
    clusters = cluster_table(hits, labels)
    matches = gamma_matches(gammas, clusters, hits)
    peak = in_photopeak(gammas, matches, settings.resolution_fwhm_662, settings.n_sigma)
    good = reconstructed(matches, settings.tolerance)
    detected = matches["hit_energy"] > 0
    hard = hard_gammas(gammas, settings.hard_separation_rad, settings.hard_energy_mev, settings.hard_multiplicity)
    hard_event = hard_events(gammas, hard, n_events)
    fake = is_fake(matches, len(clusters["energy"]))
    multiplicity = cluster_multiplicity(clusters, matches, gammas, n_events)
    scalars = {
        "n_events": n_events, "n_gammas": len(peak), "n_gammas_hard": int(hard.sum()),
        **_regime_scalars("", peak, good, detected, fake, hits, labels, np.ones(n_events, bool), clusters, n_events),
        **_regime_scalars("_hard", peak[hard], good[hard], detected[hard], fake[hard_event[clusters["event"]]], hits, labels,
                          hard_event, clusters, int(hard_event.sum())),
        "energy_resolution": _resolution(gammas, matches, clusters, beta, peak),
        "cluster_multiplicity_difference": multiplicity["mean_difference"],
    }
    return {
        "settings": asdict(settings) | {"energy_bins": list(settings.energy_bins)},
        "scalars": {key: json_float(value) if isinstance(value, float) else value for key, value in scalars.items()},
        "curves": _curves(gammas, matches, clusters, beta, peak, good, detected, hard, multiplicity, settings),
        "multiplicity": {"confusion": multiplicity["confusion"].tolist()},
        "spectra": _spectra(clusters, gammas, beta, settings),
    }


def _regime_scalars(suffix: str, peak: np.ndarray, good: np.ndarray, detected: np.ndarray, fake: np.ndarray,
                    hits: dict[str, np.ndarray], labels: np.ndarray, events: np.ndarray, clusters: dict[str, np.ndarray],
                    n_events: int) -> dict[str, float]:
    in_regime = events[hits["event"]]
    return {
        f"photopeak_efficiency{suffix}": _mean(peak),
        f"reconstruction_efficiency{suffix}": _mean(good[detected]),
        f"fake_cluster_rate{suffix}": _mean(fake),
        f"fake_clusters_per_event{suffix}": float(fake.sum() / n_events) if n_events else float("nan"),
        f"adjusted_rand_index{suffix}": adjusted_rand_index({key: value[in_regime] for key, value in hits.items()}, labels[in_regime]),
    }


def _mean(values: np.ndarray) -> float:
    return float(np.mean(values)) if len(values) else float("nan")


def _resolution(gammas: dict, matches: dict, clusters: dict, beta: np.ndarray, peak: np.ndarray) -> float:
    """Standard deviation of the Doppler-corrected energy of the photopeak gammas' clusters over their rest energy, minus 1."""
    if peak.sum() < 2:
        return float("nan")
    rows = matches["cluster"][peak]
    corrected = doppler_correct(clusters["energy"][rows], clusters["theta"][rows], beta[gammas["event"][peak]])
    return float(np.std(corrected / gammas["energy_rest"][peak] - 1, ddof=1))


def _efficiency_record(passed: np.ndarray, energy: np.ndarray, edges: np.ndarray) -> dict[str, Any]:
    """Per-bin efficiency with its one-sigma binomial (Wilson) interval as the band."""
    binned = binned_efficiency(passed, energy, edges, ONE_SIGMA_CONTAINMENT)
    return curve_record(edges, binned["efficiency"], binned["n"], x="gamma_energy", x_unit="MeV", unit="",
                        ci_low=binned["ci_low"], ci_high=binned["ci_high"], band=binomial_band(ONE_SIGMA_CONTAINMENT),
                        bounds=SHARE)


def _curves(gammas: dict, matches: dict, clusters: dict, beta: np.ndarray, peak: np.ndarray, good: np.ndarray,
            detected: np.ndarray, hard: np.ndarray, multiplicity: dict, settings: ReportSettings) -> dict[str, Any]:
    edges = np.asarray(settings.energy_bins, dtype=float)
    energy = np.asarray(gammas["energy_rest"], dtype=float)
    resolution = energy_resolution_by_energy(gammas, matches, clusters, beta, edges, settings.resolution_fwhm_662, settings.n_sigma)
    true, reco = multiplicity["true"], multiplicity["reconstructed"]
    count_edges = np.arange(-0.5, true.max(initial=0) + 1.5)
    n_count = np.bincount(true, minlength=len(count_edges) - 1).astype(float)
    mean_reco = np.divide(np.bincount(true, reco, minlength=len(n_count)), n_count, out=np.full_like(n_count, np.nan), where=n_count > 0)
    return {
        "photopeak_efficiency_vs_gamma_energy": _efficiency_record(peak, energy, edges),
        "photopeak_efficiency_hard_vs_gamma_energy": _efficiency_record(peak[hard], energy[hard], edges),
        "reconstruction_efficiency_vs_gamma_energy": _efficiency_record(good[detected], energy[detected], edges),
        "energy_resolution_vs_gamma_energy": curve_record(edges, resolution["resolution"], resolution["n"], x="gamma_energy",
                                                          x_unit="MeV", unit="", bounds=NON_NEGATIVE),
        "clusters_per_event_vs_gammas_with_hits": curve_record(count_edges, mean_reco, n_count, x="gammas_with_hits",
                                                               x_unit="", unit="", bounds=NON_NEGATIVE),
    }


def _spectra(clusters: dict, gammas: dict, beta: np.ndarray, settings: ReportSettings) -> dict[str, Any]:
    edges = np.arange(0.0, settings.spectrum_max_mev + settings.spectrum_bin_mev / 2, settings.spectrum_bin_mev)
    spectra = energy_spectra(clusters, beta, edges)
    return {
        "edges": json_list(edges), "lab": spectra["lab"].tolist(), "doppler_corrected": spectra["doppler_corrected"].tolist(),
        "truth_lab": np.histogram(gammas["energy_lab"], edges)[0].tolist(),
        "truth_rest": np.histogram(gammas["energy_rest"], edges)[0].tolist(),
    }
