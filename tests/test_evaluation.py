"""Evaluators end to end: metrics JSON, figures on disk, aggregation over seeds, requirement curves."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import astropy.units as u
import numpy as np
import pytest
from ctapipe.instrument import CameraGeometry

from showerlearn.evaluation.aggregate import aggregate_runs, common_caption, compare_runs, plot_aggregates
from showerlearn.evaluation.classification import evaluate_classification
from showerlearn.evaluation.curves import json_list
from showerlearn.iact.evaluation.evaluator import REQUIRED_COLUMNS, CameraExamples, evaluate_iact, iact_metrics
from showerlearn.iact.evaluation.requirements import load_requirements, read_requirement_file
from showerlearn.io.tables import write_columns
from showerlearn.metrics import resolution as res
from showerlearn.iact.evaluation.irf import SimulatedEvents
from showerlearn.registry import EVALUATORS
from showerlearn.iact.viz.camera import camera_images_figure
from showerlearn.viz.figures import save_figure
from showerlearn.viz.training import read_metrics_csv, training_curves_figure

BINS = np.geomspace(0.02, 50.0, 8)
SIM = {"n_showers": 1e6, "energy_min": 0.003, "energy_max": 330.0, "spectral_index": -2.0, "max_impact": 700.0}


def predictions(n: int, seed: int, noise: float = 1.0) -> dict[str, np.ndarray]:
    """IACT prediction columns (docs/architecture.md) for gammas and protons."""
    rng = np.random.default_rng(seed)
    primary = np.where(rng.random(n) < 0.6, 0, 101)
    true_energy = 10 ** rng.uniform(-1.5, 1.5, n)
    true_alt, true_az = np.full(n, 70.0), rng.uniform(175, 185, n)
    return {
        "obs_id": np.ones(n, int),
        "event_id": np.arange(n),
        "tel_id": np.ones(n, int),
        "true_shower_primary_id": primary,
        "true_energy": true_energy,
        "reco_energy": true_energy * np.exp(0.2 * noise * rng.normal(size=n)),
        "true_alt": true_alt,
        "true_az": true_az,
        "reco_alt": true_alt + 0.1 * noise * rng.normal(size=n),
        "reco_az": true_az + 0.3 * noise * rng.normal(size=n),
        "true_core_x": rng.uniform(-300, 300, n),
        "true_core_y": rng.uniform(-300, 300, n),
        "reco_core_x": rng.uniform(-300, 300, n),
        "reco_core_y": rng.uniform(-300, 300, n),
        "pointing_alt": np.full(n, 70.0),
        "pointing_az": np.full(n, 180.0),
        "gammaness": np.clip(rng.normal(np.where(primary == 0, 0.7, 0.3), 0.2 * noise), 0, 1),
    }


def write_lightning_log(log_dir: Path) -> None:
    """A real Lightning CSV log (loss per step, learning rate, validation loss per epoch)."""
    from lightning.pytorch.loggers import CSVLogger

    logger = CSVLogger(log_dir, name="csv", version=0)
    for step in range(6):
        logger.log_metrics(
            {"train/loss": 1.0 / (step + 1), "train/energy_loss": 0.5 / (step + 1), "lr-AdamW": 1e-3 * 0.9**step},
            step=step,
        )
    logger.log_metrics({"val/loss": 0.4, "epoch": 0}, step=5)
    logger.save()


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path, dict[str, np.ndarray]]:
    root = tmp_path_factory.mktemp("run")
    write_lightning_log(root / "logs")
    baseline_file = write_columns(root / "baseline" / "predictions.h5", predictions(1500, seed=2, noise=2.0))
    p = predictions(2000, seed=1)
    camera = CameraExamples(CameraGeometry.make_rectangular(8, 8), np.ones((2, 64)), ["gamma", "proton"])
    metrics = evaluate_iact(
        p,
        root / "plots",
        energy_bins=BINS,
        baseline=baseline_file.parent,
        simulated=SIM,
        log_dir=root / "logs",
        camera_examples=camera,
        n_bootstrap=50,
    )
    return metrics, root / "plots", p


def test_evaluators_are_registered() -> None:
    assert EVALUATORS.get("iact") is evaluate_iact
    assert EVALUATORS.get("classification") is evaluate_classification


def test_iact_metrics_json_is_strict_json_and_tidy(
    evaluated: tuple[dict[str, Any], Path, dict[str, np.ndarray]],
) -> None:
    metrics, _, p = evaluated
    json.dumps(metrics, allow_nan=False)  # NaN became null: valid JSON for the board
    gammas = p["true_shower_primary_id"] == 0
    scalars = metrics["scalars"]
    assert scalars["n_gamma"] == gammas.sum() and scalars["n_events"] == 2000
    assert scalars["angular_resolution_deg"] == pytest.approx(
        res.angular_resolution(p["true_alt"][gammas], p["true_az"][gammas], p["reco_alt"][gammas], p["reco_az"][gammas])
    )
    assert 0.8 < scalars["auc"] < 1 and scalars["recall"] == scalars["gamma_efficiency"]
    for name in ("angular_resolution", "energy_resolution", "energy_bias"):
        for axis in ("true_energy", "reco_energy"):
            record = metrics["curves"][f"{name}_vs_{axis}"]
            assert record["x"] == axis and record["edges"] == pytest.approx(BINS.tolist())
            assert len(record["value"]) == len(record["ci_low"]) == len(record["n_events"]) == len(BINS) - 1
    area = metrics["curves"]["effective_area_vs_true_energy"]["value"]
    assert all(a is None or 0 <= a <= np.pi * 700.0**2 for a in area)
    assert metrics["baseline"]["scalars"]["angular_resolution_deg"] > scalars["angular_resolution_deg"]
    assert metrics["roc"]["fpr"][0] == 0 and metrics["roc"]["tpr"][-1] == 1
    assert np.array(metrics["migration"]["probability"], dtype=float).shape == (len(BINS) - 1, len(BINS) - 1)


def test_the_effective_area_counts_the_showers_behind_the_test_split(
    evaluated: tuple[dict[str, Any], Path, dict[str, np.ndarray]], tmp_path: Path
) -> None:
    """``simulated`` describes the whole data set; the predictions are its test split: a quarter of the events
    rests on a quarter of the showers, so the area is four times what all the showers would give."""
    metrics, _, p = evaluated
    quarter = evaluate_iact(p, tmp_path, energy_bins=BINS, simulated=SIM, test_share=0.25, n_bootstrap=0,
                            figure_formats=("png",))  # fmt: skip
    whole = np.array(metrics["curves"]["effective_area_vs_true_energy"]["value"], dtype=float)
    np.testing.assert_allclose(np.array(quarter["curves"]["effective_area_vs_true_energy"]["value"], dtype=float),
                               4 * whole)  # fmt: skip


def test_simulated_false_leaves_the_effective_area_out_where_the_files_would_give_one(
    evaluated: tuple[dict[str, Any], Path, dict[str, np.ndarray]], tmp_path: Path
) -> None:
    from showerlearn.config.schema import Component
    from showerlearn.engine.runner import _with_defaults

    _, _, p = evaluated
    defaults = {"simulated": SIM}  # what the data's files would give
    unset, off = (_with_defaults(Component(name="iact", params={"simulated": value}), defaults) for value in (None, False))
    assert unset.params["simulated"] == defaults["simulated"] and off.params["simulated"] is False
    metrics = evaluate_iact(p, tmp_path, energy_bins=BINS, simulated=False, n_bootstrap=0, figure_formats=("png",))
    assert "effective_area_vs_true_energy" not in metrics["curves"]


def test_iact_figures_are_written_as_png_and_pdf(evaluated: tuple[dict[str, Any], Path, dict[str, np.ndarray]]) -> None:
    metrics, plots, _ = evaluated
    expected = {
        "roc",
        "gammaness",
        "energy_migration",
        "training_curves",
        "camera_examples",
        "angular_resolution_vs_true_energy",
        "energy_resolution_vs_reco_energy",
        "effective_area_vs_true_energy",
        "auc_vs_reco_energy",
    }
    stems = {Path(name).stem for name in metrics["figures"]}
    assert expected <= stems
    for name in metrics["figures"]:
        data = (plots / name).read_bytes()
        assert data.startswith(b"\x89PNG" if name.endswith(".png") else b"%PDF")
    assert not [p for p in plots.iterdir() if p.name.startswith(".")]  # no temporary files left behind


@pytest.mark.parametrize("case", ["empty", "single_event", "gammas_only", "protons_only"])
def test_iact_metrics_on_edge_cases_do_not_crash(case: str) -> None:
    p = predictions(300, seed=3)
    keep = {
        "empty": np.zeros(300, bool),
        "single_event": np.arange(300) == 0,
        "gammas_only": p["true_shower_primary_id"] == 0,
        "protons_only": p["true_shower_primary_id"] != 0,
    }[case]
    metrics = iact_metrics(
        {k: v[keep] for k, v in p.items()}, energy_bins=BINS, simulated=SimulatedEvents(**SIM), n_bootstrap=10
    )
    json.dumps(metrics, allow_nan=False)
    assert metrics["scalars"]["auc"] is None  # one class at most: undefined
    if case in ("empty", "protons_only"):
        assert metrics["scalars"]["angular_resolution_deg"] is None
        assert all(v is None for v in metrics["curves"]["angular_resolution_vs_true_energy"]["value"])


def test_iact_evaluation_of_no_event_still_writes_figures(tmp_path: Path) -> None:
    empty = {k: v[:0] for k, v in predictions(10, seed=4).items()}
    metrics = evaluate_iact(empty, tmp_path, energy_bins=BINS, n_bootstrap=0, figure_formats=("png",))
    assert metrics["scalars"]["n_events"] == 0 and (tmp_path / "roc.png").is_file()


def test_iact_evaluator_names_missing_and_ragged_columns(tmp_path: Path) -> None:
    p = predictions(20, seed=5)
    with pytest.raises(KeyError, match="gammaness"):
        evaluate_iact({k: v for k, v in p.items() if k != "gammaness"}, tmp_path)
    with pytest.raises(ValueError, match="equal length"):
        evaluate_iact({**p, "reco_energy": p["reco_energy"][:-1]}, tmp_path)
    with pytest.raises(FileNotFoundError, match="baseline"):
        evaluate_iact(p, tmp_path, baseline=tmp_path / "nowhere")
    assert set(REQUIRED_COLUMNS) <= set(p)


def test_nan_gammaness_events_are_counted_as_unclassified() -> None:
    p = predictions(400, seed=6)
    p["gammaness"][:10] = np.nan
    metrics = iact_metrics(p, energy_bins=BINS, n_bootstrap=0)
    assert metrics["scalars"]["n_unclassified"] == 10 and metrics["scalars"]["auc"] is not None


def test_unreconstructed_gammas_are_counted_and_impossible_values_refused(tmp_path: Path) -> None:
    p = predictions(400, seed=6)
    gammas = np.flatnonzero(p["true_shower_primary_id"] == 0)
    p["reco_energy"][gammas[:3]] = np.nan
    p["reco_az"][gammas[3:8]] = np.nan
    scalars = iact_metrics(p, energy_bins=BINS, n_bootstrap=0)["scalars"]
    assert scalars["n_gamma_without_energy"] == 3 and scalars["n_gamma_without_direction"] == 5
    for column, value, expected in (("gammaness", 7.0, r"gammaness must be in \[0, 1\]"),
                                    ("reco_energy", -1.0, "reco_energy must be > 0 and finite"),
                                    ("reco_energy", np.inf, "reco_energy must be > 0 and finite"),
                                    ("true_energy", np.nan, "true_energy must be > 0 and finite")):
        bad = {**p, column: p[column].copy()}
        bad[column][[4, 9]] = value
        with pytest.raises(ValueError, match=rf"baseline: {expected}.*; 2 values are not, the first \S+ in row 4"):
            iact_metrics(bad, energy_bins=BINS, n_bootstrap=0, what="baseline")
    baseline = write_columns(tmp_path / "baseline.h5", bad)  # a baseline's file is named in its errors
    with pytest.raises(ValueError, match=rf"baseline predictions {baseline}: true_energy must be"):
        evaluate_iact(p, tmp_path, baseline=baseline, energy_bins=BINS, n_bootstrap=0, figure_formats=["png"])


def test_quantity_columns_and_bins_are_converted() -> None:
    p = predictions(400, seed=6)
    in_tev = iact_metrics(p, energy_bins=BINS, n_bootstrap=0)
    converted = {**p, "true_energy": p["true_energy"] * 1000 * u.GeV, "reco_alt": np.deg2rad(p["reco_alt"]) * u.rad}
    other_units = iact_metrics(converted, energy_bins=BINS * 1000 * u.GeV, n_bootstrap=0)
    for name in ("angular_resolution_vs_true_energy", "energy_bias_vs_reco_energy"):
        np.testing.assert_allclose(
            np.array(other_units["curves"][name]["value"], dtype=float),
            np.array(in_tev["curves"][name]["value"], dtype=float),
            rtol=1e-9,
        )
    assert in_tev["scalars"]["n_proton"] == np.sum(p["true_shower_primary_id"] == 101)


# --- requirements, camera displays, training logs (the first two need ../shared/data) ----------


def test_cta_requirements_are_read_by_set(shared_data: Path) -> None:
    folder = shared_data / "iact" / "irf" / "cta_requirements"
    lst = load_requirements(folder, "North-LST")
    assert set(lst) == {"angular_resolution", "energy_resolution", "effective_area", "sensitivity"}
    raw = np.loadtxt(folder / "cta_requirements_North-50h-LST-AngRes.dat")
    np.testing.assert_array_equal(lst["angular_resolution"].energy, raw[:, 0])
    np.testing.assert_array_equal(lst["angular_resolution"].value, raw[:, 1])
    assert lst["angular_resolution"].label == "CTA requirement North LST"
    assert "SST" in load_requirements(folder, "South-SST")["energy_resolution"].label
    with pytest.raises(ValueError, match="requirement_set"):
        load_requirements(folder, "Moon")
    with pytest.raises(FileNotFoundError, match="SST"):
        load_requirements(folder, "North-SST")  # the northern site has no SSTs


def test_requirement_file_errors_name_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "cta_requirements_North-50h-AngRes.dat"
    bad.write_text("0.1 0.2 0.3\n")
    with pytest.raises(ValueError, match="two columns"):
        read_requirement_file(bad)
    bad.write_text("# E [TeV], angular resolution [deg]\n\n0.05 0.3\n0.1 nan\n")
    with pytest.raises(ValueError, match=r"AngRes.dat: data row 2 \(comment and blank lines not counted\) holds \[0.1, nan\]"):
        read_requirement_file(bad)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_requirements(tmp_path / "missing")


def test_requirement_curves_are_overlaid(shared_data: Path, tmp_path: Path) -> None:
    run = iact_metrics(predictions(300, seed=7), energy_bins=BINS, n_bootstrap=0)
    folder = shared_data / "iact" / "irf" / "cta_requirements"
    written = plot_aggregates(
        {"one run": aggregate_runs([run])}, tmp_path, references=load_requirements(folder), names=["angular_resolution_vs_true_energy"]
    )
    assert sorted(p.name for p in written) == [
        "angular_resolution_vs_true_energy.pdf",
        "angular_resolution_vs_true_energy.png",
    ]
    with pytest.raises(KeyError, match="no curves named"):
        plot_aggregates({"one run": aggregate_runs([run])}, tmp_path, names=["sensitivity"])


def test_camera_images_on_the_lst_hexagonal_layout(shared_data: Path, tmp_path: Path) -> None:
    geometry = CameraGeometry.from_table(shared_data / "iact" / "geometry" / "LSTCam.camgeom.fits.gz")
    images = np.random.default_rng(0).exponential(2.0, size=(2, geometry.n_pixels))
    figure = camera_images_figure(geometry, images, ["gamma 1 TeV", "proton 3 TeV"])
    assert len(figure.axes) == 4  # two cameras, two colour bars
    assert [p.name for p in save_figure(figure, tmp_path / "camera", formats=("png",))] == ["camera.png"]
    with pytest.raises(ValueError, match="1855"):
        camera_images_figure(geometry, images[:, :100])
    with pytest.raises(ValueError, match="titles"):
        camera_images_figure(geometry, images, ["only one"])


def test_training_log_is_merged_and_plotted(tmp_path: Path) -> None:
    write_lightning_log(tmp_path)
    columns = read_metrics_csv(tmp_path)
    np.testing.assert_allclose(columns["train/loss"][:6], 1.0 / np.arange(1, 7))
    assert np.isnan(columns["val/loss"][:6]).all() and columns["val/loss"][6] == 0.4
    assert training_curves_figure(tmp_path) is not None
    assert training_curves_figure(tmp_path / "empty") is None
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "metrics.csv").write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="step"):
        read_metrics_csv(tmp_path)


# --- aggregation over seeds ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def seed_runs() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    robust = [iact_metrics(predictions(800, seed=s), energy_bins=BINS, n_bootstrap=0) for s in range(3)]
    noisy = [
        iact_metrics(predictions(800, seed=10 + s, noise=1.0 + 0.5 * s), energy_bins=BINS, n_bootstrap=0)
        for s in range(3)
    ]
    return robust, noisy


def test_aggregate_runs_gives_mean_and_std_per_bin(
    seed_runs: tuple[list[dict[str, Any]], list[dict[str, Any]]],
) -> None:
    runs, _ = seed_runs
    aggregate = aggregate_runs(runs)
    json.dumps(aggregate, allow_nan=False)
    assert aggregate["n_runs"] == 3
    aucs = [r["scalars"]["auc"] for r in runs]
    assert aggregate["scalars"]["auc"]["mean"] == pytest.approx(np.mean(aucs))
    assert aggregate["scalars"]["auc"]["std"] == pytest.approx(np.std(aucs, ddof=1))
    curve = aggregate["curves"]["angular_resolution_vs_true_energy"]
    values = np.array(
        [[np.nan if v is None else v for v in r["curves"]["angular_resolution_vs_true_energy"]["value"]] for r in runs]
    )
    np.testing.assert_allclose(np.array(curve["mean"], dtype=float), np.nanmean(values, axis=0))
    assert curve["edges"] == pytest.approx(BINS.tolist())


def test_aggregate_runs_rejects_mismatched_runs(seed_runs: tuple[list[dict[str, Any]], list[dict[str, Any]]]) -> None:
    runs, _ = seed_runs
    other = iact_metrics(predictions(200, seed=20), energy_bins=np.geomspace(0.02, 50.0, 5), n_bootstrap=0)
    with pytest.raises(ValueError, match="different bin edges"):
        aggregate_runs([runs[0], other])
    with pytest.raises(ValueError, match="different bin edges in the two models"):
        compare_runs(runs, [other, other])
    with pytest.raises(ValueError, match="different evaluators"):
        aggregate_runs([{**runs[0], "evaluator": "iact"}, {**runs[1], "evaluator": "classification"}])
    with pytest.raises(ValueError, match="at least one"):
        aggregate_runs([])
    single = aggregate_runs(runs[:1])
    assert single["scalars"]["auc"]["std"] is None


def test_runs_whose_curve_has_an_open_ended_bin_aggregate_and_compare() -> None:
    def run(values: list[float], edges: list[float]) -> dict[str, Any]:
        curve = {"x": "size", "x_unit": "", "unit": "", "edges": edges, "value": values, "n_events": [10, 10, 10]}
        return {"evaluator": "toy", "scalars": {"auc": values[0]}, "curves": {"width_vs_size": curve}}

    open_ended = [0.0, 1.0, 2.0, np.inf]
    written = [json.loads(json.dumps(run(v, json_list(open_ended)))) for v in ([1.0, 2.0, 3.0], [2.0, 3.0, 4.0])]
    assert written[0]["curves"]["width_vs_size"]["edges"][-1] is None  # the infinite edge, as JSON has it
    in_memory = run([3.0, 4.0, 5.0], open_ended)
    aggregate = aggregate_runs([*written, in_memory])
    assert aggregate["curves"]["width_vs_size"]["mean"] == pytest.approx([2.0, 3.0, 4.0])
    assert compare_runs(written, [in_memory, in_memory])["curves"]["width_vs_size"]["edges"][:3] == [0.0, 1.0, 2.0]
    with pytest.raises(ValueError, match="different bin edges"):
        aggregate_runs([written[0], run([1.0, 2.0, 3.0], [0.0, 1.5, 2.0, np.inf])])
    with pytest.raises(ValueError, match="different bin edges"):
        aggregate_runs([written[0], run([1.0, 2.0, 3.0], [0.0, 1.0, 2.0, 3.0])])


def test_compare_and_plot_two_models(
    seed_runs: tuple[list[dict[str, Any]], list[dict[str, Any]]], tmp_path: Path
) -> None:
    robust, noisy = seed_runs
    comparison = compare_runs(robust, noisy)
    json.dumps(comparison, allow_nan=False)
    assert comparison["curves"]["angular_resolution_vs_true_energy"]["mean_std_ratio"] < 1
    written = plot_aggregates(
        {"robust": aggregate_runs(robust), "noisy": aggregate_runs(noisy)},
        tmp_path,
        baseline=robust[0],
        names=["angular_resolution_vs_true_energy"],
    )
    assert tmp_path / "angular_resolution_vs_true_energy.pdf" in written


# --- generic classifier --------------------------------------------------------------------------


def test_classification_evaluator(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    rng = np.random.default_rng(9)
    label = rng.integers(0, 2, 500)
    score = rng.normal(label, 1.0)
    write_lightning_log(tmp_path / "logs")
    metrics = evaluate_classification(
        {"label": label, "score": score}, tmp_path, cut=0.5, log_dir=tmp_path / "logs", figure_formats=("png",)
    )
    json.dumps(metrics, allow_nan=False)
    pos, neg = score[label == 1], score[label == 0]
    assert metrics["scalars"]["auc"] == pytest.approx(np.mean(pos[:, None] > neg[None, :]))
    assert metrics["scalars"]["recall"] == pytest.approx(np.mean(pos >= 0.5))
    assert set(metrics["figures"]) == {"roc.png", "scores.png", "training_curves.png"}
    with caplog.at_level(logging.WARNING, logger="showerlearn.evaluation.classification"):
        one_class = evaluate_classification(
            {"label": np.ones(3, int), "score": np.ones(3)}, tmp_path, figure_formats=("png",)
        )
    assert one_class["scalars"]["auc"] is None
    assert "all 3 events are positive: the ROC, the AUC" in caplog.text  # said, not only null
    with pytest.raises(KeyError, match="score"):
        evaluate_classification({"label": label}, tmp_path)


def test_the_seeds_of_a_sweep_share_a_caption_that_lists_their_simulation_seeds() -> None:
    """A sweep whose seeds each simulate their own events differs only there: one caption naming the seeds; data
    that differ otherwise have none."""
    line = "simulated calorimeter events (2000 events, seed {}); test split: 300 events"
    assert common_caption([line.format(1), line.format(2), line.format(3)]) == \
        "simulated calorimeter events (2000 events, seeds 1, 2, 3); test split: 300 events"
    assert common_caption([line.format(4), line.format(4)]) == line.format(4)
    assert common_caption([line.format(1), line.format(2).replace("300", "301")]) is None
    assert common_caption([line.format(1), None]) is None and common_caption([]) is None


def test_a_sweeps_events_per_bin_are_those_behind_its_value() -> None:
    """A bin one seed fills (125 events, a value) and the other leaves empty (0 events, no value) holds the first
    seed's value: its count is 125, not the mean 62 that reads as neither seed's (the probe's)."""
    from showerlearn.evaluation.aggregate import aggregate_runs
    from showerlearn.evaluation.curves import curve_record

    edges = np.array([0.1, 1.0, 10.0])
    runs = [{"scalars": {}, "curves": {"r": curve_record(edges, np.array(value), np.array(counts), x="e", x_unit="TeV", unit="deg")}}
            for value, counts in (([0.2, 0.1], [400, 125]), ([0.3, np.nan], [380, 0]))]
    curve = aggregate_runs(runs)["curves"]["r"]
    assert curve["n_events"] == [390, 125] and curve["n_runs"] == [2, 1] and curve["mean"][1] == pytest.approx(0.1)
    runs[0]["curves"]["r"]["value"][1] = None  # no run has a value there: the mean count
    assert aggregate_runs(runs)["curves"]["r"]["n_events"] == [390, 62]
