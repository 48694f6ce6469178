"""``showerlearn plot collider``: score histograms per process, weighted by cross section, against a loop over the
events; the command on prediction files in the documented layout, and what it refuses."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from showerlearn.cli.main import app
from showerlearn.collider.evaluation.predictions import SCORE_EDGES, score_histograms
from showerlearn.io.tables import write_columns

PROCESSES = ["signal", "qcd", "ttbar"]


def _predictions(n: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    score = rng.random(n)
    score[rng.integers(0, n, 5)] = np.nan
    return {"label": rng.integers(0, 2, n), "score": score, "process": rng.integers(0, 3, n),
            "weight_pb": rng.uniform(0.1, 3.0, n), "event": np.arange(n)}


def test_histograms_sum_the_weights_of_each_process_per_bin() -> None:
    columns = _predictions(400, 1)
    record = score_histograms(columns, "score", PROCESSES)
    for code, name in enumerate(PROCESSES):
        expected = np.zeros(len(SCORE_EDGES) - 1)
        for score, process, weight in zip(columns["score"], columns["process"], columns["weight_pb"]):
            if process == code and np.isfinite(score):
                expected[min(int(score * 40), 39)] += weight  # 40 equal bins of [0, 1], the last closed
        np.testing.assert_allclose(record["processes"][name], expected, rtol=1e-12)
    assert record["weighted"] and record["events"] == 400
    unweighted = score_histograms({"score": columns["score"]}, "score", None)
    assert list(unweighted["processes"]) == ["all events"] and unweighted["processes"]["all events"].sum() == 395


def test_the_command_draws_files_and_names_the_scores_a_file_has(tmp_path: Path) -> None:
    def invoke(*arguments: object) -> tuple[int, str]:
        result = CliRunner().invoke(app, ["plot", "collider", *map(str, arguments)], terminal_width=200)
        return result.exit_code, "".join(result.output.split())

    names = {"process_names": json.dumps(PROCESSES)}
    first = write_columns(tmp_path / "a.predictions.h5", _predictions(300, 2), attributes=names)
    multi = {**_predictions(100, 3), "score_qcd": np.full(100, 0.2)}
    multi.pop("score")
    second = write_columns(tmp_path / "b.predictions.h5", multi, attributes=names)
    code, output = invoke(first, "-o", tmp_path / "scores.png", "--label", "transformer")
    assert code == 0 and (tmp_path / "scores.png").stat().st_size > 10_000, output
    code, output = invoke(first, second, "-o", tmp_path / "refused.png")
    assert code != 0 and "b.predictions.h5:nocolumn'score'(--score:itsscoresarescore_qcd)" in output, output
    code, output = invoke(second, "-o", tmp_path / "qcd.svg", "--score", "score_qcd")
    assert code == 0 and (tmp_path / "qcd.svg").is_file(), output
    iact_like = write_columns(tmp_path / "iact.predictions.h5", {"gammaness": np.array([0.1, 0.9])})
    code, output = invoke(iact_like, "-o", tmp_path / "refused.png")
    assert code != 0 and "nocolumn'score'toplot:notacolliderpredictionfile" in output, output
    for damaged, said in (("[oops", "isnottheJSONlistofprocessnamespredictwrites(Expectingvalue"),
                          ('{"a": 1}', """is{"a":1};expectedtheJSONlistofprocessnames""")):
        broken = write_columns(tmp_path / "broken.predictions.h5", _predictions(50, 2), attributes={"process_names": damaged})
        code, output = invoke(broken, "-o", tmp_path / "refused.png")
        assert code != 0 and f"broken.predictions.h5:attributeprocess_names{said}" in output, output
    # a file of an earlier layout is drawn where it holds what the figure needs
    earlier = write_columns(tmp_path / "earlier.predictions.h5", _predictions(50, 5),
                            attributes={"format": "showerlearn-predictions", "layout": 1})
    code, output = invoke(earlier, "-o", tmp_path / "earlier.png")
    assert code == 0 and (tmp_path / "earlier.png").is_file(), output
    # a score that is no probability would fall outside the bins unseen (NaN: no score, left out as documented)
    beyond = write_columns(tmp_path / "beyond.predictions.h5", {**_predictions(50, 4), "score": np.r_[0.5, 7.0, np.full(48, 0.5)]})
    code, output = invoke(beyond, "-o", tmp_path / "refused.png")
    assert code != 0 and "beyond.predictions.h5:scoreis7.0atrow1(1suchrows);expectedaprobabilityin[0,1]" in output, output
    assert not (tmp_path / "refused.png").exists()
