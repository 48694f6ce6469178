"""Clustered predictions as a flat ROOT tree, for analyses that go on in ROOT (written through uproot).

One entry per event, as R3B users' flat trees have it, with the clusters and the hits as variable-length
branches, each with its counter (uproot's naming: ``ncluster``, ``cluster_energy[ncluster]``...):

* ``event_id`` (the hit file's event number), ``file`` (the index of the hit file among a run's files: a run's own
  predictions span its files, whose event numbers may repeat; 0 for a predicted file) and ``beta`` (the fragment's
  v/c; NaN where unknown);
* per cluster, as R3BRoot's ``R3BCalifaClusterData`` holds it: ``cluster_energy`` (summed), ``cluster_energy_rest``
  (Doppler-corrected with the cluster's angle and the event's beta), ``cluster_theta`` and ``cluster_phi`` [rad]
  and ``cluster_time`` [ns] of its most energetic crystal, ``cluster_mother_crystal`` (that crystal's id) and
  ``cluster_n_crystals``;
* per hit: ``hit_crystal_id``, ``hit_energy``, ``hit_time``, ``hit_theta``, ``hit_phi``, ``hit_cluster`` (the index
  of its cluster in the event's cluster branches, -1: in none) and ``hit_true_gamma`` (the simulated gamma that
  deposited most of its energy, -1: none, or no truth).

Energies are written in ``energy_unit`` (MeV, or keV as R3BRoot's calibrated data), named in the tree's title.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np

from showerlearn.io.atomic import atomic_path

__all__ = ["CLUSTER_BRANCHES", "HIT_BRANCHES", "write_cluster_tree"]

#: the clusters' branches (``cluster_<name>``): name -> (column of the prediction file's clusters table or what
#: :func:`_cluster_columns` derives, is an energy)
CLUSTER_BRANCHES = {"energy": True, "energy_rest": True, "theta": False, "phi": False, "time": False,
                    "mother_crystal": False, "n_crystals": False}
#: the hits' branches (``hit_<name>``), as CLUSTER_BRANCHES
HIT_BRANCHES = {"crystal_id": False, "energy": True, "time": False, "theta": False, "phi": False, "cluster": False,
                "true_gamma": False}
#: events written per basket: bounds the memory the awkward arrays take
CHUNK_EVENTS = 100_000


def write_cluster_tree(tables: Mapping[str, Mapping[str, np.ndarray]], path: Path, energy_unit: str = "MeV",
                       tree: str = "clusters", overwrite: bool = False,
                       advance: Callable[[int], None] | None = None) -> int:
    """Write the ``predictions``, ``hits`` and ``clusters`` tables of a calorimeter prediction file (checked
    already: rows in event order, as many as the counts say; in MeV) to ``path`` as the tree ``tree``, atomically
    (``overwrite=False``: a file that appears there meanwhile is kept). ``advance(n)`` is told of each ``n``
    events written. Returns the events written.

    Raises:
        ValueError: a hit's label names no cluster of its event, or a cluster's ``n_hits`` is not the number of
            hits its label is on.
    """
    import awkward as ak
    import uproot

    from showerlearn.calorimeter.io.root import ENERGY_UNITS

    scale = 1.0 / ENERGY_UNITS[energy_unit]  # MeV -> energy_unit
    predictions, hits = tables["predictions"], tables["hits"]
    # by event, then label (predict writes them so; another tool may not): the order hit_cluster indexes
    order = np.lexsort((tables["clusters"]["label"], tables["clusters"]["event_index"]))
    clusters = {name: np.asarray(values)[order] for name, values in tables["clusters"].items()}
    n_events = len(predictions["event_id"])
    hit_columns = _hit_columns(hits, clusters)
    cluster_columns = _cluster_columns(hits, clusters, hit_columns["cluster_row"])
    hit_columns["cluster"] = _local_index(hit_columns.pop("cluster_row"), clusters["event_index"], n_events)
    hit_offsets = _offsets(hits["event_index"], n_events)
    cluster_offsets = _offsets(clusters["event_index"], n_events)

    def jagged(columns: Mapping[str, np.ndarray], branches: Mapping[str, bool], offsets: np.ndarray, a: int, b: int) -> ak.Array:
        rows = slice(offsets[a], offsets[b])
        return ak.zip({name: ak.unflatten(columns[name][rows] * (scale if energy else 1), np.diff(offsets[a : b + 1]))
                       for name, energy in branches.items()})

    title = f"showerlearn clusters: energies in {energy_unit}, angles in rad, times in ns"
    with atomic_path(path, overwrite=overwrite) as tmp, uproot.recreate(tmp) as file:
        output = None
        for a in range(0, max(n_events, 1), CHUNK_EVENTS):
            b = min(a + CHUNK_EVENTS, n_events)
            chunk = {"event_id": np.asarray(predictions["event_id"][a:b], np.int64),
                     **({"file": np.asarray(predictions["file"][a:b], np.int64)} if "file" in predictions else {}),
                     "beta": np.asarray(predictions["beta"][a:b], np.float64),
                     "cluster": jagged(cluster_columns, CLUSTER_BRANCHES, cluster_offsets, a, b),
                     "hit": jagged(hit_columns, HIT_BRANCHES, hit_offsets, a, b)}
            if output is None:
                output = file.mktree(tree, {name: value.type if isinstance(value, ak.Array) else value.dtype
                                            for name, value in chunk.items()}, title=title)
            if b > a:
                output.extend(chunk)
                if advance is not None:
                    advance(b - a)
    return n_events


def _offsets(event_index: np.ndarray, n_events: int) -> np.ndarray:
    """Where each event's rows begin in a table sorted by event, and where the last ends."""
    return np.searchsorted(np.asarray(event_index, np.int64), np.arange(n_events + 1))


