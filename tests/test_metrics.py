"""showerlearn.metrics against naive implementations and analytic results, and on edge cases."""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest
from scipy import stats

from showerlearn.metrics import aggregate as agg
from showerlearn.metrics import classification as cls
from showerlearn.metrics import resolution as res
from showerlearn.metrics.binning import bin_indices, binned_statistic
from showerlearn.metrics.efficiency import binomial_interval
from showerlearn.iact.evaluation.irf import SimulatedEvents, effective_area_per_energy, migration_matrix
from showerlearn.iact.particles import gamma_labels

EDGES = np.array([1.0, 2.0, 4.0, 8.0])


# --- binning -------------------------------------------------------------------------------------


def test_bins_are_closed_left_open_right_and_skip_nan() -> None:
    x = np.array([0.5, 1.0, 1.999, 2.0, 8.0, 9.0, np.nan])
    np.testing.assert_array_equal(bin_indices(x, EDGES), [-1, 0, 0, 1, -1, -1, -1])


def test_binned_statistic_matches_naive_loop() -> None:
    rng = np.random.default_rng(0)
    x = rng.uniform(0.5, 9, 500)
    sample = rng.normal(size=500)
    sample[::17] = np.nan  # NaN samples are dropped, not counted
    curve = binned_statistic(sample, x, EDGES, np.median, n_bootstrap=0)
    for i, (lo, hi) in enumerate(zip(EDGES[:-1], EDGES[1:])):
        in_bin = sample[(x >= lo) & (x < hi) & ~np.isnan(sample)]
        assert curve.n_events[i] == in_bin.size
        assert curve.value[i] == pytest.approx(np.median(in_bin), rel=1e-14)
    assert np.all(np.isnan(curve.ci_low)) and np.all(np.isnan(curve.ci_high))


def test_bootstrap_interval_is_seeded_and_has_the_analytic_width() -> None:
    rng = np.random.default_rng(1)
    sample = rng.normal(size=1600)
    x = np.full(sample.size, 1.5)
    first = binned_statistic(sample, x, EDGES, np.median, n_bootstrap=400, seed=7)
    again = binned_statistic(sample, x, EDGES, np.median, n_bootstrap=400, seed=7)
    np.testing.assert_array_equal(first.ci_low, again.ci_low)
    # the median of N(0,1) has standard error sqrt(pi/2)/sqrt(n): 95 % half-width 1.96 * that
    half_width = 0.5 * (first.ci_high[0] - first.ci_low[0])
    assert half_width == pytest.approx(1.96 * np.sqrt(np.pi / 2 / sample.size), rel=0.2)
    assert first.ci_low[0] <= first.value[0] <= first.ci_high[0]


def test_bootstrap_of_a_single_event_is_that_event() -> None:
    curve = binned_statistic(np.array([0.3]), np.array([3.0]), EDGES, np.median, n_bootstrap=50)
    np.testing.assert_array_equal(curve.value, [np.nan, 0.3, np.nan])
    np.testing.assert_array_equal(curve.ci_low, curve.value)
    np.testing.assert_array_equal(curve.n_events, [0, 1, 0])


def test_binned_statistic_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="strictly increasing"):
        binned_statistic(np.ones(2), np.ones(2), [1.0, 1.0, 2.0], np.median)
    with pytest.raises(ValueError, match="equal length"):
        binned_statistic(np.ones(2), np.ones(3), EDGES, np.median)
    with pytest.raises(ValueError, match="confidence_level"):
        binned_statistic(np.ones(2), np.ones(2), EDGES, np.median, confidence_level=95)
    with pytest.raises(ValueError, match="n_bootstrap"):
        binned_statistic(np.ones(2), np.ones(2), EDGES, np.median, n_bootstrap=-1)


def test_large_bins_are_bootstrapped_in_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    import showerlearn.metrics.binning as binning

    monkeypatch.setattr(binning, "_BOOTSTRAP_CHUNK_ELEMENTS", 1000)  # 1 resample of 1000 events per chunk
    rng = np.random.default_rng(2)
    sample = rng.normal(size=1000)
    curve = binned_statistic(sample, np.full(1000, 1.5), EDGES, np.median, n_bootstrap=30)
    assert curve.ci_low[0] < curve.value[0] < curve.ci_high[0]


