"""Agglomerative clustering of the hits (scikit-learn) on their direction, energy and time, cut at a distance
threshold: the first method the seed study tried against the R3B window.

Each hit becomes a point (x, y, z, E / energy_scale, t / time_scale) with (x, y, z) its unit direction from
the target: the chord between two directions is their angle for small angles, and needs no azimuthal
wrap-around. Scales of None leave the feature out.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from sklearn.cluster import AgglomerativeClustering

from showerlearn.calorimeter.baselines.base import HitClusterer, Hits, require
from showerlearn.calorimeter.geometry import unit_vectors

__all__ = ["AgglomerativeHitClustering"]


class AgglomerativeHitClustering(HitClusterer):
    """scikit-learn's AgglomerativeClustering on (direction, E, t) of the hits above a crystal threshold.

    Parameters
    ----------
    distance_threshold
        Clusters closer than this are merged (in the units of the features: radians for directions).
    linkage
        ``single``, ``average``, ``complete`` or ``ward`` (scikit-learn's).
    energy_scale_mev
        Energy difference counting as 1 [MeV]; None: energy is not a feature.
    time_scale_ns
        Time difference counting as 1 [ns]; None: time is not a feature.
    crystal_threshold_mev
        Hits at or below this stay in no cluster [MeV].
    """

    def __init__(
        self, distance_threshold: float = 0.3, linkage: Literal["single", "average", "complete", "ward"] = "single",
        energy_scale_mev: float | None = None, time_scale_ns: float | None = 20.0, crystal_threshold_mev: float = 0.1,
    ) -> None:
        self.distance_threshold = distance_threshold
        self.linkage = linkage
        self.energy_scale_mev = energy_scale_mev
        self.time_scale_ns = time_scale_ns
        self.crystal_threshold_mev = crystal_threshold_mev

    def features(self, hits: Hits) -> np.ndarray:
        """The points clustered, one row per hit."""
        columns = [unit_vectors(np.asarray(hits["theta"], float), np.asarray(hits["phi"], float))]
        if self.energy_scale_mev is not None:
            columns.append(np.asarray(hits["energy"], float)[:, None] / self.energy_scale_mev)
        if self.time_scale_ns is not None:
            require(hits, ("time",), "AgglomerativeHitClustering with a time scale")
            columns.append(np.asarray(hits["time"], float)[:, None] / self.time_scale_ns)
        return np.hstack(columns)

    def cluster(self, hits: Hits) -> np.ndarray:
        require(hits, ("energy", "theta", "phi"), "AgglomerativeHitClustering")
        energy = np.asarray(hits["energy"], dtype=float)
        labels = np.full(len(energy), -1, dtype=np.int64)
        kept = np.flatnonzero(energy > self.crystal_threshold_mev)
        if len(kept) < 2:  # scikit-learn needs two samples; one hit is one cluster
            labels[kept] = 0
            return labels
        points = self.features({key: np.asarray(value)[kept] for key, value in hits.items()})
        model = AgglomerativeClustering(n_clusters=None, distance_threshold=self.distance_threshold, linkage=self.linkage)
        labels[kept] = model.fit_predict(points)
        return labels
