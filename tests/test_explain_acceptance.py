"""Issue 7's acceptance on the shipped small example: trained as `make demo` trains it, the class score's
Grad-CAM lies mostly on the true signal of well-reconstructed gammas.

The training takes minutes, so `make acceptance` runs it (``benchmarks/explain_acceptance.py``) and
commits its numbers; here they are checked against the criteria, the example is checked to be the one
they were measured on, and the script's own pipeline runs on a seconds-long training of the example.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from showerlearn.engine.run_dir import RunDir

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from explain_acceptance import RESULTS, example_fingerprint, main  # noqa: E402

RERUN = "run `make acceptance` and commit benchmarks/results/explain_acceptance/"


@pytest.fixture(scope="module")
def committed() -> dict:
    """The result `make acceptance` wrote for the example as shipped."""
    return json.loads((RESULTS / "acceptance.json").read_text())


def test_the_committed_result_is_of_the_example_as_shipped(committed: dict) -> None:
    assert committed["trained_as_shipped"], f"the committed acceptance run used overrides: {RERUN}"
    assert committed["example_sha256"] == example_fingerprint(), f"the small example changed since: {RERUN}"


def test_the_small_example_is_a_classifier(committed: dict) -> None:
    """The explanation below is only worth checking on a network that separates the classes."""
    assert committed["test_auc"] > 0.65


def test_class_gradcam_lies_mostly_on_the_true_signal(committed: dict) -> None:
    """Median over well-reconstructed gammas (gammaness >= 0.5, >= 50 true p.e.) of the class score's
    Grad-CAM mass on the true signal region, last backbone stage, measured against the empty camera, over
    600 held-out events: above one half, and far above chance (the region's share of the camera, ~0.06)."""
    assert committed["held_out_events"] == 600
    assert committed["well_reconstructed_gammas"] >= 50
    median = committed["median_signal_fraction"]
    assert median > 0.5, f"class-score Grad-CAM: median mass on the signal {median:.2f}"
    assert median > 5 * committed["median_signal_area"]


@pytest.mark.slow
def test_the_acceptance_script_measures_a_run(tiny_small_example: RunDir, tmp_path: Path) -> None:
    """The pipeline of `make acceptance` on the small example trained for seconds: the numbers are there
    and well formed (not meaningful after such a training), and the run is not taken for the shipped one."""
    output = tmp_path / "result"
    arguments = ["--run", str(tiny_small_example.path), "--events", "40", "--work-dir", str(tmp_path)]
    result = main([*arguments, "--output", str(output)])
    assert json.loads((output / "acceptance.json").read_text()) == result
    assert result["trained_as_shipped"] is False and result["example_sha256"] == example_fingerprint()
    assert 0.0 <= result["test_auc"] <= 1.0 and result["held_out_events"] == 40
    assert 0 < result["well_reconstructed_gammas"] <= 40  # some, so that the medians below are numbers
    assert 0.0 <= result["median_signal_fraction"] <= 1.0 and 0.0 < result["median_signal_area"] < 0.5
    assert "| test AUC |" in (output / "acceptance.md").read_text()
