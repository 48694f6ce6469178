"""Issue 18's acceptance: a throw-away family (``tests/toy_family.py``: a padded set of hits, per-hit and
per-pair targets, a second token stream, three event classes) runs ``train``, ``predict``, ``evaluate``
and ``board`` through the command line, with no change to the core."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from showerlearn.cli.main import app
from showerlearn.engine.run_dir import RunDir
from showerlearn.io.tables import read_tables
from toy_family import toy_events

pytestmark = pytest.mark.slow


def _config(tmp_path: Path) -> Path:
    config = {
        "name": "toy",
        "seed": 2,
        "output_dir": str(tmp_path / "runs"),
        "data": {"name": "toy_family:ToyData", "params": {"events": 300, "batch_size": 20}},
        "model": {"name": "toy_family:ToyNet", "params": {"hidden": 16}},
        "task": {"heads": {
            "kind": {"loss": "cross_entropy", "metrics": ["accuracy", "auroc"]},
            "hits": {"loss": "cross_entropy", "metrics": ["accuracy"]},
            "pairs": {"loss": "pairwise_bce", "loss_params": {"pos_weight": 1.0}, "metrics": ["auroc"]},
        }},
        "optimizer": {"name": "adam", "params": {"lr": 0.01}},
        "trainer": {"max_epochs": 5, "accelerator": "cpu", "checkpoint_every_n_steps": None},
        "evaluation": {"name": "toy_family:evaluate_toy"},
    }
    path = tmp_path / "toy.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_a_new_family_trains_predicts_evaluates_and_shows_on_the_board(tmp_path: Path) -> None:
    runner = CliRunner()
    trained = runner.invoke(app, ["train", str(_config(tmp_path))])
    assert trained.exit_code == 0, trained.output
    (run_path,) = (tmp_path / "runs" / "toy").iterdir()
    run = RunDir.existing(run_path)

    # per-event and per-element tables in one predictions file, read back by the evaluator
    tables = read_tables(run.predictions_file)
    assert list(tables) == ["predictions", "hits", "pairs"]
    events = tables["predictions"]
    # every real hit once, in event order, whatever the padding of its prediction batch
    test_events = toy_events(300, seed=2)[200:]
    sizes = [len(event["hit_id"]) for event in test_events]
    assert events["n_hits"].tolist() == sizes
    np.testing.assert_array_equal(tables["hits"]["hit_id"], np.concatenate([event["hit_id"] for event in test_events]))
    np.testing.assert_array_equal(tables["hits"]["event_index"], np.repeat(np.arange(len(sizes)), sizes))
    assert len(tables["pairs"]["score"]) == sum(n * (n - 1) for n in sizes)
    with (run.logs / "csv" / "attempt_0" / "metrics.csv").open() as handle:
        logged = set(next(csv.reader(handle)))
    assert {"val/kind_auroc", "val/hits_accuracy", "val/pairs_auroc", "val/pairs_loss"} <= logged
    metrics = run.metrics()
    assert metrics["evaluator"] == "toy" and metrics["scalars"]["n_classes"] == 3
    # the object count is only learnt by pooling over the real tokens of the object stream
    assert metrics["scalars"]["auc_macro"] > 0.8, metrics["scalars"]
    assert metrics["scalars"]["hit_accuracy"] > 0.8, metrics["scalars"]
    assert "hit_accuracy_vs_n_hits" in metrics["curves"]

    # predict the test split again into another file: the same rows
    output = tmp_path / "again.h5"
    predicted = runner.invoke(app, ["predict", str(run.path), "--output", str(output)])
    assert predicted.exit_code == 0, predicted.output
    again = read_tables(output)
    np.testing.assert_array_equal(again["hits"]["hit_id"], tables["hits"]["hit_id"])
    np.testing.assert_allclose(again["predictions"]["score_two"], events["score_two"], rtol=1e-6)

    # evaluate recomputes metrics.json from the stored tables
    run.metrics_file.unlink()
    evaluated = runner.invoke(app, ["evaluate", str(run.path)])
    assert evaluated.exit_code == 0, evaluated.output
    assert run.metrics()["scalars"] == metrics["scalars"]

    # the board draws the family's curve with the family's own label
    board = tmp_path / "board.html"
    shown = runner.invoke(app, ["board", str(run.path), "--output", str(board)])
    assert shown.exit_code == 0, shown.output
    page = board.read_text()
    assert "hit accuracy (toy family)" in page and "hits per event" in page
    payload = json.loads(page.split('<script type="application/json" id="board-data">')[1].split("</script>")[0])
    assert any("hit_accuracy_vs_n_hits" in json.dumps(entry) for entry in payload["entries"])
