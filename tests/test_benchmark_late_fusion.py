"""benchmarks/collider_late_fusion.py: two independent Gaussian scores fused as the likelihood ratio says
(analytic AUC), and predictions of other events refused."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.special import expit
from scipy.stats import norm
from sklearn.metrics import roc_auc_score

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from collider_late_fusion import fusion_aucs, fused_scores  # noqa: E402  (benchmarks/ is not a package)


def _gaussian_scores(n: int, separations: tuple[float, float], seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Labels and two scores whose logits are unit Gaussians shifted by ``separation`` for the signal."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n)
    first, second = (expit(d * labels + rng.normal(size=n)) for d in separations)
    return labels, first, second


def test_fusing_two_independent_scores_reaches_the_likelihood_ratio_auc() -> None:
    # logits x_i ~ N(d_i y, 1): the likelihood ratio is linear in (x_1, x_2), its AUC Phi(sqrt(d_1^2 + d_2^2) / sqrt 2)
    labels, first, second = _gaussian_scores(20_000, (1.0, 1.5))
    fused = fused_scores(first, second, labels)
    optimum = norm.cdf(np.hypot(1.0, 1.5) / np.sqrt(2.0))
    assert roc_auc_score(labels, first) == pytest.approx(norm.cdf(1.0 / np.sqrt(2.0)), abs=0.01)
    assert roc_auc_score(labels, fused["linear"]) == pytest.approx(optimum, abs=0.01)
    assert roc_auc_score(labels, fused["any"]) == pytest.approx(optimum, abs=0.015)


def _predictions(labels: np.ndarray, score: np.ndarray, events: np.ndarray) -> dict:
    return {"seed1": {"label": labels, "score": score, "event": events, "file_index": np.zeros_like(events)}}


def test_models_must_share_their_test_events() -> None:
    labels, first, second = _gaussian_scores(400, (1.0, 1.0))
    events = np.arange(400)
    aucs = fusion_aucs({"constituents": _predictions(labels, first, events), "objects": _predictions(labels, second, events)})
    assert set(aucs) == {"constituents", "objects", "linear", "any"} and all(len(v) == 1 for v in aucs.values())
    with pytest.raises(ValueError, match="seed1: objects was tested on other events than constituents"):
        fusion_aucs({"constituents": _predictions(labels, first, events), "objects": _predictions(labels, second, events + 1)})
