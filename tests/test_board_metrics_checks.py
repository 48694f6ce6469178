"""``showerlearn board`` checks each run's metrics.json (scalars, ROC) and its ``--requirements`` before it writes
anything: a malformed file stops it with one error naming the file, the key and what belongs there."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from board_cli import run_board, says
from showerlearn.evaluation.curves import curve_record
from showerlearn.io.atomic import write_json_atomic

#: a metrics.json as an evaluator writes it: an undefined metric is null (or NaN, from an older writer)
VALID = {
    "evaluator": "iact", "n_events": 40,
    "scalars": {"n_events": 40, "auc": 0.8, "energy_bias": None, "energy_resolution": math.nan},
    "curves": {"energy_bias_vs_true_energy": curve_record(
        [0.1, 1.0, 10.0], [0.1, 0.05], [20, 20], x="true_energy", x_unit="TeV", unit="")},
    "roc": {"fpr": [0.0, 0.5, 1.0], "tpr": [0.0, 0.9, 1.0]},
}


def _run(path: Path, metrics: dict[str, Any]) -> Path:
    """A completed run directory with ``metrics``; its path resolved, as the board names it."""
    path.mkdir(parents=True)
    write_json_atomic(path / "metrics.json", metrics)
    (path / "config.yaml").write_text(yaml.safe_dump({"name": path.name, "seed": 0, "model": {"name": "m"}}))
    write_json_atomic(path / "run.json", {"state": "completed", "train_seconds": 1.0})
    return path.resolve()


def _edited(**changes: Any) -> dict[str, Any]:
    """:data:`VALID` with top-level keys replaced (``None`` removes one) and ``scalars``/``roc`` merged."""
    metrics = json.loads(json.dumps(VALID))
    for key, value in changes.items():
        if value is None:
            metrics.pop(key)
        elif isinstance(value, dict) and key in ("scalars", "roc"):
            metrics[key] = {**metrics[key], **value}
        else:
            metrics[key] = value
    return metrics


SCALARS = "'scalars' must map metric names to numbers (null: undefined), got"
CURVE = "curve 'energy_bias_vs_true_energy' is not a curve record with 'edges' and 'value' or 'mean'/'std'"
ROC = "'roc' must be an object with lists 'fpr' and 'tpr' of numbers (null: missing) of one length"


@pytest.mark.parametrize(("metrics", "expected"), [
    pytest.param({}, f"{SCALARS} nothing", id="empty"),
    pytest.param(_edited(scalars=None), f"{SCALARS} nothing", id="no-scalars"),
    pytest.param(_edited(scalars=[1, 2]), f"{SCALARS} list", id="scalars-list"),
    pytest.param(_edited(scalars="abc"), f"{SCALARS} str", id="scalars-string"),
    pytest.param({**VALID, "scalars": None}, f"{SCALARS} NoneType", id="scalars-null"),
    pytest.param(_edited(scalars={"auc": "high"}), "scalar 'auc' must be a number or null, got str 'high'",
                 id="scalar-string"),
    pytest.param(_edited(scalars={"auc": [0.8]}), "scalar 'auc' must be a number or null, got list [0.8]",
                 id="scalar-list"),
    pytest.param(_edited(scalars={"auc": {"value": 0.8}}), "scalar 'auc' must be a number or null, got dict",
                 id="scalar-object"),
    pytest.param(_edited(scalars={"auc": True}), "scalar 'auc' must be a number or null, got bool True",
                 id="scalar-bool"),
    pytest.param(_edited(n_events="40"), "'n_events' must be a number or null, got str '40'", id="n-events-string"),
    pytest.param(_edited(roc="x"), f"{ROC} (TypeError: got str)", id="roc-string"),
    pytest.param({**VALID, "roc": None}, f"{ROC} (TypeError: got NoneType)", id="roc-null"),
    pytest.param(_edited(roc=[[0, 1], [0, 1]]), f"{ROC} (TypeError: got list)", id="roc-list"),
    pytest.param(_edited(roc={"tpr": None}), f"{ROC} (TypeError: 'tpr' is NoneType", id="roc-tpr-null"),
    pytest.param({**VALID, "roc": {"fpr": [0.0, 1.0]}}, f"{ROC} (KeyError: 'tpr')", id="roc-no-tpr"),
    pytest.param(_edited(roc={"fpr": "abc", "tpr": "def"}), f"{ROC} (TypeError: 'fpr' is str", id="roc-strings"),
    pytest.param(_edited(roc={"tpr": [0.0, "0.9", 1.0]}), f"{ROC} (TypeError: 'tpr' holds str '0.9')",
                 id="roc-string-value"),
    pytest.param(_edited(roc={"tpr": [0.0, 1.0]}), f"{ROC} (ValueError: 'fpr' has 3 points, 'tpr' 2)",
                 id="roc-lengths"),
    pytest.param(_edited(curves={"energy_bias_vs_true_energy": {**VALID["curves"]["energy_bias_vs_true_energy"],
                                                                "value": [0.1, 0.05, 0.02]}}),
                 f"{CURVE} (ValueError: 'value' has 3 entries for 3 edges (one per bin: 2))", id="curve-values"),
    pytest.param(_edited(curves={"energy_bias_vs_true_energy": {**VALID["curves"]["energy_bias_vs_true_energy"],
                                                                "n_events": [20]}}),
                 f"{CURVE} (ValueError: 'n_events' has 1 entries for 3 edges (one per bin: 2))", id="curve-counts"),
])
def test_a_malformed_metrics_file_stops_the_board_naming_file_key_and_what_belongs_there(
    tmp_path: Path, metrics: dict[str, Any], expected: str
) -> None:
    good, bad = _run(tmp_path / "exp" / "good", VALID), _run(tmp_path / "exp" / "bad", metrics)
    output = tmp_path / "board.html"
    code, said = run_board(str(good), str(bad), "--output", str(output))
    assert code == 1, said
    assert said.count("error:") == 1 and "Traceback" not in said, said
    assert says(said, f"{bad / 'metrics.json'}: {expected}"), said
    assert not output.exists(), "nothing is written"


def test_a_malformed_seed_of_a_sweep_is_named(tmp_path: Path) -> None:
    sweep = tmp_path / "sweep-1"
    _run(sweep / "seed0", VALID)
    bad = _run(sweep / "seed1", _edited(scalars={"auc": "high"}))
    write_json_atomic(sweep / "sweep.json", {"name": "small", "seeds": [0, 1], "runs": ["seed0", "seed1"]})
    code, said = run_board(str(sweep), "--output", str(tmp_path / "board.html"))
    assert code == 1 and says(said, f"{bad / 'metrics.json'}: scalar 'auc' must be a number or null"), said


def test_undefined_metrics_and_a_roc_without_points_are_drawn(tmp_path: Path) -> None:
    """What evaluators write is accepted: null or NaN for a metric undefined on the events, integers, and an
    empty ROC (a single class), which the board takes from the predictions when it can (here it cannot)."""
    run = _run(tmp_path / "exp" / "run", _edited(roc={"fpr": [], "tpr": []}))
    output = tmp_path / "board.html"
    code, said = run_board(str(run), "--output", str(output))
    assert code == 0, said
    page = output.read_text()
    (data,) = re.findall(r'<script type="application/json" id="board-data">(.*?)</script>', page, re.S)
    (entry,) = json.loads(data)["entries"]
    assert entry["scalars"]["auc"] == 0.8 and entry["scalars"]["n_events"] == 40
    assert entry["scalars"]["energy_bias"] is None and entry["scalars"]["energy_resolution"] is None
    assert entry["roc"] is None


def test_a_roc_from_metrics_is_drawn_as_written(tmp_path: Path) -> None:
    run = _run(tmp_path / "exp" / "run", _edited(roc={"fpr": [0.0, None, 1.0]}))
    output = tmp_path / "board.html"
    code, said = run_board(str(run), "--output", str(output))
    assert code == 0, said
    data = re.findall(r'<script type="application/json" id="board-data">(.*?)</script>', output.read_text(), re.S)[0]
    assert json.loads(data)["entries"][0]["roc"]["fpr"] == [0.0, None, 1.0]


def test_requirements_that_are_no_folder_are_refused_saying_what_they_are(tmp_path: Path) -> None:
    run = _run(tmp_path / "exp" / "run", VALID)
    output = tmp_path / "board.html"
    (tmp_path / "t.txt").write_text("hi")
    code, said = run_board(str(run), "--requirements", str(tmp_path / "t.txt"), "--output", str(output))
    assert code == 1 and says(said, f"--requirements {tmp_path / 't.txt'}: is a file, not a folder of reference "
                                     "curves"), said
    code, said = run_board(str(run), "--requirements", str(tmp_path / "nowhere"), "--output", str(output))
    assert code == 1 and says(said, f"--requirements {tmp_path / 'nowhere'}: does not exist"), said
    assert not output.exists()
