"""Loss and learning-rate curves from Lightning's CSV logs (``logs/**/metrics.csv``).

Lightning's ``CSVLogger`` writes one row per logging call with every metric as a column, empty where
that call did not log it; a resumed run writes another ``version_*`` folder. All files are merged and
ordered by ``step``. Loss columns are those whose name ends in ``loss``; learning rates are the
``lr-*`` columns of ``LearningRateMonitor``.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from showerlearn.viz.figures import new_figure


def read_metrics_csv(log_dir: str | Path) -> dict[str, np.ndarray]:
    """All ``metrics.csv`` under ``log_dir`` as float columns (NaN where not logged), sorted by step."""
    paths = sorted(Path(log_dir).rglob("metrics.csv"))
    rows: list[dict[str, str]] = []
    for path in paths:
        with path.open(newline="") as handle:
            reader = csv.DictReader(handle)
            if reader.fieldnames is None or "step" not in reader.fieldnames:
                raise ValueError(f"{path}: not a Lightning CSV log (no 'step' column in the header)")
            rows.extend(reader)
    names = sorted({name for row in rows for name in row})
    columns = {name: np.array([_number(row.get(name)) for row in rows]) for name in names}
    if not rows:
        return columns
    order = np.argsort(columns["step"], kind="stable")
    return {name: values[order] for name, values in columns.items()}


def _number(text: str | None) -> float:
    try:
        return float(text) if text not in (None, "") else np.nan
    except ValueError:
        return np.nan


def training_curves_figure(log_dir: str | Path) -> Figure | None:
    """Losses (log scale) and learning rates vs step; ``None`` when ``log_dir`` holds no CSV log."""
    columns = read_metrics_csv(log_dir)
    losses = [name for name in columns if name.endswith("loss")]
    rates = [name for name in columns if name.startswith("lr-") or name == "lr"]
    if not losses and not rates:
        return None
    figure = new_figure(7.0, 6.0)
    loss_ax, lr_ax = figure.subplots(2, 1, sharex=True, height_ratios=(2, 1))
    step = columns["step"]
    for name in losses:
        logged = np.isfinite(columns[name])
        # the total loss stands out; per-head losses are drawn thinner
        is_total = name.rsplit("/", 1)[-1] == "loss"
        loss_ax.plot(
            step[logged],
            columns[name][logged],
            label=name,
            linewidth=1.8 if is_total else 0.9,
            marker="o" if name.startswith("val") else None,
            markersize=3,
        )
    for name in rates:
        logged = np.isfinite(columns[name])
        lr_ax.plot(step[logged], columns[name][logged], label=name)
    loss_ax.set_ylabel("loss")
    if losses and all(np.nanmin(columns[name], initial=np.inf) > 0 for name in losses):
        loss_ax.set_yscale("log")
    lr_ax.set_ylabel("learning rate")
    lr_ax.set_xlabel("step")
    for ax in (loss_ax, lr_ax):
        ax.grid(True, alpha=0.3)
        if ax.has_data():
            ax.legend(fontsize="x-small", ncols=2)
    return figure
