"""Boosted decision trees on high-level features: the standard analysis the networks are compared with."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import awkward as ak
import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.utils.validation import validate_data

from showerlearn.baselines.base import MultiHeadClassifier, log_probabilities
from showerlearn.collider.baselines.features import HIGH_LEVEL_FEATURES, high_level_features
from showerlearn.registry import ESTIMATORS

__all__ = ["HighLevelBDT"]


def _table(X: Any, features: Sequence[str] | None) -> Any:
    """Event records become their high-level feature table; of a table, the columns of ``features`` are kept
    (None: all of them)."""
    table = high_level_features(X) if isinstance(X, ak.Array) else X
    if features is None:
        return table
    unknown = [name for name in features if name not in HIGH_LEVEL_FEATURES]
    if unknown:
        raise ValueError(f"collider_bdt: unknown features {unknown}; the high-level features are {', '.join(HIGH_LEVEL_FEATURES)}")
    table = np.asarray(table)
    if table.ndim != 2 or table.shape[1] != len(HIGH_LEVEL_FEATURES):
        raise ValueError(
            f"collider_bdt: a feature table must hold all {len(HIGH_LEVEL_FEATURES)} high-level features "
            f"({', '.join(HIGH_LEVEL_FEATURES)}), in that order, of which `features` picks; got shape {table.shape}"
        )
    return table[:, [HIGH_LEVEL_FEATURES.index(name) for name in features]]


@ESTIMATORS.register("collider_bdt")
class HighLevelBDT(MultiHeadClassifier):
    """Gradient-boosted trees (scikit-learn's ``HistGradientBoostingClassifier``) on the high-level features
    of :data:`~showerlearn.collider.baselines.features.HIGH_LEVEL_FEATURES`.

    ``X`` is that feature table (events x all the features, in that order) or the event records themselves
    (an awkward array from :func:`~showerlearn.collider.io.read_events` or
    :func:`~showerlearn.collider.io.read_delphes`). ``fit(X, y)`` / ``predict`` / ``predict_proba`` as
    any scikit-learn classifier (``sample_weight`` may carry the event weights); the engine's
    ``fit(X, targets, masks)`` trains on ``targets[head]``.

    Parameters
    ----------
    head
        The head whose targets the trees learn (engine form) and whose outputs they give.
    features
        The high-level features the trees see (None: all), e.g. all but the b-tags.
    max_iter, learning_rate, max_leaf_nodes, max_depth, min_samples_leaf, l2_regularization
        As scikit-learn's ``HistGradientBoostingClassifier``.
    seed
        ``random_state`` of the trees (injected by the engine: the experiment seed).
    """

    def __init__(
        self,
        head: str = "label",
        features: tuple[str, ...] | None = None,
        max_iter: int = 200,
        learning_rate: float = 0.1,
        max_leaf_nodes: int = 31,
        max_depth: int | None = None,
        min_samples_leaf: int = 20,
        l2_regularization: float = 0.0,
        seed: int = 0,
    ) -> None:
        self.head = head
        self.features = features
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
        X, labels = validate_data(self, _table(X, self.features)), np.asarray(targets[self.head])
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
        self.n_iter_ = self.trees_.n_iter_  # boosting iterations run (fewer than max_iter with early stopping)
        self.heads_ = (self.head,)
        return self

    def predict_heads(self, X: Any) -> dict[str, np.ndarray]:
        """Log-probabilities per class: used as logits, their softmax gives back the probabilities."""
        self._check_fitted()
        probabilities = self.trees_.predict_proba(validate_data(self, _table(X, self.features), reset=False))
        return {self.head: log_probabilities(probabilities)}