def _hit_columns(hits: Mapping[str, np.ndarray], clusters: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The hits' columns, and ``cluster_row``: the row of the clusters table each hit's label names (-1: none)."""
    labels = np.asarray(hits["label"], np.int64)
    span = int(max(labels.max(initial=0), np.max(clusters["label"], initial=0))) + 1
    cluster_key = np.asarray(clusters["event_index"], np.int64) * span + np.asarray(clusters["label"], np.int64)
    hit_key = np.asarray(hits["event_index"], np.int64) * span + labels
    clustered = labels >= 0
    if len(cluster_key):
        row = np.minimum(np.searchsorted(cluster_key, hit_key), len(cluster_key) - 1)
        unnamed = clustered & (cluster_key[row] != hit_key)
    else:
        row, unnamed = np.zeros(len(labels), np.int64), clustered
    if unnamed.any():
        first = np.flatnonzero(unnamed)[0]
        raise ValueError(f"hits row {first}: its label {labels[first]} names no cluster of its event in the clusters "
                         "table")
    return {"crystal_id": np.asarray(hits["crystal_id"], np.int64), "energy": np.asarray(hits["energy"], np.float64),
            **{name: np.asarray(hits[name], np.float64) for name in ("time", "theta", "phi")},
            "true_gamma": np.asarray(hits["true_gamma"], np.int64) if "true_gamma" in hits else np.full(len(labels), -1),
            "cluster_row": np.where(clustered, row, -1)}


def _cluster_columns(hits: Mapping[str, np.ndarray], clusters: Mapping[str, np.ndarray],
                     cluster_row: np.ndarray) -> dict[str, np.ndarray]:
    """The clusters' columns, with each one's mother crystal: the id of its most energetic hit (the hit whose
    angles and time the cluster has)."""
    clustered = np.flatnonzero(cluster_row >= 0)
    counted = np.bincount(cluster_row[clustered], minlength=len(clusters["label"]))
    if (wrong := np.flatnonzero(counted != clusters["n_hits"])).size:
        j = wrong[0]
        raise ValueError(f"the cluster of event index {clusters['event_index'][j]} labelled {clusters['label'][j]} has "
                         f"n_hits {clusters['n_hits'][j]}, but {counted[j]} hits carry its label")
    # per cluster row, its hits the most energetic first; a stable sort keeps the first of equal energies, as the
    # clusters table's seed
    order = clustered[np.lexsort((-np.asarray(hits["energy"])[clustered], cluster_row[clustered]))]
    rows, first = np.unique(cluster_row[order], return_index=True)
    mother = np.full(len(clusters["label"]), -1, np.int64)
    mother[rows] = np.asarray(hits["crystal_id"], np.int64)[order[first]]
    return {**{name: np.asarray(clusters[name], np.float64) for name in ("energy", "energy_rest", "theta", "phi", "time")},
            "mother_crystal": mother, "n_crystals": np.asarray(clusters["n_hits"], np.int64)}


def _local_index(cluster_row: np.ndarray, cluster_event: np.ndarray, n_events: int) -> np.ndarray:
    """Each hit's cluster as an index among its event's clusters (-1: in none)."""
    if not len(cluster_event):
        return np.full(len(cluster_row), -1, np.int64)
    first_row = _offsets(cluster_event, n_events)[:-1]
    event = np.asarray(cluster_event, np.int64)[np.maximum(cluster_row, 0)]
    return np.where(cluster_row >= 0, cluster_row - first_row[event], -1)
