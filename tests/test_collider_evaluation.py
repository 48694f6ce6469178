"""The collider evaluator: working points against scikit-learn's ROC, the Asimov significance against its
formula and its small-signal limit, expected yields from the weights, and the metrics a sweep aggregates."""

from __future__ import annotations

import logging
import math
import statistics
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score, roc_curve

from showerlearn.collider.evaluation.evaluator import REJECTION_CURVE, evaluate_collider
from showerlearn.collider.evaluation.metrics import asimov_significance, working_point
from showerlearn.evaluation.aggregate import aggregate_runs, plot_aggregates


def _sample(seed: int, n: int = 4000) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = (rng.random(n) < 0.4).astype(int)
    scores = 1.0 / (1.0 + np.exp(-(rng.normal(size=n) + 1.5 * labels)))
    weights = np.where(labels == 1, 0.01 / labels.sum(), 100.0 / (n - labels.sum()))  # pb, per class sums 0.01 and 100
    return labels, scores, weights


@pytest.mark.parametrize("efficiency", [0.3, 0.5, 0.8])
def test_a_working_point_is_a_point_of_scikit_learns_roc(efficiency: float) -> None:
    labels, scores, _ = _sample(0)
    point = working_point(labels, scores, efficiency)
    fpr, tpr, thresholds = roc_curve(labels, scores, drop_intermediate=False)
    # the cut keeps exactly the events of the lowest ROC threshold at or above it
    index = np.flatnonzero(thresholds >= point.cut)[-1]
    assert point.background_efficiency == pytest.approx(fpr[index], abs=1e-12)
    assert tpr[index] == pytest.approx(efficiency, abs=1.0 / np.count_nonzero(labels))
    assert point.rejection == pytest.approx(1.0 / fpr[index])


def test_asimov_significance_formula_and_small_signal_limit() -> None:
    assert asimov_significance(10.0, 100.0) == pytest.approx(math.sqrt(2 * (110 * math.log(1.1) - 10)), rel=1e-12)
    assert asimov_significance(1.0, 1e6) == pytest.approx(1.0 / math.sqrt(1e6), rel=1e-5)
    # a signal over no background: the formula's limit as b -> 0 is infinite (working points use a limit on b instead)
    assert asimov_significance(5.0, 0.0) == math.inf and asimov_significance(5.0, 1e-300) > 50
    assert math.isnan(asimov_significance(0.0, 0.0)) and math.isnan(asimov_significance(5.0, -1.0))
    assert math.isnan(asimov_significance(math.nan, 10.0))  # no weights: no yields
    assert asimov_significance(0.0, 10.0) == 0.0


def test_the_evaluator_adds_working_points_yields_and_the_rejection_curve(tmp_path: Path) -> None:
    labels, scores, weights = _sample(1)
    metrics = evaluate_collider({"label": labels, "score": scores, "weight_pb": weights}, tmp_path, luminosity_fb=300.0)
    scalars = metrics["scalars"]
    assert metrics["evaluator"] == "collider" and scalars["auc"] == pytest.approx(roc_auc_score(labels, scores))
    for percent, efficiency in ((30, 0.3), (50, 0.5)):
        point = working_point(labels, scores, efficiency)
        kept = scores >= point.cut
        signal = 300.0 * 1000.0 * weights[kept & (labels == 1)].sum()
        background = 300.0 * 1000.0 * weights[kept & (labels == 0)].sum()
        assert scalars[f"signal_at_{percent}"] == pytest.approx(signal)
        assert scalars[f"background_at_{percent}"] == pytest.approx(background)
        assert scalars[f"significance_at_{percent}"] == pytest.approx(asimov_significance(signal, background))
        assert scalars[f"background_rejection_at_{percent}"] == pytest.approx(point.rejection)
    # the signal keeps about eps_S of its cross section at each working point
    assert scalars["signal_at_30"] == pytest.approx(0.3 * 0.01 * 300e3, rel=0.02)
    curve = metrics["curves"][REJECTION_CURVE]
    rejection = np.array(curve["value"], dtype=float)
    assert curve["x"] == "signal_efficiency" and np.all(np.diff(rejection) <= 0)  # looser cuts reject less
    assert "roc" in metrics and (tmp_path / "roc.png").is_file()


def test_without_weights_there_are_rejections_but_no_yields(tmp_path: Path) -> None:
    labels, scores, _ = _sample(2)
    scalars = evaluate_collider({"label": labels, "score": scores}, tmp_path, figure_formats=("png",))["scalars"]
    assert scalars["background_rejection_at_50"] > 1 and scalars["significance_at_50"] is None
    # a source without weights (all NaN) likewise; a NaN among weights would drop every yield silently: refused
    nan = np.full(len(labels), np.nan)
    assert evaluate_collider({"label": labels, "score": scores, "weight_pb": nan}, tmp_path,
                             figure_formats=("png",))["scalars"]["significance_at_50"] is None
    some = np.where(np.arange(len(labels)) % 7 == 3, np.nan, 1.0)
    with pytest.raises(ValueError, match=r"weight_pb: \d+ of \d+ values are not finite \(rows \[3, 10, 17, 24, 31\]\.\.\.\)"):
        evaluate_collider({"label": labels, "score": scores, "weight_pb": some}, tmp_path, figure_formats=("png",))


