"""Statistics of explanation maps over the seeds of a sweep: per-pixel mean and standard deviation.

gamma-PhysNet compares how *stable* the explanations of a model are over trainings that differ only
by their seed: for one event, the Grad-CAM (or attention) map of each seed's network, then the mean
and standard deviation per pixel. Same convention as the metric dispersion of sweeps
(:func:`showerlearn.metrics.aggregate.mean_std_over_runs`): sample standard deviation (``ddof=1``),
NaN-aware, NaN with fewer than two finite values.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from showerlearn.metrics.aggregate import mean_std_over_runs

__all__ = ["SeedStatistics", "seed_statistics", "stack_over_seeds"]


@dataclass(frozen=True)
class SeedStatistics:
    """Per-element mean and standard deviation over seeds, with the shape of one seed's map."""

    mean: np.ndarray
    std: np.ndarray
    n_seeds: int


def seed_statistics(maps: Sequence[np.ndarray] | np.ndarray) -> SeedStatistics:
    """Mean and std (ddof=1) over the first axis of ``maps``: one map (any shape) per seed."""
    stacked = np.asarray(maps, dtype=np.float64)
    if stacked.ndim < 2 or stacked.shape[0] == 0:
        raise ValueError(f"seed_statistics needs maps shaped (n_seeds, ...) with n_seeds >= 1, got {stacked.shape}")
    stats = mean_std_over_runs(stacked.reshape(stacked.shape[0], -1))
    shape = stacked.shape[1:]
    return SeedStatistics(stats.mean.reshape(shape), stats.std.reshape(shape), stacked.shape[0])


def stack_over_seeds(per_seed: Sequence[Mapping[str, np.ndarray]]) -> dict[str, SeedStatistics]:
    """Statistics of every map name present in all seeds: ``[{name: map}, ...] -> {name: stats}``."""
    if not per_seed:
        raise ValueError("stack_over_seeds needs the maps of at least one seed")
    names = [name for name in per_seed[0] if all(name in seed for seed in per_seed[1:])]
    return {name: seed_statistics([seed[name] for seed in per_seed]) for name in names}
