"""Generic binary-classifier evaluator: columns ``label`` (0/1, 1 positive) and ``score`` -> ROC, AUC,
precision and recall at a cut, and the figures of the ROC and of the score distributions."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from showerlearn.evaluation.curves import json_float, roc_record
from showerlearn.metrics import classification as cls
from showerlearn.registry import EVALUATORS
from showerlearn.viz.classification import RocSeries, roc_figure, score_distributions_figure
from showerlearn.viz.figures import FIGURE_FORMATS, save_figure
from showerlearn.viz.training import training_curves_figure


@EVALUATORS.register("classification")
def evaluate_classification(
    predictions: Mapping[str, Any],
    output_dir: str | Path,
    *,
    cut: float = 0.5,
    class_names: tuple[str, str] = ("negative", "positive"),
    label: str = "model",
    log_dir: str | Path | None = None,
    figure_formats: Sequence[str] = FIGURE_FORMATS,
) -> dict[str, Any]:
    """Metrics of a binary classifier (JSON-ready; the caller writes metrics.json) and its figures.

    ``log_dir``: Lightning logs, for the loss / learning-rate figure.
    """
    missing = [c for c in ("label", "score") if c not in predictions]
    if missing:
        raise KeyError(
            f"predictions lack the columns {missing}; the classification evaluator needs 'label' and 'score'"
        )
    labels, scores = np.asarray(predictions["label"]), np.asarray(predictions["score"], dtype=float)
    at_cut = cls.performance_at_cut(labels, scores, cut)
    roc = cls.roc_curve(labels, scores)
    auc = cls.auc(labels, scores)
    output_dir = Path(output_dir)
    written = save_figure(
        roc_figure([RocSeries(label, roc.fpr, roc.tpr, auc)]), output_dir / "roc", formats=figure_formats
    )
    written += save_figure(
        score_distributions_figure(scores, labels, class_names=class_names, cut=cut, xlabel="score"),
        output_dir / "scores",
        formats=figure_formats,
    )
    if log_dir is not None and (training := training_curves_figure(log_dir)) is not None:
        written += save_figure(training, output_dir / "training_curves", formats=figure_formats)

    return {
        "evaluator": "classification",
        "schema": 1,
        "settings": {"cut": cut},
        "scalars": {
            "n_events": int(labels.size),
            "n_positive": int(np.count_nonzero(labels == 1)),
            "auc": json_float(auc),
            "precision": json_float(at_cut.precision),
            "recall": json_float(at_cut.recall),
            "false_positive_rate": json_float(at_cut.background_efficiency),
        },
        "curves": {},
        "roc": roc_record(roc),
        "figures": sorted(str(path.relative_to(output_dir)) for path in written),
    }
