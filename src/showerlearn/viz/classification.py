"""Classifier figures: ROC curves (several runs, a baseline or the classes of a multi-class classifier
on one plot), score distributions and confusion matrices."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from matplotlib.figure import Figure

from showerlearn.viz.figures import add_caption, new_figure


@dataclass(frozen=True)
class RocSeries:
    """One ROC curve to draw, labelled with its AUC; a mean over runs has a band of true positive rates
    (``low``, ``high``) that ``band`` describes (``mean ± std over 5 seeds``)."""

    label: str
    fpr: np.ndarray
    tpr: np.ndarray
    auc: float
    baseline: bool = False
    low: np.ndarray | None = None
    high: np.ndarray | None = None
    band: str = ""


def roc_figure(curves: Sequence[RocSeries], title: str = "ROC", caption: str = "", positive: str = "signal") -> Figure:
    """ROC curves (false vs true positive rate) with the chance diagonal; ``caption``: the data set;
    ``positive``: what the positive class is called (the IACT family's gammas)."""
    figure = new_figure(5.4, 5.0)
    add_caption(figure, caption)
    ax = figure.add_subplot()
    for curve in curves:
        line = ax.plot(
            curve.fpr,
            curve.tpr,
            linestyle="--" if curve.baseline else "-",
            label=f"{curve.label} (AUC {curve.auc:.3f})",
        )[0]
        if curve.low is not None and curve.high is not None:
            ax.fill_between(curve.fpr, curve.low, curve.high, color=line.get_color(), alpha=0.25, linewidth=0)
    ax.plot([0, 1], [0, 1], color="grey", linewidth=0.8, linestyle=":")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.set_xlabel("background efficiency (false positive rate)")
    ax.set_ylabel(f"{positive} efficiency (true positive rate)")
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    if curves:
        bands = list(dict.fromkeys(curve.band for curve in curves if curve.band))
        ax.legend(loc="lower right", fontsize="small", title="band: " + "; ".join(bands) if bands else None,
                  title_fontsize="small")
    return figure


def score_distributions_figure(
    scores: np.ndarray,
    labels: np.ndarray,
    *,
    class_names: tuple[str, str] = ("proton", "gamma"),
    cut: float | None = None,
    xlabel: str = "gammaness",
    bins: int = 50,
    caption: str = "",
) -> Figure:
    """Normalised histograms of the score per class (label 0, label 1, with their event counts), with the cut
    as a line; ``caption``: the data set."""
    figure = new_figure()
    add_caption(figure, caption)
    ax = figure.add_subplot()
    scores = np.asarray(scores, dtype=float)
    labels = np.asarray(labels)
    low, high = (0.0, 1.0) if scores.size == 0 else (min(0.0, scores.min()), max(1.0, scores.max()))
    edges = np.linspace(low, high, bins + 1)
    for label, name in enumerate(class_names):
        selected = scores[labels == label]
        if selected.size:
            ax.hist(
                selected, bins=edges, density=True, histtype="step", linewidth=1.5, label=f"{name} ({selected.size} events)"
            )
    if cut is not None:
        ax.axvline(cut, color="black", linestyle="--", linewidth=1, label=f"cut {cut:g}")
    if ax.patches:  # a log axis without data fails at draw time
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("probability density")
    ax.legend(fontsize="small")
    return figure


def confusion_matrix_figure(
    counts: np.ndarray, class_names: Sequence[str], title: str = "confusion matrix", caption: str = ""
) -> Figure:
    """Confusion matrix (row = true class, column = predicted): colour and text give the fraction of each
    true class, the text also the count; ``caption``: the data set."""
    counts = np.asarray(counts)
    totals = counts.sum(axis=1, keepdims=True)
    fractions = np.divide(counts, totals, out=np.zeros(counts.shape), where=totals > 0)
    size = 2.0 + 0.6 * len(class_names)
    figure = new_figure(size + 1.0, size)
    add_caption(figure, caption)
    ax = figure.add_subplot()
    image = ax.imshow(fractions, cmap="Blues", vmin=0.0, vmax=1.0)
    for (row, column), count in np.ndenumerate(counts):
        colour = "white" if fractions[row, column] > 0.5 else "black"
        ax.text(column, row, f"{fractions[row, column]:.2f}\n({count})", ha="center", va="center", fontsize="small", color=colour)
    ticks = np.arange(len(class_names))
    ax.set_xticks(ticks, class_names, rotation=45, ha="right")
    ax.set_yticks(ticks, class_names)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(title)
    figure.colorbar(image, ax=ax, label="fraction of the true class")
    return figure
