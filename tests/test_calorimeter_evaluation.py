"""Clustering metrics on a hand-made set of events whose every number is worked out in the comments, the
agglomerative method against scikit-learn called directly, and the truth oracle."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.cluster import AgglomerativeClustering
from sklearn.metrics import adjusted_rand_score

from showerlearn.calorimeter.baselines import AgglomerativeHitClustering, OracleClustering, R3BClustering
from showerlearn.calorimeter.evaluation import (
    adjusted_rand_index,
    binned_efficiency,
    cluster_multiplicity,
    cluster_table,
    energy_resolution_by_energy,
    energy_spectra,
    fake_clusters,
    flat_labels,
    gamma_matches,
    photopeak_efficiency_by_energy,
    reconstruction_efficiency,
)
from showerlearn.calorimeter.simulation import CalorimeterSimulationConfig, simulate_chunk

# event 0: gamma 0 (1.0 MeV) split into two clusters (0.6 + 0.4), gamma 1 (2.0 MeV) merged with a 0.3 MeV
# background hit; event 1: gamma 0 (1.5 MeV) in one hit, one cluster; event 2: a gamma that left nothing
HITS = {
    "event": np.array([0, 0, 0, 0, 1]),
    "energy": np.array([0.6, 0.4, 2.0, 0.3, 1.5]),
    "theta": np.array([1.0, 1.1, 2.0, 2.05, np.pi / 2]),
    "phi": np.zeros(5),
    "time": np.array([1.0, 2.0, 3.0, 4.0, 5.0]),
    "true_gamma": np.array([0, 0, 1, -1, 0]),
}
LABELS = np.array([0, 1, 2, 2, 0])
GAMMAS = {
    "event": np.array([0, 0, 1, 2]), "index": np.array([0, 1, 0, 0]),
    "energy_rest": np.array([1.0, 2.0, 1.5, 0.5]), "energy_lab": np.array([1.0, 2.0, 1.5, 0.5]),
}
BETA = np.array([0.0, 0.5, 0.0])


def _tables() -> tuple[dict, dict]:
    clusters = cluster_table(HITS, LABELS)
    return clusters, gamma_matches(GAMMAS, clusters, HITS)


def test_clusters_owners_and_primary_clusters() -> None:
    clusters, matches = _tables()
    assert clusters["energy"] == pytest.approx([0.6, 0.4, 2.3, 1.5])
    assert clusters["owner"].tolist() == [0, 0, 1, 0] and clusters["n_hits"].tolist() == [1, 1, 2, 1]
    assert clusters["time"].tolist() == [1.0, 2.0, 3.0, 5.0]  # the most energetic hit's
    assert matches["cluster"].tolist() == [0, 2, 3, -1]
    assert matches["hit_energy"] == pytest.approx([1.0, 2.0, 1.5, 0.0])


def test_efficiency_fakes_and_multiplicity_by_hand() -> None:
    clusters, matches = _tables()
    # gammas with hits: 3; within 5 %: only event 1's; within 20 %: also the 2.3 vs 2.0 MeV one
    assert reconstruction_efficiency(matches, tolerance=0.05) == pytest.approx(1 / 3)
    assert reconstruction_efficiency(matches, tolerance=0.2) == pytest.approx(2 / 3)
    assert fake_clusters(matches, clusters, n_events=3) == {"per_event": pytest.approx(1 / 3), "fraction": 0.25, "count": 1}
    multiplicity = cluster_multiplicity(clusters, matches, GAMMAS, n_events=3)
    assert multiplicity["reconstructed"].tolist() == [3, 1, 0] and multiplicity["true"].tolist() == [2, 1, 0]
    assert multiplicity["mean_difference"] == pytest.approx(1 / 3)
    assert multiplicity["confusion"][2, 3] == multiplicity["confusion"][1, 1] == multiplicity["confusion"][0, 0] == 1


def test_photopeak_efficiency_and_resolution_by_energy() -> None:
    clusters, matches = _tables()
    # 3 sigma at 7.7 % FWHM(662 keV): 0.08 MeV at 1 MeV, 0.11 MeV at 2 MeV: only the 1.5 MeV gamma is in
    peak = photopeak_efficiency_by_energy(GAMMAS, matches, np.array([0.0, 1.2, 3.0]))
    assert peak["n"].tolist() == [2, 2] and peak["efficiency"].tolist() == [0.0, 0.5]
    # one sigma Wilson intervals (z = 1): 0 of 2 -> [0, 1/3]; 1 of 2 -> 0.5 +- sqrt(0.5 + 0.25) / 3
    np.testing.assert_allclose(peak["ci_low"], [0.0, 0.5 - np.sqrt(0.75) / 3])
    np.testing.assert_allclose(peak["ci_high"], [1 / 3, 0.5 + np.sqrt(0.75) / 3])
    resolution = energy_resolution_by_energy(GAMMAS, matches, clusters, BETA, np.array([0.0, 1.2, 3.0]))
    assert resolution["n"].tolist() == [0, 1] and np.isnan(resolution["resolution"]).all()  # one value: no spread
    # a gamma at the top edge counts in the last bin for both curves
    top = np.array([0.0, 1.2, 1.5])
    at_top = energy_resolution_by_energy(GAMMAS, matches, clusters, BETA, top)["n"]
    assert at_top.tolist() == [0, 1] and photopeak_efficiency_by_energy(GAMMAS, matches, top)["efficiency"][1] > 0


def test_adjusted_rand_index_is_scikit_learns_per_event_mean() -> None:
    # event 0: truth [0, 0, 1, background] with the background hit a singleton; event 1: one hit
    expected = np.mean([adjusted_rand_score([0, 0, 1, 9], [0, 1, 2, 2]), 1.0])
    assert adjusted_rand_index(HITS, LABELS) == pytest.approx(expected)
    assert adjusted_rand_index(HITS, np.array([0, 0, 1, -1, 0])) == pytest.approx(1.0)


def test_spectra_in_the_lab_and_doppler_corrected() -> None:
    clusters, _ = _tables()
    spectra = energy_spectra(clusters, BETA, np.array([0.0, 1.0, 1.6, 1.8, 3.0]))
    assert spectra["lab"].tolist() == [2, 1, 0, 1]
    # event 1 (beta 0.5) at 90 deg: 1.5 MeV x gamma(0.5) = 1.732 MeV
    assert spectra["doppler_corrected"].tolist() == [2, 0, 1, 1]


def test_agglomerative_is_scikit_learn_on_directions_and_scaled_time() -> None:
    rng = np.random.default_rng(0)
    hits = {"energy": rng.uniform(0.2, 3, 12), "theta": rng.uniform(0.5, 2.5, 12), "phi": rng.uniform(-3, 3, 12),
            "time": rng.normal(0, 5, 12)}
    method = AgglomerativeHitClustering(distance_threshold=0.4, linkage="average", time_scale_ns=10.0)
    points = np.column_stack([np.sin(hits["theta"]) * np.cos(hits["phi"]), np.sin(hits["theta"]) * np.sin(hits["phi"]),
                              np.cos(hits["theta"]), hits["time"] / 10.0])
    reference = AgglomerativeClustering(n_clusters=None, distance_threshold=0.4, linkage="average").fit_predict(points)
    assert adjusted_rand_score(reference, method.cluster(hits)) == 1.0
    few = {"energy": np.array([0.05, 1.0]), "theta": np.array([1.0, 1.0]), "phi": np.zeros(2), "time": np.zeros(2)}
    assert method.cluster(few).tolist() == [-1, 0]


def test_oracle_is_the_ceiling_on_simulated_events() -> None:
    config = CalorimeterSimulationConfig(n_gammas=3, beta=0.7, background_hits_mean=0.5)
    chunk = simulate_chunk(config, 3, 0, 300)
    hits = {key: chunk[key] for key in ("energy", "theta", "phi", "time", "true_gamma")} | {"event": chunk["hit_event"]}
    gammas = {"event": chunk["gamma_event"], "index": np.concatenate([np.arange(3)] * 300),
              "energy_rest": chunk["gamma_energy_rest"], "energy_lab": chunk["gamma_energy_lab"]}
    bounds = np.r_[0, np.cumsum(chunk["n_hits"])]
    events = [{key: value[a:b] for key, value in hits.items()} for a, b in zip(bounds[:-1], bounds[1:])]
    scores = {}
    for name, method in {"oracle": OracleClustering(), "r3b": R3BClustering()}.items():
        labels = flat_labels(method.predict(events))
        clusters = cluster_table(hits, labels)
        matches = gamma_matches(gammas, clusters, hits)
        scores[name] = (reconstruction_efficiency(matches), fake_clusters(matches, clusters, 300)["count"])
    assert scores["oracle"] == (1.0, 0)
    assert scores["r3b"][0] < 1.0 and scores["r3b"][1] > 0
    assert OracleClustering().cluster({"energy": np.array([1.0, 0.5, 0.05]), "true_gamma": np.array([2, -1, 0])}).tolist() == [0, -1, -1]


def test_binned_efficiency_closes_the_last_bin_like_numpy_histograms() -> None:
    x = np.array([0.0, 0.5, 1.0, 1.5, 2.0, 2.5])
    passed = np.array([1, 0, 1, 1, 0, 1], bool)
    binned = binned_efficiency(passed, x, np.array([0.0, 1.0, 2.0]))
    np.testing.assert_array_equal(binned["n"], np.histogram(x, [0.0, 1.0, 2.0])[0])  # 2.0 in the last bin, 2.5 out
    np.testing.assert_allclose(binned["efficiency"], [0.5, 2 / 3])


def test_binned_efficiency_of_all_or_none_passed_has_a_one_sided_interval() -> None:
    # 3 of 3 gammas in the photopeak is no 1 +- 0: one sigma Wilson gives [0.75, 1]; 0 of 3 gives [0, 0.25]
    binned = binned_efficiency(np.array([1, 1, 1, 0, 0, 0], bool), np.array([0.5, 0.5, 0.5, 1.5, 1.5, 1.5]),
                               np.array([0.0, 1.0, 2.0, 3.0]))
    np.testing.assert_allclose(binned["efficiency"][:2], [1.0, 0.0])
    np.testing.assert_allclose(binned["ci_low"][:2], [0.75, 0.0])
    np.testing.assert_allclose(binned["ci_high"][:2], [1.0, 0.25])
    assert np.isnan(binned["efficiency"][2]) and np.isnan(binned["ci_low"][2]) and np.isnan(binned["ci_high"][2])


def test_adjusted_rand_index_equals_scikit_learn_event_by_event_on_random_clusterings() -> None:
    """The pair-count form against scikit-learn's score per event: events of 1-12 hits, background hits,
    unclustered hits, labels of any size, event numbers with gaps (a regime's subset)."""
    rng = np.random.default_rng(3)
    sizes = rng.integers(1, 13, 300)
    event = np.repeat(np.arange(0, 600, 2), sizes)
    truth = rng.integers(-1, 4, len(event))
    labels = rng.choice([-1, 0, 1, 2, 7, 40], len(event))
    singleton = 1_000_000 + np.arange(len(event))
    scores = [adjusted_rand_score(np.where(truth < 0, singleton, truth)[event == e], np.where(labels < 0, singleton, labels)[event == e])
              for e in np.unique(event)]
    assert adjusted_rand_index({"true_gamma": truth, "event": event}, labels) == pytest.approx(np.mean(scores), rel=1e-12)