# --- efficiency intervals ------------------------------------------------------------------------


@pytest.mark.parametrize("confidence_level", [res.ONE_SIGMA_CONTAINMENT, 0.95])
def test_binomial_interval_is_scipys_wilson_interval_bin_by_bin(confidence_level: float) -> None:
    k = np.array([0, 1, 3, 0, 5, 17, 50, 99, 100])
    n = np.array([1, 1, 3, 7, 10, 40, 100, 100, 100])
    low, high = binomial_interval(k, n, confidence_level)
    expected = [stats.binomtest(int(a), int(b)).proportion_ci(confidence_level, method="wilson") for a, b in zip(k, n)]
    np.testing.assert_allclose(low, [ci.low for ci in expected], rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(high, [ci.high for ci in expected], rtol=1e-12, atol=1e-15)


def test_binomial_interval_has_width_at_zero_and_full_efficiency() -> None:
    # the normal approximation sqrt(p (1 - p) / n) gives 1 +- 0 for 3 of 3; Wilson at one sigma (z = 1):
    # centre (3 + 1/2) / (3 + 1) = 0.875, half-width sqrt(1/4) / 4 = 0.125
    low, high = binomial_interval([3, 0], [3, 3])
    np.testing.assert_allclose(low, [0.75, 0.0])
    np.testing.assert_allclose(high, [1.0, 0.25])


def test_binomial_interval_of_an_empty_bin_is_nan_and_bad_counts_fail() -> None:
    low, high = binomial_interval([0, 2], [0, 4])
    assert np.isnan(low[0]) and np.isnan(high[0]) and low[1] < 0.5 < high[1]
    with pytest.raises(ValueError, match="between 0 and total"):
        binomial_interval([4], [3])
    with pytest.raises(ValueError, match="confidence_level"):
        binomial_interval([1], [3], confidence_level=1.0)


# --- resolution ----------------------------------------------------------------------------------


def test_containment_of_a_half_normal_is_one_sigma() -> None:
    values = np.abs(np.random.default_rng(3).normal(size=400_000))
    assert res.containment(values) == pytest.approx(1.0, abs=0.01)
    assert np.isnan(res.containment(np.empty(0)))
    with pytest.raises(ValueError, match="fraction"):
        res.containment(values, 68.0)


def test_angular_resolution_of_a_2d_gaussian_is_the_rayleigh_quantile() -> None:
    """Small offsets sigma in both directions near the pole of the sky: theta is Rayleigh(sigma)."""
    rng = np.random.default_rng(4)
    n, sigma = 100_000, 0.05
    true_alt, true_az = np.full(n, 30.0), np.zeros(n)
    reco_alt = true_alt + rng.normal(0, sigma, n)
    reco_az = true_az + rng.normal(0, sigma, n) / np.cos(np.deg2rad(30.0))
    expected = sigma * np.sqrt(-2 * np.log(1 - res.ONE_SIGMA_CONTAINMENT))
    assert res.angular_resolution(true_alt, true_az, reco_alt, reco_az) == pytest.approx(expected, rel=0.01)


def test_angular_separation_across_the_azimuth_wrap_and_units() -> None:
    theta = res.angular_separation([0.0], [359.5], [0.0], [0.5] * u.deg)
    np.testing.assert_allclose(theta, [1.0], rtol=1e-12)
    with pytest.raises(ValueError, match="reco_az"):
        res.angular_separation([0.0], [0.0], [0.0], [1.0] * u.m)
    with pytest.raises(ValueError, match="equal shapes"):
        res.angular_separation([0.0, 1.0], [0.0], [0.0], [0.0])


def test_energy_metrics_convert_units_and_ignore_invalid_true_energy() -> None:
    true = np.array([1.0, 2.0, 0.0, 4.0])
    reco = np.array([1.1, 1.6, 1.0, 4.0]) * u.TeV
    np.testing.assert_allclose(res.relative_energy_error(true * 1000 * u.GeV, reco), [0.1, -0.2, np.nan, 0.0])
    assert res.energy_bias(true, reco) == pytest.approx(0.0)
    assert res.energy_resolution(true, reco) == pytest.approx(np.quantile([0.1, 0.2, 0.0], res.ONE_SIGMA_CONTAINMENT))
    with pytest.raises(ValueError, match="equal shapes"):
        res.relative_energy_error(true, reco[:2])


def test_resolution_functions_survive_empty_and_single_event_input() -> None:
    empty = np.empty(0)
    assert np.isnan(res.angular_resolution(empty, empty, empty, empty))
    assert np.isnan(res.energy_resolution(empty, empty)) and np.isnan(res.energy_bias(empty, empty))
    curve = res.energy_resolution_per_bin([1.5], [1.8], [1.5], EDGES)
    np.testing.assert_allclose(curve.value, [0.2, np.nan, np.nan])
    np.testing.assert_array_equal(curve.n_events, [1, 0, 0])


# --- classification ------------------------------------------------------------------------------


def naive_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """P(score of a random positive > score of a random negative), ties counting one half."""
    pos, neg = scores[labels == 1], scores[labels == 0]
    diff = pos[:, None] - neg[None, :]
    return float(np.mean((diff > 0) + 0.5 * (diff == 0)))


def classifier(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n)
    return labels, np.round(np.clip(rng.normal(0.4 + 0.2 * labels, 0.2), 0, 1), 2)  # rounded: ties


def test_auc_and_roc_match_naive_definitions() -> None:
    labels, scores = classifier(1500, 0)
    assert cls.auc(labels, scores) == pytest.approx(naive_auc(labels, scores), rel=1e-12)
    roc = cls.roc_curve(labels, scores)
    for threshold, fpr, tpr in zip(roc.thresholds[1:], roc.fpr[1:], roc.tpr[1:]):
        assert tpr == pytest.approx(np.mean(scores[labels == 1] >= threshold))
        assert fpr == pytest.approx(np.mean(scores[labels == 0] >= threshold))
    assert roc.fpr[0] == roc.tpr[0] == 0 and roc.fpr[-1] == roc.tpr[-1] == 1


def test_performance_and_efficiencies_at_cut_match_counts() -> None:
    labels, scores = classifier(1000, 1)
    at = cls.performance_at_cut(labels, scores, 0.5)
    kept = scores >= 0.5
    assert at.precision == pytest.approx(np.sum(kept & (labels == 1)) / np.sum(kept))
    assert at.recall == pytest.approx(np.mean(kept[labels == 1]))
    assert at.background_rejection == pytest.approx(1 - np.mean(kept[labels == 0]))
    efficiency, rejection = cls.efficiencies_at_cuts(labels, scores, [0.0, 0.5, 2.0])
    np.testing.assert_allclose(efficiency, [1.0, at.recall, 0.0])
    np.testing.assert_allclose(rejection, [0.0, at.background_rejection, 1.0])
    cut = cls.cut_for_efficiency(scores[labels == 1], 0.7)
    assert np.mean(scores[labels == 1] >= cut) >= 0.7
    # few events: an interpolated quantile would keep 1 of 4 (25 %) for 30 %
    few = np.array([0.2, 0.5, 0.81, 0.9])
    for efficiency in (0.3, 0.5, 0.75, 1.0):
        kept = np.mean(few >= cls.cut_for_efficiency(few, efficiency))
        assert efficiency <= kept < efficiency + 0.25
    with pytest.raises(ValueError, match="1 of 5 scores are not finite"):
        cls.cut_for_efficiency([0.9, 0.8, 0.7, np.nan, 0.6], 0.2)


def test_auc_per_energy_bin_in_bin_matches_naive() -> None:
    labels, scores = classifier(2000, 2)
    energy = 10 ** np.random.default_rng(2).uniform(0, 0.55, 2000)
    values, n_gamma = cls.auc_per_energy_bin(labels, scores, energy, EDGES)
    for i, (lo, hi) in enumerate(zip(EDGES[:-1], EDGES[1:])):
        in_bin = (energy >= lo) & (energy < hi)
        if i < 2:
            assert values[i] == pytest.approx(naive_auc(labels[in_bin], scores[in_bin]), rel=1e-12)
        assert n_gamma[i] == np.sum(labels[in_bin] == 1)
    assert np.isnan(values[2])  # no event above 10**0.55 < 4 TeV
    with pytest.raises(ValueError, match="background"):
        cls.auc_per_energy_bin(labels, scores, energy, EDGES, background="none")


@pytest.mark.parametrize("labels", [np.ones(5, int), np.zeros(5, int), np.ones(1, int), np.empty(0, int)])
def test_classification_with_one_class_or_no_event_gives_nan(labels: np.ndarray) -> None:
    scores = np.linspace(0, 1, labels.size)
    assert np.isnan(cls.auc(labels, scores))
    assert cls.roc_curve(labels, scores).fpr.size == 0
    at = cls.performance_at_cut(labels, scores, 0.5)
    if not labels.any():
        assert np.isnan(at.recall)
    if labels.all():
        assert np.isnan(at.background_efficiency)
    values, _ = cls.auc_per_energy_bin(labels, scores, np.full(labels.size, 1.5), EDGES)
    assert np.all(np.isnan(values))


def test_precision_without_any_event_above_the_cut_is_nan() -> None:
    assert np.isnan(cls.performance_at_cut([0, 1], [0.1, 0.2], 0.5).precision)


def test_classification_rejects_bad_labels_and_nan_scores() -> None:
    with pytest.raises(ValueError, match="0/1"):
        cls.auc([0, 101], [0.1, 0.2])
    with pytest.raises(ValueError, match="NaN"):
        cls.auc([0, 1], [0.1, np.nan])
    np.testing.assert_array_equal(gamma_labels([0, 101, 0, 1]), [1, 0, 1, 0])


# --- irf -----------------------------------------------------------------------------------------


def test_simulated_showers_per_bin_integrate_the_power_law() -> None:
    sim = SimulatedEvents(n_showers=1e6, energy_min=0.01, energy_max=100.0, spectral_index=-2.0, max_impact=500.0)
    edges = np.geomspace(0.001, 1000.0, 13)
    per_bin = sim.n_showers_per_energy(edges)
    assert per_bin.sum() == pytest.approx(1e6)
    assert per_bin[0] == 0 and per_bin[-1] == 0
    # E^-2: the number per bin [a, b] is proportional to 1/a - 1/b
    inside = slice(2, 10)
    expected = 1e6 * (1 / edges[:-1] - 1 / edges[1:])[inside] / (1 / 0.01 - 1 / 100.0)
    np.testing.assert_allclose(per_bin[inside], expected, rtol=1e-12)
    # every selected event at the full rate: the effective area is the simulated area
    n_selected = int(round(per_bin[3]))
    area = effective_area_per_energy(np.repeat(np.sqrt(edges[3] * edges[4]), n_selected), edges, sim)
    assert area[3] == pytest.approx(np.pi * 500.0**2 * n_selected / per_bin[3], rel=1e-12)
    assert np.isnan(area[0]) and area[5] == 0


def test_simulated_events_from_ctapipe_configuration() -> None:
    runs = {
        "n_showers": [1000, 2000],
        "shower_reuse": [10, 10],
        "energy_range_min": [0.003, 0.003] * u.TeV,
        "energy_range_max": [330000.0, 330000.0] * u.GeV,
        "spectral_index": [-2.0, -2.0],
        "max_scatter_range": [700.0, 700.0],
        "min_viewcone_radius": [0.0, 0.0],
        "max_viewcone_radius": [10.0, 10.0],
    }
    sim = SimulatedEvents.from_ctapipe(runs)
    assert sim.n_showers == 30_000 and sim.energy_max == pytest.approx(330.0) and sim.viewcone_max == 10.0
    with pytest.raises(ValueError, match="spectral_index"):
        SimulatedEvents.from_ctapipe({**runs, "spectral_index": [-2.0, -2.7]})
    with pytest.raises(KeyError, match="shower_reuse"):
        SimulatedEvents.from_ctapipe({k: v for k, v in runs.items() if k != "shower_reuse"})
    with pytest.raises(ValueError, match="energy_min"):
        SimulatedEvents(n_showers=1, energy_min=10.0, energy_max=1.0, spectral_index=-2.0, max_impact=1.0)


def test_migration_matrix_matches_naive_counts() -> None:
    rng = np.random.default_rng(5)
    true = 10 ** rng.uniform(0, 0.55, 300)
    reco = true * np.exp(0.3 * rng.normal(size=300))
    matrix = migration_matrix(true, reco, EDGES, EDGES)
    for i in range(3):
        in_true = (true >= EDGES[i]) & (true < EDGES[i + 1])
        for j in range(3):
            in_reco = (reco >= EDGES[j]) & (reco < EDGES[j + 1])
            expected = np.sum(in_true & in_reco) / np.sum(in_true) if in_true.any() else np.nan
            np.testing.assert_allclose(matrix[i, j], expected)
    assert np.all(np.isnan(matrix[2]))  # no true energy above 10**0.55 < 4 TeV
    assert np.all(np.nansum(matrix, axis=1) <= 1 + 1e-12)
    assert migration_matrix([], [], EDGES, EDGES).shape == (3, 3)


# --- aggregation over seeds ----------------------------------------------------------------------


def test_mean_std_over_runs_ignores_nan_and_needs_two_runs_for_std() -> None:
    values = np.array([[1.0, 2.0, np.nan], [3.0, np.nan, np.nan], [5.0, 4.0, np.nan]])
    result = agg.mean_std_over_runs(values)
    np.testing.assert_allclose(result.mean, [3.0, 3.0, np.nan])
    np.testing.assert_allclose(result.std, [np.std([1, 3, 5], ddof=1), np.std([2, 4], ddof=1), np.nan])
    np.testing.assert_array_equal(result.n_runs, [3, 2, 0])
    single = agg.mean_std_over_runs([[0.2, 0.3]])
    assert np.all(np.isnan(single.std))
    with pytest.raises(ValueError, match="n_runs"):
        agg.mean_std_over_runs(np.empty((0, 3)))


def test_compare_dispersions_detects_a_noisier_model() -> None:
    rng = np.random.default_rng(6)
    robust = 0.1 + 0.002 * rng.normal(size=(20, 6))
    noisy = 0.1 + 0.010 * rng.normal(size=(20, 6))
    result = agg.compare_dispersions(robust, noisy)
    assert result.mean_std_ratio == pytest.approx(0.2, rel=0.3)
    assert result.p_value < 1e-6
    np.testing.assert_allclose(result.std_ratio, robust.std(axis=0, ddof=1) / noisy.std(axis=0, ddof=1))
    expected = stats.levene(robust[:, 0], noisy[:, 0], center="median").pvalue
    assert result.p_value_per_bin[0] == pytest.approx(expected)
    same = agg.compare_dispersions(robust, robust)
    assert same.mean_std_ratio == pytest.approx(1.0) and same.p_value == pytest.approx(1.0)


def test_compare_dispersions_with_too_few_runs_gives_nan() -> None:
    result = agg.compare_dispersions([[0.1, np.nan]], [[0.2, 0.3]])
    assert np.isnan(result.mean_std_ratio) and np.isnan(result.p_value)
    assert np.all(np.isnan(result.p_value_per_bin))
    with pytest.raises(ValueError, match="same bins"):
        agg.compare_dispersions(np.ones((2, 2)), np.ones((2, 3)))
    # two seeds a model: both lie equally far from their median, the test has nothing to measure (it gave p = 0)
    two = agg.compare_dispersions([[0.8], [0.9]], [[0.7], [0.7999]])
    assert np.isnan(two.p_value_per_bin[0])


def test_infinite_values_are_left_out_of_the_mean_over_runs() -> None:
    dispersion = agg.mean_std_over_runs([[1.0], [2.0], [np.inf]])
    assert dispersion.mean[0] == 1.5 and dispersion.n_runs[0] == 2 and dispersion.std[0] == pytest.approx(np.sqrt(0.5))
