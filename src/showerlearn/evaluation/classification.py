"""Generic classifier evaluator. Binary: columns ``label`` (0/1, 1 positive) and ``score`` -> ROC, AUC,
precision and recall at a cut, and the figures of the ROC and of the score distributions. Multi-class:
``label`` (class index) and one ``score_<class>`` column per class -> one-vs-rest ROC and AUC per class
and their macro mean, accuracy, the confusion matrix and its figure."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from showerlearn.evaluation.curves import json_float, roc_record
from showerlearn.evaluation.scope import TEST_SPLIT, reads_predictions_only
from showerlearn.io.tables import CLASS_SCORE_PREFIX
from showerlearn.metrics import classification as cls
from showerlearn.registry import EVALUATORS
from showerlearn.viz.classification import RocSeries, confusion_matrix_figure, roc_figure, score_distributions_figure
from showerlearn.viz.figures import FIGURE_FORMATS, FigureFormat, caption_line, save_figure
from showerlearn.viz.training import training_curves_figure

log = logging.getLogger(__name__)


@EVALUATORS.register("classification")
@reads_predictions_only
def evaluate_classification(
    predictions: Mapping[str, Any],
    output_dir: str | Path,
    *,
    cut: float = 0.5,
    class_names: tuple[str, str] = ("negative", "positive"),
    label: str | None = None,
    log_dir: str | Path | None = None,
    figure_formats: Sequence[FigureFormat] = FIGURE_FORMATS,
    run_name: str = "model",
    caption: str = "",
    scored_sample: str = TEST_SPLIT,
) -> dict[str, Any]:
    """Metrics of a binary or multi-class classifier (JSON-ready; the caller writes metrics.json) and its figures.

    A table with a ``score`` column is a binary classifier's; one with ``score_<class>`` columns instead
    is a multi-class classifier's, the columns in class-index order naming the classes. ``cut`` and
    ``class_names`` (of label 0 and 1) are a binary classifier's; a multi-class one predicts its most
    probable class. ``log_dir``: Lightning logs, for the loss / learning-rate figure. ``label``: the run's
    name in the figures (default: ``run_name``, the experiment's, given by the engine); ``caption``: the data
    set (given by the engine), every figure's first line with the events scored, ``scored_sample`` (given by the engine:
    the test split, or the new file predicted). Events without a class label (a file read without its labels) are
    refused: there is no truth to score them against.
    """
    output_dir = Path(output_dir)
    _check_labelled(predictions)
    figures = _Figures(label or run_name, caption_line(caption, f"{scored_sample}: {_length(predictions)} events"), figure_formats)
    class_columns = [c for c in predictions if c.startswith(CLASS_SCORE_PREFIX)]
    if "score" not in predictions and class_columns and "label" in predictions:
        metrics, written = _multiclass(predictions, class_columns, output_dir, figures)
    else:
        metrics, written = _binary(predictions, output_dir, cut, class_names, figures)
    if log_dir is not None and (training := training_curves_figure(log_dir)) is not None:
        written += save_figure(training, output_dir / "training_curves", formats=figure_formats)
    return {
        "evaluator": "classification",
        "schema": 1,
        **metrics,
        "curves": {},
        "caption": figures.caption,
        "figures": sorted(str(path.relative_to(output_dir)) for path in written),
    }


@dataclass(frozen=True)
class _Figures:
    """How the figures read: the run's name in legends, the caption line, the file formats."""

    label: str
    caption: str
    formats: Sequence[str]


def _check_labelled(predictions: Mapping[str, Any]) -> None:
    """Every event has a class label: a negative one is no class (a collider file read for prediction without its
    labels), and an ROC of such events would score the classifier against nothing."""
    if "label" not in predictions:  # named with the columns needed where they are read
        return
    labels = np.asarray(predictions["label"])
    if unlabelled := int(np.count_nonzero(labels < 0)):
        raise ValueError(f"{unlabelled} of {labels.size} events have no class label (label < 0: events read without "
                         "their labels): there is no truth to score their predictions against")


def _length(predictions: Mapping[str, Any]) -> int:
    return len(next(iter(predictions.values()), []))


