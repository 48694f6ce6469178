"""Clustering methods behind one interface (the hits of an event -> a cluster label per hit), as
scikit-learn estimators: R3BRoot's window algorithm with its three matchers, agglomerative clustering,
and the truth-label oracle; ``engine`` registers them as the engine's estimators (``r3b_window``,
``hit_agglomerative``, ``hit_oracle``) for ``showerlearn train``.

May import: showerlearn.calorimeter.geometry, showerlearn.registry, numpy, scikit-learn; awkward inside the function that reads
awkward arrays (the ``calorimeter`` extra).
"""

from showerlearn.calorimeter.baselines.agglomerative import AgglomerativeHitClustering
from showerlearn.calorimeter.baselines.base import HitClusterer, Hits, event_hits
from showerlearn.calorimeter.baselines.engine import HitAgglomerative, HitOracle, R3BWindow, padded_labels
from showerlearn.calorimeter.baselines.oracle import OracleClustering
from showerlearn.calorimeter.baselines.r3b import R3B_RECTANGLE_RAD, R3BClustering

__all__ = [
    "R3B_RECTANGLE_RAD",
    "AgglomerativeHitClustering",
    "HitAgglomerative",
    "HitClusterer",
    "HitOracle",
    "Hits",
    "OracleClustering",
    "R3BClustering",
    "R3BWindow",
    "event_hits",
    "padded_labels",
]
