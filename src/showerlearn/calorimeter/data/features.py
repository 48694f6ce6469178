"""What a network sees of a hit or a pre-cluster: physical features, standardised with the training split.

Hit features (:data:`HIT_FEATURES`): ``energy`` [MeV], ``log_energy`` (ln E/MeV), ``theta``, ``phi`` [rad],
``time`` [ns] and ``x``, ``y``, ``z``, the unit vector of the crystal's direction from the target (angles
between hits without an azimuthal edge). Pre-clusters (:data:`CLUSTER_FEATURES`) add ``n_hits`` and ``spread``
(the energy-weighted RMS angle of their hits around the centroid [rad]); their direction is the
energy-weighted centroid of their hits' directions, their time the energy-weighted mean.

A :class:`FeatureSpec` holds the names with the means and standard deviations of the training split: the
DataModule standardises with it and a model reads it (a model input) to recover physical quantities, such as
the opening angle between two hits, from the standardised values. :func:`turn_azimuth` turns standardised
features about the beam axis (an augmentation: the calorimeter and the physics are symmetric about it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from showerlearn.calorimeter.geometry import unit_vectors, wrap_phi

__all__ = [
    "CLUSTER_FEATURES", "DIRECTION", "HIT_FEATURES", "FeatureSpec", "check_features", "cluster_features", "hit_features",
    "turn_azimuth",
]

HIT_FEATURES = ("energy", "log_energy", "theta", "phi", "time", "x", "y", "z")
CLUSTER_FEATURES = (*HIT_FEATURES, "n_hits", "spread")
#: the features holding the unit direction, in this order
DIRECTION = ("x", "y", "z")


@dataclass(frozen=True)
class FeatureSpec:
    """Feature names with their training-split means and standard deviations (standardised = (v - mean) / std)."""

    names: tuple[str, ...]
    mean: tuple[float, ...]
    std: tuple[float, ...]

    @classmethod
    def fit(cls, names: Sequence[str], values: np.ndarray) -> FeatureSpec:
        """Means and standard deviations of ``values`` (rows: hits of the training split; a constant feature
        keeps a scale of 1, so standardising never divides by zero)."""
        if len(values) == 0:
            raise ValueError("cannot standardise features on an empty training split")
        std = values.std(axis=0)
        return cls(tuple(names), tuple(float(m) for m in values.mean(axis=0)), tuple(float(s) if s > 0 else 1.0 for s in std))

    def standardise(self, values: np.ndarray) -> np.ndarray:
        """``(values - mean) / std`` as float32."""
        return ((values - np.asarray(self.mean)) / np.asarray(self.std)).astype(np.float32)

    def physical(self, values: np.ndarray, name: str) -> np.ndarray:
        """Feature ``name`` of standardised ``values`` (``(..., len(names))``) back in its units."""
        (k,) = self.index([name])
        return values[..., k] * self.std[k] + self.mean[k]

    def with_physical(self, values: np.ndarray, updates: Mapping[str, np.ndarray]) -> np.ndarray:
        """A copy of standardised ``values`` with the features of ``updates`` set to these physical values."""
        result = np.array(values, dtype=np.float32)
        for name, physical in updates.items():
            (k,) = self.index([name])
            result[..., k] = (physical - self.mean[k]) / self.std[k]
        return result

    def index(self, names: Sequence[str]) -> list[int]:
        """Positions of ``names`` among the features; a ValueError naming what is missing."""
        missing = [name for name in names if name not in self.names]
        if missing:
            raise ValueError(f"the inputs lack the features {missing}; they have {list(self.names)}")
        return [self.names.index(name) for name in names]


def hit_features(hits: Mapping[str, np.ndarray], names: Sequence[str] = HIT_FEATURES) -> np.ndarray:
    """Physical features ``(n_hits, len(names))`` of flat hit columns (``energy``, ``theta``, ``phi``, ``time``)."""
    energy = np.asarray(hits["energy"], dtype=np.float64)
    direction = unit_vectors(np.asarray(hits["theta"], np.float64), np.asarray(hits["phi"], np.float64))
    columns = {
        "energy": energy, "log_energy": np.log(np.maximum(energy, 1e-6)), "theta": np.asarray(hits["theta"], np.float64),
        "phi": np.asarray(hits["phi"], np.float64), "time": np.asarray(hits["time"], np.float64),
        "x": direction[:, 0], "y": direction[:, 1], "z": direction[:, 2],
    }
    return _stack(columns, names, HIT_FEATURES)


def cluster_features(hits: Mapping[str, np.ndarray], cluster: np.ndarray, n_clusters: int,
                     names: Sequence[str] = CLUSTER_FEATURES) -> np.ndarray:
    """Features ``(n_clusters, len(names))`` of the pre-clusters of one event: ``cluster`` gives each hit's
    pre-cluster (0 .. n_clusters - 1; every pre-cluster has at least one hit)."""
    check_features(names, CLUSTER_FEATURES)
    if n_clusters == 0:  # an event without hits (bincount of nothing would give integers)
        return np.zeros((0, len(names)))
    energy = np.asarray(hits["energy"], dtype=np.float64)
    direction = unit_vectors(np.asarray(hits["theta"], np.float64), np.asarray(hits["phi"], np.float64))
    total = np.bincount(cluster, energy, minlength=n_clusters)
    size = np.bincount(cluster, minlength=n_clusters)
    # hits weigh by energy; a pre-cluster without energy (measured data may hold zero-energy hits) weighs its
    # hits alike instead of 0 / 0
    weight = np.where(total[cluster] > 0, energy / np.where(total > 0, total, 1.0)[cluster], 1.0 / size[cluster])
    centroid = np.stack([np.bincount(cluster, weight * direction[:, k], minlength=n_clusters) for k in range(3)], axis=1)
    centroid /= np.linalg.norm(centroid, axis=1, keepdims=True).clip(1e-12)
    cos = np.clip(np.einsum("ij,ij->i", direction, centroid[cluster]), -1.0, 1.0)
    columns = {
        "energy": total, "log_energy": np.log(np.maximum(total, 1e-6)),
        "theta": np.arccos(np.clip(centroid[:, 2], -1.0, 1.0)), "phi": np.arctan2(centroid[:, 1], centroid[:, 0]),
        "time": np.bincount(cluster, weight * np.asarray(hits["time"], np.float64), minlength=n_clusters),
        "x": centroid[:, 0], "y": centroid[:, 1], "z": centroid[:, 2],
        "n_hits": size.astype(np.float64),
        "spread": np.sqrt(np.bincount(cluster, weight * np.arccos(cos) ** 2, minlength=n_clusters)),
    }
    return _stack(columns, names, CLUSTER_FEATURES)


def turn_azimuth(values: np.ndarray, spec: FeatureSpec, angle: float, mirror: bool = False) -> np.ndarray:
    """Standardised features ``values`` ``(n, len(spec.names))`` of hits or pre-clusters mirrored in azimuth
    (phi -> -phi) if ``mirror``, then turned by ``angle`` [rad] about the beam (z) axis: ``phi``, ``x`` and ``y``
    change where present, nothing else, and the opening angle of every pair stays what it was."""
    if ("x" in spec.names) != ("y" in spec.names):
        raise ValueError(f"turning about the beam axis needs both features x and y or neither; the features are {list(spec.names)}")
    sign = -1.0 if mirror else 1.0
    updates: dict[str, np.ndarray] = {}
    if "phi" in spec.names:
        updates["phi"] = wrap_phi(sign * spec.physical(values, "phi") + angle)
    if "x" in spec.names:
        x, y = spec.physical(values, "x"), sign * spec.physical(values, "y")
        cos, sin = np.cos(angle), np.sin(angle)
        updates["x"], updates["y"] = cos * x - sin * y, sin * x + cos * y
    return spec.with_physical(values, updates)


def check_features(names: Sequence[str], known: Sequence[str] = HIT_FEATURES) -> None:
    """A ValueError naming the ``names`` that are not ``known`` features."""
    unknown = [name for name in names if name not in known]
    if unknown:
        raise ValueError(f"unknown features {unknown}; known: {list(known)}")


def _stack(columns: Mapping[str, np.ndarray], names: Sequence[str], known: Sequence[str]) -> np.ndarray:
    check_features(names, known)
    return np.stack([columns[name] for name in names], axis=1) if len(names) else np.zeros((len(columns["energy"]), 0))
