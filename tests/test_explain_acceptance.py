"""Issue 7's acceptance on the shipped small example: trained as `make demo` trains it, the class score's
Grad-CAM lies mostly on the true signal of well-reconstructed gammas.

Minutes of training, so it runs once per module; the numbers it checks are in docs/explain.md.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sklearn.metrics import roc_auc_score

from showerlearn.config import load_config
from showerlearn.engine.runner import train
from showerlearn.iact.explain.signal import grad_cam_signal_fraction
from showerlearn.io.tables import read_columns
from showerlearn.iact.simulation import IACTSimulationConfig, simulate_iact

pytestmark = pytest.mark.slow

SMALL_EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "gamma_physnet_da_small.yaml"
HELD_OUT_EVENTS = 600  # the first 600 of a file simulated with another seed than the training set


@pytest.fixture(scope="module")
def small_example(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(run directory of the small example trained as shipped, held-out simulated file with true images)."""
    root = tmp_path_factory.mktemp("small_example")
    config = load_config(SMALL_EXAMPLE, [f"output_dir={root / 'runs'}", f"data.params.cache_dir={root / 'cache'}"])
    run = train(config, progress=False)
    held_out = root / "held_out.dl1.h5"
    simulate_iact(IACTSimulationConfig(n_events=4 * HELD_OUT_EVENTS, gamma_source="diffuse"), held_out, seed=1000)
    return run.path, held_out


def test_the_small_example_is_a_classifier(small_example: tuple[Path, Path]) -> None:
    """The explanation below is only worth checking on a network that separates the classes."""
    run, _ = small_example
    predictions = read_columns(run / "predictions.h5")
    assert roc_auc_score(predictions["true_shower_primary_id"] == 0, predictions["gammaness"]) > 0.65


def test_class_gradcam_lies_mostly_on_the_true_signal(small_example: tuple[Path, Path]) -> None:
    """Median over well-reconstructed gammas (gammaness >= 0.5, >= 50 true p.e.) of the class score's
    Grad-CAM mass on the true signal region, last backbone stage, measured against the empty camera:
    above one half, and far above chance (the region's share of the camera, ~0.06)."""
    run, held_out = small_example
    result = grad_cam_signal_fraction(run, held_out, "particle:0", max_events=HELD_OUT_EVENTS, reference="empty")
    assert result.well_reconstructed.sum() >= 50
    assert result.median > 0.5, f"class-score Grad-CAM: median mass on the signal {result.median:.2f}"
    assert result.median > 5 * result.median_area
