"""End to end: a tiny gamma-PhysNet-DA trained briefly on simulated LST events, explained through the command."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from showerlearn.cli.explain import explain, parse_events
from showerlearn.config import resolve_config
from showerlearn.engine.predict import predict_files
from showerlearn.engine.runner import train
from showerlearn.explain.driver import explain_run
from showerlearn.iact.explain.signal import grad_cam_signal_fraction
from showerlearn.io.atomic import write_json_atomic
from showerlearn.io.tables import read_columns
from showerlearn.iact.simulation import IACTSimulationConfig, simulate_iact

pytestmark = pytest.mark.slow

@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(run directory, held-out DL1 file with true p.e. images)."""
    root = tmp_path_factory.mktemp("explain")
    held_out = root / "test.dl1.h5"
    simulate_iact(IACTSimulationConfig(n_events=200, chunk_size=200), held_out, seed=7)
    config = {
        "name": "explain_tiny",
        "seed": 0,
        "output_dir": str(root / "runs"),
        "data": {
            "name": "iact",
            "params": {
                "simulate": {"events": 400, "seed": 1},
                "cache_dir": str(root / "cache"),
                "cuts": {"min_intensity": 50},
                "batch_size": 32,
            },
        },
        "model": {"name": "gamma_physnet_da", "params": {"depth": 8, "widths": [4, 8, 16], "fc_width": 16, "local_head": "light"}},
        "task": {"heads": {name: {"loss": "cross_entropy" if name == "particle" else "l1"} for name in ("particle", "energy", "direction", "impact")}},
        "trainer": {"max_epochs": 1, "accelerator": "cpu"},
    }
    run = train(resolve_config(config), progress=False)
    return run.path, held_out


def test_signal_fraction_of_the_class_task(trained: tuple[Path, Path]) -> None:
    """The acceptance measure on a held-out file: per-event fraction of the class score's Grad-CAM on the
    signal, its chance level, and the well-reconstructed gammas it is summarised over. (The model here
    trains for seconds, so only consistency is checked; see the report for trained-model numbers.)"""
    run, held_out = trained
    result = grad_cam_signal_fraction(run, held_out, max_events=40)
    n = len(result.fraction)
    assert n == 40 and result.area.shape == (n,) and result.well_reconstructed.shape == (n,)
    finite = np.isfinite(result.fraction)
    assert np.all((result.fraction[finite] >= 0) & (result.fraction[finite] <= 1))
    assert np.all((result.area[finite] > 0) & (result.area[finite] < 1))
    well = result.well_reconstructed
    expected_median = np.median(result.fraction[well]) if well.any() else np.nan  # a seconds-long training may have none
    np.testing.assert_allclose(result.median, expected_median)
    assert result.control_median is None
    controlled = grad_cam_signal_fraction(run, held_out, max_events=40, control=True)
    np.testing.assert_array_equal(controlled.fraction, result.fraction)  # the control leaves the trained maps alone
    assert controlled.control_median is not None
    # against the empty camera: other maps of the same events, still fractions
    referenced = grad_cam_signal_fraction(run, held_out, max_events=40, reference="empty")
    both = finite & np.isfinite(referenced.fraction)
    assert both.any() and not np.allclose(referenced.fraction[both], result.fraction[both])
    assert np.all((referenced.fraction[both] >= 0) & (referenced.fraction[both] <= 1))
    with pytest.raises(ValueError, match="reference must be one of"):
        grad_cam_signal_fraction(run, held_out, max_events=5, reference="zeros")


