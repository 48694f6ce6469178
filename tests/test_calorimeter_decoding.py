"""From network outputs to cluster labels, each rule against an independent implementation: connected
components by a union-find loop, average linkage by scikit-learn, condensation points by a plain loop."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sklearn.cluster import AgglomerativeClustering

from showerlearn.calorimeter.data import (
    DecodingSpec,
    decode_labels,
    labels_from_condensation,
    labels_from_pairs,
    labels_from_slots,
    merge_preclusters,
)
from showerlearn.calorimeter.data.datamodule import CalorimeterDataModule
from showerlearn.config import load_config
from showerlearn.engine.prediction_overrides import run_outputs


def _same_partition(a: np.ndarray, b: np.ndarray) -> bool:
    """Two labellings group the elements alike (label values may differ; -1 must match)."""
    if not np.array_equal(a < 0, b < 0):
        return False
    inside = a >= 0
    return all(len(set(b[inside][a[inside] == value])) == 1 for value in set(a[inside])) and \
        len(set(a[inside])) == len(set(b[inside]))


def _union_find(probability: np.ndarray, threshold: float) -> np.ndarray:
    parent = list(range(len(probability)))

    def root(i: int) -> int:
        while parent[i] != i:
            i = parent[i]
        return i

    for i in range(len(probability)):
        for j in range(len(probability)):
            if i != j and (probability[i, j] > threshold or probability[j, i] > threshold):
                parent[root(i)] = root(j)
    return np.array([root(i) for i in range(len(probability))])


def _naive_condensation(beta: np.ndarray, x: np.ndarray, t_beta: float, t_d: float) -> np.ndarray:
    labels = [-1] * len(beta)
    order = sorted(range(len(beta)), key=lambda i: -beta[i])
    next_label = 0
    for point in order:
        if beta[point] <= t_beta or labels[point] != -1:
            continue
        for j in range(len(beta)):
            if labels[j] == -1 and (j == point or np.sqrt(((x[j] - x[point]) ** 2).sum()) < t_d):
                labels[j] = next_label
        next_label += 1
    return np.array(labels)


@pytest.mark.parametrize("seed", range(20))
def test_pair_components_match_a_union_find(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 12))
    probability = rng.uniform(size=(n, n)) ** 3  # sparse joins: several components
    assert _same_partition(labels_from_pairs(probability, 0.5), _union_find(probability, 0.5))


@pytest.mark.parametrize("seed", range(20))
def test_average_linkage_matches_scikit_learn(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 12))
    probability = rng.uniform(size=(n, n))
    distance = 1.0 - 0.5 * (probability + probability.T)
    np.fill_diagonal(distance, 0.0)
    reference = AgglomerativeClustering(n_clusters=None, metric="precomputed", linkage="average",
                                        distance_threshold=1.0 - 0.6).fit_predict(distance)
    assert _same_partition(labels_from_pairs(probability, 0.6, "average"), reference)


@pytest.mark.parametrize("seed", range(20))
def test_condensation_decoding_matches_a_plain_loop(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 15))
    beta, x = rng.uniform(size=n), rng.normal(size=(n, 2))
    assert np.array_equal(labels_from_condensation(beta, x, 0.4, 0.8), _naive_condensation(beta, x, 0.4, 0.8))


def test_condensation_by_hand() -> None:
    beta = np.array([0.9, 0.2, 0.8, 0.3, 0.1])
    x = np.array([[0.0, 0.0], [0.1, 0.0], [3.0, 0.0], [3.2, 0.0], [9.0, 9.0]])
    # two points (hits 0 and 2) gather their neighbours; hit 4 is near no point: in no cluster
    assert labels_from_condensation(beta, x, 0.5, 0.5).tolist() == [0, 0, 1, 1, -1]
    assert labels_from_condensation(beta, x, 0.95, 0.5).tolist() == [-1] * 5


def test_slots_and_preclusters() -> None:
    weights = np.array([[0.1, 0.9, 0.0], [0.2, 0.7, 0.1], [0.0, 0.1, 0.9]])
    assert labels_from_slots(weights).tolist() == [0, 0, 1]
    precluster = np.array([0, 1, 1, 2, -1])
    probability = np.array([[1.0, 0.9, 0.1], [0.9, 1.0, 0.2], [0.1, 0.2, 1.0]])
    assert merge_preclusters(precluster, probability, 0.5).tolist() == [0, 0, 0, 1, -1]


def test_decode_labels_picks_the_output_and_leaves_padding_out() -> None:
    mask = np.array([[True, True, True], [True, False, False]])
    logits = np.full((2, 3, 3), -5.0)
    logits[0, 0, 1] = logits[0, 1, 0] = 5.0
    labels = decode_labels({"pairs": logits}, mask, DecodingSpec())
    assert labels.tolist() == [[0, 0, 1], [0, -1, -1]]
    # estimator labels win over pair scores
    given = np.array([[2, 1, 0], [0, -1, -1]])
    assert decode_labels({"pairs": logits, "labels": given}, mask, DecodingSpec()).tolist() == given.tolist()
    with pytest.raises(KeyError, match="no output to decode"):
        decode_labels({"energy": logits}, mask, DecodingSpec())
    with pytest.raises(ValueError, match="preclustering"):
        decode_labels({"cluster_pairs": logits}, mask, DecodingSpec())


def test_decoding_settings_the_decoded_output_does_not_read_are_named_when_changed() -> None:
    """Slot attention is decoded from its slots (not its pairs), condensation from its objects, an estimator gives
    labels: a threshold of another rule, changed at prediction, changed no label. Values carried unchanged from
    the trained config (the slot attention example inherits the transformer's pair cut) are not named."""
    examples = Path(__file__).resolve().parents[1] / "examples"
    outputs = {name: run_outputs(load_config(examples / f"calorimeter_{name}.yaml"))
               for name in ("slot_attention", "condensation", "transformer", "two_stage", "oracle")}
    assert outputs == {"slot_attention": {"slots", "pairs"}, "condensation": {"objects"}, "transformer": {"pairs"},
                       "two_stage": {"cluster_pairs"}, "oracle": {"labels"}}
    trained = {"decoding": {"pair_threshold": 0.7, "pair_linkage": "average"}}
    changed = {"decoding": {"pair_threshold": 0.99, "pair_linkage": "average", "beta_threshold": 0.9}}
    ignored = CalorimeterDataModule.ignored_prediction_settings
    assert ignored(outputs["slot_attention"], trained, trained) == {}
    assert ignored(outputs["slot_attention"], trained, changed) == dict.fromkeys(
        ["decoding.pair_threshold", "decoding.beta_threshold"], "decoded from its 'slots' output, which reads no decoding setting")
    assert list(ignored(outputs["condensation"], trained, changed)) == ["decoding.pair_threshold"]
    assert list(ignored(outputs["transformer"], trained, changed)) == ["decoding.beta_threshold"]
    assert list(ignored(outputs["two_stage"], trained, changed)) == ["decoding.beta_threshold"]
    assert list(ignored(outputs["oracle"], {}, {"decoding": {"distance_threshold": 0.2}})) == ["decoding.distance_threshold"]
    assert ignored(frozenset({"energy"}), trained, changed) == {}  # nothing decoded into clusters: nothing to say


def test_the_pre_clustering_is_a_fitted_setting_whole() -> None:
    """Its threshold makes the pre-clusters the two-stage network reads, standardised as it was trained on them:
    changed at prediction it is refused like the features (on files it was accepted, on the test split refused
    for a wrong reason)."""
    trained = {"features": ["energy"], "preclustering": {"distance_threshold": 0.15, "linkage": "single"}}
    changed = {**trained, "preclustering": {"distance_threshold": 0.5, "linkage": "single"}}
    assert CalorimeterDataModule.changed_fitted_settings(trained, changed) == ["preclustering"]
    assert CalorimeterDataModule.changed_fitted_settings(trained, trained) == []
