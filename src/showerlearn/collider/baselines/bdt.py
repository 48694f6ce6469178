"""Boosted decision trees on high-level features: the standard analysis the networks are compared with."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import awkward as ak
import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.utils.validation import validate_data

from showerlearn.baselines.base import MultiHeadClassifier, log_probabilities
from showerlearn.collider.baselines.features import high_level_features
from showerlearn.registry import ESTIMATORS

__all__ = ["HighLevelBDT"]


def _table(X: Any) -> Any:
    """Event records become their high-level feature table; tables pass untouched."""
    return high_level_features(X) if isinstance(X, ak.Array) else X


@ESTIMATORS.register("collider_bdt")
class HighLevelBDT(MultiHeadClassifier):
    """Gradient-boosted trees (scikit-learn's ``HistGradientBoostingClassifier``) on the high-level features
    of :data:`~showerlearn.collider.baselines.features.HIGH_LEVEL_FEATURES`.

    ``X`` is that feature table (events x features, in that order) or the event records themselves
    (an awkward array from :func:`~showerlearn.collider.io.read_events` or
    :func:`~showerlearn.collider.io.read_delphes`). ``fit(X, y)`` / ``predict`` / ``predict_proba`` as
    any scikit-learn classifier (``sample_weight`` may carry the event weights); the engine's
    ``fit(X, targets, masks)`` trains on ``targets[head]``.

    Parameters
    ----------
    head
        The head whose targets the trees learn (engine form) and whose outputs they give.
    max_iter, learning_rate, max_leaf_nodes, max_depth, min_samples_leaf, l2_regularization
        As scikit-learn's ``HistGradientBoostingClassifier``.
    seed
        ``random_state`` of the trees (injected by the engine: the experiment seed).
    """

    def __init__(
        self,
        head: str = "label",
        max_iter: int = 200,
        learning_rate: float = 0.1,
        max_leaf_nodes: int = 31,
        max_depth: int | None = None,
        min_samples_leaf: int = 20,
        l2_regularization: float = 0.0,
        seed: int = 0,
    ) -> None:
        self.head = head
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.max_leaf_nodes = max_leaf_nodes
        self.max_depth = max_depth
        self.min_samples_leaf = min_samples_leaf
        self.l2_regularization = l2_regularization
        self.seed = seed

    @property
    def label_head(self) -> str:
        return self.head

    def fit(
        self, X: Any, y: Any, masks: Mapping[str, np.ndarray] | None = None, sample_weight: np.ndarray | None = None
    ) -> HighLevelBDT:
        """Train on class labels ``y``, or on ``y[head]`` of the engine's targets per head."""
        targets, masks = self._targets_per_head(y, masks)
        if self.head not in targets:
            raise KeyError(f"collider_bdt.fit: no targets for head {self.head!r}; got {sorted(targets)}")
        X, labels = validate_data(self, _table(X)), np.asarray(targets[self.head])
        if self.head in masks:
            rows = np.asarray(masks[self.head], dtype=bool)
            X, labels = X[rows], labels[rows]
            sample_weight = None if sample_weight is None else np.asarray(sample_weight)[rows]
        self.trees_ = HistGradientBoostingClassifier(
            max_iter=self.max_iter,
            learning_rate=self.learning_rate,
            max_leaf_nodes=self.max_leaf_nodes,
            max_depth=self.max_depth,
            min_samples_leaf=self.min_samples_leaf,
            l2_regularization=self.l2_regularization,
            random_state=self.seed,
        ).fit(X, labels, sample_weight=sample_weight)
        self.classes_ = self.trees_.classes_
        self.heads_ = (self.head,)
        return self

    def predict_heads(self, X: Any) -> dict[str, np.ndarray]:
        """Log-probabilities per class: used as logits, their softmax gives back the probabilities."""
        self._check_fitted()
        probabilities = self.trees_.predict_proba(validate_data(self, _table(X), reset=False))
        return {self.head: log_probabilities(probabilities)}
