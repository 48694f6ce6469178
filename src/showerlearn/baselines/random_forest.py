"""A random-forest classifier for feature tables, in the engine's estimator interface."""

from __future__ import annotations

import numpy as np
from sklearn.ensemble import RandomForestClassifier

from showerlearn.registry import ESTIMATORS


@ESTIMATORS.register("random_forest")
class RandomForest:
    """scikit-learn random forest on flat features for one classification head (default ``label``)."""

    def __init__(
        self,
        head: str = "label",
        n_estimators: int = 100,
        max_depth: int | None = None,
        min_samples_leaf: int = 1,
        n_jobs: int = 1,
        seed: int = 0,
    ) -> None:
        self.head = head
        self.forest = RandomForestClassifier(
            n_estimators=n_estimators, max_depth=max_depth, min_samples_leaf=min_samples_leaf,
            n_jobs=n_jobs, random_state=seed,
        )

    def fit(self, inputs: np.ndarray, targets: dict[str, np.ndarray], masks: dict[str, np.ndarray] | None = None) -> "RandomForest":
        self.forest.fit(inputs.reshape(len(inputs), -1), targets[self.head])
        return self

    def predict(self, inputs: np.ndarray) -> dict[str, np.ndarray]:
        """Log-probabilities per class: used as logits, their softmax gives back the probabilities."""
        probabilities = self.forest.predict_proba(inputs.reshape(len(inputs), -1))
        return {self.head: np.log(np.clip(probabilities, 1e-12, None))}
