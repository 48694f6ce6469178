"""The truth-label clustering ("oracle"): every hit goes to the gamma that left most of its energy.

The ceiling in every comparison: a method that assigns whole hits does better on a gamma only through errors
that compensate (a cluster missing one hit and holding another gamma's of about the same energy). Background
hits (true gamma -1) and hits at or below the crystal threshold stay in no cluster.
"""

from __future__ import annotations

import numpy as np

from showerlearn.calorimeter.baselines.base import HitClusterer, Hits, require

__all__ = ["OracleClustering"]


class OracleClustering(HitClusterer):
    """Clusters from the simulation truth (the hits' ``true_gamma``).

    Parameters
    ----------
    crystal_threshold_mev
        Hits at or below this stay in no cluster [MeV].
    """

    def __init__(self, crystal_threshold_mev: float = 0.1) -> None:
        self.crystal_threshold_mev = crystal_threshold_mev

    def cluster(self, hits: Hits) -> np.ndarray:
        if "true_gamma" not in hits:  # a measured (converted) file: labels of -1 would pass for all background
            raise ValueError("OracleClustering (hit_oracle) clusters the hits by their simulation truth (true_gamma), "
                             "which these hits lack (a measured or converted file): it predicts simulated files only")
        require(hits, ("energy",), "OracleClustering")
        truth = np.asarray(hits["true_gamma"], dtype=np.int64)
        clustered = (truth >= 0) & (np.asarray(hits["energy"], float) > self.crystal_threshold_mev)
        labels = np.full(len(truth), -1, dtype=np.int64)
        labels[clustered] = np.unique(truth[clustered], return_inverse=True)[1]
        return labels
