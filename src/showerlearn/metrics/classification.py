"""Gamma/hadron separation: ROC, AUC, precision/recall at a cut, AUC per energy bin, efficiencies.

Conventions: labels are 0/1 with 1 the positive class (the signal: a family names its own, e.g. the IACT
gamma in ``showerlearn.iact.particles``); an event is classified positive when ``score >= cut`` (scikit-learn's ROC thresholds use the same ``>=``). Undefined
values (no positive event, one class only, no event above the cut) are NaN, never an exception.
scikit-learn is the reference implementation and does the work.

Multi-class classifiers (labels: class indices ``0..C-1``, scores: one column per class): one-vs-rest
AUC and ROC of each class with their macro mean, and the confusion matrix.
"""

from __future__ import annotations

import math

from dataclasses import dataclass
from typing import Any

import astropy.units as u
import numpy as np
from sklearn import metrics as skm

from showerlearn.metrics.binning import as_edges, bin_indices, quantity_values

def _labels_scores(labels: Any, scores: Any) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(labels)
    s = np.asarray(scores, dtype=float)
    if y.ndim != 1 or y.shape != s.shape:
        raise ValueError(f"labels and scores must be 1-d of equal length, got {y.shape} and {s.shape}")
    if not np.isin(y, (0, 1)).all():
        raise ValueError(f"labels must be 0/1 (1 = positive/gamma), got values {np.unique(y)[:10].tolist()}")
    if np.isnan(s).any():
        raise ValueError(f"scores contain {int(np.isnan(s).sum())} NaN values")
    return y.astype(np.int8), s


def _both_classes(y: np.ndarray) -> bool:
    return bool(y.any() and not y.all())


@dataclass(frozen=True)
class RocCurve:
    """False/true positive rates at decreasing score thresholds (scikit-learn's ``roc_curve``)."""

    fpr: np.ndarray
    tpr: np.ndarray
    thresholds: np.ndarray


def roc_curve(labels: Any, scores: Any) -> RocCurve:
    """ROC curve; empty arrays when one class is missing (the curve is undefined)."""
    y, s = _labels_scores(labels, scores)
    if not _both_classes(y):
        empty = np.empty(0)
        return RocCurve(empty, empty, empty)
    fpr, tpr, thresholds = skm.roc_curve(y, s, drop_intermediate=True)
    return RocCurve(fpr, tpr, thresholds)


def auc(labels: Any, scores: Any) -> float:
    """Area under the ROC curve (scikit-learn ``roc_auc_score``); NaN with a single class."""
    y, s = _labels_scores(labels, scores)
    return float(skm.roc_auc_score(y, s)) if _both_classes(y) else np.nan


@dataclass(frozen=True)
class CutPerformance:
    """Confusion-matrix summaries at one score cut (positive = gamma)."""

    cut: float
    precision: float
    recall: float
    """Gamma efficiency: fraction of gammas kept."""
    background_efficiency: float
    """Fraction of background (protons) kept."""

    @property
    def background_rejection(self) -> float:
        """Fraction of background removed (``1 - background_efficiency``)."""
        return 1.0 - self.background_efficiency


def performance_at_cut(labels: Any, scores: Any, cut: float) -> CutPerformance:
    """Precision, recall (gamma efficiency) and background efficiency for ``score >= cut``."""
    y, s = _labels_scores(labels, scores)
    predicted = (s >= cut).astype(np.int8)
    n_pos, n_neg = int(y.sum()), int(y.size - y.sum())
    return CutPerformance(
        cut=float(cut),
        precision=float(skm.precision_score(y, predicted)) if predicted.any() else np.nan,
        recall=float(skm.recall_score(y, predicted)) if n_pos else np.nan,
        background_efficiency=float(np.mean(predicted[y == 0])) if n_neg else np.nan,
    )


def efficiencies_at_cuts(labels: Any, scores: Any, cuts: Any) -> tuple[np.ndarray, np.ndarray]:
    """Gamma efficiency and background rejection at each cut (NaN for a class without events)."""
    y, s = _labels_scores(labels, scores)
    cuts = np.atleast_1d(np.asarray(cuts, dtype=float))
    kept = s[:, None] >= cuts[None, :]
    with np.errstate(invalid="ignore"):
        gamma_eff = kept[y == 1].mean(axis=0) if y.any() else np.full(cuts.shape, np.nan)
        rejection = 1.0 - kept[y == 0].mean(axis=0) if not y.all() else np.full(cuts.shape, np.nan)
    return gamma_eff, rejection