def test_negative_weights_count_and_a_negative_cross_section_is_warned_of(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """NLO generators give some events weights below zero, which count with their sign; a class whose weights add up
    to less than zero leaves its yields without meaning, which is said, naming the most negative weight's row."""
    labels, scores, weights = _sample(5)
    background = np.flatnonzero(labels == 0)
    nlo = weights.copy()
    nlo[background[::10]] *= -0.5  # a tenth of the background events weigh below zero
    with caplog.at_level(logging.WARNING, logger="showerlearn"):
        scalars = evaluate_collider({"label": labels, "score": scores, "weight_pb": nlo}, tmp_path / "nlo",
                                    figure_formats=("png",))["scalars"]
    assert "negative cross section" not in caplog.text
    kept = (labels == 0) & (scores >= working_point(labels, scores, 0.5).cut)
    assert scalars["background_at_50"] == pytest.approx(3000.0 * 1000.0 * nlo[kept].sum(), rel=1e-9)
    damaged = weights.copy()
    damaged[background[7]] = -1e6
    with caplog.at_level(logging.WARNING, logger="showerlearn"):
        evaluate_collider({"label": labels, "score": scores, "weight_pb": damaged}, tmp_path / "damaged",
                          figure_formats=("png",))
    assert (f"the background events' weights add up to -9.999e+05 pb, a negative cross section (1 negative weights, "
            f"the most negative -1e+06 pb at row {background[7]})") in caplog.text


def test_a_multi_class_table_is_evaluated_as_signal_against_the_rest(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 3, 600)
    probabilities = rng.dirichlet(np.ones(3), 600) + 0.5 * np.eye(3)[labels]
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    table = {"label": labels, **{f"score_{name}": probabilities[:, i] for i, name in enumerate(("qcd", "ttbar", "signal"))}}
    metrics = evaluate_collider(table, tmp_path, figure_formats=("png",))
    point = working_point((labels == 2).astype(int), probabilities[:, 2], 0.5)
    assert metrics["scalars"]["background_rejection_at_50"] == pytest.approx(point.rejection)
    assert metrics["scalars"]["n_classes"] == 3
    with pytest.raises(KeyError, match="signal_class 'hh'"):
        evaluate_collider(table, tmp_path, signal_class="hh", figure_formats=("png",))


def test_repeats_aggregate_into_a_rejection_band(tmp_path: Path) -> None:
    runs = []
    for seed in range(3):
        labels, scores, weights = _sample(10 + seed)
        runs.append(evaluate_collider({"label": labels, "score": scores, "weight_pb": weights}, tmp_path / str(seed), figure_formats=("png",)))
    aggregate = aggregate_runs(runs)
    band = aggregate["curves"][REJECTION_CURVE]
    assert band["n_runs"][0] == 3 and all(std is not None and std > 0 for std in band["std"][:5])
    assert aggregate["scalars"]["auc"]["n_runs"] == 3
    # the ROCs averaged vertically: at a false positive rate, the mean and std of the runs' true positive rates
    roc = aggregate["roc"]
    assert roc["n_runs"] == 3 and roc["fpr"][50] == 0.5
    at_half = [np.interp(0.5, run["roc"]["fpr"], run["roc"]["tpr"]) for run in runs]
    assert roc["tpr"][50] == pytest.approx(statistics.fmean(at_half)) and roc["std"][50] == pytest.approx(statistics.stdev(at_half))
    written = plot_aggregates({"repeats": aggregate}, tmp_path / "sweep", figure_formats=("png",))
    assert tmp_path / "sweep" / "roc.png" in written


def test_a_working_point_reports_the_efficiency_ties_give() -> None:
    labels = np.array([1, 1, 1, 1, 0, 0])
    saturated = working_point(labels, np.array([1.0, 1.0, 1.0, 0.2, 1.0, 0.1]), 0.3)
    assert saturated.signal_efficiency == 0.3 and saturated.achieved_efficiency == 0.75  # three signal events tie at 1
    assert working_point(labels, np.array([0.9, 0.8, 0.7, 0.6, 0.1, 0.0]), 0.5).achieved_efficiency == 0.5


def test_a_working_point_without_background_gives_limits_in_runs_and_in_their_mean(tmp_path: Path) -> None:
    """Scores that keep no background event at 30 % signal efficiency: the sample only bounds eps_B, by the 95 % CL
    limit for none seen among N events, 1 - 0.05^(1/N) (about 3/N: N = 2400 equal weights here). The rejection is
    a lower limit 1 / that, the background an upper one (that share of the background before the cut), the
    significance a lower one; metrics.json names them in ``limits``, and a sweep's mean with one such run is one."""
    labels, scores, weights = _sample(4)
    separated = np.where(labels == 1, scores + 2.0, scores)  # every signal event above every background one
    metrics = [evaluate_collider({"label": labels, "score": s, "weight_pb": weights}, tmp_path / name, figure_formats=("png",))
               for name, s in (("separated", separated), ("overlapping", scores))]
    n_background = int((labels == 0).sum())
    eps_limit = 1.0 - 0.05 ** (1.0 / n_background)
    assert eps_limit == pytest.approx(3.0 / n_background, rel=0.01)  # the rule of three
    scalars = metrics[0]["scalars"]
    assert scalars["n_background_at_30"] == 0
    assert scalars["background_rejection_at_30"] == pytest.approx(1.0 / eps_limit, rel=1e-9)
    background_limit = eps_limit * 100.0 * 3000.0 * 1000.0  # 100 pb of background at 3000 fb^-1
    assert scalars["background_at_30"] == pytest.approx(background_limit, rel=1e-9)
    signal = scalars["signal_at_30"]
    assert signal == pytest.approx(0.3 * 0.01 * 3e6, rel=0.01)  # 30 % of 0.01 pb at 3000 fb^-1
    assert scalars["significance_at_30"] == pytest.approx(asimov_significance(signal, background_limit), rel=1e-9)
    sides = {"background_rejection": "lower", "background": "upper", "significance": "lower"}
    assert metrics[0]["limits"] == {f"{name}_at_{p}": side for p in (30, 50) for name, side in sides.items()}
    assert "limits" not in metrics[1] and metrics[1]["scalars"]["background_rejection_at_30"] > 1
    aggregate = aggregate_runs(metrics)
    assert aggregate["limits"] == metrics[0]["limits"]
    mean = aggregate["scalars"]["background_rejection_at_30"]
    assert mean["n_runs"] == 2 and mean["mean"] == pytest.approx(
        (scalars["background_rejection_at_30"] + metrics[1]["scalars"]["background_rejection_at_30"]) / 2)
    assert "limits" not in aggregate_runs(metrics[1:])
    mixed = [{**metrics[0], "limits": {"background_at_30": "lower"}}, metrics[0]]  # a mean of limits of both sides
    assert "background_at_30" not in aggregate_runs(mixed)["limits"]
    # the rejection curve shows the limit where no background event is kept, so a sweep's curve averages every run
    curve = metrics[0]["curves"]["background_rejection_vs_signal_efficiency"]
    assert curve["value"][0] == pytest.approx(1.0 / eps_limit) and curve["n_events"][0] == 0


def test_the_rejection_limit_counts_events_and_the_yield_limit_weighs_them(tmp_path: Path) -> None:
    """eps_B counts events, so its limit takes the background events (N); the background yield weighs them, so its
    limit takes their effective number (sum w)^2 / sum w^2. Without weights only the rejection is a limit."""
    labels, scores, _ = _sample(6)
    separated = np.where(labels == 1, scores + 2.0, scores)
    rng = np.random.default_rng(1)
    weights = np.where(labels == 1, 1e-5, rng.lognormal(0.0, 2.0, len(labels)))  # uneven background weights
    point = working_point(labels, separated, 0.3, weights, luminosity_fb=1.0)
    background = weights[labels == 0]
    n, effective = int((labels == 0).sum()), background.sum() ** 2 / (background**2).sum()
    assert point.limited and effective < n / 5
    assert point.rejection == pytest.approx(1.0 / (1.0 - 0.05 ** (1.0 / n)), rel=1e-12)
    assert point.background_yield == pytest.approx((1.0 - 0.05 ** (1.0 / effective)) * 1000.0 * background.sum(), rel=1e-12)
    unweighted = evaluate_collider({"label": labels, "score": separated}, tmp_path, figure_formats=("png",))
    assert unweighted["limits"] == {"background_rejection_at_30": "lower", "background_rejection_at_50": "lower"}
    assert unweighted["scalars"]["background_at_30"] is None and unweighted["scalars"]["significance_at_30"] is None


def test_a_test_set_without_background_has_no_rejection_not_an_infinite_one(tmp_path: Path) -> None:
    """No background event at all: the rejection and the significance are undefined (null), not limits."""
    rng = np.random.default_rng(5)
    metrics = evaluate_collider({"label": np.ones(200, int), "score": rng.random(200)}, tmp_path, figure_formats=("png",))
    assert metrics["scalars"]["background_rejection_at_30"] is None and "limits" not in metrics
    assert metrics["scalars"]["significance_at_30"] is None
