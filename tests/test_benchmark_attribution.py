"""benchmarks/calorimeter_attribution.py: the gamma a method's cluster gives each hit, and the oracle with the far
soft hits placed by it, against naive loops over the hits."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from calorimeter_attribution import destinations, far_soft_from_method, losses, method_owner, soft_from_truth  # noqa: E402
from calorimeter_clustering import SOFT_MEV  # noqa: E402
from calorimeter_ceiling import Events  # noqa: E402  (benchmarks/ is not a package)


def _events(seed: int = 0, n_events: int = 40) -> Events:
    """Events of 3 gammas with hits near them, soft hits far from them and hits of no gamma."""
    rng = np.random.default_rng(seed)
    gamma_theta, gamma_phi = rng.uniform(0.5, 2.5, (n_events, 3)), rng.uniform(-np.pi, np.pi, (n_events, 3))
    columns: dict[str, list] = {key: [] for key in ("event", "energy", "theta", "phi", "true_gamma")}
    for event in range(n_events):
        for _ in range(rng.integers(4, 12)):
            gamma = int(rng.integers(-1, 3))
            far = rng.random() < 0.3
            theta = gamma_theta[event, gamma] + (rng.uniform(0.8, 1.2) if far else rng.normal(0, 0.05))
            columns["event"].append(event)
            columns["energy"].append(rng.uniform(0.1, 0.5) if far else rng.uniform(0.1, 3.0))
            columns["theta"].append(theta)
            columns["phi"].append(gamma_phi[event, gamma])
            columns["true_gamma"].append(gamma)
    hits = {key: np.asarray(value) for key, value in columns.items()}
    energy = rng.uniform(0.3, 10.0, 3 * n_events)
    gammas = {"event": np.repeat(np.arange(n_events), 3), "index": np.tile(np.arange(3), n_events),
              "theta": gamma_theta.ravel(), "phi": gamma_phi.ravel(), "energy_rest": energy, "energy_lab": 1.2 * energy}
    return Events(hits, gammas, np.full(n_events, 0.7))


def _labels(events: Events, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).integers(-1, 4, len(events.truth))


def _naive_owner(events: Events, labels: np.ndarray) -> np.ndarray:
    hits, owner = events.hits, np.full(len(labels), -1)
    for i in range(len(labels)):
        if labels[i] < 0:
            continue
        energy: dict[int, float] = {}
        for j in range(len(labels)):
            same = hits["event"][j] == hits["event"][i] and labels[j] == labels[i]
            if same and events.truth[j] >= 0 and not events.far_soft[j]:
                energy[int(events.truth[j])] = energy.get(int(events.truth[j]), 0.0) + hits["energy"][j]
        owner[i] = max(energy, key=energy.get) if energy else -1
    return owner


def _partition(events: Events, labels: np.ndarray) -> set[frozenset[int]]:
    groups: dict[tuple[int, int], set[int]] = {}
    for i, (event, label) in enumerate(zip(events.hits["event"], labels, strict=True)):
        groups.setdefault((int(event), int(label)), set()).add(i)
    return {frozenset(group) for group in groups.values()}


def test_each_hit_gets_the_gamma_owning_most_of_its_clusters_other_hits() -> None:
    events = _events()
    assert events.far_soft.sum() > 10 and (events.truth < 0).any()  # the example has what is tested
    labels = _labels(events)
    assert np.array_equal(method_owner(events, labels), _naive_owner(events, labels))


def test_the_oracle_keeps_every_hit_but_the_far_soft_ones_which_follow_the_method() -> None:
    events = _events()
    labels = _labels(events)
    owner = _naive_owner(events, labels)
    expected = np.where(events.far_soft, owner, events.truth)
    expected = np.where(expected < 0, 100 + np.arange(len(expected)), expected)  # placed nowhere, or of no gamma: alone
    assert _partition(events, far_soft_from_method(events, labels)) == _partition(events, expected)


def test_with_the_truth_as_the_method_the_far_soft_hits_go_back_to_their_gamma() -> None:
    events = _events()
    placed = far_soft_from_method(events, events.truth)
    owner = method_owner(events, events.truth)
    has_other_hits = owner[events.far_soft] >= 0  # a gamma of only far soft hits has no cluster to put them in
    assert has_other_hits.mean() > 0.5
    assert np.array_equal(placed[events.far_soft][has_other_hits], events.truth[events.far_soft][has_other_hits])
    shares = destinations(events, owner)["all"]
    assert shares["own"] == pytest.approx(has_other_hits.mean()) and shares["other"] == 0.0
    assert shares["own"] + shares["alone"] == pytest.approx(1.0)


def test_a_method_equal_to_the_reference_loses_nothing() -> None:
    events = _events()
    labels = _labels(events)
    assert all(sum(shares) == 0.0 for shares in losses(events, labels, labels).values())
    assert sum(sum(shares) for shares in losses(events, labels, events.truth).values()) > 0.0


def _naive_soft_from_truth(events: Events, labels: np.ndarray) -> set[frozenset[int]]:
    """The partition of the hits: hits above SOFT_MEV as the method has them, each soft hit of a gamma with the
    method's cluster holding most of that gamma's energy above SOFT_MEV, or with its gamma's other soft hits."""
    hits, groups = events.hits, {}
    soft = hits["energy"] <= SOFT_MEV
    for i in range(len(labels)):
        event, gamma = int(hits["event"][i]), int(events.truth[i])
        if soft[i] and gamma >= 0:
            energy: dict[int, float] = {}
            for j in range(len(labels)):
                if hits["event"][j] == event and events.truth[j] == gamma and not soft[j] and labels[j] >= 0:
                    energy[int(labels[j])] = energy.get(int(labels[j]), 0.0) + hits["energy"][j]
            key = ("cluster", event, max(energy, key=energy.get)) if energy else ("soft of", event, gamma)
        else:
            key = ("cluster", event, int(labels[i])) if labels[i] >= 0 else ("alone", i)
        groups.setdefault(key, set()).add(i)
    return {frozenset(group) for group in groups.values()}


def test_the_methods_hard_clusters_with_every_soft_hit_given_to_its_gammas_cluster() -> None:
    events = _events()
    labels = _labels(events, seed=2)
    assert _partition(events, soft_from_truth(events, labels)) == _naive_soft_from_truth(events, labels)
