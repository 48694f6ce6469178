"""From network outputs to a cluster label per hit (0, 1, ... per cluster; -1 in no cluster).

* same-cluster probabilities of hit pairs, ``pair_linkage: single``: join every pair above ``pair_threshold`` and
  take the connected components (a hit joined to nothing is a cluster of its own), which is single-linkage
  clustering of the distances ``1 - p`` cut at ``1 - pair_threshold``; one wrong pair joins two gammas.
  ``average``: average linkage instead, which joins two groups only when their pairs are above the threshold
  on average, so one wrong pair among many right ones does not;
* object condensation (Kieseler 2020): hits in decreasing condensation strength ``beta``; one above
  ``beta_threshold`` not yet taken becomes a condensation point, and every untaken hit within
  ``distance_threshold`` of it in the learnt cluster space joins it; hits near no point are in no cluster;
* slot attention: each hit goes to the slot that holds most of it;
* pre-cluster pairs (two-stage): connected components of the pre-clusters, each hit following its pre-cluster.

:func:`average_pair_views` merges the pair outputs of several test-time views of the same events, or of several
networks (an ensemble), into the mean same-cluster probability of every pair before decoding.

:func:`decode_labels` picks the rule from the names of the outputs (:data:`DECODED_OUTPUTS`, first found wins),
event by event over the padded outputs of a split.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Literal

import numpy as np
from pydantic import ConfigDict, Field
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

from showerlearn.config.base import SettingsModel

__all__ = [
    "DECODED_OUTPUTS",
    "DECODING_READS",
    "PAIR_OUTPUTS",
    "DecodingSpec",
    "average_pair_views",
    "decode_labels",
    "decoded_output",
    "labels_from_condensation",
    "labels_from_pairs",
    "labels_from_slots",
    "merge_preclusters",
]

#: outputs a cluster labelling can be decoded from, in order of precedence: ``labels`` (an estimator's),
#: ``objects`` (object condensation), ``slots`` (slot attention), ``cluster_pairs`` (pre-cluster merging), ``pairs``
DECODED_OUTPUTS = ("labels", "objects", "slots", "cluster_pairs", "pairs")
#: the outputs of same-cluster logits of element pairs: the ones test-time views average
PAIR_OUTPUTS = frozenset({"pairs", "cluster_pairs"})
#: the :class:`DecodingSpec` settings the rule of each output reads: the others leave its labels as they are
DECODING_READS: dict[str, frozenset[str]] = {
    "labels": frozenset(),
    "objects": frozenset({"beta_threshold", "distance_threshold"}),
    "slots": frozenset(),
    "cluster_pairs": frozenset({"pair_threshold", "pair_linkage"}),
    "pairs": frozenset({"pair_threshold", "pair_linkage"}),
}


class DecodingSpec(SettingsModel):
    """How network outputs become cluster labels (docs/calorimeter.md, "Decoding")."""

    model_config = ConfigDict(frozen=True)

    pair_threshold: float = Field(
        0.5, gt=0.0, lt=1.0, description="Two hits (pre-clusters) whose same-cluster probability is above this are joined.")
    pair_linkage: Literal["single", "average"] = Field(
        "single", description="'single': connected components of the joined pairs; 'average': average-linkage clustering "
        "of 1 - probability cut at 1 - pair_threshold (groups join when their pairs are above it on average).")
    beta_threshold: float = Field(
        0.5, gt=0.0, lt=1.0, description="Object condensation: the least condensation strength of a condensation point.")
    distance_threshold: float = Field(
        0.5, gt=0.0, description="Object condensation: hits closer than this to a condensation point (cluster space) join it.")


def labels_from_pairs(probability: np.ndarray, threshold: float, linkage_rule: Literal["single", "average"] = "single") -> np.ndarray:
    """Clusters of the elements from their same-cluster probabilities ``(n, n)`` (symmetrised): ``single``, the
    connected components of the pairs above ``threshold``; ``average``, average linkage of ``1 - p`` cut there."""
    n = len(probability)
    if n < 2:
        return np.zeros(n, dtype=np.int64)
    if linkage_rule == "single":
        joined = (probability > threshold) | (probability.T > threshold)
        return connected_components(csr_matrix(joined), directed=False)[1].astype(np.int64)
    distance = 1.0 - 0.5 * (probability + probability.T)
    condensed = distance[np.triu_indices(n, k=1)]
    tree = linkage(condensed, method=linkage_rule)
    # fcluster keeps merges at distances <= t; a join needs a probability strictly above the threshold
    labels = fcluster(tree, np.nextafter(1.0 - threshold, -np.inf), criterion="distance") - 1
    return np.unique(labels, return_inverse=True)[1].astype(np.int64)


def labels_from_condensation(beta: np.ndarray, coordinates: np.ndarray, beta_threshold: float, distance: float) -> np.ndarray:
    """Clusters around condensation points: strength ``beta`` ``(n,)``, cluster-space ``coordinates`` ``(n, D)``."""
    labels = np.full(len(beta), -1, dtype=np.int64)
    label = 0
    for point in np.argsort(-beta, kind="stable"):
        if beta[point] <= beta_threshold:
            break
        if labels[point] >= 0:
            continue
        near = (labels < 0) & (np.linalg.norm(coordinates - coordinates[point], axis=1) < distance)
        near[point] = True
        labels[near] = label
        label += 1
    return labels


def labels_from_slots(weights: np.ndarray) -> np.ndarray:
    """Each hit in its slot of largest weight ``(n, K)``, slots numbered in order of first hit."""
    if len(weights) == 0:
        return np.zeros(0, dtype=np.int64)
    return np.unique(weights.argmax(axis=1), return_inverse=True)[1].astype(np.int64)


def merge_preclusters(precluster: np.ndarray, probability: np.ndarray, threshold: float,
                      linkage_rule: Literal["single", "average"] = "single") -> np.ndarray:
    """Hit labels after joining pre-clusters ``(m, m)`` above ``threshold``; ``precluster`` gives each hit's
    pre-cluster (-1: in none, and then in no cluster)."""
    merged = labels_from_pairs(probability, threshold, linkage_rule)
    labels = np.full(len(precluster), -1, dtype=np.int64)
    inside = precluster >= 0
    labels[inside] = merged[precluster[inside]]
    return labels


def decode_labels(outputs: Mapping[str, np.ndarray], hits_mask: np.ndarray, spec: DecodingSpec,
                  precluster: np.ndarray | None = None) -> np.ndarray:
    """Labels ``(E, N)`` (-1 on padding) of the padded outputs of ``E`` events with ``N`` hit slots.

    ``precluster`` ``(E, N)``: each hit's pre-cluster, for ``cluster_pairs`` outputs."""
    name = decoded_output(outputs)
    if name is None:
        raise KeyError(f"no output to decode cluster labels from: got {sorted(outputs)}, expected one of {list(DECODED_OUTPUTS)}")
    if name == "cluster_pairs" and precluster is None:
        raise ValueError("cluster_pairs outputs need the hits' pre-clusters: set data.params.preclustering")
    values = np.asarray(outputs[name])
    labels = np.full(hits_mask.shape, -1, dtype=np.int64)
    for event, mask in enumerate(hits_mask):
        n = int(mask.sum())
        labels[event, :n] = _decode_event(name, values[event], n, spec, None if precluster is None else precluster[event, :n])
    return labels