def _binary(
    predictions: Mapping[str, Any], output_dir: Path, cut: float, class_names: tuple[str, str], figures: _Figures,
) -> tuple[dict[str, Any], list[Path]]:
    missing = [c for c in ("label", "score") if c not in predictions]
    if missing:
        raise KeyError(
            f"predictions lack the columns {missing}; the classification evaluator needs 'label' and 'score' "
            f"(binary) or 'label' and '{CLASS_SCORE_PREFIX}<class>' columns (multi-class)"
        )
    labels, scores = np.asarray(predictions["label"]), np.asarray(predictions["score"], dtype=float)
    _warn_one_class(labels, class_names)
    at_cut = cls.performance_at_cut(labels, scores, cut)
    roc = cls.roc_curve(labels, scores)
    auc = cls.auc(labels, scores)
    written = save_figure(
        roc_figure([RocSeries(figures.label, roc.fpr, roc.tpr, auc)], caption=figures.caption), output_dir / "roc",
        formats=figures.formats,
    )
    written += save_figure(
        score_distributions_figure(
            scores, labels, class_names=class_names, cut=cut, xlabel=f"score ({figures.label})", caption=figures.caption
        ),
        output_dir / "scores",
        formats=figures.formats,
    )
    metrics = {
        "settings": {"cut": cut},
        "scalars": {
            "n_events": int(labels.size),
            "n_positive": int(np.count_nonzero(labels == 1)),
            "auc": json_float(auc),
            "precision": json_float(at_cut.precision),
            "recall": json_float(at_cut.recall),
            "false_positive_rate": json_float(at_cut.background_efficiency),
        },
        "roc": roc_record(roc),
    }
    return metrics, written


def _warn_one_class(labels: np.ndarray, class_names: Sequence[str]) -> None:
    """Events of one class only (a signal-only sample, say) have no ROC: said once here, where the nulls of the
    AUC and the rates that need the other class would otherwise pass unexplained."""
    present = [name for value, name in enumerate(class_names) if np.any(labels == value)]
    if labels.size and len(present) == 1:
        log.warning("all %d events are %s: the ROC, the AUC and the rates of the other classes are undefined (null)",
                    labels.size, present[0])


def _multiclass(
    predictions: Mapping[str, Any], class_columns: Sequence[str], output_dir: Path, figures: _Figures,
) -> tuple[dict[str, Any], list[Path]]:
    names = [column[len(CLASS_SCORE_PREFIX):] for column in class_columns]
    labels = np.asarray(predictions["label"])
    _warn_one_class(labels, names)
    scores = np.stack([np.asarray(predictions[column], dtype=float) for column in class_columns], axis=1)
    per_class, macro = cls.one_vs_rest_auc(labels, scores)
    rocs = cls.one_vs_rest_roc(labels, scores)
    predicted = scores.argmax(axis=1)
    counts = cls.confusion_matrix(labels, predicted, len(names))
    curves = [
        RocSeries(f"{name} vs rest", roc.fpr, roc.tpr, auc) for name, roc, auc in zip(names, rocs, per_class) if roc.fpr.size
    ]
    written = save_figure(
        roc_figure(curves, title=f"ROC, one vs rest ({figures.label})", caption=figures.caption, positive="class"),
        output_dir / "roc",
        formats=figures.formats,
    )
    written += save_figure(
        confusion_matrix_figure(counts, names, title=f"confusion matrix ({figures.label})", caption=figures.caption),
        output_dir / "confusion_matrix", formats=figures.formats,
    )
    metrics = {
        "settings": {"classes": names},
        "scalars": {
            "n_events": int(labels.size),
            "n_classes": len(names),
            "accuracy": json_float(np.mean(predicted == labels) if labels.size else np.nan),
            "auc_macro": json_float(macro),
            **{f"auc_{name}": json_float(auc) for name, auc in zip(names, per_class)},
        },
        "roc_per_class": {name: roc_record(roc) for name, roc in zip(names, rocs)},
        "confusion_matrix": counts.tolist(),
    }
    return metrics, written
