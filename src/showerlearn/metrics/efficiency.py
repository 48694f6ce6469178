"""Confidence intervals of efficiencies (k of n events passed), vectorised over bins.

An efficiency's error bar must not be the normal approximation ``sqrt(p (1 - p) / n)``: it shrinks to zero at
p = 0 and p = 1 (3 of 3 passed would read 1 ± 0) and can leave [0, 1]. The Wilson score interval (Wilson,
JASA 22 (1927) 209) does neither and covers close to its level down to a few events. It is scipy's
``binomtest(k, n).proportion_ci(confidence_level, method="wilson")``, which takes one bin at a time.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import ndtri

from showerlearn.metrics.resolution import ONE_SIGMA_CONTAINMENT

__all__ = ["binomial_interval"]


def binomial_interval(passed: Any, total: Any, confidence_level: float = ONE_SIGMA_CONTAINMENT
                      ) -> tuple[np.ndarray, np.ndarray]:
    """``(low, high)``: the two-sided Wilson score interval of the efficiency ``passed / total``, element by
    element (one sigma, 68.27 %, by default); NaN where ``total`` is 0."""
    k, n = np.asarray(passed, dtype=float), np.asarray(total, dtype=float)
    if not 0.0 < confidence_level < 1.0:
        raise ValueError(f"confidence_level must be in (0, 1), got {confidence_level}")
    if np.any((k < 0) | (k > n)):
        raise ValueError("passed must be between 0 and total in every bin")
    z2 = ndtri(0.5 + 0.5 * confidence_level) ** 2
    with np.errstate(divide="ignore", invalid="ignore"):  # empty bins: NaN, set below
        centre = (k + z2 / 2) / (n + z2)
        half_width = np.sqrt(z2 * (k * (n - k) / n + z2 / 4)) / (n + z2)
    # the bounds at k = 0 and k = n are 0 and 1 exactly (as scipy's), not 1e-17 off by rounding
    low = np.where(k == 0, 0.0, centre - half_width)
    high = np.where(k == n, 1.0, centre + half_width)
    empty = n == 0
    return np.where(empty, np.nan, low), np.where(empty, np.nan, high)
