"""Clustering methods behind one interface (the hits of an event -> a cluster label per hit), as
scikit-learn estimators: R3BRoot's window algorithm with its three matchers, agglomerative clustering,
and the truth-label oracle.

May import: showerlearn.calorimeter.geometry, numpy, scikit-learn; awkward inside the function that reads
awkward arrays (the ``calorimeter`` extra).
"""

from showerlearn.calorimeter.baselines.agglomerative import AgglomerativeHitClustering
from showerlearn.calorimeter.baselines.base import HitClusterer, Hits, event_hits
from showerlearn.calorimeter.baselines.oracle import OracleClustering
from showerlearn.calorimeter.baselines.r3b import R3B_RECTANGLE_RAD, R3BClustering

__all__ = [
    "R3B_RECTANGLE_RAD",
    "AgglomerativeHitClustering",
    "HitClusterer",
    "Hits",
    "OracleClustering",
    "R3BClustering",
    "event_hits",
]
