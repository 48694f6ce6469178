"""Dispersion over training seeds: how robust is a model to its random initialisation?

gamma-PhysNet (Jacquemont et al.) trains each model several times with different seeds and reports
the mean and standard deviation of each metric per energy bin; a smaller standard deviation at equal
mean means a more robust model. Standard deviations use ``ddof=1`` (sample estimate over runs).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats


@dataclass(frozen=True)
class SeedDispersion:
    """Per-bin mean, standard deviation (ddof=1) and number of runs with a finite value."""

    mean: np.ndarray
    std: np.ndarray
    n_runs: np.ndarray


def _runs_matrix(values: Any, name: str) -> np.ndarray:
    matrix = np.asarray(values, dtype=float)
    if matrix.ndim == 1:
        matrix = matrix[:, None]
    if matrix.ndim != 2 or matrix.shape[0] == 0:
        raise ValueError(f"{name} must have shape (n_runs, n_bins) with n_runs >= 1, got {matrix.shape}")
    return matrix


def mean_std_over_runs(values: Any) -> SeedDispersion:
    """Mean and std over runs (axis 0) of ``values`` shaped (n_runs, n_bins), over the finite values only.

    A bin with no finite value has NaN mean; with fewer than two, NaN std. (An infinite value, a resolution
    of a bin without events say, is left out like a NaN rather than making the bin's mean infinite.)
    """
    matrix = _runs_matrix(values, "values")
    matrix = np.where(np.isfinite(matrix), matrix, np.nan)
    n = np.sum(np.isfinite(matrix), axis=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN bins: NaN is the intended answer
        mean = np.nanmean(matrix, axis=0)
        std = np.where(n >= 2, np.nanstd(matrix, axis=0, ddof=1), np.nan)
    return SeedDispersion(mean=mean, std=std, n_runs=n)


def mean_roc(curves: Sequence[tuple[Any, Any]], n_points: int = 101) -> tuple[np.ndarray, SeedDispersion] | None:
    """Vertical average of ROC curves ``(fpr, tpr)``: their true positive rates interpolated at ``n_points``
    evenly spaced false positive rates from 0 to 1, and the mean and std (ddof=1) over the curves there.

    ``None`` when no curve has two points (a run whose test set held one class).
    """
    kept = [(np.asarray(fpr, float), np.asarray(tpr, float)) for fpr, tpr in curves if len(fpr) > 1]
    if not kept:
        return None
    grid = np.linspace(0.0, 1.0, n_points)
    return grid, mean_std_over_runs([np.interp(grid, fpr, tpr) for fpr, tpr in kept])


@dataclass(frozen=True)
class DispersionComparison:
    """Model A vs model B: per-bin std ratio, ratio of mean std, and a test of equal dispersion.

    ``p_value`` is the Brown-Forsythe test (Levene's test centred on medians, robust to non-normal
    metrics) on the deviations of each run from its bin's median over runs, pooled over bins;
    ``p_value_per_bin`` the same test bin by bin (NaN where a model has fewer than three runs).
    """

    std_ratio: np.ndarray
    mean_std_ratio: float
    p_value: float
    p_value_per_bin: np.ndarray


def _finite(values: np.ndarray) -> np.ndarray:
    return values[np.isfinite(values)]


def _from_median(values: np.ndarray) -> np.ndarray:
    return values - np.median(values)


def _brown_forsythe(a: np.ndarray, b: np.ndarray) -> float:
    """Brown-Forsythe p-value; NaN when the test has nothing to measure: fewer than three values in a group
    (with two, both lie equally far from their median, so the spread within groups is 0 and p is 0 whatever
    the data), or no spread within the groups at all."""
    if a.size < 3 or b.size < 3:
        return np.nan
    spread_a, spread_b = np.abs(_from_median(a)), np.abs(_from_median(b))
    if not (spread_a - spread_a.mean()).any() and not (spread_b - spread_b.mean()).any():
        return np.nan
    return float(stats.levene(a, b, center="median").pvalue)


def compare_dispersions(runs_a: Any, runs_b: Any) -> DispersionComparison:
    """Compare the seed dispersion of two models, each given as (n_runs, n_bins) on the same bins.

    ``std_ratio = std_A / std_B`` per bin; ``mean_std_ratio`` the ratio of the per-bin std averaged
    over bins where both are finite. Values < 1 mean model A is the more robust.
    """
    a, b = _runs_matrix(runs_a, "runs_a"), _runs_matrix(runs_b, "runs_b")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"both models need the same bins, got {a.shape[1]} and {b.shape[1]}")
    std_a, std_b = mean_std_over_runs(a).std, mean_std_over_runs(b).std
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = std_a / std_b
    both = np.flatnonzero(np.isfinite(std_a) & np.isfinite(std_b))
    mean_ratio = np.nan
    if both.size and np.mean(std_b[both]) > 0:
        mean_ratio = float(np.mean(std_a[both]) / np.mean(std_b[both]))
    per_bin = np.array([_brown_forsythe(_finite(a[:, i]), _finite(b[:, i])) for i in range(a.shape[1])])
    pooled_a = np.concatenate([_from_median(_finite(a[:, i])) for i in both]) if both.size else np.empty(0)
    pooled_b = np.concatenate([_from_median(_finite(b[:, i])) for i in both]) if both.size else np.empty(0)
    return DispersionComparison(
        std_ratio=ratio,
        mean_std_ratio=mean_ratio,
        p_value=_brown_forsythe(pooled_a, pooled_b),
        p_value_per_bin=per_bin,
    )
