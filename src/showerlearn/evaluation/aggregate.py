"""Aggregation over runs (seeds of a sweep): mean and std of every scalar and per-bin curve.

``aggregate_runs`` output (JSON-ready, missing values ``null``)::

    {"n_runs": N, "evaluator": NAME, "caption": "..." (when every run's is the same),
     "scalars": {"auc": {"mean", "std", "n_runs", "values": [...]}, ...},
     "curves": {"angular_resolution_vs_true_energy": {"x", "x_unit", "unit", "edges", "mean", "std", "n_runs",
                                                      "n_events"}, ...},
     "roc": {"fpr", "tpr", "std", "n_runs"} (of classifiers: the runs' ROCs averaged vertically),
     "limits": {name: "lower" | "upper"} (the scalars whose mean is a limit: one run or more has them as one)}

``n_events`` is the mean number of events per bin over the runs with a value there (the same in each, for a
fixed test set).

``std`` is the sample standard deviation (ddof=1) over the runs with a finite value: the seed
dispersion gamma-PhysNet uses to compare the robustness of models.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from showerlearn.evaluation.curves import as_array, json_float, json_list, save_curve_figures, seeds_band
from showerlearn.metrics.limits import SCALAR_LIMITS, scalar_limits
from showerlearn.family import BoardStyle
from showerlearn.metrics.aggregate import compare_dispersions, mean_roc, mean_std_over_runs
from showerlearn.viz.classification import RocSeries, roc_figure
from showerlearn.viz.figures import FIGURE_FORMATS, save_figure
from showerlearn.viz.resolution import ReferenceCurve


def _scalar(value: Any) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else np.nan


def _scalar_matrix(metrics_list: Sequence[Mapping[str, Any]], name: str) -> np.ndarray:
    return np.array([[_scalar(m.get("scalars", {}).get(name))] for m in metrics_list])


def _records(metrics_list: Sequence[Mapping[str, Any]], name: str) -> list[Mapping[str, Any]]:
    """The records of curve ``name`` of the runs that have it, checked to share their bin edges."""
    records = [m["curves"][name] for m in metrics_list if name in m.get("curves", {})]
    first = records[0]
    for record in records[1:]:
        if not same_edges(record["edges"], first["edges"]):
            raise ValueError(f"curve {name!r} has different bin edges in different runs: cannot aggregate")
    return records


def same_edges(a: Sequence[float | None], b: Sequence[float | None]) -> bool:
    """Whether two curves have the same bin edges. An open end (an infinite edge) is ``null`` once
    written to JSON, so None, NaN and infinities all count as the same (unknown) edge."""
    edges_a, edges_b = (np.asarray(as_array(edges)) for edges in (a, b))
    if edges_a.shape != edges_b.shape:
        return False
    edges_a[~np.isfinite(edges_a)], edges_b[~np.isfinite(edges_b)] = np.nan, np.nan
    return bool(np.allclose(edges_a, edges_b, equal_nan=True))


def _curve_matrix(metrics_list: Sequence[Mapping[str, Any]], name: str) -> tuple[Mapping[str, Any], np.ndarray]:
    """The first record of curve ``name`` and a (n_runs_having_it, n_bins) matrix of its values."""
    records = _records(metrics_list, name)
    return records[0], np.array([as_array(record["value"]) for record in records])


def _mean_events(records: Sequence[Mapping[str, Any]], values: np.ndarray) -> list[int] | None:
    """Mean events per bin over the records that count them (None when none does), in each bin over the runs with a
    value there (``values``, one row per record), as the mean value is: a bin one seed of two fills with 125 events
    is a value of 125 events, not of 62. A bin no run has a value in: the mean over all of them."""
    if (counted := _counts(records, values)) is None:
        return None
    counts, valued = counted
    behind = np.where(valued.any(axis=0), np.sum(counts * valued, axis=0) / np.maximum(valued.sum(axis=0), 1),
                      counts.mean(axis=0))
    return np.rint(behind).astype(int).tolist()


def _runs_counting_none(records: Sequence[Mapping[str, Any]], values: np.ndarray) -> list[int] | None:
    """Per bin, the runs with a value there whose count is 0 (None when no record counts): a value behind which
    a run counted nothing may be a one-sided limit (a rejection where the cut keeps no background event), and so
    is a mean over it, however the mean count rounds."""
    if (counted := _counts(records, values)) is None:
        return None
    counts, valued = counted
    return np.sum((counts == 0) & valued, axis=0).astype(int).tolist()


def _counts(records: Sequence[Mapping[str, Any]], values: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """The per-bin counts of the records that count (one row each) and where those records have a value
    (``values``: one row per record); None when no record counts."""
    counted = [k for k, record in enumerate(records) if record.get("n_events") is not None]
    if not counted:
        return None
    return np.array([records[k]["n_events"] for k in counted], dtype=float), np.isfinite(values[counted])


def _names(metrics_list: Sequence[Mapping[str, Any]], key: str) -> list[str]:
    return sorted({name for m in metrics_list for name in m.get(key, {})})


def aggregate_runs(metrics_list: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Mean/std over runs of every scalar and every per-bin curve of their metrics dicts."""
    if not metrics_list:
        raise ValueError("aggregate_runs needs at least one run's metrics")
    evaluators = {m.get("evaluator") for m in metrics_list}
    if len(evaluators) > 1:
        raise ValueError(f"cannot aggregate runs of different evaluators: {sorted(map(str, evaluators))}")
    scalars = {}
    limits: dict[str, str] = {}
    for name in _names(metrics_list, "scalars"):
        matrix = _scalar_matrix(metrics_list, name)
        stats = mean_std_over_runs(matrix)
        # a mean with limits of one side among its values is a limit of that side (of both sides: no bound at all)
        if len(sides := {side for m in metrics_list if (side := scalar_limits(m).get(name)) is not None}) == 1:
            limits[name] = sides.pop()
        scalars[name] = {
            "mean": json_float(stats.mean[0]),
            "std": json_float(stats.std[0]),
            "n_runs": int(stats.n_runs[0]),
            "values": json_list(matrix[:, 0]),
        }
    curves = {}
    for name in _names(metrics_list, "curves"):
        first, matrix = _curve_matrix(metrics_list, name)
        stats = mean_std_over_runs(matrix)
        # from any run: metrics.json files written before records had bounds have none
        bounds = next((record["bounds"] for record in _records(metrics_list, name) if "bounds" in record), None)
        curves[name] = ({"bounds": bounds} if bounds is not None else {}) | {
            "x": first["x"],
            "x_unit": first["x_unit"],
            "unit": first["unit"],
            "edges": list(first["edges"]),
            "mean": json_list(stats.mean),
            "std": json_list(stats.std),
            "n_runs": stats.n_runs.tolist(),
            "n_events": _mean_events(_records(metrics_list, name), matrix),
            "n_runs_counting_none": _runs_counting_none(_records(metrics_list, name), matrix),
        }
    aggregate = {"evaluator": evaluators.pop(), "n_runs": len(metrics_list), "scalars": scalars, "curves": curves}
    if limits:
        aggregate[SCALAR_LIMITS] = limits
    if roc := _mean_roc(metrics_list):
        aggregate["roc"] = roc
    if caption := common_caption([m.get("caption") for m in metrics_list]):
        aggregate["caption"] = caption
    return aggregate