def decoded_output(names: Iterable[str]) -> str | None:
    """The output of ``names`` that cluster labels are decoded from (the first in :data:`DECODED_OUTPUTS`);
    None when there is none."""
    present = set(names)
    return next((name for name in DECODED_OUTPUTS if name in present), None)


def _decode_event(name: str, values: np.ndarray, n: int, spec: DecodingSpec, precluster: np.ndarray | None) -> np.ndarray:
    if name == "labels":
        return values[:n].astype(np.int64)
    if name == "objects":
        beta = 1.0 / (1.0 + np.exp(-values[:n, 0]))
        return labels_from_condensation(beta, values[:n, 1:], spec.beta_threshold, spec.distance_threshold)
    if name == "slots":
        return labels_from_slots(values[:n])
    if name == "pairs":
        return labels_from_pairs(_sigmoid(values[:n, :n]), spec.pair_threshold, spec.pair_linkage)
    m = int(precluster.max()) + 1 if n else 0
    return merge_preclusters(precluster, _sigmoid(values[:m, :m]), spec.pair_threshold, spec.pair_linkage)


def average_pair_views(outputs: Iterable[Mapping[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """One set of pair outputs from those of several views of the same events (in the same batches), or of several
    networks: every pair's same-cluster probability averaged over them, as its logit (which decoding turns back
    into the mean). They are read one after the other, so that a caller can make each when it is needed. Other
    outputs (condensation coordinates, slots) are not alike across views: a ValueError."""
    totals: dict[str, np.ndarray] = {}  # running sums: one view's outputs in memory at a time, not all of them
    count = 0
    for view in outputs:
        if others := sorted(set(view) - PAIR_OUTPUTS):
            raise ValueError(f"test-time views and ensembles average the same-cluster probabilities of pairs; the outputs "
                             f"{others} have no such average")
        if count and set(view) != set(totals):
            raise ValueError(f"the outputs to average differ: {sorted(view)} against {sorted(totals)}")
        for name, values in view.items():
            probability = _sigmoid(np.asarray(values, np.float64))
            if count and probability.shape != totals[name].shape:
                raise ValueError(f"the {name!r} outputs to average differ in shape: {probability.shape} against "
                                 f"{totals[name].shape}")
            if count:
                totals[name] += probability
            else:
                totals[name] = probability
            del probability
        del view  # not alive while the next one is made
        count += 1
    merged = {}
    for name, total in totals.items():
        probability = np.clip(total / count, 1e-12, 1 - 1e-12)
        merged[name] = (np.log(probability) - np.log1p(-probability)).astype(np.float32)
    return merged


def _sigmoid(logits: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(logits, -50, 50)))
