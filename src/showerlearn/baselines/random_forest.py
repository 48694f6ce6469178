"""A random-forest classifier for feature tables: a scikit-learn estimator the engine also runs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from sklearn.ensemble import RandomForestClassifier
from sklearn.utils.validation import validate_data

from showerlearn.baselines.base import MultiHeadClassifier, log_probabilities
from showerlearn.registry import ESTIMATORS


def _flat(X: Any) -> Any:
    """One row of features per event: arrays of images (or other per-event arrays) are flattened, tables
    pass untouched (scikit-learn validates them, keeping a DataFrame's column names)."""
    return X.reshape(len(X), -1) if getattr(X, "ndim", 2) > 2 else X


@ESTIMATORS.register("random_forest")
class RandomForest(MultiHeadClassifier):
    """scikit-learn random forest on flat features for one classification head (default ``label``).

    ``fit(X, y)`` / ``predict(X)`` / ``predict_proba(X)`` as any scikit-learn classifier; the engine's
    ``fit(X, targets, masks)`` trains on ``targets[head]`` where ``masks[head]`` (if given) is true.

    Parameters
    ----------
    head
        The head whose targets the forest learns (engine form) and whose outputs it gives.
    n_estimators, max_depth, min_samples_leaf, n_jobs
        As scikit-learn's ``RandomForestClassifier``.
    seed
        ``random_state`` of the forest (injected by the engine: the experiment seed).
    n_classes
        Number of classes of the data (injected by the engine from the DataModule): the labels are then
        class indices ``0 .. n_classes - 1`` and the outputs have one column per class, a class absent
        from the training rows with probability 0. None: the classes are those the forest saw.
    """

    #: forests saved before ``n_classes`` existed are loaded without it: theirs are the classes they saw
    n_classes: int | None = None

    def __init__(
        self,
        head: str = "label",
        n_estimators: int = 100,
        max_depth: int | None = None,
        min_samples_leaf: int = 1,
        n_jobs: int = 1,
        seed: int = 0,
        n_classes: int | None = None,
    ) -> None:
        self.head = head
        self.n_estimators = n_estimators
        self.max_depth = max_depth
        self.min_samples_leaf = min_samples_leaf
        self.n_jobs = n_jobs
        self.seed = seed
        self.n_classes = n_classes

    @property
    def label_head(self) -> str:
        return self.head

    def fit(self, X: Any, y: Any, masks: Mapping[str, np.ndarray] | None = None) -> RandomForest:
        """Train on class labels ``y``, or on ``y[head]`` of the engine's targets per head."""
        targets, masks = self._targets_per_head(y, masks)
        if self.head not in targets:
            raise KeyError(f"random_forest.fit: no targets for head {self.head!r}; got {sorted(targets)}")
        X, labels = validate_data(self, _flat(X)), targets[self.head]
        if self.head in masks:
            rows = np.asarray(masks[self.head], dtype=bool)
            X, labels = X[rows], np.asarray(labels)[rows]
        self._check_known_classes(labels)
        self.forest_ = RandomForestClassifier(
            n_estimators=self.n_estimators,
            max_depth=self.max_depth,
            min_samples_leaf=self.min_samples_leaf,
            n_jobs=self.n_jobs,
            random_state=self.seed,
        ).fit(X, labels)
        self.classes_ = self.forest_.classes_ if self.n_classes is None else np.arange(self.n_classes)
        self.heads_ = (self.head,)
        return self

    def predict_heads(self, X: Any) -> dict[str, np.ndarray]:
        """Log-probabilities per class: used as logits, their softmax gives back the probabilities."""
        self._check_fitted()
        probabilities = self.forest_.predict_proba(validate_data(self, _flat(X), reset=False))
        if self.n_classes is not None:  # columns of the data's classes, not just of those the forest saw
            everything = np.zeros((len(probabilities), self.n_classes))
            everything[:, self.forest_.classes_.astype(int)] = probabilities
            probabilities = everything
        return {self.head: log_probabilities(probabilities)}

    def _check_known_classes(self, labels: Any) -> None:
        """With ``n_classes`` the labels must be class indices: anything else has no output column."""
        if self.n_classes is None:
            return
        seen = np.unique(np.asarray(labels))
        integral = np.issubdtype(seen.dtype, np.integer) or (
            np.issubdtype(seen.dtype, np.floating) and bool(np.all(seen == np.round(seen)))
        )
        if not integral or seen.size == 0 or seen.min() < 0 or seen.max() >= self.n_classes:
            raise ValueError(
                f"random_forest.fit: with n_classes={self.n_classes} the labels of head {self.head!r} must be "
                f"class indices 0 .. {self.n_classes - 1}; got {seen.tolist()}"
            )
