"""The clustering methods as the engine's estimators, so that ``showerlearn train`` runs them with an
``estimator:`` config like any baseline and writes the same predictions as the networks.

The engine's contract: ``fit(inputs, targets, masks)`` (nothing to learn here) and ``predict(inputs)`` -> a dict of
outputs; ``inputs`` are what the calorimeter DataModule's ``arrays(split, raw=True)`` gives, one mapping of hit
columns per event, and the output ``labels`` holds the cluster labels padded with -1 to the split's largest event.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from showerlearn.calorimeter.baselines.agglomerative import AgglomerativeHitClustering
from showerlearn.calorimeter.baselines.base import event_hits
from showerlearn.calorimeter.baselines.oracle import OracleClustering
from showerlearn.calorimeter.baselines.r3b import R3BClustering
from showerlearn.registry import ESTIMATORS

__all__ = ["EngineClustering", "HitAgglomerative", "HitOracle", "R3BWindow", "padded_labels"]


def padded_labels(labels: list[np.ndarray]) -> np.ndarray:
    """Per-event label arrays as one ``(events, N)`` array padded with -1, ``N`` the largest event."""
    width = max((len(part) for part in labels), default=0)
    padded = np.full((len(labels), width), -1, dtype=np.int64)
    for row, part in enumerate(labels):
        padded[row, : len(part)] = part
    return padded


class EngineClustering:
    """Mixin giving a clustering method (a ``HitClusterer``) the engine's estimator contract."""

    #: the DataModule hands physical hit columns, not the networks' standardised features
    wants_raw_inputs: ClassVar[bool] = True
    #: nothing is learnt: the engine does not read the training split to fit it (minutes on large simulations)
    learns_from_data: ClassVar[bool] = False
    #: what :meth:`predict` returns, declared as a network's heads are: prediction tells by it which decoding
    #: settings have an effect (none: the labels are final)
    output_heads: ClassVar[tuple[str, ...]] = ("labels",)

    def fit(self, inputs: Any = None, targets: Any = None, masks: Any = None) -> EngineClustering:
        """Nothing to learn; returns self."""
        return self

    def predict(self, inputs: Any) -> dict[str, np.ndarray]:
        """``{"labels": (events, N)}``: the cluster label of every hit, -1 in no cluster and on padding."""
        return {"labels": padded_labels([self.cluster(hits) for hits in event_hits(list(inputs))])}


@ESTIMATORS.register("r3b_window")
class R3BWindow(EngineClustering, R3BClustering):
    """R3BRoot's CALIFA cluster finder (window around the most energetic unused hit) through ``showerlearn train``."""


@ESTIMATORS.register("hit_agglomerative")
class HitAgglomerative(EngineClustering, AgglomerativeHitClustering):
    """scikit-learn's agglomerative clustering of the hits on (direction, E, t) through ``showerlearn train``."""


@ESTIMATORS.register("hit_oracle")
class HitOracle(EngineClustering, OracleClustering):
    """The truth-label clustering (each hit to the gamma that left most of its energy): the ceiling of every method."""
