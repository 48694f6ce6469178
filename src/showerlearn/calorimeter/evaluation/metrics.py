"""Clustering metrics, as pure functions of the flat tables (:mod:`.tables`).

Definitions (docs/calorimeter.md):

* a cluster is *owned* by the gamma whose hits carry most of its energy, each hit's measured energy counting
  for the hit's main source (``true_gamma``, the gamma that deposited most of it; -1: background);
* a gamma's *primary cluster* is the most energetic cluster it owns; every other cluster is *fake*
  (split-offs of a gamma, and clusters of background hits);
* a gamma is *reconstructed* when it has hits and its primary cluster's energy is within ``tolerance`` (relative)
  of the summed energy of the hits it owns (what the oracle clusters);
* a gamma is *in the photopeak* when its primary cluster's lab energy is within ``n_sigma`` standard
  deviations of the crystal resolution of its true lab energy (photopeak efficiency counts all emitted gammas);
* the energy resolution is the standard deviation of E_cluster / E_true - 1 over the photopeak gammas, with
  the cluster energy Doppler-corrected with the cluster's angle and E_true the energy in the fragment's frame.
"""

from __future__ import annotations

import numpy as np

from showerlearn.calorimeter.kinematics import doppler_correct
from showerlearn.calorimeter.simulation.response import energy_sigma
from showerlearn.metrics.efficiency import binomial_interval
from showerlearn.metrics.resolution import ONE_SIGMA_CONTAINMENT

__all__ = [
    "adjusted_rand_index",
    "binned_efficiency",
    "cluster_multiplicity",
    "energy_resolution_by_energy",
    "fake_clusters",
    "gamma_matches",
    "in_photopeak",
    "is_fake",
    "photopeak_efficiency_by_energy",
    "reconstructed",
    "reconstruction_efficiency",
]


