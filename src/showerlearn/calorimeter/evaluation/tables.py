"""Flat tables the metrics work on: hits, clusters and gammas as columns of numpy arrays with an event column.

* hits: ``event``, ``energy``, ``theta``, ``phi``, ``time``, ``true_gamma`` (and a ``label`` per hit from a
  clustering method);
* clusters (from the labels): ``event``, ``energy`` (sum), ``theta``, ``phi``, ``time`` (those of its most
  energetic hit, the seed of R3B clusters), ``owner`` (the gamma index, within the event, whose hits carry
  most of the cluster's energy, a hit counting for its main source ``true_gamma``; -1 background), ``n_hits``;
* gammas: ``event``, ``index`` (within the event), ``energy_rest``, ``energy_lab``, ``theta``, ``phi``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["CLUSTER_UNITS", "GAMMA_UNITS", "HIT_UNITS", "PREDICTION_UNITS", "cluster_table", "flat_labels", "gamma_table",
           "hit_table"]

#: units of the hit files' and prediction files' columns (astropy strings, "" dimensionless)
HIT_UNITS = {"energy": "MeV", "theta": "rad", "phi": "rad", "time": "ns", "crystal_id": "", "true_gamma": ""}
GAMMA_UNITS = {"energy_rest": "MeV", "energy_lab": "MeV", "theta": "rad", "phi": "rad"}
#: the ``clusters`` table of the predictions: what a measured-data analysis reads (docs/calorimeter.md, "Predictions")
CLUSTER_UNITS = {"label": "", "energy": "MeV", "energy_rest": "MeV", "theta": "rad", "phi": "rad", "time": "ns", "n_hits": ""}
#: the units of a prediction file's tables, which its columns are converted to when read
PREDICTION_UNITS = {
    "predictions": dict.fromkeys(("event_id", "file", "beta", "n_hits", "n_gammas", "n_clusters"), ""),
    "hits": {**HIT_UNITS, "label": "", "precluster": ""},
    "gammas": {"index": "", **GAMMA_UNITS},
    "clusters": CLUSTER_UNITS,
}


def hit_table(events: Any) -> dict[str, np.ndarray]:
    """Flat hit columns with an ``event`` column, from an awkward array of hit lists."""
    import awkward as ak

    counts = ak.to_numpy(ak.num(events, axis=1))
    table = {field: ak.to_numpy(ak.flatten(events[field], axis=1)) for field in events.fields}
    table["event"] = np.repeat(np.arange(len(counts)), counts)
    return table


def gamma_table(gammas: Any) -> dict[str, np.ndarray]:
    """Flat gamma columns with ``event`` and ``index`` (within the event), from an awkward array of gamma lists."""
    import awkward as ak

    counts = ak.to_numpy(ak.num(gammas, axis=1))
    table = {field: ak.to_numpy(ak.flatten(gammas[field], axis=1)) for field in gammas.fields}
    table["event"] = np.repeat(np.arange(len(counts)), counts)
    table["index"] = np.arange(int(counts.sum())) - np.repeat(np.r_[0, np.cumsum(counts)[:-1]], counts)
    return table


def flat_labels(labels: Sequence[np.ndarray]) -> np.ndarray:
    """Per-event label arrays (what a clusterer's ``predict`` returns) as one flat array in hit order."""
    return np.concatenate([np.asarray(part, dtype=np.int64) for part in labels]) if len(labels) else np.zeros(0, np.int64)


def cluster_table(hits: dict[str, np.ndarray], labels: np.ndarray) -> dict[str, np.ndarray]:
    """Clusters formed by ``labels`` (one per hit, -1: in no cluster), sorted by event then label."""
    labels = np.asarray(labels, dtype=np.int64)
    if len(labels) != len(hits["energy"]):
        raise ValueError(f"{len(labels)} labels for {len(hits['energy'])} hits")
    member = np.flatnonzero(labels >= 0)
    span = int(labels.max()) + 1 if len(member) else 1
    key = hits["event"][member].astype(np.int64) * span + labels[member]
    # within each cluster, the most energetic hit first
    order = member[np.lexsort((-hits["energy"][member], key))]
    key = hits["event"][order].astype(np.int64) * span + labels[order]
    first = np.flatnonzero(np.r_[True, key[1:] != key[:-1]]) if len(key) else np.zeros(0, np.int64)
    seed = order[first]
    clusters = {
        "event": hits["event"][seed], "label": labels[seed],
        "energy": np.add.reduceat(hits["energy"][order], first) if len(first) else np.zeros(0),
        "theta": hits["theta"][seed], "phi": hits["phi"][seed],
        "time": hits["time"][seed] if "time" in hits else np.zeros(len(seed)),
        "n_hits": np.diff(np.r_[first, len(order)]),
    }
    if "true_gamma" in hits:
        clusters["owner"] = _owners(key, first, hits["true_gamma"][order], hits["energy"][order])
    return clusters


def _owners(key: np.ndarray, first: np.ndarray, truth: np.ndarray, energy: np.ndarray) -> np.ndarray:
    """Per cluster, the true gamma with the largest summed hit energy in it."""
    cluster = np.repeat(np.arange(len(first)), np.diff(np.r_[first, len(key)]))
    span = int(truth.max(initial=0)) + 2  # sources -1, 0, 1, ... shifted by one
    pairs, inverse = np.unique(cluster * span + truth + 1, return_inverse=True)
    summed = np.bincount(inverse, energy, minlength=len(pairs))
    pair_cluster = pairs // span
    order = np.lexsort((-summed, pair_cluster))
    best = order[np.r_[True, pair_cluster[order][1:] != pair_cluster[order][:-1]]] if len(order) else order
    return pairs[best] % span - 1
