"""Runs and sweeps with parts missing: a completed run's predictions file deleted, a sweep's seed folder deleted, a
run that failed or was interrupted. Each command names what is missing, why, and the command that goes on (run
here, to show that it does)."""

from __future__ import annotations

import json
import logging
import shlex
import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner, Result

from showerlearn.cli.common import console
from showerlearn.cli.main import app
from showerlearn.config import resolve_config
from showerlearn.engine.run_dir import RunDir
from showerlearn.engine.runner import train
from showerlearn.engine.sweep import sweep
from showerlearn.io.tables import read_tables


@pytest.fixture(autouse=True)
def _wide_console(monkeypatch: pytest.MonkeyPatch) -> None:
    """No line wrapping: a long path folded across lines could not be read back from the output."""
    monkeypatch.setattr(console, "width", 10_000)


def _invoke(*arguments: str | Path) -> Result:
    return CliRunner().invoke(app, [str(argument) for argument in arguments])


def _text(result: Result) -> str:
    """The command's output with the console's line wrapping undone."""
    return " ".join(result.output.split())


def _refused(result: Result, *expected: str) -> str:
    """The output of a command refused with a message (no traceback) holding every ``expected`` text."""
    text = _text(result)
    assert result.exit_code == 1, result.output
    assert "Traceback" not in text and "Errno" not in text, result.output
    for part in expected:
        assert part in text, (part, result.output)
    return text


def _suggested(text: str, start: str) -> list[str]:
    """The arguments of the command a message suggests, from ``start`` (e.g. "showerlearn sweep") to the end of
    its sentence, without the program's name (its subcommand first)."""
    command = text[text.index(start):].rstrip(".)")
    return shlex.split(command)[1:]


def _sweep(tabular_config: dict, seeds: int) -> Path:
    tabular_config["trainer"]["max_epochs"] = 1
    tabular_config["data"]["params"]["split"] = {"seed": 3}  # one test set for every seed: their ensemble
    return sweep(resolve_config(tabular_config), seeds, progress=False)


# ------------------------------------------------------------------------------------------- run.json alone
def test_a_run_says_its_recorded_state_and_how_to_go_on(tmp_path: Path) -> None:
    run = RunDir(tmp_path)
    assert run.state_summary() == "no state recorded (no run.json)"
    run.update_status(state="failed", error="RuntimeError: out of memory")
    assert run.state_summary() == "failed (RuntimeError: out of memory)"
    unfinished = run.not_completed("nothing to predict with")
    assert unfinished == (f"{tmp_path} did not complete: failed (RuntimeError: out of memory); nothing to predict with: "
                          f"train it again or resume it (showerlearn train {tmp_path / 'config.yaml'} --resume {tmp_path})")
    run.update_status(state="interrupted", error="interrupted (Ctrl+C)")  # the error says the state: once
    assert run.state_summary() == "interrupted (Ctrl+C)"
    run.update_status(state="running", error=None)  # or killed: resumed once no process trains it
    assert "running; it has no predictions file predictions.h5: train it again or resume it (once no process" in \
        str(pytest.raises(FileNotFoundError, run.checked_predictions).value)
    run.update_status(state="completed")
    assert run.not_completed("x") is None
    with pytest.raises(FileNotFoundError, match=r"says completed, but its predictions file .* is missing \(moved or "
                                                r"deleted\): put it back, or predict its test split into it again"):
        run.checked_predictions()
    run.ensemble_file.write_text("{}")
    with pytest.raises(FileNotFoundError, match="build the ensemble again into a new folder"):
        run.checked_predictions()
    run.predictions_file.write_bytes(b"")
    assert run.checked_predictions() == run.predictions_file


# ------------------------------------------------------------------------------------------- predictions deleted
@pytest.mark.slow
def test_a_completed_seed_without_its_predictions_is_named_and_predicted_again_by_the_command_given(
    tabular_config: dict, tmp_path: Path
) -> None:
    folder = _sweep(tabular_config, 2)
    run = RunDir(folder / "seed4")
    kept = read_tables(run.predictions_file)
    run.predictions_file.unlink()
    expected = (f"{run.path}: its run.json says completed, but its predictions file {run.predictions_file} is missing "
                "(moved or deleted)")
    text = _refused(_invoke("ensemble", folder, "--output", tmp_path / "ensemble"), expected)
    assert not (tmp_path / "ensemble").exists()
    assert _refused(_invoke("evaluate", run.path), expected) == text
    assert _refused(_invoke("evaluate", folder), expected) == text
    # the run's own file is predicted again only as the run predicts: not with other settings
    _refused(_invoke("predict", run.path, "--output", run.predictions_file, "--set", "data.params.batch_size=7"),
             "restored with the run's own model and settings only, not with --set")
    assert not run.predictions_file.exists()
    # nor from another network than the run's best (its best.ckpt gone, last.ckpt left)
    best = run.checkpoints / "best.ckpt"
    best.rename(best.with_name("kept.bak"))
    _refused(_invoke(*_suggested(text, "showerlearn predict"), "--no-progress"), "the checkpoint that predicted the run's test split")
    best.with_name("kept.bak").rename(best)

    restored = _invoke(*_suggested(text, "showerlearn predict"), "--no-progress")
    assert restored.exit_code == 0, restored.output
    again = read_tables(run.predictions_file)
    assert again.keys() == kept.keys()
    for name, column in kept["predictions"].items():
        np.testing.assert_allclose(again["predictions"][name], column, rtol=1e-5, err_msg=name)
    # once there, it is the run's: never written over
    _refused(_invoke("predict", run.path, "--output", run.predictions_file, "--overwrite"), "is the run's own predictions file")
    assert _invoke("evaluate", run.path).exit_code == 0
    built = _invoke("ensemble", folder, "--output", tmp_path / "ensemble")
    assert built.exit_code == 0, built.output


