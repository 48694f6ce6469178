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
    # logits x_i ~ N(d_i y, 1): the likelihood ratio d_1 x_1 + d_2 x_2 has the AUC Phi(sqrt(d_1^2 + d_2^2) / sqrt 2),
    # 0.928 here; the unweighted sum x_1 + x_2 only Phi((d_1 + d_2) / 2), 0.894: the weights must be learnt
    labels, first, second = _gaussian_scores(20_000, (0.5, 2.0))
    fused = fused_scores(first, second, labels)
    optimum = norm.cdf(np.hypot(0.5, 2.0) / np.sqrt(2.0))
    assert roc_auc_score(labels, second) == pytest.approx(norm.cdf(2.0 / np.sqrt(2.0)), abs=0.01)
    assert roc_auc_score(labels, fused["linear"]) == pytest.approx(optimum, abs=0.008)
    assert roc_auc_score(labels, fused["any"]) == pytest.approx(optimum, abs=0.012)


def test_fused_scores_are_out_of_fold() -> None:
    """On scores that carry nothing, a combiner scored on the events it was fitted on would find structure (trees:
    AUC 0.56 on 20k events); out of fold it finds none."""
    labels, first, second = _gaussian_scores(20_000, (0.0, 0.0), seed=1)
    for name, scores in fused_scores(first, second, labels).items():
        assert abs(roc_auc_score(labels, scores) - 0.5) < 0.02, name


def _predictions(labels: np.ndarray, score: np.ndarray, events: np.ndarray) -> dict:
    """Two repeats' test-split tables of one model (the same events in both, for brevity)."""
    table = {"label": labels, "score": score, "event": events, "file_index": np.zeros_like(events)}
    return {"seed1": table, "seed2": table}


def test_models_must_share_their_test_events() -> None:
    labels, first, second = _gaussian_scores(400, (1.0, 1.0))
    events = np.arange(400)
    repeats, aucs = fusion_aucs({"constituents": _predictions(labels, first, events), "objects": _predictions(labels, second, events)})
    assert repeats == ["seed1", "seed2"] and set(aucs) == {"constituents", "objects", "linear", "any"}
    assert all(len(values) == 2 for values in aucs.values())
    with pytest.raises(ValueError, match="seed1: objects was tested on other events than constituents"):
        fusion_aucs({"constituents": _predictions(labels, first, events), "objects": _predictions(labels, second, events + 1)})
    with pytest.raises(ValueError, match=r"share 1 completed repeat\(s\) \(seed1\): a spread needs 2"):
        fusion_aucs({"constituents": _predictions(labels, first, events),
                     "objects": {"seed1": _predictions(labels, second, events)["seed1"]}})