def test_explanation_of_one_run_matches_its_predictions(trained: tuple[Path, Path], tmp_path: Path) -> None:
    run, held_out = trained
    calls: list[tuple[int, int]] = []
    explanation = explain_run(run, held_out, events=[1, 4], targets=["particle:0", "energy"], max_events=20,
                              progress=lambda done, total: calls.append((done, total)))  # fmt: skip
    assert explanation.selected.tolist() == [1, 4]
    assert calls[-1][0] == calls[-1][1] == len(np.union1d(explanation.counted, [1, 4]))  # the progress bar's counts
    # same events, transforms and weights as the engine's own prediction path
    reference = read_columns(predict_files(run, [held_out], tmp_path, progress=False)[0].output)
    assert len(explanation.counted) == 20 and explanation.counted[-1] >= 0.9 * len(reference["event_id"])  # spread
    assert explanation.inputs.shape == (2, 2, 1855) and explanation.true_image.shape == (2, 1855)
    assert set(explanation.maps) == {"gradcam:particle:0", "gradcam:energy", "attention:1", "attention:2", "attention:3", "attention:product"}
    product = explanation.maps["attention:product"]
    np.testing.assert_allclose(product, explanation.maps["attention:1"] * explanation.maps["attention:2"] * explanation.maps["attention:3"])
    criteria = explanation.criteria["gradcam:energy"]
    assert len(criteria["signal_fraction"]) == 20
    # the energy head is trained on gammas only: its criteria are NaN for protons
    protons = explanation.predictions["true_shower_primary_id"] != 0
    assert protons.any() and np.isnan(criteria["signal_fraction"][protons]).all()
    counted = explanation.counted
    np.testing.assert_array_equal(explanation.predictions["event_id"], reference["event_id"][counted])
    np.testing.assert_allclose(explanation.predictions["gammaness"], reference["gammaness"][counted], rtol=1e-5, atol=1e-6)


def test_explain_command_on_a_sweep_writes_figures_criteria_and_table(trained: tuple[Path, Path], tmp_path: Path) -> None:
    run, held_out = trained
    # a two-seed sweep folder made of the same run twice: the seed std of every map is exactly zero
    sweep = tmp_path / "sweep"
    sweep.mkdir()
    for name in ("seed0", "seed1"):
        (sweep / name).symlink_to(run, target_is_directory=True)
    write_json_atomic(sweep / "sweep.json", {"name": "explain_tiny", "seeds": [0, 1], "runs": ["seed0", "seed1"]})
    app = typer.Typer()
    app.command()(explain)
    # one event drawn (figures of 1855 hexagons per panel are what this test spends its time on)
    result = CliRunner().invoke(app, [str(sweep), "--input", str(held_out), "--events", "2", "--max-events", "30", "-t", "particle:0", "-t", "energy"])
    assert result.exit_code == 0, result.output
    document = json.loads((sweep / "explain" / "criteria.json").read_text())
    (model,) = document["models"].values()
    assert model["n_seeds"] == 2 and model["n_events"] == 30
    fraction = model["criteria"]["gradcam:particle:0"]["signal_fraction"]
    assert fraction["n_seeds"] == 2 and fraction["std"] == pytest.approx(0.0, abs=1e-12)
    assert "| gradcam:particle:0 | signal_fraction |" in (sweep / "explain" / "criteria.md").read_text()
    # the randomised-weights control is on by default: same criteria, other maps
    control = model["criteria"]["randomized:gradcam:particle:0"]["signal_fraction"]
    assert control["n_seeds"] == 2 and control["mean"] != pytest.approx(fraction["mean"])
    assert document["settings"]["randomized_control"] is True and document["settings"]["reference"] == "none"
    assert (sweep / "plots" / "explain" / "criteria.png").is_file()
    figures = sorted(p.name for p in (sweep / "plots" / "explain").glob("event*.png"))  # mean/std over seeds
    assert len(figures) == 1 and figures[0].startswith("event00002_obs1_event")  # named by position and event
    assert sorted(p.name for p in (run / "plots" / "explain").glob("event*.png")) == figures  # each run's own
    bad = CliRunner().invoke(app, [str(sweep), "--input", str(held_out), "--events", "0,9999", "--overwrite"])
    assert bad.exit_code == 1 and "event positions must be in 0.." in " ".join(bad.output.split())  # rich wraps lines


def test_parse_events() -> None:
    assert parse_events("3,0,5-7") == [0, 3, 5, 6, 7]
    assert parse_events(None) == [0]
    for text in ("a-b", "5-2", ",", " ", "1,,2"):  # none may pass for "no event"
        with pytest.raises(ValueError, match="positions or increasing ranges"):
            parse_events(text)