# ------------------------------------------------------------------------------------------- a seed deleted
@pytest.mark.slow
def test_a_deleted_seed_is_warned_of_and_the_aggregate_says_which_seeds_it_covers(
    tabular_config: dict, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = _sweep(tabular_config, 2)
    aggregate = json.loads((folder / "aggregate.json").read_text())
    assert (aggregate["runs"], aggregate["seeds"], aggregate["left_out"]) == (["seed3", "seed4"], [3, 4], {})
    shutil.rmtree(folder / "seed3")

    with caplog.at_level(logging.WARNING, logger="showerlearn"):
        evaluated = _invoke("evaluate", folder)
    assert evaluated.exit_code == 0, evaluated.output
    (warning,) = [record.getMessage() for record in caplog.records if "seed3" in record.getMessage()]  # said once
    assert "seed3, listed in sweep.json, is not there (deleted or moved, or not started yet)" in warning
    assert "the sweep is read from seed4 alone" in warning
    aggregate = json.loads((folder / "aggregate.json").read_text())
    assert aggregate["n_runs"] == 1 and aggregate["runs"] == ["seed4"] and aggregate["seeds"] == [4]
    assert aggregate["left_out"] == {"seed3": "missing (no run there)"}
    assert "left out: seed3 (missing (no run there))" in " ".join(evaluated.output.split())

    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="showerlearn"):
        drawn = _invoke("board", folder, "--output", tmp_path / "board.html")
    assert drawn.exit_code == 0, drawn.output
    assert [record.getMessage() for record in caplog.records if "seed3" in record.getMessage()] == [warning]

    # the command the warning gives trains the deleted seed again, and the aggregate covers both
    resumed = _invoke(*_suggested(warning, "showerlearn sweep"), "--no-progress")
    assert resumed.exit_code == 0, resumed.output
    aggregate = json.loads((folder / "aggregate.json").read_text())
    assert (aggregate["runs"], aggregate["seeds"], aggregate["left_out"]) == (["seed3", "seed4"], [3, 4], {})


# ------------------------------------------------------------------------------------------- runs not completed
@pytest.mark.slow
def test_a_failed_run_says_so_to_predict_evaluate_and_ensemble(tabular_config: dict, tmp_path: Path) -> None:
    tabular_config["callbacks"] = [{"name": "engine_plugins:CrashAtStep", "params": {"step": 0}}]
    with pytest.raises(RuntimeError, match="simulated crash"):
        train(resolve_config(tabular_config), progress=False)
    (path,) = (Path(tabular_config["output_dir"]) / "tabular").iterdir()
    state = f"{path} did not complete: failed (RuntimeError: simulated crash at step 0)"
    resume = f"train it again or resume it (showerlearn train {path / 'config.yaml'} --resume {path})"
    _refused(_invoke("predict", path, "--output", tmp_path / "p.h5"),
             f"{state}; nothing to predict with (no checkpoint in {path / 'checkpoints'}): {resume}")
    _refused(_invoke("predict", path, "--output", path / "predictions.h5"), f"{state}; it has no predictions of its own")
    _refused(_invoke("evaluate", path), f"{state}; it has no predictions file predictions.h5: {resume}")
    _refused(_invoke("ensemble", path, path, "--output", tmp_path / "e"), "not a completed run (state 'failed')", state)


@pytest.mark.slow
def test_an_interrupted_run_is_named_so_and_the_resume_given_completes_it(
    tabular_config: dict, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    tabular_config["callbacks"] = [{"name": "engine_plugins:CrashAtStep", "params": {"step": 9, "interrupt": True}}]
    with pytest.raises(BaseException):  # noqa: B017, PT011 - Lightning turns the KeyboardInterrupt into SystemExit
        train(resolve_config(tabular_config), progress=False)
    (path,) = (Path(tabular_config["output_dir"]) / "tabular").iterdir()
    run = RunDir(path)
    # its checkpoint predicts, said to be the network as it stopped
    with caplog.at_level(logging.WARNING, logger="showerlearn"):
        assert _invoke("predict", path, "--output", tmp_path / "stopped.h5", "--no-progress").exit_code == 0
    assert f"{path} did not complete (interrupted (Ctrl+C)): predicting with" in caplog.text
    # without one, nothing predicts
    bare = RunDir(Path(shutil.copytree(path, tmp_path / "bare")))
    shutil.rmtree(bare.checkpoints)
    _refused(_invoke("predict", bare.path, "--output", tmp_path / "p.h5"),
             f"{bare.path} did not complete: interrupted (Ctrl+C); nothing to predict with")

    text = _refused(_invoke("evaluate", path), f"{path} did not complete: interrupted (Ctrl+C)")
    resumed = _invoke(*_suggested(text, "showerlearn train"), "--no-progress")
    assert resumed.exit_code == 0, resumed.output
    assert run.status()["state"] == "completed" and run.status()["attempts"] == 2
    assert _invoke("evaluate", path).exit_code == 0
