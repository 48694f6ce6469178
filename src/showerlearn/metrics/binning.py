"""Binned statistics with bootstrap confidence intervals: the building block of every IRF-style curve.

Binning convention (the one of pyirf's ``calculate_bin_indices``): bin ``i`` holds ``edges[i] <= x <
edges[i + 1]``; values outside the edges, and NaN, fall in no bin. Empty bins give NaN, never 0.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import astropy.units as u
import numpy as np

#: Statistic of one 1-d sample (e.g. a containment radius); applied along ``axis`` for bootstrap.
Statistic = Callable[..., Any]

# bootstrap resamples are drawn in chunks so a 10^5-event bin never allocates more than ~32 MB at once
_BOOTSTRAP_CHUNK_ELEMENTS = 4_000_000


@dataclass(frozen=True)
class BinnedCurve:
    """A statistic per bin of some variable, with its confidence interval and event counts.

    ``value``, ``ci_low``, ``ci_high`` are NaN in empty bins; ``edges`` has one more entry than them.
    """

    edges: np.ndarray
    value: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    n_events: np.ndarray


def bin_centers(edges: np.ndarray) -> np.ndarray:
    """Geometric bin centres (energy bins are logarithmic); arithmetic if an edge is <= 0."""
    edges = np.asarray(edges, dtype=float)
    if np.all(edges > 0):
        return np.sqrt(edges[:-1] * edges[1:])
    return 0.5 * (edges[:-1] + edges[1:])


def quantity_values(x: Any, unit: u.UnitBase, name: str) -> np.ndarray:
    """Float array (at least 1-d) in ``unit``: a Quantity is converted, a plain array is taken as ``unit``."""
    try:
        return np.atleast_1d(u.Quantity(x, unit).to_value(unit)).astype(float)
    except u.UnitConversionError as error:
        raise ValueError(f"{name}: expected a quantity convertible to {unit}: {error}") from None


def as_edges(edges: Any, name: str = "bin edges") -> np.ndarray:
    """Validate bin edges: 1-d, at least two, strictly increasing."""
    array = np.asarray(edges, dtype=float)
    if array.ndim != 1 or array.size < 2:
        raise ValueError(f"{name} must be a 1-d array of at least 2 edges, got shape {array.shape}")
    if not np.all(np.diff(array) > 0):
        raise ValueError(f"{name} must be strictly increasing, got {array.tolist()}")
    return array


def bin_indices(x: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Bin index of each value (``edges[i] <= x < edges[i+1]``), -1 outside the edges or NaN."""
    index = np.digitize(x, edges) - 1
    index[(index < 0) | (index >= len(edges) - 1) | np.isnan(x)] = -1
    return index


def bin_counts(x: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Number of values in each bin (same convention as ``bin_indices``)."""
    index = bin_indices(np.asarray(x, dtype=float), edges)
    return np.bincount(index[index >= 0], minlength=len(edges) - 1)


def bootstrap_interval(
    sample: np.ndarray,
    statistic: Statistic,
    rng: np.random.Generator,
    n_bootstrap: int,
    confidence_level: float,
) -> tuple[float, float]:
    """Percentile bootstrap interval of ``statistic(sample)``; ``statistic`` must accept ``axis=1``."""
    n = sample.size
    if n == 0 or n_bootstrap == 0:
        return np.nan, np.nan
    per_chunk = max(1, _BOOTSTRAP_CHUNK_ELEMENTS // n)
    replicas = []
    for start in range(0, n_bootstrap, per_chunk):
        size = min(per_chunk, n_bootstrap - start)
        replicas.append(statistic(sample[rng.integers(0, n, size=(size, n))], axis=1))
    tail = 0.5 * (1.0 - confidence_level)
    low, high = np.quantile(np.concatenate(replicas), [tail, 1.0 - tail])
    return float(low), float(high)


def binned_statistic(
    sample: np.ndarray,
    x: np.ndarray,
    edges: Any,
    statistic: Statistic,
    *,
    n_bootstrap: int = 200,
    confidence_level: float = 0.95,
    seed: int | np.random.Generator | None = 0,
) -> BinnedCurve:
    """``statistic`` of ``sample`` in each bin of ``x`` with a bootstrap confidence interval.

    Events whose ``sample`` is NaN are dropped. ``seed`` makes the intervals reproducible; bins draw
    from one generator in order, so a curve is reproducible as a whole.
    """
    edges = as_edges(edges)
    sample = np.asarray(sample, dtype=float)
    x = np.asarray(x, dtype=float)
    if sample.shape != x.shape or sample.ndim != 1:
        raise ValueError(f"sample and binning variable must be 1-d of equal length, got {sample.shape} and {x.shape}")
    if not 0.0 < confidence_level < 1.0:
        raise ValueError(f"confidence_level must be in (0, 1), got {confidence_level}")
    if n_bootstrap < 0:
        raise ValueError(f"n_bootstrap must be >= 0 (0: no interval), got {n_bootstrap}")
    rng = np.random.default_rng(seed)
    index = bin_indices(x, edges)
    index[np.isnan(sample)] = -1
    n_bins = len(edges) - 1
    value, low, high = (np.full(n_bins, np.nan) for _ in range(3))
    counts = np.bincount(index[index >= 0], minlength=n_bins)
    for i in np.flatnonzero(counts):
        in_bin = sample[index == i]
        value[i] = statistic(in_bin)
        low[i], high[i] = bootstrap_interval(in_bin, statistic, rng, n_bootstrap, confidence_level)
    return BinnedCurve(edges=edges, value=value, ci_low=low, ci_high=high, n_events=counts)
