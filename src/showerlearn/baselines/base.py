"""What the scikit-learn baselines share: one estimator with scikit-learn's interface and the engine's.

The engine trains every estimator as ``fit(inputs, targets, masks)`` with ``targets`` and ``masks``
mappings head -> array, and reads ``predict(inputs)`` back as a mapping head -> encoded outputs, which
the DataModule decodes like a network's (classification heads: logits, here log-probabilities).
scikit-learn (``Pipeline``, ``GridSearchCV``, ``clone``) calls ``fit(X, y)`` with ``y`` the class labels
and expects labels from ``predict``. :class:`MultiHeadClassifier` tells the two apart by what ``fit``
receives, and ``predict`` answers in the same form: a mapping in, a mapping out; labels in, labels out.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import NotFittedError as SklearnNotFittedError

from showerlearn.config.errors import suggestion

__all__ = ["MultiHeadClassifier", "NotFittedError", "log_probabilities", "unknown_arguments"]

# smallest probability written as a log-probability: the softmax of the output gives back p down to 1e-30
_TINY = 1e-30


class NotFittedError(SklearnNotFittedError, RuntimeError):
    """``predict`` before ``fit``: scikit-learn's error, and the RuntimeError the engine's estimators raise."""


def log_probabilities(probabilities: np.ndarray) -> np.ndarray:
    """Class probabilities as log-probabilities: logits whose softmax gives them back."""
    return np.log(np.clip(probabilities, _TINY, 1.0))


def unknown_arguments(arguments: Mapping[str, Any] | None, estimator: type[BaseEstimator], path: str) -> list[str]:
    """One line per key of ``arguments`` (for ``estimator``, a scikit-learn class built by ``fit``) that the
    class does not take, named at ``path``: scikit-learn itself would refuse it only in ``fit``, after the
    data is read. The keys it takes are those of its own ``get_params``."""
    known = sorted(estimator().get_params(deep=False))
    return [
        f"{path}.{key}: unknown key{suggestion(str(key), known)}; allowed keys here ({estimator.__name__} "
        f"arguments): {', '.join(known)}"
        for key in arguments or {}
        if key not in known
    ]


class MultiHeadClassifier(ClassifierMixin, BaseEstimator):
    """A scikit-learn classifier whose ``fit`` also takes the engine's targets per head.

    Subclasses name the head that a plain ``y`` is the target of (``label_head``), implement ``fit``
    (turning ``y`` into targets per head with :meth:`_targets_per_head`, and setting ``classes_`` and
    ``heads_``) and :meth:`predict_heads`; ``predict`` and ``predict_proba`` follow from those.
    """

    label_head: str

    def _targets_per_head(
        self, y: Any, masks: Mapping[str, np.ndarray] | None
    ) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """``(targets, masks)`` per head from what ``fit`` received; records which form that was."""
        self.multi_head_ = isinstance(y, Mapping)
        if self.multi_head_:
            return dict(y), dict(masks or {})
        if masks is not None:
            raise TypeError("masks go with targets per head (a mapping); with labels y, select the rows of X and y instead")
        return {self.label_head: y}, {}

    def __sklearn_is_fitted__(self) -> bool:
        # heads_ is set last by fit: an interrupted fit leaves other fitted attributes, not this one
        return hasattr(self, "heads_")

    def _check_fitted(self) -> None:
        if not self.__sklearn_is_fitted__():
            raise NotFittedError(f"{type(self).__name__}.predict called before fit")

    def predict_heads(self, X: Any) -> dict[str, np.ndarray]:
        """Encoded outputs per trained head (the engine's form), whatever ``fit`` received."""
        raise NotImplementedError

    def predict_proba(self, X: Any) -> np.ndarray:
        """Probabilities of ``classes_`` (n, n_classes) from the ``label_head`` output."""
        self._check_fitted()
        return np.exp(self.predict_heads(X)[self.label_head])

    def predict(self, X: Any) -> np.ndarray | dict[str, np.ndarray]:
        """In the form ``fit`` received: outputs per head after targets per head, else class labels."""
        self._check_fitted()
        outputs = self.predict_heads(X)
        if self.multi_head_:
            return outputs
        return self.classes_[np.argmax(outputs[self.label_head], axis=1)]
