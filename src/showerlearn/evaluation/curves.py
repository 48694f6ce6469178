"""The per-bin curve record of metrics.json, and drawing such records (one run, a baseline, a sweep).

A curve record is ``{"x": "true_energy", "x_unit": "TeV", "unit": "deg", "edges": [...], "value": [...],
"ci_low": [...], "ci_high": [...], "band": "95 % bootstrap interval", "n_events": [...]}``, optionally
``"bounds": [0.0, 1.0]`` (the range the quantity cannot leave, ``null`` for no bound); missing values
are ``null``, ``band`` says what ``ci_*`` are (``""``: no interval). Aggregated records
(``evaluation.aggregate``) carry ``mean``/``std`` instead of ``value``/``ci_*`` (the band: mean ± std
over the seeds) and the mean ``n_events``. How a metric reads (axis labels, log scale, why a bin may
have no value) is the family's :class:`~showerlearn.family.BoardStyle`, given by the caller.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from showerlearn.family import BoardStyle
from showerlearn.metrics.binning import BinnedCurve
from showerlearn.metrics.classification import RocCurve
from showerlearn.viz.figures import FIGURE_FORMATS, save_figure
from showerlearn.viz.resolution import CurveSeries, ReferenceCurve, curves_figure


#: A metrics.json ROC is thinned to about this many points: enough to draw, small enough for a board.
ROC_POINTS = 200
#: ``bounds`` of a curve record: a share (an efficiency, an AUC), a quantity >= 0 (a resolution, an area), and one
#: >= 1 (a rejection 1 / eps)
SHARE = (0.0, 1.0)
NON_NEGATIVE = (0.0, float("inf"))
AT_LEAST_ONE = (1.0, float("inf"))


def json_float(value: Any) -> float | None:
    """A float for JSON: NaN and infinities become ``None`` (JSON has no NaN)."""
    return float(value) if np.isfinite(value) else None


def json_list(values: Any) -> list[float | None]:
    """A float array as a JSON list, NaN as ``None``."""
    return [json_float(v) for v in np.asarray(values, dtype=float).ravel()]


def bootstrap_band(confidence_level: float) -> str:
    """What a bootstrap confidence interval band is, in a record and a legend: ``95 % bootstrap interval``."""
    return f"{100 * confidence_level:g} % bootstrap interval"


def binomial_band(confidence_level: float) -> str:
    """What an efficiency's binomial interval band is (:func:`~showerlearn.metrics.efficiency.binomial_interval`):
    ``68.3 % Wilson score interval``."""
    return f"{100 * confidence_level:.3g} % Wilson score interval"


def seeds_band(n_runs: int) -> str:
    """What an aggregate's band is: ``mean ± std over 3 seeds``; none (``""``) below two seeds, which have no
    std to draw."""
    return f"mean ± std over {n_runs} seeds" if n_runs >= 2 else ""


def curve_record(
    edges: np.ndarray,
    value: np.ndarray,
    n_events: np.ndarray,
    *,
    x: str,
    x_unit: str,
    unit: str,
    ci_low: np.ndarray | None = None,
    ci_high: np.ndarray | None = None,
    band: str = "",
    bounds: tuple[float, float] | None = None,
) -> dict[str, Any]:
    """A per-bin curve as a metrics.json record (no interval: ``ci_*`` lists of ``null``); ``band`` says
    what the interval is (:func:`bootstrap_band`); ``bounds``: the range the quantity cannot leave ((0, 1) for an
    efficiency, (0, inf) for a resolution; an infinite bound is written ``null``), which a sweep's mean +- std band
    is cut to."""
    missing = np.full(len(value), np.nan)
    return ({"bounds": [json_float(bound) for bound in bounds]} if bounds is not None else {}) | {
        "x": x,
        "x_unit": x_unit,
        "unit": unit,
        "edges": json_list(edges),
        "value": json_list(value),
        "ci_low": json_list(missing if ci_low is None else ci_low),
        "ci_high": json_list(missing if ci_high is None else ci_high),
        "band": band if ci_low is not None and ci_high is not None else "",
        "n_events": [int(n) for n in n_events],
    }


def binned_curve_record(
    curve: BinnedCurve, *, x: str, x_unit: str, unit: str, confidence_level: float = 0.95,
    bounds: tuple[float, float] | None = None,
) -> dict[str, Any]:
    """A ``BinnedCurve`` (value with its bootstrap interval at ``confidence_level``) as a metrics.json record
    (``bounds``: :func:`curve_record`'s)."""
    interval = bool(np.isfinite(curve.ci_low).any())  # n_bootstrap = 0 draws none
    return curve_record(
        curve.edges,
        curve.value,
        curve.n_events,
        x=x,
        x_unit=x_unit,
        unit=unit,
        ci_low=curve.ci_low,
        ci_high=curve.ci_high,
        band=bootstrap_band(confidence_level) if interval else "",
        bounds=bounds,
    )


def roc_record(roc: RocCurve) -> dict[str, list[float]]:
    """A ROC curve thinned to about ``ROC_POINTS`` points, endpoints kept."""
    keep = np.unique(np.linspace(0, roc.fpr.size - 1, min(roc.fpr.size, ROC_POINTS)).round().astype(int))
    return {"fpr": roc.fpr[keep].tolist(), "tpr": roc.tpr[keep].tolist()}


def as_array(values: Sequence[float | None] | None) -> np.ndarray | None:
    """JSON list (``None`` for missing) -> float array with NaN; ``None`` stays ``None``."""
    return None if values is None else np.array([np.nan if v is None else v for v in values], dtype=float)


def metric_of(curve_name: str) -> str:
    """``"angular_resolution_vs_true_energy"`` -> ``"angular_resolution"``."""
    return curve_name.split("_vs_")[0]


def series_from_record(record: Mapping[str, Any], label: str, *, baseline: bool = False) -> CurveSeries:
    """A record of one run (value with CI band) or of a sweep (mean with +-std band) as a series. A ValueError
    naming the entry whose length is not one per bin (``len(edges) - 1``): it would be drawn against other bins."""
    edges = np.asarray(record["edges"], dtype=float)
    per_bin = ("mean", "std", "n_events", "n_runs_counting_none") if "mean" in record else ("value", "ci_low", "ci_high", "n_events")
    for key in per_bin:
        if (values := record.get(key)) is not None and len(values) != max(len(edges) - 1, 0):
            raise ValueError(f"{key!r} has {len(values)} entries for {len(edges)} edges (one per bin: {max(len(edges) - 1, 0)})")
    n_events = as_array(record.get("n_events"))
    # a bin behind whose value some run counted nothing; an aggregate says so per bin (its mean count is rounded), a
    # run's and an older aggregate's count says it itself
    none_counted = as_array(record.get("n_runs_counting_none"))
    counted_none = none_counted > 0 if none_counted is not None else None if n_events is None else n_events == 0
    if "mean" in record:
        mean, std = as_array(record["mean"]), as_array(record["std"])
        band = seeds_band(max(record.get("n_runs") or [0]))
        low, high = as_array(record.get("bounds") or [None, None])
        low, high = np.nan_to_num(low, nan=-np.inf), np.nan_to_num(high, nan=np.inf)
        return CurveSeries(label, edges, mean, np.clip(mean - std, low, high), np.clip(mean + std, low, high), baseline,
                           n_events, band, counted_none)
    low, high = as_array(record.get("ci_low")), as_array(record.get("ci_high"))
    # records written before they said what their band is: a confidence interval of some level
    band = record.get("band", "confidence interval" if low is not None and np.isfinite(low).any() else "")
    return CurveSeries(label, edges, as_array(record["value"]), low, high, baseline, n_events, band, counted_none)


def save_curve_figures(
    runs: Mapping[str, Mapping[str, Mapping[str, Any]]],
    output_dir: Path,
    *,
    baseline: tuple[str, Mapping[str, Mapping[str, Any]]] | None = None,
    references: Mapping[str, ReferenceCurve] | None = None,
    style: BoardStyle = BoardStyle(),
    names: Sequence[str] | None = None,
    formats: Sequence[str] = FIGURE_FORMATS,
    caption: str = "",
) -> list[Path]:
    """One figure per curve name (all found in any run, or ``names``): ``runs`` maps a label to that
    run's curve records.

    The baseline's curves are overlaid dashed; the reference curve of the same metric (``references``:
    metric -> curve, e.g. a CTA requirement), if any, in black. ``style``: the family's labels and scales
    (without it, a metric is labelled by its name and the x axis by the record's quantity and unit).
    ``caption``: the data set and cuts, each figure's first line.
    """
    available = {name for curves in runs.values() for name in curves}
    unknown = set(names or ()) - available
    if unknown:
        raise KeyError(f"no curves named {sorted(unknown)}; available: {sorted(available)}")
    names = sorted(available) if names is None else list(names)
    written: list[Path] = []
    for name in names:
        series = [series_from_record(curves[name], label) for label, curves in runs.items() if name in curves]
        if baseline is not None and name in baseline[1]:
            series.append(series_from_record(baseline[1][name], baseline[0], baseline=True))
        metric = metric_of(name)
        metric_style = style.metric_style.get(metric, {})
        first = next(curves[name] for curves in runs.values() if name in curves)
        figure = curves_figure(
            series,
            xlabel=style.axis_labels.get(first["x"], f"{first['x']} [{first['x_unit']}]"),
            ylabel=metric_style.get("ylabel", metric),
            references=[references[metric]] if references and metric in references else [],
            # energies span decades; a count from 0 (clusters per event against gammas) has no place on a log axis
            logx=metric_style.get("logx", all(bool(np.all(np.nan_to_num(s.edges, nan=1.0) > 0)) for s in series)),
            logy=metric_style.get("logy", False),
            hline=metric_style.get("hline"),
            caption=caption,
            missing=metric_style.get("missing", "no value"),
            counted=style.axis_counts.get(first["x"], "events"),
            empty_limit=metric_style.get("empty_limit"),
        )
        written += save_figure(figure, output_dir / name, formats=formats)
    return written