def common_caption(captions: Sequence[str | None]) -> str | None:
    """The caption runs share: the same text, or the same but for the seed of their simulated events (the seeds of a
    sweep each simulating their own: ``... (2000 events, seeds 1, 2, 3)``); None where their data differ otherwise."""
    if not captions or not all(captions):
        return None
    if len(set(captions)) == 1:
        return captions[0]
    shapes = {re.sub(r"\bseed \d+", "seed #", caption) for caption in captions}
    if len(shapes) != 1:
        return None
    seeds = list(dict.fromkeys(re.findall(r"\bseed (\d+)", caption)[0] for caption in captions if "seed " in caption))
    shape = shapes.pop()
    return shape.replace("seed #", f"seed{'s' if len(seeds) > 1 else ''} {', '.join(seeds)}", 1) if seeds else shape


def _mean_roc(metrics_list: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    """The ROCs of the runs that have one, averaged vertically (:func:`~showerlearn.metrics.aggregate.mean_roc`)."""
    rocs = [(as_array(m["roc"]["fpr"]), as_array(m["roc"]["tpr"])) for m in metrics_list if (m.get("roc") or {}).get("fpr")]
    averaged = mean_roc(rocs)
    if averaged is None:
        return None
    grid, stats = averaged
    return {"fpr": json_list(grid), "tpr": json_list(stats.mean), "std": json_list(stats.std),
            "n_runs": int(stats.n_runs.max())}  # fmt: skip


def compare_runs(metrics_a: Sequence[Mapping[str, Any]], metrics_b: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Seed dispersion of model A vs model B for every scalar and curve both have.

    Per entry: ``std_ratio`` (A / B, per bin for curves), ``mean_std_ratio`` and the Brown-Forsythe
    ``p_value`` (see ``showerlearn.metrics.aggregate.compare_dispersions``).
    """
    if not metrics_a or not metrics_b:
        raise ValueError("compare_runs needs at least one run per model")
    result: dict[str, Any] = {"scalars": {}, "curves": {}}
    for name in sorted(set(_names(metrics_a, "scalars")) & set(_names(metrics_b, "scalars"))):
        c = compare_dispersions(_scalar_matrix(metrics_a, name), _scalar_matrix(metrics_b, name))
        result["scalars"][name] = {"std_ratio": json_float(c.std_ratio[0]), "p_value": json_float(c.p_value)}
    for name in sorted(set(_names(metrics_a, "curves")) & set(_names(metrics_b, "curves"))):
        first_a, a = _curve_matrix(metrics_a, name)
        first_b, b = _curve_matrix(metrics_b, name)
        if not same_edges(first_a["edges"], first_b["edges"]):
            raise ValueError(f"curve {name!r} has different bin edges in the two models: cannot compare")
        c = compare_dispersions(a, b)
        result["curves"][name] = {
            "edges": list(first_a["edges"]),
            "std_ratio": json_list(c.std_ratio),
            "mean_std_ratio": json_float(c.mean_std_ratio),
            "p_value": json_float(c.p_value),
            "p_value_per_bin": json_list(c.p_value_per_bin),
        }
    return result


def plot_aggregates(
    aggregates: Mapping[str, Mapping[str, Any]],
    output_dir: str | Path,
    *,
    baseline: Mapping[str, Any] | None = None,
    baseline_label: str = "baseline",
    references: Mapping[str, ReferenceCurve] | None = None,
    style: BoardStyle = BoardStyle(),
    names: Sequence[str] | None = None,
    figure_formats: Sequence[str] = FIGURE_FORMATS,
    caption: str | None = None,
) -> list[Path]:
    """One figure per curve (all, or ``names``): each model's mean with a +-std band (``aggregates``:
    label -> aggregate, or one run's metrics, drawn with its own band), and, without ``names``, the ROC
    curves of those that have one (an aggregate's: the mean with its +-std band) as ``roc``.

    ``baseline`` is one run's metrics or an aggregate, overlaid dashed; ``references`` the reference
    curve of each metric (e.g. one CTA requirement set, ``showerlearn.iact.evaluation.requirements``);
    ``style`` the family's labels and scales (``Family.board_style()``); ``caption`` the figures' first
    line (default: the ``caption`` of the first aggregate, or of the baseline, that has one). Returns the
    written PNG and PDF paths.
    """
    everything = [*aggregates.values(), *([baseline] if baseline is not None else [])]
    if caption is None:
        caption = next((entry["caption"] for entry in everything if entry.get("caption")), "")
    written = save_curve_figures(
        {label: aggregate["curves"] for label, aggregate in aggregates.items()},
        Path(output_dir),
        baseline=(baseline_label, baseline["curves"]) if baseline is not None else None,
        references=references,
        style=style,
        names=names,
        formats=figure_formats,
        caption=caption,
    )
    rocs = [_roc(label, entry) for label, entry in aggregates.items() if entry.get("roc")]
    if baseline is not None and baseline.get("roc"):
        rocs.append(_roc(baseline_label, baseline, baseline=True))
    if rocs and names is None:
        written += save_figure(roc_figure(rocs, caption=caption, positive=style.positive_class), Path(output_dir) / "roc",
                               formats=figure_formats)
    return written


def _roc(label: str, metrics: Mapping[str, Any], baseline: bool = False) -> RocSeries:
    """The ROC of one run's metrics or of an aggregate (with its +-std band), labelled with its AUC (an
    aggregate's scalar: its mean)."""
    auc = metrics.get("scalars", {}).get("auc")
    auc = auc.get("mean") if isinstance(auc, Mapping) else auc
    roc = metrics["roc"]
    fpr, tpr = as_array(roc["fpr"]), as_array(roc["tpr"])
    series = RocSeries(label, fpr, tpr, np.nan if auc is None else auc, baseline)
    if roc.get("std") is None or roc.get("n_runs", 0) < 2:
        return series
    std = as_array(roc["std"])
    low, high = np.clip(tpr - std, 0.0, 1.0), np.clip(tpr + std, 0.0, 1.0)
    return replace(series, low=low, high=high, band=seeds_band(roc["n_runs"]))