def gamma_matches(gammas: dict[str, np.ndarray], clusters: dict[str, np.ndarray], hits: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Per gamma: ``cluster`` (row of its primary cluster, -1 none), ``cluster_energy`` (0 if none) and
    ``hit_energy`` (summed energy of the hits it owns)."""
    span = int(max(gammas["index"].max(initial=0), clusters["owner"].max(initial=0), hits["true_gamma"].max(initial=0))) + 1
    gamma_key = gammas["event"].astype(np.int64) * span + gammas["index"]
    owned = np.flatnonzero(clusters["owner"] >= 0)
    owner_key = clusters["event"][owned].astype(np.int64) * span + clusters["owner"][owned]
    order = np.lexsort((-clusters["energy"][owned], owner_key))  # the most energetic first per owner
    first = order[np.r_[True, owner_key[order][1:] != owner_key[order][:-1]]] if len(order) else order
    cluster = _lookup(owner_key[first], owned[first], gamma_key, -1)
    from_gamma = hits["true_gamma"] >= 0
    hit_key = hits["event"][from_gamma].astype(np.int64) * span + hits["true_gamma"][from_gamma]
    keys, inverse = np.unique(hit_key, return_inverse=True)
    hit_energy = _lookup(keys, np.bincount(inverse, hits["energy"][from_gamma], minlength=len(keys)), gamma_key, 0.0)
    cluster_energy = _lookup(np.arange(len(clusters["energy"])), clusters["energy"], cluster, 0.0)
    return {"cluster": cluster, "cluster_energy": cluster_energy, "hit_energy": hit_energy}


def _lookup(keys: np.ndarray, values: np.ndarray, query: np.ndarray, missing: float) -> np.ndarray:
    """``values`` at the positions of ``query`` in the sorted unique ``keys``; ``missing`` where absent."""
    if not len(keys):
        return np.full(len(query), missing, dtype=np.result_type(values, type(missing)))
    position = np.clip(np.searchsorted(keys, query), 0, len(keys) - 1)
    return np.where(keys[position] == query, values[position], missing)


def reconstructed(matches: dict[str, np.ndarray], tolerance: float = 0.05) -> np.ndarray:
    """Per gamma: its primary cluster holds the energy of its hits within ``tolerance`` (relative)."""
    return (matches["cluster"] >= 0) & (np.abs(matches["cluster_energy"] - matches["hit_energy"]) <= tolerance * matches["hit_energy"])


def reconstruction_efficiency(matches: dict[str, np.ndarray], tolerance: float = 0.05) -> float:
    """Fraction of the gammas with hits whose primary cluster holds their hit energy within ``tolerance``."""
    detected = matches["hit_energy"] > 0
    if not detected.any():
        return float("nan")
    return float(reconstructed(matches, tolerance)[detected].mean())


def is_fake(matches: dict[str, np.ndarray], n_clusters: int) -> np.ndarray:
    """Per cluster: no gamma's primary cluster."""
    primary = np.zeros(n_clusters, dtype=bool)
    primary[matches["cluster"][matches["cluster"] >= 0]] = True
    return ~primary


def fake_clusters(matches: dict[str, np.ndarray], clusters: dict[str, np.ndarray], n_events: int) -> dict[str, float]:
    """Clusters that are no gamma's primary cluster: ``per_event`` and ``fraction`` of all clusters."""
    fake = is_fake(matches, len(clusters["energy"]))
    n_fake = int(fake.sum())
    return {"per_event": n_fake / n_events if n_events else float("nan"),
            "fraction": n_fake / len(fake) if len(fake) else float("nan"), "count": n_fake}


def in_photopeak(gammas: dict[str, np.ndarray], matches: dict[str, np.ndarray], resolution_fwhm_662: float = 0.077,
                 n_sigma: float = 3.0) -> np.ndarray:
    """Per gamma: its primary cluster's energy is within ``n_sigma`` crystal resolutions of its lab energy."""
    sigma = energy_sigma(gammas["energy_lab"], resolution_fwhm_662)
    return (matches["cluster"] >= 0) & (np.abs(matches["cluster_energy"] - gammas["energy_lab"]) <= n_sigma * sigma)


def bin_index(x: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """The bin of each ``x``, -1 outside: bins are ``[edges[i], edges[i + 1])``, the last one closed (as numpy's
    histograms), so a value at the top edge (a line at the highest energy) is counted."""
    x = np.asarray(x)
    bins = np.digitize(x, edges) - 1
    bins[x == edges[-1]] = len(edges) - 2
    return np.where((bins >= 0) & (bins < len(edges) - 1), bins, -1)


def binned_efficiency(passed: np.ndarray, x: np.ndarray, edges: np.ndarray,
                      confidence_level: float = ONE_SIGMA_CONTAINMENT) -> dict[str, np.ndarray]:
    """Per bin of ``x`` (:func:`bin_index`): ``n`` entries, the ``efficiency`` (share of ``passed``) and its binomial
    interval ``ci_low``, ``ci_high`` (Wilson score, one sigma by default: never zero-width at 0 or 1; NaN in empty
    bins)."""
    bins = bin_index(x, edges)
    inside = bins >= 0
    n = np.bincount(bins[inside], minlength=len(edges) - 1).astype(float)
    k = np.bincount(bins[inside], np.asarray(passed, float)[inside], minlength=len(edges) - 1)
    efficiency = np.divide(k, n, out=np.full_like(n, np.nan), where=n > 0)
    ci_low, ci_high = binomial_interval(k, n, confidence_level)
    return {"n": n, "efficiency": efficiency, "ci_low": ci_low, "ci_high": ci_high}


def photopeak_efficiency_by_energy(
    gammas: dict[str, np.ndarray], matches: dict[str, np.ndarray], edges: np.ndarray,
    resolution_fwhm_662: float = 0.077, n_sigma: float = 3.0,
) -> dict[str, np.ndarray]:
    """Per bin of rest-frame gamma energy (``edges`` [MeV]): ``n`` emitted gammas, ``efficiency`` in the
    photopeak and its binomial interval ``ci_low``, ``ci_high`` (:func:`binned_efficiency`)."""
    return binned_efficiency(in_photopeak(gammas, matches, resolution_fwhm_662, n_sigma), gammas["energy_rest"], edges)


def energy_resolution_by_energy(
    gammas: dict[str, np.ndarray], matches: dict[str, np.ndarray], clusters: dict[str, np.ndarray], beta: np.ndarray,
    edges: np.ndarray, resolution_fwhm_662: float = 0.077, n_sigma: float = 3.0,
) -> dict[str, np.ndarray]:
    """Per bin of rest-frame energy: ``n`` photopeak gammas and ``resolution``, the standard deviation of the
    Doppler-corrected cluster energy over the rest-frame energy minus one (``beta`` per gamma's event)."""
    peak = in_photopeak(gammas, matches, resolution_fwhm_662, n_sigma)
    rows = matches["cluster"][peak]
    corrected = doppler_correct(clusters["energy"][rows], clusters["theta"][rows], beta[gammas["event"][peak]])
    deviation = corrected / gammas["energy_rest"][peak] - 1
    bins = bin_index(gammas["energy_rest"][peak], edges)
    n_bins = len(edges) - 1
    n = np.zeros(n_bins)
    resolution = np.full(n_bins, np.nan)
    for b in range(n_bins):
        values = deviation[bins == b]
        n[b] = len(values)
        if len(values) >= 2:
            resolution[b] = float(np.std(values, ddof=1))
    return {"n": n, "resolution": resolution}


def cluster_multiplicity(clusters: dict[str, np.ndarray], matches: dict[str, np.ndarray], gammas: dict[str, np.ndarray],
                         n_events: int) -> dict[str, np.ndarray | float]:
    """Clusters per event against gammas with hits per event: both counts per event, the ``confusion`` matrix
    (rows: true count, columns: reconstructed count) and the ``mean_difference``."""
    reco = np.bincount(clusters["event"], minlength=n_events)
    true = np.bincount(gammas["event"][matches["hit_energy"] > 0], minlength=n_events)
    size = int(max(reco.max(initial=0), true.max(initial=0))) + 1
    confusion = np.zeros((size, size), dtype=np.int64)
    np.add.at(confusion, (true, reco), 1)
    return {"reconstructed": reco, "true": true, "confusion": confusion,
            "mean_difference": float((reco - true).mean()) if n_events else float("nan")}


def adjusted_rand_index(hits: dict[str, np.ndarray], labels: np.ndarray) -> float:
    """Mean over events of the adjusted Rand index (scikit-learn's ``adjusted_rand_score``) between the true
    gammas of the hits and the labels; hits in no cluster (label -1) and background hits (true gamma -1) count
    as singletons. All events at once from the pair counts (Hubert and Arabie 1985, in scikit-learn's form): one
    scikit-learn call per event took minutes on tens of thousands of events."""
    labels = np.asarray(labels, dtype=np.int64)
    if not len(labels):
        return float("nan")
    singleton = np.arange(len(labels)) + 1_000_000  # distinct from every real label
    truth = np.where(hits["true_gamma"] < 0, singleton, hits["true_gamma"])
    predicted = np.where(labels < 0, singleton, labels)
    _, event = np.unique(hits["event"], return_inverse=True)
    n = np.bincount(event).astype(float)
    same_both = _squared_counts(event, truth, predicted)  # sum over (gamma, cluster) cells of count^2
    pairs_true = _squared_counts(event, truth) - same_both  # pairs of one gamma split between clusters
    pairs_predicted = _squared_counts(event, predicted) - same_both  # pairs of one cluster from two gammas
    together = same_both - n
    apart = n**2 - pairs_true - pairs_predicted - same_both
    denominator = (together + pairs_true) * (pairs_true + apart) + (together + pairs_predicted) * (pairs_predicted + apart)
    perfect = (pairs_true == 0) & (pairs_predicted == 0)
    score = np.where(perfect, 1.0, 2.0 * (together * apart - pairs_true * pairs_predicted) / np.where(perfect, 1.0, denominator))
    return float(score.mean())


def _squared_counts(event: np.ndarray, *columns: np.ndarray) -> np.ndarray:
    """Per event, the sum of the squared hit counts of each distinct value (tuple) of ``columns``."""
    _, cell, counts = np.unique(np.stack([event, *columns], axis=1), axis=0, return_inverse=True, return_counts=True)
    cell_event = np.zeros(len(counts), np.int64)
    cell_event[cell.ravel()] = event
    return np.bincount(cell_event, weights=counts.astype(float) ** 2, minlength=int(event.max()) + 1)
