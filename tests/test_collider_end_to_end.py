"""The collider family through the command line on a small synthetic file: train the multi-scale
transformer, predict, evaluate, repeat over seeds and splits (a sweep whose board shows the ROC band),
explain it (mean attention maps and Grad-CAM jet images per class), and train the BDT baseline on the
same DataModule."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from collider_events import write_event_file
from showerlearn.cli.main import app
from showerlearn.collider.evaluation.evaluator import REJECTION_CURVE
from showerlearn.engine.run_dir import RunDir
from showerlearn.io.tables import read_tables

pytestmark = pytest.mark.slow

RUNNER = CliRunner()


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("collider_cli")
    return write_event_file(folder / "train.h5", 300, seed=0), write_event_file(folder / "explain.h5", 60, seed=1)


def _config(folder: Path, events: Path, **changes: object) -> Path:
    config = {
        "name": "collider_cli",
        "seed": 3,
        "output_dir": str(folder / "runs"),
        "data": {"name": "collider", "params": {
            "source": {"kind": "generated", "files": [str(events)]}, "constituents": {"n_tokens": 16}, "batch_size": 32,
        }},
        "model": {"name": "collider_multiscale", "params": {"dim": 16, "heads": 2, "constituent_layers": 1, "object_layers": 1}},
        "task": {"heads": {"label": {"loss": "cross_entropy", "metrics": ["auroc"]}}},
        "optimizer": {"name": "adamw", "params": {"lr": 0.005}},
        "trainer": {"max_epochs": 4, "accelerator": "cpu", "threads": 1, "checkpoint_every_n_steps": None},
        "evaluation": {"name": "collider", "params": {"figure_formats": ["png"]}},
        **changes,
    }  # fmt: skip
    path = folder / f"{config['name']}.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def _invoke(*args: str) -> None:
    result = RUNNER.invoke(app, list(args))
    assert result.exit_code == 0, result.output


def test_train_predict_evaluate_and_explain(files: tuple[Path, Path], tmp_path: Path) -> None:
    train_file, explain_file = Path(shutil.copy(files[0], tmp_path / "train.h5")), files[1]
    _invoke("train", str(_config(tmp_path, train_file)))
    (path,) = (tmp_path / "runs" / "collider_cli").iterdir()
    run = RunDir.existing(path)
    metrics = run.metrics()
    assert metrics["evaluator"] == "collider" and metrics["scalars"]["auc"] > 0.8, metrics["scalars"]
    table = read_tables(run.predictions_file)["predictions"]
    assert {"label", "score", "process", "weight_pb"} <= set(table) and len(table["score"]) == 45

    run.metrics_file.unlink()
    _invoke("evaluate", str(run.path))
    assert run.metrics()["scalars"] == metrics["scalars"]

    _invoke("explain", str(run.path), "--input", str(explain_file), "--events", "0", "--target", "label:1", "--no-control")
    figures = {p.name for p in (run.path / "plots" / "explain").glob("*.png")}
    assert {"attention_constituents_self.png", "attention_objects_self.png", "attention_objects_to_constituents_1.png",
            "gradcam_label_1.png"} <= figures  # fmt: skip
    assert any(name.startswith("event00000") for name in figures)

    # the checkpoint carries the preprocessing fitted on the training split: new files are predicted alike
    # without the training file
    _invoke("predict", str(run.path), "--input", str(explain_file), "--output", str(tmp_path / "with"))
    train_file.unlink()
    _invoke("predict", str(run.path), "--input", str(explain_file), "--output", str(tmp_path / "without"))
    with_file, without_file = (read_tables(tmp_path / f / "explain.predictions.h5")["predictions"] for f in ("with", "without"))
    np.testing.assert_array_equal(with_file["score"], without_file["score"])
    # the process codes of each output are named in it: a file numbers its processes its own way
    only_ttbar = write_event_file(tmp_path / "ttbar.h5", 20, seed=2, only="ttbar")
    _invoke("predict", str(run.path), "--input", str(only_ttbar), "--output", str(tmp_path / "with"))
    for output, names in ((run.predictions_file, ["signal", "qcd", "ttbar"]), (tmp_path / "with" / "ttbar.predictions.h5", ["ttbar"])):
        with h5py.File(output, "r") as h5:
            assert json.loads(h5.attrs["process_names"]) == names
        assert set(read_tables(output)["predictions"]["process"]) <= set(range(len(names)))

    # the network as ONNX, checked on the new file, predicting it as the checkpoint does
    model_file = tmp_path / "multiscale.onnx"
    _invoke("export", str(run.path), "--format", "onnx", "--output", str(model_file), "--input", str(explain_file), "--no-progress")
    _invoke("predict", str(run.path), "--input", str(explain_file), "--model", str(model_file), "--output", str(tmp_path / "onnx"))
    with_onnx = read_tables(tmp_path / "onnx" / "explain.predictions.h5")["predictions"]
    np.testing.assert_allclose(with_onnx["score"], with_file["score"], rtol=1e-4, atol=1e-6)


def test_a_sweep_over_seeds_and_splits_gives_roc_bands(files: tuple[Path, Path], tmp_path: Path) -> None:
    config = _config(tmp_path, files[0], trainer={"max_epochs": 2, "accelerator": "cpu", "threads": 1, "checkpoint_every_n_steps": None})
    _invoke("sweep", str(config), "--seeds", "2")
    (sweep,) = (tmp_path / "runs" / "collider_cli").glob("sweep-*")
    aggregate = json.loads((sweep / "aggregate.json").read_text())
    assert aggregate["scalars"]["auc"]["n_runs"] == 2 and aggregate["scalars"]["auc"]["std"] is not None
    assert aggregate["curves"][REJECTION_CURVE]["n_runs"][-1] == 2  # at the loosest working point
    # the sweep's band figures in the runs' figure formats
    assert {path.suffix for path in (sweep / "plots").iterdir()} == {".png"}
    # each seed drew its own split: the test events differ
    events = [read_tables(sweep / f"seed{seed}" / "predictions.h5")["predictions"]["event"] for seed in (3, 4)]
    assert not np.array_equal(np.sort(events[0]), np.sort(events[1]))
    board = tmp_path / "board.html"
    _invoke("board", str(sweep), "--output", str(board))
    payload = json.loads(board.read_text().split('<script type="application/json" id="board-data">')[1].split("</script>")[0])
    (entry,) = payload["entries"]
    assert entry["family"] == "collider" and entry["roc"]["low"] is not None  # the mean ROC with its +-std band


def test_the_bdt_baseline_trains_on_the_same_data(files: tuple[Path, Path], tmp_path: Path) -> None:
    config = _config(
        tmp_path, files[0], name="collider_bdt", model=None, task=None, estimator={"name": "collider_bdt", "params": {"max_iter": 50}}
    )
    _invoke("train", str(config))
    (path,) = (tmp_path / "runs" / "collider_bdt").iterdir()
    assert RunDir.existing(path).metrics()["scalars"]["auc"] > 0.8
