"""The ``collider`` evaluator: the core's classification metrics (ROC, AUC, score distributions) plus the
working points of a signal search.

Scalars added (``P`` a signal efficiency in percent, 30 and 50 by default):

==============================  ======================================================================
``background_rejection_at_P``   1 / eps_B at eps_S = P % (a lower limit when no background event passes)
``n_background_at_P``           background events of the sample scored kept there
``signal_at_P``                 expected signal events at ``luminosity_fb`` (needs ``weight_pb``)
``background_at_P``             expected background events
``significance_at_P``           Asimov discovery significance of those yields
==============================  ======================================================================

The sample scored is the run's test split, or a new labelled file the run predicted. Where the cut keeps none
of its background events, the rejection and significance are 95 % CL lower limits and the background an upper
one (:mod:`showerlearn.collider.evaluation.metrics`), named in metrics.json's ``limits``
(:mod:`showerlearn.metrics.limits`); the rejection curve shows the lower limit there too. A sample of one class
(a file of one process) has no working point: those scalars and the curve are null, with a warning.

and the curve ``background_rejection_vs_signal_efficiency`` (1 / eps_B at the centres of signal-efficiency
bins), which a sweep's aggregate shows as a band over its repeats; the board draws each run's ROC and a
sweep's mean ROC with its +-std band. A multi-class table (``score_<class>`` columns) is evaluated as
``signal_class`` against the rest.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from showerlearn.collider.evaluation.metrics import WorkingPoint, working_point
from showerlearn.evaluation.classification import CLASS_SCORE_PREFIX, evaluate_classification
from showerlearn.evaluation.curves import AT_LEAST_ONE, curve_record, json_float
from showerlearn.evaluation.scope import TEST_SPLIT, reads_predictions_only
from showerlearn.metrics.limits import SCALAR_LIMITS
from showerlearn.registry import EVALUATORS, Positive, Share
from showerlearn.viz.figures import FIGURE_FORMATS, FigureFormat

__all__ = ["REJECTION_CURVE", "evaluate_collider"]

log = logging.getLogger(__name__)

#: name of the rejection curve in metrics.json
REJECTION_CURVE = "background_rejection_vs_signal_efficiency"
#: signal-efficiency bins of that curve
_EFFICIENCY_EDGES = np.linspace(0.1, 1.0, 19)


@EVALUATORS.register("collider")
@reads_predictions_only  # the weights of a file's events add up to the cross sections as a test split's do
def evaluate_collider(
    predictions: Mapping[str, Any],
    output_dir: str | Path,
    *,
    efficiencies: Sequence[Share] = (0.3, 0.5),
    luminosity_fb: Positive = 3000.0,
    signal_class: str = "signal",
    label: str | None = None,
    log_dir: str | Path | None = None,
    figure_formats: Sequence[FigureFormat] = FIGURE_FORMATS,
    run_name: str = "model",
    caption: str = "",
    scored_sample: str = TEST_SPLIT,
) -> dict[str, Any]:
    """Classification metrics and working points of a collider classifier (JSON-ready) and its figures.

    Args:
        predictions: the decoded test predictions: ``label`` and ``score`` (or ``score_<class>``), and
            ``weight_pb`` for expected yields and significances.
        output_dir: where the figures go.
        efficiencies: signal efficiencies of the working points (fractions).
        luminosity_fb: integrated luminosity of the yields [fb^-1] (HL-LHC: 3000).
        signal_class: the class taken as signal when the predictions hold a score per class (more than two
            classes, or two not named background and signal).
        label: the model's name in figures (default: ``run_name``).
        log_dir: Lightning logs, for the training-curve figure.
        figure_formats: file formats of the figures.
        run_name: the experiment's name (given by the engine).
        caption: the data set (given by the engine), the first line of every figure.
        scored_sample: what the events are (given by the engine): the test split, or the new file predicted.
    """
    if any(not 0.0 < efficiency <= 1.0 for efficiency in efficiencies):
        raise ValueError(f"efficiencies must be fractions in (0, 1], got {list(efficiencies)}")
    metrics = evaluate_classification(
        predictions, output_dir, class_names=("background", "signal"), label=label, log_dir=log_dir,
        figure_formats=figure_formats, run_name=run_name, caption=caption, scored_sample=scored_sample,
    )  # fmt: skip
    labels, scores = _signal_scores(predictions, signal_class)
    weights = _weights(predictions)
    _warn_of_negative_cross_sections(labels, weights)
    points = [working_point(labels, scores, efficiency, weights, luminosity_fb) for efficiency in efficiencies]
    both = _both_classes(labels)
    limits: dict[str, str] = {}
    for point in points:
        values = _scalars(point) if both else dict.fromkeys(_scalars(point))  # None: undefined
        metrics["scalars"].update({name: json_float(value) if isinstance(value, float) else value
                                   for name, value in values.items()})
        if both and point.limited:  # no background event kept: what the sample tells is a limit
            limits |= {name: side for name, side in _limits(point).items() if metrics["scalars"][name] is not None}
    if limits:
        metrics[SCALAR_LIMITS] = limits
    metrics["settings"].update(
        {"efficiencies": list(efficiencies), "luminosity_fb": luminosity_fb, "signal_class": signal_class}
    )
    metrics["curves"][REJECTION_CURVE] = _rejection_curve(labels, scores, both)
    metrics["evaluator"] = "collider"
    return metrics


def _signal_scores(predictions: Mapping[str, Any], signal_class: str) -> tuple[np.ndarray, np.ndarray]:
    """Labels (1 signal) and signal scores of a binary or multi-class table."""
    labels = np.asarray(predictions["label"])
    if "score" in predictions:
        return labels, np.asarray(predictions["score"], dtype=float)
    classes = [column[len(CLASS_SCORE_PREFIX) :] for column in predictions if column.startswith(CLASS_SCORE_PREFIX)]
    if signal_class not in classes:
        raise KeyError(f"signal_class {signal_class!r} is not a class of the predictions ({', '.join(classes)})")
    return (labels == classes.index(signal_class)).astype(np.int64), np.asarray(
        predictions[CLASS_SCORE_PREFIX + signal_class], dtype=float
    )


def _weights(predictions: Mapping[str, Any]) -> np.ndarray | None:
    """The events' ``weight_pb``: all NaN for a source without weights (no yields then), else all finite (a NaN among
    them would drop every yield without a word)."""
    if "weight_pb" not in predictions:
        return None
    weights = np.asarray(predictions["weight_pb"], dtype=float)
    bad = ~np.isfinite(weights)
    if bad.any() and not bad.all():
        rows = np.flatnonzero(bad)
        raise ValueError(f"weight_pb: {len(rows)} of {len(weights)} values are not finite (rows {rows[:5].tolist()}"
                         f"{'...' if len(rows) > 5 else ''}): cross-section weights are given for every event or none")
    return weights


def _warn_of_negative_cross_sections(labels: np.ndarray, weights: np.ndarray | None) -> None:
    """Signal and background weights each add up to a cross section: single events of NLO generators weigh less than
    zero, a whole sample does not. A negative sum (a few events of a sample rich in negative weights, or a damaged
    file) leaves yields and significances without meaning: warned of, naming the most negative weight's row, since
    they come out empty (n/a) or negative."""
    if weights is None or not np.isfinite(weights).all():
        return
    for name, chosen in (("signal", labels == 1), ("background", labels == 0)):
        if (total := float(weights[chosen].sum())) < 0:
            rows = np.flatnonzero(chosen & (weights < 0))
            log.warning("weight_pb: the %s events' weights add up to %.4g pb, a negative cross section (%d negative "
                        "weights, the most negative %.4g pb at row %d): their yields and significances have no "
                        "meaning", name, total, len(rows), weights[rows].min(), rows[np.argmin(weights[rows])])


def _scalars(point: WorkingPoint) -> dict[str, float | int]:
    return {
        _name("background_rejection", point): float(point.rejection),
        _name("signal_efficiency_achieved", point): float(point.achieved_efficiency),
        _name("n_background", point): point.n_background,
        _name("signal", point): float(point.signal),
        _name("background", point): float(point.background_yield),
        _name("significance", point): float(point.significance),
    }


def _limits(point: WorkingPoint) -> dict[str, str]:
    """The scalars of a working point that keeps no background event, with the side of their limits."""
    return {_name("background_rejection", point): "lower", _name("background", point): "upper",
            _name("significance", point): "lower"}


def _name(quantity: str, point: WorkingPoint) -> str:
    """A working point's scalar: ``background_rejection_at_30``."""
    return f"{quantity}_at_{100 * point.signal_efficiency:g}"


def _both_classes(labels: np.ndarray) -> bool:
    """Whether the events hold signal and background: without signal no cut has a signal efficiency, without
    background nothing is rejected (a sample of one process, say), and the working points mean nothing."""
    if labels.size and np.any(labels == 1) and np.any(labels == 0):
        return True
    if labels.size:
        held = "background" if np.any(labels == 0) else "signal"
        log.warning("all %d events are %s: the working points (rejection, yields, significance) are undefined (null)",
                    labels.size, held)
    return False


def _rejection_curve(labels: np.ndarray, scores: np.ndarray, both: bool) -> dict[str, Any]:
    centres = 0.5 * (_EFFICIENCY_EDGES[1:] + _EFFICIENCY_EDGES[:-1])
    points = [working_point(labels, scores, efficiency) for efficiency in centres]
    return curve_record(
        _EFFICIENCY_EDGES,
        # a lower limit where no background event is kept; nothing where one class is missing
        np.array([point.rejection if both else np.nan for point in points]),
        np.array([point.n_background for point in points]),
        x="signal_efficiency",
        x_unit="",
        unit="",
        bounds=AT_LEAST_ONE,  # 1 / eps_B: keeping every background event is a rejection of 1
    )
