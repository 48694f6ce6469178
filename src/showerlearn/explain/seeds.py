"""Statistics of explanations over the seeds of a sweep: per-element mean and standard deviation of
maps, and the summary of per-event criteria with the markdown table comparing models.

gamma-PhysNet compares how *stable* the explanations of a model are over trainings that differ only
by their seed: for one event, the Grad-CAM (or attention) map of each seed's network, then the mean
and standard deviation per pixel. Criteria of a sweep: each seed's per-event values are averaged over
events, then mean and standard deviation are taken over seeds, as for every other metric of a sweep.
Same convention as the metric dispersion of sweeps (:func:`showerlearn.metrics.aggregate.mean_std_over_runs`):
sample standard deviation (``ddof=1``), NaN-aware, NaN with fewer than two finite values.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from showerlearn.metrics.aggregate import mean_std_over_runs

__all__ = ["SeedStatistics", "criteria_table", "seed_statistics", "stack_over_seeds", "summarise_over_seeds"]


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


def summarise_over_seeds(per_seed: Sequence[Mapping[str, np.ndarray]]) -> dict[str, dict[str, Any]]:
    """``[{criterion: per-event values}, ...]`` (one dict per seed) -> per criterion: mean over events of
    each seed (``values``), then their ``mean``, ``std`` (ddof=1) and ``n_seeds`` with a finite value."""
    if not per_seed:
        raise ValueError("summarise_over_seeds needs the criteria of at least one seed")
    summary = {}
    for name in per_seed[0]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # a seed whose maps are all zero: NaN
            means = np.array([np.nanmean(seed[name]) if np.size(seed[name]) else np.nan for seed in per_seed])
        stats = mean_std_over_runs(means)
        summary[name] = {
            "mean": _json_float(stats.mean[0]),
            "std": _json_float(stats.std[0]),
            "n_seeds": int(stats.n_runs[0]),
            "values": [_json_float(v) for v in means],
        }
    return summary


def _json_float(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def criteria_table(models: Mapping[str, Mapping[str, Mapping[str, Mapping[str, Any]]]]) -> str:
    """Markdown table comparing models: ``{model: {target: {criterion: summary}}}`` -> one row per
    (target, criterion), one column per model with ``mean ± std`` over seeds."""
    names = list(models)
    header = "| target | criterion | " + " | ".join(names) + " |"
    lines = [header, "|" + "---|" * (len(names) + 2)]
    targets = list(dict.fromkeys(t for model in models.values() for t in model))
    for target in targets:
        criteria = list(dict.fromkeys(c for model in models.values() for c in model.get(target, {})))
        for criterion in criteria:
            cells = [_cell(models[name].get(target, {}).get(criterion)) for name in names]
            lines.append(f"| {target} | {criterion} | " + " | ".join(cells) + " |")
    if any("| n/a" in line for line in lines[2:]):  # say why, where a reader would otherwise guess
        lines += ["", "n/a: the model has no such map, or none of the events counted is one the criterion is defined "
                      "on (a regression head's maps count gammas only; a map zero everywhere has no relevant element)."]
    return "\n".join(lines) + "\n"


def _cell(summary: Mapping[str, Any] | None) -> str:
    if not summary or summary.get("mean") is None:
        return "n/a"
    std = summary.get("std")
    spread = f" ± {std:.3f}" if std is not None else ""
    n = summary['n_seeds']
    return f"{summary['mean']:.3f}{spread} ({n} seed{'' if n == 1 else 's'})"