def cut_for_efficiency(scores_of_positives: Any, efficiency: float) -> float:
    """Score cut that keeps the fraction ``efficiency`` of the given (gamma) scores (lstchain's
    ``gh_efficiency`` cut, the ``1 - efficiency`` quantile): the k-th highest score, k the fewest events that
    make up the fraction, so that ``score >= cut`` keeps at least it (more only where scores tie at the cut),
    where an interpolated quantile can keep less; NaN without events. The scores must be finite (a NaN would sort
    above every score and take the place of an event)."""
    if not 0.0 < efficiency <= 1.0:
        raise ValueError(f"efficiency must be in (0, 1], got {efficiency}")
    s = np.asarray(scores_of_positives, dtype=float)
    if not np.isfinite(s).all():
        raise ValueError(f"cut_for_efficiency: {int(np.sum(~np.isfinite(s)))} of {s.size} scores are not finite")
    s = np.sort(s)[::-1]
    if not s.size:
        return np.nan
    # rounded first: 0.3 x 10 is 3.0000000000000004 in floating point, which must not take a fourth event
    k = max(1, math.ceil(round(efficiency * s.size, 9)))
    return float(s[k - 1])


def auc_per_energy_bin(
    labels: Any,
    scores: Any,
    energy: Any,
    energy_edges: Any,
    *,
    background: str = "in_bin",
) -> tuple[np.ndarray, np.ndarray]:
    """AUC per energy bin and the number of gammas in each bin.

    ``background="in_bin"``: gammas and protons of the same bin (bin in reconstructed energy: the
    true energy of a proton is not comparable to a gamma's). ``background="all"``: the gammas of the
    bin against every background event (ctaplot's ``roc_auc_per_energy``, which bins gammas in true
    energy; unlike ctaplot, an AUC below 0.5 is kept as is rather than flipped to ``1 - AUC``).
    NaN where a bin lacks one of the classes.
    """
    if background not in ("in_bin", "all"):
        raise ValueError(f"background must be 'in_bin' or 'all', got {background!r}")
    y, s = _labels_scores(labels, scores)
    energy = quantity_values(energy, u.TeV, "energy")
    if energy.shape != y.shape:
        raise ValueError(f"energy must match labels in shape, got {energy.shape} and {y.shape}")
    edges = as_edges(quantity_values(energy_edges, u.TeV, "energy_edges"), "energy_edges")
    index = bin_indices(energy, edges)
    values = np.full(len(edges) - 1, np.nan)
    n_gamma = np.zeros(len(edges) - 1, dtype=int)
    for i in range(len(edges) - 1):
        in_bin = index == i
        mask = in_bin if background == "in_bin" else (in_bin & (y == 1)) | (y == 0)
        n_gamma[i] = int(np.count_nonzero(in_bin & (y == 1)))
        if _both_classes(y[mask]):
            values[i] = skm.roc_auc_score(y[mask], s[mask])
    return values, n_gamma


def _class_indices(values: Any, n_classes: int, what: str) -> np.ndarray:
    """1-d integer class indices in ``[0, n_classes)``, checked."""
    v = np.asarray(values)
    if v.ndim != 1 or (v.size and (not np.issubdtype(v.dtype, np.integer) or v.min() < 0 or v.max() >= n_classes)):
        raise ValueError(f"{what} must be 1-d class indices in [0, {n_classes}), got {v.shape} {np.unique(v)[:10].tolist()}")
    return v.astype(np.int64)


def _class_labels_scores(labels: Any, scores: Any) -> tuple[np.ndarray, np.ndarray]:
    """Class indices ``(n,)`` and per-class scores ``(n, C)``, checked."""
    s = np.asarray(scores, dtype=float)
    if s.ndim != 2 or np.shape(labels) != s.shape[:1]:
        raise ValueError(f"labels must be (n,) and scores (n, n_classes), got {np.shape(labels)} and {s.shape}")
    if np.isnan(s).any():
        raise ValueError(f"scores contain {int(np.isnan(s).sum())} NaN values")
    return _class_indices(labels, s.shape[1], "labels"), s


def one_vs_rest_auc(labels: Any, scores: Any) -> tuple[np.ndarray, float]:
    """AUC of each class against all others (its score column ``scores[:, k]``) and their macro mean
    (scikit-learn's ``roc_auc_score(multi_class="ovr")``); a class absent from, or alone in, the labels
    has NaN and stays out of the mean (NaN when no class has an AUC)."""
    y, s = _class_labels_scores(labels, scores)
    per_class = np.array([auc((y == k).astype(np.int8), s[:, k]) for k in range(s.shape[1])])
    defined = per_class[np.isfinite(per_class)]
    return per_class, float(defined.mean()) if defined.size else np.nan


def one_vs_rest_roc(labels: Any, scores: Any) -> list[RocCurve]:
    """The ROC curve of each class against all others (empty where the curve is undefined)."""
    y, s = _class_labels_scores(labels, scores)
    return [roc_curve((y == k).astype(np.int8), s[:, k]) for k in range(s.shape[1])]


def confusion_matrix(labels: Any, predicted: Any, n_classes: int) -> np.ndarray:
    """Counts ``(n_classes, n_classes)``: row = true class, column = predicted class (scikit-learn's
    ``confusion_matrix`` with every class listed, present or not)."""
    y, p = _class_indices(labels, n_classes, "labels"), _class_indices(predicted, n_classes, "predictions")
    if y.shape != p.shape:
        raise ValueError(f"labels and predictions differ in length: {y.size} and {p.size}")
    return np.bincount(y * n_classes + p, minlength=n_classes * n_classes).reshape(n_classes, n_classes)
