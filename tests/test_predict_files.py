"""``showerlearn predict RUN FILES... --output DIR`` (:mod:`showerlearn.engine.predict`): one stamped output per
input, the same rows as predicting each file alone whatever the chunk size, resumable, refusing to overwrite,
and the events removed by the run's cuts counted (and kept as invalid rows on demand); such files, and the test split
predicted again, scored apart (``showerlearn evaluate RUN --predictions FILE``).

A tiny calorimeter network (trained for one epoch on 120 simulated events), a tiny collider one (one epoch on
120 synthetic events) and an untrained tiny IACT network (on real LST DL1 files, with intensity cuts) are
enough: what is tested is the plumbing, not the quality of the predictions."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
import typer
import yaml
from astropy.table import Table
from typer.testing import CliRunner, Result

import showerlearn
from collider_events import PROCESSES, write_event_file
from showerlearn.calorimeter.evaluation.evaluator import evaluate_calorimeter
from showerlearn.calorimeter.simulation import CalorimeterSimulationConfig, simulate_calorimeter
from showerlearn.cli.common import user_errors
from showerlearn.cli.main import app
from showerlearn.collider.evaluation.evaluator import evaluate_collider
from showerlearn.config import dump_config, load_config, resolve_config
from showerlearn.data.files import sample_digest
from showerlearn.engine.data_fingerprint import SIMULATED_KEY
from showerlearn.engine.predict import READ_BY_RUN, PredictionStopped, _host, predict_files, predict_split
from showerlearn.engine.run_dir import RunDir
from showerlearn.engine.runner import build_datamodule, build_module, train
from showerlearn.evaluation.scope import reads_predictions_only
from showerlearn.io.atomic import write_text_atomic
from showerlearn.io.tables import TableStream, read_attributes, read_tables, read_units
from showerlearn.registry import DATAMODULES

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
LSTCHAIN_FILE = "iact/dl1_lstchain/dl1_gamma_example.h5"  # 25 real LST MC images
CUTS = {"min_intensity": 1000.0, "max_intensity": 10000.0}


@pytest.fixture(scope="module")
def calorimeter(tmp_path_factory: pytest.TempPathFactory) -> tuple[RunDir, Path]:
    """A trained tiny calorimeter run, and a folder with two hit files ``a.h5`` and ``b.h5`` to predict."""
    root = tmp_path_factory.mktemp("predict_calorimeter")
    config = resolve_config({
        "name": "calo", "seed": 1, "output_dir": str(root / "runs"),
        "data": {"name": "calorimeter", "params": {
            "simulate": {"events": 120, "seed": 4, "config": {"n_gammas": 3, "n_gammas_min": 2, "chunk_size": 60}},
            "split": {"fractions": [0.6, 0.2, 0.2], "seed": 1}, "batch_size": 16, "cache_dir": str(root / "cache")}},
        "model": {"name": "hit_transformer", "params": {"dim": 8, "layers": 1, "heads": 2}},
        "task": {"heads": {"pairs": {"loss": "pairwise_bce"}}},
        "trainer": {"max_epochs": 1, "accelerator": "cpu", "threads": 1, "checkpoint_every_n_steps": None},
        "evaluation": None,
    })  # fmt: skip
    inputs = root / "inputs"
    for name, seed in (("a", 11), ("b", 12)):
        simulate_calorimeter(CalorimeterSimulationConfig(n_events=30, n_gammas=3, chunk_size=30), inputs / f"{name}.h5", seed=seed)
    return train(config, progress=False), inputs


@pytest.fixture(scope="module")
def collider(tmp_path_factory: pytest.TempPathFactory) -> RunDir:
    """A trained tiny collider run (an MLP over 8 constituents), whose checkpoint carries its token preprocessing."""
    root = tmp_path_factory.mktemp("predict_collider")
    events = write_event_file(root / "events.h5", 120, seed=0)
    return train(resolve_config({
        "name": "collider", "seed": 1, "output_dir": str(root / "runs"),
        "data": {"name": "collider", "params": {
            "source": {"kind": "generated", "files": [str(events)]}, "constituents": {"n_tokens": 8}, "batch_size": 32}},
        "model": {"name": "collider_mlp", "params": {}},
        "task": {"heads": {"label": {"loss": "cross_entropy"}}},
        "trainer": {"max_epochs": 1, "accelerator": "cpu", "threads": 1, "checkpoint_every_n_steps": None},
        "evaluation": None,
    }), progress=False)  # fmt: skip


def _trained_run(request: pytest.FixtureRequest, family: str) -> RunDir:
    """The run of the fixture ``family`` (the calorimeter one comes with its input files)."""
    found = request.getfixturevalue(family)
    return found[0] if isinstance(found, tuple) else found


@pytest.fixture(scope="module")
def iact_run(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> RunDir:
    """A tiny gamma-PhysNet run folder on real DL1 files with two intensity cuts, its weights untrained."""
    files = json.dumps([str(shared_data / LSTCHAIN_FILE), str(shared_data / "iact/dl1_ctapipe/gamma_test.lst.dl1.h5")])
    config = load_config(EXAMPLES / "gamma_physnet_small.yaml", [
        "data.params.simulate=null", f"data.params.files={files}", f"data.params.cuts={json.dumps(CUTS)}",
        "data.params.batch_size=8", "model.params.depth=8", "model.params.widths=[4,8,8]", "trainer.threads=1",
    ])  # fmt: skip
    datamodule = build_datamodule(config)
    datamodule.setup("fit")
    run = RunDir(tmp_path_factory.mktemp("predict_iact") / "run")
    run.checkpoints.mkdir(parents=True)
    torch.save({"state_dict": build_module(config, datamodule).state_dict()}, run.checkpoints / "best.ckpt")
    write_text_atomic(run.config_file, dump_config(config))
    return run


def _layout(path: Path) -> dict[str, list[tuple[str, np.dtype]]]:
    """Each table's columns, in order, with their types."""
    return {name: [(column, values.dtype) for column, values in columns.items()] for name, columns in read_tables(path).items()}


def _assert_same_layout(path: Path, expected: Path) -> None:
    """The same tables with the same columns of the same types (an output of no event against another)."""
    assert _layout(path) == _layout(expected)


def _assert_same_tables(path: Path, expected: Path) -> None:
    got, wanted = read_tables(path), read_tables(expected)
    assert list(got) == list(wanted)
    for name, columns in wanted.items():
        assert list(got[name]) == list(columns), name
        for column, values in columns.items():
            np.testing.assert_array_equal(got[name][column], values, err_msg=f"{path}: {name}.{column}")


def test_each_input_gets_its_own_stamped_output_equal_to_predicting_it_alone(
    calorimeter: tuple[RunDir, Path], tmp_path: Path
) -> None:
    run, inputs = calorimeter
    # both files together, decoded 7 events at a time: per-hit rows must still point at their events
    both = predict_files(run.path, [inputs / "a.h5", inputs / "b.h5"], tmp_path / "both", chunk_events=7, progress=False)
    assert [s.output.name for s in both] == ["a.predictions.h5", "b.predictions.h5"]
    assert [(s.status, s.events_read, s.events_predicted, s.removed) for s in both] == [("written", 30, 30, {})] * 2
    for name in ("a", "b"):
        (alone,) = predict_files(run.path, [inputs / f"{name}.h5"], tmp_path / name, progress=False)
        _assert_same_tables(tmp_path / "both" / f"{name}.predictions.h5", alone.output)
        tables = read_tables(alone.output)
        assert tables["predictions"]["event_id"].tolist() == list(range(30))
        assert set(tables["hits"]["event_index"]) == set(range(30))

    stamp = read_attributes(tmp_path / "both" / "a.predictions.h5")
    assert stamp["source"] == "a.h5"
    assert stamp["source_sha256"] == hashlib.sha256((inputs / "a.h5").read_bytes()).hexdigest()
    assert stamp["run_id"] == run.path.name and stamp["showerlearn_version"] == showerlearn.__version__
    assert load_config(run.config_file).model_dump() == resolve_config(yaml.safe_load(stamp["config"])).model_dump()
    assert stamp["model"].endswith("best.ckpt") and len(stamp["model_sha256"]) == 64
    assert (stamp["events_read"], stamp["events_predicted"], json.loads(stamp["events_removed"])) == (30, 30, {})
    assert not list((tmp_path / "both").glob(".*"))  # no partial file left behind


def test_an_interrupted_prediction_resumes_without_redoing_finished_files(
    calorimeter: tuple[RunDir, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run, inputs = calorimeter
    append = TableStream.append

    def interrupted_in_b(stream: TableStream, tables: dict) -> None:
        if stream.path.name.startswith("b."):
            raise KeyboardInterrupt
        append(stream, tables)

    monkeypatch.setattr(TableStream, "append", interrupted_in_b)
    with pytest.raises(KeyboardInterrupt):
        predict_files(run.path, [inputs / "*.h5"], tmp_path, progress=False)
    monkeypatch.undo()
    finished = tmp_path / "a.predictions.h5"
    assert finished.is_file() and not (tmp_path / "b.predictions.h5").exists()
    before = finished.stat()
    # what a killed process leaves: the partial file of the output it was writing, named after it
    ended = subprocess.Popen([sys.executable, "-c", "pass"])
    ended.wait()
    killed = tmp_path / f".b.predictions.h5.{_host()}.{ended.pid}.partial"
    killed.write_bytes(b"half an HDF5 file")
    earlier_version = tmp_path / ".b.predictions.h5.partial"  # partial files were once named without a writer
    earlier_version.write_bytes(b"half an HDF5 file")
    # whether the writer of another machine lives cannot be told: its file is left
    elsewhere = tmp_path / ".b.predictions.h5.another-host.1.partial"
    elsewhere.write_bytes(b"being written")

    again = predict_files(run.path, [inputs / "*.h5"], tmp_path, progress=False)
    assert [(s.status, s.redone) for s in again] == [("skipped", False), ("written", True)]
    assert again[0].events_read == 30  # a skipped file still reports its counts, from its stamp
    after = finished.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert not killed.exists() and not earlier_version.exists() and elsewhere.read_bytes() == b"being written"
    assert len(read_tables(tmp_path / "b.predictions.h5")["predictions"]["event_id"]) == 30


def test_two_processes_predicting_the_same_input_into_one_folder_keep_to_their_own_files(
    calorimeter: tuple[RunDir, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Process B starts predicting a.h5 while process A writes it: B neither removes A's partial file nor
    renames it half-written, and A does not rename B's. (B runs inside A's first chunk with another pid.)"""
    run, inputs = calorimeter
    append, other_pid = TableStream.append, os.getppid()  # a living process that is not this one
    seen: dict[str, object] = {}

    def b_starts_while_a_writes(stream: TableStream, tables: dict) -> None:
        append(stream, tables)
        if "b" in seen:
            return
        with monkeypatch.context() as as_b:
            as_b.setattr(os, "getpid", lambda: other_pid)
            as_b.setattr(TableStream, "append", append)
            (seen["b"],) = predict_files(run.path, [inputs / "a.h5"], tmp_path, progress=False)
        seen["a partial kept"] = stream.partial.is_file()

    monkeypatch.setattr(TableStream, "append", b_starts_while_a_writes)
    (a,) = predict_files(run.path, [inputs / "a.h5"], tmp_path, chunk_events=7, progress=False)
    assert seen["a partial kept"] and a.status == "written" and seen["b"].status == "written"
    assert read_tables(a.output)["predictions"]["event_id"].tolist() == list(range(30))
    assert read_attributes(a.output)["events_read"] == 30
    assert [p.name for p in tmp_path.iterdir()] == ["a.predictions.h5"]  # each renamed its own partial file


def test_an_output_without_its_last_attribute_is_predicted_again(calorimeter: tuple[RunDir, Path], tmp_path: Path) -> None:
    run, inputs = calorimeter
    (done,) = predict_files(run.path, [inputs / "a.h5"], tmp_path, progress=False)
    with h5py.File(done.output, "a") as file:  # the counts are written last: a file without them stopped before
        del file.attrs["events_read"]
    (again,) = predict_files(run.path, [inputs / "a.h5"], tmp_path, progress=False)
    assert again.status == "written" and read_attributes(again.output)["events_read"] == 30


def _emptied_copy(source: Path, path: Path, groups: tuple[str, ...]) -> Path:
    """A copy of the hit file ``source`` at ``path`` with every dataset of ``groups`` cut to no rows."""
    shutil.copy(source, path)
    with h5py.File(path, "a") as file:
        for group in groups:
            for name in list(file[group]):
                rows = file[group][name][:0]
                del file[group][name]
                file[group][name] = rows
        if "events" in groups:
            file.attrs["n_events"] = 0  # as the writer counts them
    return path


def test_events_without_hits_get_no_clusters_whatever_the_chunk(calorimeter: tuple[RunDir, Path], tmp_path: Path) -> None:
    """A chunk of one event without hits is a batch without a single hit: the attention network predicts it
    (its batch still has a padding slot), and alike in chunks of one event and in one chunk."""
    run, inputs = calorimeter
    hitless = _emptied_copy(inputs / "a.h5", tmp_path / "hitless.h5", ("hits", "contributions"))
    with h5py.File(hitless, "a") as file:
        file["events/n_hits"][...] = 0
        file["events/hit_start"][...] = 0
    (alone,) = predict_files(run.path, [hitless], tmp_path / "alone", chunk_events=1, progress=False)
    (together,) = predict_files(run.path, [hitless], tmp_path / "together", progress=False)
    _assert_same_tables(alone.output, together.output)
    tables = read_tables(alone.output)
    assert alone.events_predicted == 30 and len(tables["hits"]["label"]) == 0
    assert not tables["predictions"]["n_clusters"].any()


def test_a_hit_file_without_events_gives_an_output_with_every_table_empty(
    calorimeter: tuple[RunDir, Path], tmp_path: Path
) -> None:
    """As an input whose events the cuts all remove: a valid output, with the hits and gammas tables an
    evaluator reads (not the per-event table alone)."""
    run, inputs = calorimeter
    empty = _emptied_copy(inputs / "a.h5", tmp_path / "empty.h5", ("events", "hits", "contributions", "gammas"))
    (done,) = predict_files(run.path, [empty], tmp_path / "out", progress=False)
    tables = read_tables(done.output)
    assert done.status == "written" and read_attributes(done.output)["events_read"] == 0
    assert set(tables) == {"predictions", "hits", "gammas", "clusters"}
    assert all(len(column) == 0 for table in tables.values() for column in table.values())
    assert {"event_index", "label"} <= set(tables["hits"])
    (full,) = predict_files(run.path, [inputs / "a.h5"], tmp_path / "full", progress=False)
    _assert_same_layout(done.output, full.output)  # integer ids and counts, no column the others lack


def test_a_collider_file_without_events_gives_an_empty_output(collider: RunDir, tmp_path: Path) -> None:
    """As the writer leaves a file of a process without a selected event: an output without rows, its columns
    and their types those of any other output."""
    empty = write_event_file(tmp_path / "empty.h5", 5, seed=1, shares=(0.0, 1.0, 0.0), only="ttbar")
    done, other = predict_files(collider.path, [empty, write_event_file(tmp_path / "full.h5", 10, seed=2)],
                                tmp_path / "out", progress=False)  # fmt: skip
    assert (done.status, done.events_read, other.events_read) == ("written", 0, 10)
    assert len(read_tables(done.output)["predictions"]["score"]) == 0
    _assert_same_layout(done.output, other.output)


def test_an_input_refused_while_predicting_leaves_no_output_folder(calorimeter: tuple[RunDir, Path], tmp_path: Path) -> None:
    """A hit file of another calorimeter is refused once opened, after the output was begun: neither its partial
    file nor the folders made for it stay; a folder holding an earlier input's output does."""
    run, inputs = calorimeter
    other = Path(shutil.copy(inputs / "a.h5", tmp_path / "grid.h5"))
    with h5py.File(other, "a") as file:
        file.attrs["geometry"] = "toy_grid"
    with pytest.raises(ValueError, match=r"hit files of different calorimeters"):
        predict_files(run.path, [other], tmp_path / "made" / "out", progress=False)
    assert not (tmp_path / "made").exists()
    # refused after an earlier input was done: the error says that input's output is kept, the command shows it
    with pytest.raises(PredictionStopped, match=r"hit files of different calorimeters \(.*grid.h5: toy_grid.*\. Kept: the outputs of "
                                                r"the 1 earlier input \(1 written, 0 skipped as done\); not predicted: "
                                                r"this input and the 0 after it\. Run again to go on") as stopped:
        predict_files(run.path, [inputs / "a.h5", other], tmp_path / "out", progress=False)
    assert [(summary.source, summary.status) for summary in stopped.value.summaries] == [(str(inputs / "a.h5"), "written")]
    assert [path.name for path in (tmp_path / "out").iterdir()] == ["a.predictions.h5"]
    result = CliRunner().invoke(app, ["predict", str(run.path), str(inputs / "a.h5"), str(other), "-o", str(tmp_path / "out"),
                                      "--no-progress"])
    assert result.exit_code == 1 and "0 written, 1 skipped" in _text(result) and "Kept: the outputs of" in _text(result)


def test_a_run_given_as_dot_is_the_same_run_as_its_full_path(
    calorimeter: tuple[RunDir, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run, inputs = calorimeter
    (first,) = predict_files(run.path.resolve(), [inputs / "a.h5"], tmp_path, progress=False)
    monkeypatch.chdir(run.path)
    (again,) = predict_files(".", [inputs / "a.h5"], tmp_path, progress=False)
    assert again.status == "skipped" and read_attributes(first.output)["run_id"] == run.path.name


def test_a_run_whose_data_cannot_be_read_from_new_files_is_refused_before_any_output(
    tabular_config: dict, tmp_path: Path
) -> None:
    tabular_config["trainer"]["max_epochs"], tabular_config["evaluation"] = 1, None
    run = train(resolve_config(tabular_config), progress=False)
    table = Path(tabular_config["data"]["params"]["source"]["path"])
    with pytest.raises(ValueError, match=r"'tabular', read by TabularDataModule\) cannot be read from new files"):
        predict_files(run.path, [table], tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists()
    result = CliRunner().invoke(app, ["predict", str(run.path), str(table), "-o", str(tmp_path / "out"), "--no-progress"])
    assert result.exit_code == 1 and "TabularDataModule" in _text(result) and "Traceback" not in result.output
    assert not (tmp_path / "out").exists()


def test_what_a_component_does_not_implement_is_an_error_message_not_a_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SHOWERLEARN_DEBUG", raising=False)
    command = typer.Typer()

    @command.command()
    def predict() -> None:
        with user_errors():
            raise NotImplementedError("TabularDataModule cannot predict on new files")

    result = CliRunner().invoke(command, [])
    assert result.exit_code == 1 and not isinstance(result.exception, NotImplementedError)
    assert "error: not supported: TabularDataModule cannot predict on new files" in _text(result)


def test_outputs_written_beside_the_inputs_are_not_taken_for_inputs_when_run_again(
    calorimeter: tuple[RunDir, Path], tmp_path: Path
) -> None:
    run, inputs = calorimeter
    beside = tmp_path / "data"
    shutil.copytree(inputs, beside)
    first = predict_files(run.path, [beside / "*.h5"], beside, progress=False)
    again = predict_files(run.path, [beside / "*.h5"], beside, progress=False)
    assert [s.status for s in first] == ["written"] * len(first) and [s.status for s in again] == ["skipped"] * len(first)
    with pytest.raises(ValueError, match="every input is a predictions file in the output folder"):
        predict_files(run.path, [beside / "*.predictions.h5"], beside, progress=False)


def test_existing_outputs_are_refused_unless_overwrite(calorimeter: tuple[RunDir, Path], tmp_path: Path) -> None:
    run, inputs = calorimeter
    (done,) = predict_files(run.path, [inputs / "a.h5"], tmp_path, progress=False)
    text = tmp_path / "b.predictions.h5"
    text.write_text("my notes\n")
    stamp_before = done.output.stat().st_mtime_ns

    with pytest.raises(FileExistsError, match="b.predictions.h5 is not an HDF5 file"):
        predict_files(run.path, [inputs / "a.h5", inputs / "b.h5"], tmp_path, progress=False)
    # another config is another prediction: the output of the first is not taken for it, nor replaced
    other = ["data.params.decoding.pair_threshold=0.9"]
    with pytest.raises(FileExistsError, match="a.predictions.h5 holds predictions with another config"):
        predict_files(run.path, [inputs / "a.h5"], tmp_path, other, progress=False)
    assert text.read_text() == "my notes\n" and done.output.stat().st_mtime_ns == stamp_before
    # an output of an earlier version, whose tables differ, is not skipped as done
    with h5py.File(done.output, "a") as file:
        del file.attrs["layout"]
    with pytest.raises(FileExistsError, match="a.predictions.h5 was written by an earlier showerlearn, whose tables differ"):
        predict_files(run.path, [inputs / "a.h5"], tmp_path, progress=False)

    replaced = predict_files(run.path, [inputs / "a.h5", inputs / "b.h5"], tmp_path, other, overwrite=True, progress=False)
    assert [s.status for s in replaced] == ["written", "written"]
    assert "pair_threshold: 0.9" in read_attributes(text)["config"]

    # the run's test split into one file: refused as well
    split = tmp_path / "split.h5"
    split.write_text("keep me\n")
    with pytest.raises(FileExistsError, match="--overwrite"):
        predict_split(run.path, split, progress=False)
    assert split.read_text() == "keep me\n"
    assert predict_split(run.path, split, overwrite=True, progress=False).events_predicted > 0


def test_inputs_of_the_same_name_are_refused_and_the_same_file_is_predicted_once(
    calorimeter: tuple[RunDir, Path], tmp_path: Path
) -> None:
    run, inputs = calorimeter
    copy = tmp_path / "elsewhere" / "a.h5"
    copy.parent.mkdir()
    shutil.copy(inputs / "a.h5", copy)
    with pytest.raises(ValueError, match="same name.*a.h5 and .*elsewhere/a.h5"):
        predict_files(run.path, [inputs / "a.h5", copy], tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists()
    once = predict_files(run.path, [inputs / "a.h5", inputs / "[a].h5"], tmp_path / "out", progress=False)
    assert len(once) == 1


def test_the_command_expands_globs_and_reports_files_and_rates(calorimeter: tuple[RunDir, Path], tmp_path: Path) -> None:
    run, inputs = calorimeter
    result = CliRunner().invoke(app, ["predict", str(run.path), str(inputs / "*.h5"), "--output", str(tmp_path), "--no-progress"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.predictions.h5", "b.predictions.h5"]
    assert "2 written, 0 skipped" in _text(result) and "60 events read" in _text(result) and "events/s" in _text(result)
    again = CliRunner().invoke(app, ["predict", str(run.path), "--input", str(inputs / "a.h5"), "-o", str(tmp_path), "--no-progress"])
    assert again.exit_code == 0 and "0 written, 1 skipped" in _text(again)
    assert "predicted (the skipped files by their earlier run)" in " ".join(again.output.split())  # nothing read now
    (tmp_path / "c.h5").mkdir()
    refused = CliRunner().invoke(app, ["predict", str(run.path), str(tmp_path / "c.h5"), "-o", str(tmp_path / "c"), "--no-progress"])
    assert refused.exit_code == 1 and "c.h5: a folder, not an input file" in _text(refused)
    shutil.copy(inputs / "a.h5", tmp_path / "d.h5")  # a glob matching the folder and a file takes the file
    globbed = CliRunner().invoke(app, ["predict", str(run.path), str(tmp_path / "[cd].h5"), "-o", str(tmp_path / "d"),
                                       "--no-progress"])
    assert globbed.exit_code == 0 and [p.name for p in (tmp_path / "d").iterdir()] == ["d.predictions.h5"], globbed.output
    # a pattern given as the run that matched two runs: the second is named as a run, not a missing file
    second = CliRunner().invoke(app, ["predict", str(run.path), str(run.path), "-o", str(tmp_path / "c"), "--no-progress"])
    assert second.exit_code == 1 and "is a run directory, not an input file" in _text(second)
    # the single merged file of earlier versions: refused, not made a folder of that name
    merged = CliRunner().invoke(app, ["predict", str(run.path), str(inputs / "a.h5"), "-o", str(tmp_path / "dl2.h5"), "--no-progress"])
    assert merged.exit_code == 1 and "the output is a folder" in _text(merged) and not (tmp_path / "dl2.h5").exists()


def _text(result: Result) -> str:
    """The command's output with the console's line wrapping undone."""
    return " ".join(result.output.split())


def test_the_cut_report_counts_the_removed_events_and_keep_invalid_keeps_them(
    iact_run: RunDir, shared_data: Path, tmp_path: Path
) -> None:
    from showerlearn.iact.io.reader import DL1File

    source = shared_data / LSTCHAIN_FILE
    with DL1File(source) as file:
        columns, n_events = file.columns, file.n_events
    intensity = columns["intensity"]
    too_faint = intensity < CUTS["min_intensity"]
    too_bright = ~too_faint & (intensity > CUTS["max_intensity"])
    assert too_faint.any() and too_bright.any() and (~too_faint & ~too_bright).any()  # the file tests every case

    (summary,) = predict_files(iact_run.path, [source], tmp_path / "valid", chunk_events=10, progress=False)
    expected = {"intensity >= 1000.0 p.e.": int(too_faint.sum()), "intensity <= 10000.0 p.e.": int(too_bright.sum())}
    assert summary.removed == expected and summary.events_read == n_events
    assert summary.events_read - summary.events_predicted == sum(summary.removed.values())
    assert json.loads(read_attributes(summary.output)["events_removed"]) == expected
    predicted = read_tables(summary.output)["predictions"]
    assert len(predicted["event_id"]) == summary.events_predicted and "valid" not in predicted

    (kept,) = predict_files(iact_run.path, [source], tmp_path / "all", keep_invalid=True, chunk_events=10, progress=False)
    rows = read_tables(kept.output)["predictions"]
    assert len(rows["event_id"]) == n_events and kept.invalid_rows == sum(expected.values())
    valid = rows["valid"]
    units = read_units(kept.output)  # the family's units, and the engine's flag, as HDF5 attributes
    assert units["valid"] == "" and units["reco_energy"] == "TeV" and units["reco_alt"] == "deg"
    assert (~valid).sum() == kept.invalid_rows and np.isnan(rows["gammaness"][~valid]).all()
    assert np.isnan(rows["reco_alt"][~valid]).all() and np.isfinite(rows["reco_alt"][valid]).all()
    np.testing.assert_array_equal(rows["gammaness"][valid], predicted["gammaness"])
    # the invalid rows are the removed events, with their ids and intensities
    removed = too_faint | too_bright
    got = sorted(zip(rows["event_id"][~valid], rows["tel_id"][~valid], rows["hillas_intensity"][~valid]))
    assert got == sorted(zip(columns["event_id"][removed], columns["tel_id"][removed], intensity[removed]))


def test_a_file_whose_events_the_cuts_all_remove_gives_an_empty_table(
    iact_run: RunDir, shared_data: Path, tmp_path: Path
) -> None:
    source, nothing_passes = shared_data / LSTCHAIN_FILE, ["data.params.cuts.min_intensity=1e12", "data.params.cuts.max_intensity=1e13"]
    (summary,) = predict_files(iact_run.path, [source], tmp_path, nothing_passes, progress=False)
    assert summary.events_predicted == 0 and summary.events_read > 0
    table = read_tables(summary.output)["predictions"]
    assert len(table["gammaness"]) == 0 and "reco_energy" in table
    (again,) = predict_files(iact_run.path, [source], tmp_path, nothing_passes, progress=False)
    assert again.status == "skipped"
    (some,) = predict_files(iact_run.path, [source], tmp_path / "some", progress=False)
    assert some.events_predicted > 0
    _assert_same_layout(summary.output, some.output)  # integer ids, and no column of another predictor


def test_an_exported_model_predicts_as_the_checkpoint(
    iact_run: RunDir, shared_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from showerlearn.engine.exported import export_run, metadata_path

    source = shared_data / LSTCHAIN_FILE
    monkeypatch.chdir(iact_run.path)  # the run given as ".": its sidecar still names it
    exported = export_run(".", tmp_path / "model.pt", format="torchscript", inputs=[source], check_events=8)
    assert json.loads(metadata_path(exported).read_text())["run_id"] == iact_run.path.name
    (ours,) = predict_files(iact_run, [source], tmp_path / "checkpoint", progress=False)
    (theirs,) = predict_files(iact_run, [source], tmp_path / "exported", model=exported, progress=False)
    assert read_attributes(theirs.output)["model"] == str(exported.resolve())
    expected, got = read_tables(ours.output)["predictions"], read_tables(theirs.output)["predictions"]
    assert list(got) == list(expected)
    for column, values in expected.items():
        np.testing.assert_allclose(got[column], values, rtol=1e-4, atol=1e-6, err_msg=column)
    # a file copied over the export, or changed since, is not the one its sidecar describes
    original = exported.read_bytes()
    exported.write_bytes(original + b"\0")
    with pytest.raises(ValueError, match=r"model.pt: not the file its sidecar model.pt.json describes \(SHA-256"):
        predict_files(iact_run, [source], tmp_path / "changed", model=exported, progress=False)
    exported.write_bytes(original)
    # another run's export is refused: its network is not the one this run's pipeline feeds and decodes,
    # even when the two runs share every setting (a twin: the same config, other weights)
    twin = RunDir(Path(shutil.copytree(iact_run.path, tmp_path / "twin")))
    weights = torch.load(twin.best_checkpoint(), weights_only=True)["state_dict"]
    torch.save({"state_dict": {name: value + 1 if value.is_floating_point() else value for name, value in weights.items()}},
               twin.best_checkpoint())  # fmt: skip
    with pytest.raises(ValueError, match=rf"model.pt: exported from the checkpoint of the run {iact_run.path.name} "):
        predict_files(twin, [source], tmp_path / "twin_out", model=exported, progress=False)
    # another run of the same folder name is another run; the run it was exported from, trained further since
    # (--resume, here its sidecar pointing to the twin): its best checkpoint is another
    namesake = RunDir(Path(shutil.copytree(twin.path, tmp_path / "elsewhere" / iact_run.path.name)))
    with pytest.raises(ValueError, match=rf"model.pt: exported from the checkpoint of the run {iact_run.path.name} "):
        predict_files(namesake, [source], tmp_path / "namesake_out", model=exported, progress=False)
    sidecar = metadata_path(exported)
    made_from = json.loads(sidecar.read_text())
    sidecar.write_text(json.dumps({**made_from, "run": str(twin.path.resolve())}))
    with pytest.raises(ValueError, match=r"model.pt: exported from .* when its best checkpoint was another \(SHA-256 "
                                         r".*the run has been trained further since: export it again"):
        predict_files(twin, [source], tmp_path / "later_out", model=exported, progress=False)
    sidecar.write_text(json.dumps(made_from))
    sidecar = metadata_path(exported)
    made_from = json.loads(sidecar.read_text())
    # the sidecar of an earlier version, without the digest: checked on the settings alone, as then
    sidecar.write_text(json.dumps({key: value for key, value in made_from.items() if key != "checkpoint_sha256"}))
    (accepted,) = predict_files(twin, [source], tmp_path / "twin_out", model=exported, progress=False)
    assert accepted.status == "written"
    made_from["config"]["model"]["params"]["depth"] = 99
    sidecar.write_text(json.dumps(made_from))
    with pytest.raises(ValueError, match=r"model.pt: exported from the run .* whose model settings differ"):
        predict_files(iact_run, [source], tmp_path / "other", model=exported, progress=False)
    sidecar.write_text("{}")  # damaged, or not export's
    with pytest.raises(ValueError, match=r"model.pt: its sidecar .*model.pt.json lacks config and run_id: not one"):
        predict_files(iact_run, [source], tmp_path / "other", model=exported, progress=False)
    # a stopped run exports and predicts as it was when it stopped: said at both steps, and kept in the sidecar
    twin.update_status(state="interrupted", error="interrupted (Ctrl+C)")
    with caplog.at_level(logging.WARNING):
        stopped = export_run(twin.path, tmp_path / "stopped.pt", format="torchscript", inputs=[source], check_events=8)
        assert "did not complete: interrupted (Ctrl+C); its network is exported as it was" in caplog.text
        assert json.loads(metadata_path(stopped).read_text())["run_state"] == "interrupted"
        caplog.clear()
        predict_files(twin, [source], tmp_path / "stopped_out", model=stopped, progress=False)
        assert "did not complete (interrupted (Ctrl+C)): predicting with stopped.pt" in caplog.text
    # a model file that is no model: refused with its own name, before any input is read or output written
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not a model")
    with pytest.raises(ValueError, match=r"^[^:]*broken.onnx: ") as refused:
        predict_files(iact_run, [source], tmp_path / "broken_out", model=broken, progress=False)
    assert source.name not in str(refused.value) and not (tmp_path / "broken_out").exists()


@pytest.mark.parametrize(("family", "override", "settings"), [
    # reordered: the restored standardisation would scale each feature with another's mean and width
    ("calorimeter", "data.params.features=[energy,theta,phi,time,log_energy,x,y,z]", ""),
    # the pre-clustering makes the pre-clusters the network reads (the two-stage method), as standardised
    ("calorimeter", "data.params.preclustering.distance_threshold=0.5", "data.params.preclustering"),
    ("collider", "data.params.constituents.n_tokens=4", "data.params.constituents"),
    ("collider", "data.params.pair_inputs=true", ""),
    # which object fills which input slot: the scores moved by up to 0.07 with 3 jets, silently
    ("collider", "data.params.source.object_limits.jets=3", "data.params.source.object_limits"),
])  # fmt: skip
def test_overrides_of_the_fitted_preprocessing_are_refused_not_ignored(
    family: str, override: str, settings: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """The checkpoint's fitted state stands in for these settings: changed, they were ignored (or misapplied).
    The error names the key given and, when it is not one, the fitted setting it changes."""
    run = _trained_run(request, family)
    key = re.escape(override.partition("=")[0])
    changes = rf" \({re.escape(settings)}\)" if settings else ""
    why = (rf"predicts with the data preprocessing it fitted on its training split and the settings it was fitted for"
           rf"{changes}, .*train a new run to change it")
    with pytest.raises(ValueError, match=rf"cannot --set {key}: .*{why}"):
        predict_split(run.path, tmp_path / "split.h5", ["data.params.batch_size=4", override], progress=False)
    assert not (tmp_path / "split.h5").exists()


def test_decoding_settings_the_outputs_are_not_decoded_with_are_refused_not_recorded(
    calorimeter: tuple[RunDir, Path], tmp_path: Path
) -> None:
    """The transformer's labels come from its pair probabilities: a condensation threshold changed nothing while
    the output's config claimed it. Refused on the test split and on files, before any output."""
    run, inputs = calorimeter
    why = (r"cannot --set data\.params\.decoding\.beta_threshold: the predictions of .* \(hit_transformer\) are decoded "
           r"from its 'pairs' output, which reads only pair_linkage, pair_threshold: it has no effect")
    with pytest.raises(ValueError, match=why):
        predict_split(run.path, tmp_path / "split.h5", ["data.params.decoding.beta_threshold=0.9"], progress=False)
    with pytest.raises(ValueError, match=why):
        predict_files(run.path, [inputs / "a.h5"], tmp_path / "out", ["data.params.decoding.beta_threshold=0.9"], progress=False)
    assert not (tmp_path / "split.h5").exists() and not (tmp_path / "out").exists()


@pytest.fixture(scope="module")
def oracle(calorimeter: tuple[RunDir, Path], tmp_path_factory: pytest.TempPathFactory) -> RunDir:
    """An oracle run (the truth-label clustering: nothing to fit) on the calorimeter fixture's ``a.h5``."""
    root = tmp_path_factory.mktemp("predict_oracle")
    return train(resolve_config({
        "name": "oracle", "seed": 1, "output_dir": str(root / "runs"),
        "data": {"name": "calorimeter", "params": {"files": [str(calorimeter[1] / "a.h5")], "split": {"seed": 1}}},
        "estimator": {"name": "hit_oracle"}, "evaluation": None,
    }), progress=False)  # fmt: skip


def test_the_oracle_refuses_a_file_without_truth_and_any_decoding_setting(
    oracle: RunDir, calorimeter: tuple[RunDir, Path], tmp_path: Path
) -> None:
    """It clusters by the truth: a measured file's hits all went to no cluster, reported as written."""
    measured = Path(shutil.copy(calorimeter[1] / "b.h5", tmp_path / "measured.h5"))
    with h5py.File(measured, "a") as file:
        del file["gammas"], file["hits/true_gamma"]
    result = CliRunner().invoke(app, ["predict", str(oracle.path), str(measured), "-o", str(tmp_path / "out"), "--no-progress"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    # rich may wrap the long temporary path inside a word: compared without any whitespace
    assert "measured.h5:OracleClustering(hit_oracle)clustersthehitsbytheirsimulationtruth" in "".join(result.output.split())
    assert not list((tmp_path / "out").glob("*.h5"))
    with pytest.raises(ValueError, match=r"\(hit_oracle\) are decoded from its 'labels' output, which reads no decoding setting"):
        predict_split(oracle.path, tmp_path / "split.h5", ["data.params.decoding.pair_threshold=0.9"], progress=False)


def test_the_command_refuses_them_on_files_too_before_any_output(calorimeter: tuple[RunDir, Path], tmp_path: Path) -> None:
    run, inputs = calorimeter
    result = CliRunner().invoke(app, ["predict", str(run.path), str(inputs / "a.h5"), "-o", str(tmp_path / "out"),
                                      "--set", "data.params.features=[energy]", "--no-progress"])  # fmt: skip
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "cannot --set data.params.features:" in _text(result) and "train a new run" in _text(result)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(("family", "overrides"), [
    ("calorimeter", {"data.params.batch_size": 5, "data.params.decoding.pair_threshold": 0.999}),
    # a fitted setting given its trained value changes nothing: accepted
    ("collider", {"data.params.batch_size": 7, "data.params.num_workers": 0, "data.params.constituents.n_tokens": 8}),
])  # fmt: skip
def test_overrides_prediction_honours_still_apply(
    family: str, overrides: dict[str, object], request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    run = _trained_run(request, family)
    plain = predict_split(run.path, tmp_path / "plain.h5", progress=False)
    changed = predict_split(run.path, tmp_path / "changed.h5", [f"{k}={v}" for k, v in overrides.items()], progress=False)
    assert changed.events_predicted == plain.events_predicted > 0
    used = yaml.safe_load(read_attributes(changed.output)["config"])
    for key, value in overrides.items():
        node = used
        for part in key.split("."):
            node = node[part]
        assert node == value, key


def test_a_re_predicted_test_split_is_scored_apart_with_the_config_it_was_predicted_with(
    calorimeter: tuple[RunDir, Path], tmp_path: Path
) -> None:
    """``evaluate RUN --predictions FILE --output DIR``: the run's test split predicted again at another merge cut
    is scored with that cut's config into DIR; the run is left as it is."""
    run, inputs = calorimeter
    scored = ["evaluation={name: calorimeter, params: {figure_formats: [png]}}"]  # the fixture's run has no evaluator
    plain = predict_split(run.path, tmp_path / "plain.h5", scored, progress=False).output
    strict = predict_split(run.path, tmp_path / "strict.h5", [*scored, "data.params.decoding.pair_threshold=0.999"],
                           progress=False).output  # fmt: skip
    before = run.metrics_file.read_bytes()
    for name, file in (("plain", plain), ("strict", strict)):
        result = CliRunner().invoke(app, ["evaluate", str(run.path), "--predictions", str(file), "-o", str(tmp_path / name)])
        assert result.exit_code == 0, result.output
        assert "photopeak_efficiency" in result.output
    assert run.metrics_file.read_bytes() == before
    own = run.predictions_file.read_bytes()
    with pytest.raises(ValueError, match="is the run's own predictions file"):  # not even with --overwrite
        predict_split(run.path, run.predictions_file, scored, overwrite=True, progress=False)
    assert run.predictions_file.read_bytes() == own
    # the reference: the evaluator itself on the predictions the run wrote when trained (the same test events)
    tables = read_tables(run.predictions_file)
    reference = evaluate_calorimeter(tables.pop("predictions"), tmp_path / "reference", tables, figure_formats=("png",))
    plain_metrics = json.loads((tmp_path / "plain" / "metrics.json").read_text())
    assert plain_metrics["scalars"] == pytest.approx(reference["scalars"], nan_ok=True)
    assert (tmp_path / "plain" / "plots" / "energy_spectra.png").is_file()
    # pairs merged only above 0.999: more, smaller clusters than at the trained cut
    strict_metrics = json.loads((tmp_path / "strict" / "metrics.json").read_text())
    difference = "cluster_multiplicity_difference"  # clusters found minus gammas, per event
    assert strict_metrics["scalars"][difference] > plain_metrics["scalars"][difference]
    # the evaluation changed without predicting again: a narrower photopeak window
    narrow = CliRunner().invoke(app, ["evaluate", str(run.path), "-p", str(plain), "-o", str(tmp_path / "narrow"),
                                      "--set", "evaluation.params.n_sigma=0.5"])  # fmt: skip
    assert narrow.exit_code == 0, narrow.output
    narrow_metrics = json.loads((tmp_path / "narrow" / "metrics.json").read_text())
    assert narrow_metrics["scalars"]["photopeak_efficiency"] < plain_metrics["scalars"]["photopeak_efficiency"]
    # a photopeak window of other crystals than the simulated ones: refused, as training refuses it
    other = CliRunner().invoke(app, ["evaluate", str(run.path), "-p", str(plain), "-o", str(tmp_path / "other"),
                                     "--set", "evaluation.params.resolution_fwhm_662=0.03"])  # fmt: skip
    assert other.exit_code != 0 and "differs from the simulated crystals'" in _text(other), other.output

    kept = (tmp_path / "plain" / "metrics.json").read_bytes()
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "mine.txt").write_text("keep me\n")
    new_files = predict_files(run.path, [inputs / "a.h5"], tmp_path / "new", progress=False)[0].output
    refused = [
        (["-p", str(strict), "-o", str(tmp_path / "plain")], "holds an earlier score; pass --overwrite"),
        (["-p", str(strict), "-o", str(tmp_path / "notes"), "--overwrite"], "holds other things than an earlier score"),
        (["-p", str(strict), "-o", str(tmp_path / "notes")], "holds other things than an earlier score"),  # no --overwrite hint
        (["-p", str(strict), "-o", str(tmp_path / "notes" / "mine.txt")], "is a file; --output names the folder"),
        (["-p", str(strict), "-o", str(run.path), "--overwrite"], "would replace the run"),
        (["-p", str(strict), "-o", str(run.plots), "--overwrite"], "lies inside the run"),
        (["-p", str(strict), "-o", str(tmp_path), "--overwrite"], "would replace the predictions"),
        (["-p", str(strict)], "--predictions and --output go together"),
        (["-p", str(strict), "-o", str(tmp_path / "o"), "--set", "data.params.batch_size=3"], "only the evaluation"),
        # another sweep's run of the same name: another model file
        (["-p", str(_stamped(strict, tmp_path / "other.h5", run_path=f"/elsewhere/{run.path.name}", model_sha256="0" * 64)),
          "-o", str(tmp_path / "o")], f"predicted by the run /elsewhere/{run.path.name}, not by"),
        (["-p", str(_stamped(strict, tmp_path / "kept.h5", keep_invalid=True)), "-o", str(tmp_path / "o")], "--keep-invalid"),
        # predictions without the config they were predicted with
        (["-p", str(_stamped(strict, tmp_path / "unstamped.h5", config="")), "-o", str(tmp_path / "o")],
         "not a predictions file written by `showerlearn predict`"),
    ]  # fmt: skip
    for arguments, message in refused:
        result = CliRunner().invoke(app, ["evaluate", str(run.path), *arguments])
        assert result.exit_code == 1 and message in _text(result), (arguments, result.output)
    assert (tmp_path / "plain" / "metrics.json").read_bytes() == kept and not (tmp_path / "o").exists()
    assert (tmp_path / "notes" / "mine.txt").read_text() == "keep me\n" and run.config_file.is_file()
    # a run moved elsewhere is the same run; another split would hold training events: refused when predicted
    moved = Path(shutil.copytree(run.path, tmp_path / "elsewhere" / run.path.name))
    assert CliRunner().invoke(app, ["evaluate", str(moved), "-p", str(strict), "-o", str(tmp_path / "m")]).exit_code == 0
    for change in ("data.params.split.seed=2", "seed=7"):  # the experiment seed draws a split without its own
        with pytest.raises(ValueError, match=rf"{change.partition('=')[0]} changes which events the test split .* holds"):
            predict_split(run.path, tmp_path / "resplit.h5", [change], progress=False)
    # the settings alone do not fix the events (a glob matching a new file): the count must be the run's
    other_events = _stamped(new_files, tmp_path / "other_events.h5", source=f"test split of {run.path}",
                            config=read_attributes(plain)["config"])  # fmt: skip
    result = CliRunner().invoke(app, ["evaluate", str(run.path), "-p", str(other_events), "-o", str(tmp_path / "o")])
    assert result.exit_code == 1 and "holds 30 events, the test split of" in _text(result), result.output
    # as many events, but others (a file replaced by one of the same size): the ids must be the run's
    renumbered = _stamped(plain, tmp_path / "renumbered.h5")
    with h5py.File(renumbered, "a") as opened:  # the table is one compound dataset (astropy's HDF5 layout)
        table = opened["predictions"][...]
        table["event_id"] += 1
        opened["predictions"][...] = table
    result = CliRunner().invoke(app, ["evaluate", str(run.path), "-p", str(renumbered), "-o", str(tmp_path / "o")])
    assert result.exit_code == 1 and "column 'event_id' differs" in _text(result), result.output
    # without the id column the events cannot be checked at all: refused, not scored as the test split's
    lacking = _stamped(plain, tmp_path / "lacking.h5")
    kept_columns = Table.read(lacking, path="predictions")
    kept_columns.remove_column("event_id")
    kept_columns.write(lacking, path="predictions", append=True, overwrite=True, serialize_meta=True)  # the stamp kept
    result = CliRunner().invoke(app, ["evaluate", str(run.path), "-p", str(lacking), "-o", str(tmp_path / "o")])
    assert result.exit_code == 1 and "lacks the event id column(s) ['event_id']" in _text(result), result.output


@pytest.fixture(scope="module")
def window(calorimeter: tuple[RunDir, Path], tmp_path_factory: pytest.TempPathFactory) -> RunDir:
    """An R3B window run (nothing to fit: seconds) on the calorimeter fixture's ``a.h5`` (beta 0.7, the simulator's
    crystals), scored by the calorimeter evaluator."""
    root = tmp_path_factory.mktemp("predict_window")
    return train(resolve_config({
        "name": "window", "seed": 1, "output_dir": str(root / "runs"),
        "data": {"name": "calorimeter", "params": {"files": [str(calorimeter[1] / "a.h5")], "split": {"seed": 1}}},
        "estimator": {"name": "r3b_window", "params": {"window": "cone", "half_angle": 0.3}},
        "evaluation": {"name": "calorimeter", "params": {"figure_formats": ["png"]}},
    }), progress=False)  # fmt: skip


def _predicted(run: RunDir, source: Path, folder: Path) -> Path:
    """``source`` predicted by ``run`` through the command line into ``folder``: its predictions file."""
    result = CliRunner().invoke(app, ["predict", str(run.path), str(source), "-o", str(folder), "--no-progress"])
    assert result.exit_code == 0, result.output
    return folder / f"{source.stem}.predictions.h5"


def _scored(run: RunDir, predictions: Path, output: Path, *options: str) -> Result:
    return CliRunner().invoke(app, ["evaluate", str(run.path), "--predictions", str(predictions), "--output", str(output),
                                    *options])  # fmt: skip


def test_predictions_of_a_new_labelled_hit_file_are_scored_as_the_evaluator_scores_their_tables(
    window: RunDir, tmp_path: Path
) -> None:
    """A clustering of beta-0.7 events tried on a new file at beta 0.5 with up to five gammas: ``evaluate RUN
    --predictions DIR/new.predictions.h5`` gives the metrics the evaluator gives the file's tables, with captions
    that name the file; the run is left as it is."""
    config = CalorimeterSimulationConfig(n_events=24, n_gammas=5, n_gammas_min=2, beta=0.5, chunk_size=24)
    new = simulate_calorimeter(config, tmp_path / "new.h5", seed=21).path
    predictions = _predicted(window, new, tmp_path / "out")
    before = window.metrics_file.read_bytes()
    result = _scored(window, predictions, tmp_path / "scores")
    assert result.exit_code == 0, result.output
    assert "new.h5" in result.output and "photopeak_efficiency" in result.output and "test split" not in result.output
    metrics = json.loads((tmp_path / "scores" / "metrics.json").read_text())
    # the reference: the evaluator itself on the file's tables (the engine only read them and named the events)
    tables = read_tables(predictions)
    events = tables.pop("predictions")
    assert np.all(events["beta"] == 0.5) and len(events["beta"]) == 24
    reference = evaluate_calorimeter(events, tmp_path / "reference", tables, figure_formats=("png",))
    assert metrics["scalars"] == pytest.approx(reference["scalars"], nan_ok=True)
    assert metrics["scalars"]["n_events"] == 24 and metrics["scalars"]["n_gammas"] == len(tables["gammas"]["index"])
    assert metrics["curves"] == json.loads(json.dumps(reference["curves"]))
    assert metrics["caption"] == "new.h5: 24 events"  # not the run's data set, nor its test split
    assert sorted(metrics["figures"]) == sorted(reference["figures"])
    assert all((tmp_path / "scores" / "plots" / name).is_file() for name in metrics["figures"])
    assert window.metrics_file.read_bytes() == before
    # scored again with another window: only with --overwrite, and without predicting again
    narrow = ["--set", "evaluation.params.n_sigma=0.5"]
    refused = _scored(window, predictions, tmp_path / "scores", *narrow)
    assert refused.exit_code == 1 and "pass --overwrite" in _text(refused)
    assert json.loads((tmp_path / "scores" / "metrics.json").read_text()) == metrics
    assert _scored(window, predictions, tmp_path / "scores", *narrow, "--overwrite").exit_code == 0
    narrowed = json.loads((tmp_path / "scores" / "metrics.json").read_text())
    assert narrowed["settings"]["n_sigma"] == 0.5
    assert narrowed["scalars"]["photopeak_efficiency"] < metrics["scalars"]["photopeak_efficiency"]


def test_a_new_hit_file_is_refused_without_truth_or_with_other_crystals_than_the_photopeak_window(
    window: RunDir, calorimeter: tuple[RunDir, Path], tmp_path: Path
) -> None:
    """Measured data (no /gammas) have nothing to be scored against; a file simulated with sharper crystals needs the
    photopeak window of its resolution, which the command names; neither leaves a score folder."""
    measured = Path(shutil.copy(calorimeter[1] / "b.h5", tmp_path / "measured.h5"))
    with h5py.File(measured, "a") as file:
        del file["gammas"], file["hits/true_gamma"]
        del file["events/beta"]  # converted without a velocity, too
    result = _scored(window, _predicted(window, measured, tmp_path / "out"), tmp_path / "measured")
    assert result.exit_code == 1 and "Traceback" not in result.output, result.output
    assert "hold no true gammas" in _text(result) and "there is no truth to score their clusters against" in _text(result)
    assert not (tmp_path / "measured").exists()

    sharp = simulate_calorimeter(CalorimeterSimulationConfig(n_events=20, n_gammas=3, chunk_size=20, resolution_fwhm_662=0.05),
                                 tmp_path / "sharp.h5", seed=22).path  # fmt: skip
    predictions = _predicted(window, sharp, tmp_path / "out")
    result = _scored(window, predictions, tmp_path / "sharp")
    assert result.exit_code == 2 and not (tmp_path / "sharp").exists(), result.output
    assert ("evaluation.params.resolution_fwhm_662: 0.077 differs from the crystal resolution sharp.h5 was simulated with "
            "(0.05, recorded with its predictions)") in _text(result)
    assert "score it with --set evaluation.params.resolution_fwhm_662=0.05" in _text(result)
    # recorded when the file was predicted: still known once the hit file is gone
    sharp.unlink()
    result = _scored(window, predictions, tmp_path / "sharp")
    assert result.exit_code == 2 and "(0.05, recorded with its predictions)" in _text(result), result.output
    # as the command says: scored with the file's crystals (the run's own were simulated at 0.077: not compared)
    accepted = _scored(window, predictions, tmp_path / "sharp", "--set", "evaluation.params.resolution_fwhm_662=0.05")
    assert accepted.exit_code == 0, accepted.output
    assert json.loads((tmp_path / "sharp" / "metrics.json").read_text())["settings"]["resolution_fwhm_662"] == 0.05


def test_a_new_file_is_scored_only_named_whole_and_by_the_run_that_predicted_it(
    window: RunDir, calorimeter: tuple[RunDir, Path], tmp_path: Path
) -> None:
    """The checks of a test split predicted again, less the events': its stamp names the file and says it complete,
    it holds events, and it is none of the files the run read."""
    predictions = _predicted(window, calorimeter[1] / "b.h5", tmp_path / "out")
    incomplete = _stamped(predictions, tmp_path / "incomplete.h5")
    with h5py.File(incomplete, "a") as opened:
        del opened.attrs["events_read"]
    refused = [
        (_stamped(predictions, tmp_path / "unnamed.h5", source_path=""), "its stamp names no file it was predicted from"),
        (incomplete, "incomplete (no events_read in its stamp"),
        (_stamped(predictions, tmp_path / "kept.h5", keep_invalid=True), "--keep-invalid"),
        (_stamped(predictions, tmp_path / "other.h5", run_path="/elsewhere/run", model_sha256="0" * 64),
         "predicted by the run /elsewhere/run, not by"),
        (_stamped(predictions, tmp_path / "empty.h5", events_predicted=0), "holds no predicted event"),
        # the run's own data file: the events it trained on would pass for held-out ones
        (_predicted(window, calorimeter[1] / "a.h5", tmp_path / "own"), "one of the files the run"),
        (_stamped(predictions, tmp_path / "older.h5"), "predicted by an earlier showerlearn"),
        (_stamped(predictions, tmp_path / "unreadable.h5", config="data: [unclosed"),
         "the config in its stamp is not readable YAML"),
        # a hit file given for its predictions
        (calorimeter[1] / "b.h5", "not a file `showerlearn predict` wrote (its format attribute is "
                                  "'showerlearn-calorimeter-hits', expected 'showerlearn-predictions')"),
    ]  # fmt: skip
    with h5py.File(tmp_path / "older.h5", "a") as opened:  # as predict wrote it before it stamped read_by_run
        del opened.attrs["read_by_run"]
    for file, message in refused:
        result = _scored(window, file, tmp_path / "o")
        assert result.exit_code == 1 and message in _text(result), (file.name, result.output)
    assert not (tmp_path / "o").exists()
    # a copy of the run's data file is the same events, and predict knows it when it reads them: gone since, it
    # is still refused
    copy = Path(shutil.copy(calorimeter[1] / "a.h5", tmp_path / "renamed.h5"))
    copied = _predicted(window, copy, tmp_path / "copied")
    copy.unlink()
    result = _scored(window, copied, tmp_path / "o")
    assert result.exit_code == 1 and "predictions of renamed.h5, the same events as" in _text(result), result.output
    result = _scored(calorimeter[0], predictions, tmp_path / "o")  # another run's model predicted it
    assert result.exit_code == 1 and "predicted by the run" in _text(result) and not (tmp_path / "o").exists()


def test_predictions_of_a_new_file_are_refused_by_an_evaluator_that_reads_the_runs_data_set(
    iact_run: RunDir, shared_data: Path, tmp_path: Path
) -> None:
    """The IACT evaluator's effective area counts the showers of the run's simulated production (scaled to its test
    split): of a new file it would describe other events. The refusal says so before any folder is made."""
    (summary,) = predict_files(iact_run.path, [shared_data / LSTCHAIN_FILE], tmp_path / "out", progress=False)
    result = _scored(iact_run, summary.output, tmp_path / "scores")
    assert result.exit_code == 1 and "Traceback" not in result.output, result.output
    text = "".join(result.output.split())  # rich may wrap the temporary path inside a word
    assert "predictionsofthenewfiledl1_gamma_example.h5,whichtherun'sevaluator'iact'cannotscore:itseffectivearea" in text
    assert "Itscorestherun'stestsplitonly" in text and not (tmp_path / "scores").exists()


def test_predictions_of_a_new_labelled_collider_file_are_scored_as_the_evaluator_scores_them(
    collider: RunDir, tmp_path: Path
) -> None:
    """A classifier tried on another labelled sample: its ROC, working points and yields (the file's weights add up
    to its processes' cross sections, as a test split's do) are the evaluator's on the file's table; a file read
    without its labels has no truth to score against."""
    new = write_event_file(tmp_path / "sample.h5", 80, seed=7)
    predictions = _predicted(collider, new, tmp_path / "out")
    scored = ["--set", "evaluation={name: collider, params: {figure_formats: [png]}}"]  # the fixture's run has none
    result = _scored(collider, predictions, tmp_path / "scores", *scored)
    assert result.exit_code == 0, result.output
    assert "sample.h5" in result.output and "background_rejection_at_30" in result.output
    metrics = json.loads((tmp_path / "scores" / "metrics.json").read_text())
    events = read_tables(predictions)["predictions"]
    reference = evaluate_collider(events, tmp_path / "reference", figure_formats=("png",))
    assert metrics["scalars"] == pytest.approx(reference["scalars"], nan_ok=True)
    assert metrics["scalars"]["n_events"] == 80 and metrics["caption"] == "sample.h5: 80 events"
    assert metrics["scalars"]["signal_at_50"] > 0  # yields from the file's own weights
    # ... which add up to the cross section of each process, as the test split's do
    sums = np.bincount(events["process"].astype(int), weights=events["weight_pb"], minlength=len(PROCESSES))
    assert sums == pytest.approx([cross_section for _, _, cross_section in PROCESSES])
    assert metrics["roc"] == json.loads(json.dumps(reference["roc"]))
    assert (tmp_path / "scores" / "plots" / "roc.png").is_file()
    # the same events read without their labels
    unlabelled = _stamped(predictions, tmp_path / "unlabelled.h5")
    with h5py.File(unlabelled, "a") as opened:
        table = opened["predictions"][...]
        table["label"] = -1
        opened["predictions"][...] = table
    result = _scored(collider, unlabelled, tmp_path / "unlabelled", *scored)
    assert result.exit_code == 1 and "80 of 80 events have no class label" in _text(result), result.output
    assert "there is no truth to score their predictions against" in _text(result)
    assert not (tmp_path / "unlabelled").exists()


def test_a_collider_file_of_one_process_has_no_working_points(
    collider: RunDir, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A file of background only (one process, as ``simulate collider --process`` writes) has no signal to set a
    cut's efficiency on, and one of signal only nothing to reject: no rejection, yields or limits, and a warning,
    rather than numbers of a cut that does not exist."""
    scored = ["--set", "evaluation={name: collider, params: {figure_formats: [png]}}"]
    for only, held in (("ttbar", "background"), ("signal", "signal")):
        predictions = _predicted(collider, write_event_file(tmp_path / f"{only}.h5", 60, seed=8, only=only), tmp_path / "out")
        with caplog.at_level(logging.WARNING, logger="showerlearn.collider.evaluation.evaluator"):
            result = _scored(collider, predictions, tmp_path / only, *scored)
        assert result.exit_code == 0, result.output
        metrics = json.loads((tmp_path / only / "metrics.json").read_text())
        points = {name: value for name, value in metrics["scalars"].items() if name.endswith(("_at_30", "_at_50"))}
        assert len(points) == 12 and all(value is None for value in points.values()), points
        assert "limits" not in metrics
        assert all(value is None for value in metrics["curves"]["background_rejection_vs_signal_efficiency"]["value"])
        assert f"all {metrics['scalars']['n_events']} events are {held}: the working points" in caplog.text


def test_an_evaluator_that_declares_nothing_scores_no_new_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The engine cannot tell what a user's evaluator reads: without ``@reads_predictions_only`` it is taken to read
    the run's data set, and refused new files with the reason."""
    from types import SimpleNamespace

    from showerlearn.engine import rescore

    def undeclared(predictions: object, output_dir: object) -> dict:
        return {}

    monkeypatch.setattr(rescore, "EVALUATORS", SimpleNamespace(get=lambda name: undeclared))
    config = SimpleNamespace(evaluation=SimpleNamespace(name="mine"))
    with pytest.raises(ValueError, match="evaluator 'mine' cannot score: it does not declare that it reads its predictions alone"):
        rescore._check_scores_new_files(config, tmp_path / "new.predictions.h5", "new.h5")
    assert rescore.data_set_reads(reads_predictions_only(undeclared)) is None


def test_settings_that_change_how_not_which_events_are_read_may_change_for_the_test_split() -> None:
    calorimeter = DATAMODULES.get("calorimeter")
    trained = {"batch_size": 16, "cache_dir": "a", "simulate": {"n_jobs": 1, "seed": 4}, "split": {"seed": 1}}
    reading = {**trained, "batch_size": 4, "cache_dir": "/b", "simulate": {"n_jobs": 2, "seed": 4}}
    assert calorimeter.changed_event_settings(trained, reading) == []
    assert calorimeter.changed_event_settings(trained, {**reading, "simulate": {"n_jobs": 2, "seed": 5}}) == ["simulate.seed"]
    assert calorimeter.changed_event_settings(trained, {**trained, "files": ["x.h5"]}) == ["files"]


def _stamped(file: Path, copy: Path, **attributes: object) -> Path:
    """A copy of a predictions file with some of its stamp changed."""
    shutil.copyfile(file, copy)
    with h5py.File(copy, "a") as opened:
        opened.attrs.update(attributes)
    return copy


def test_every_family_names_event_id_columns_its_predictions_carry() -> None:
    """What ``evaluate --predictions`` compares row by row must be columns the family writes (the collider
    knows its score columns only after setup: the columns it keeps from the events)."""
    from showerlearn.collider.data import datamodule as collider
    from showerlearn.iact.data.targets import META_COLUMNS

    assert set(DATAMODULES.get("iact").event_id_columns) <= set(META_COLUMNS)
    assert set(DATAMODULES.get("collider").event_id_columns) <= set(collider._KEPT_UNITS)
    calorimeter = DATAMODULES.get("calorimeter")
    assert set(calorimeter.event_id_columns) <= set(calorimeter(files=["unread.h5"]).column_units()["predictions"])


def test_a_data_error_of_one_input_names_that_file() -> None:
    from showerlearn.config import ConfigError
    from showerlearn.engine.predict import _naming

    source = Path("/data/run_0042.h5")
    with pytest.raises(ValueError, match=r"^/data/run_0042\.h5: token feature 'log_energy' is NaN"):
        with _naming(source):
            raise ValueError("token feature 'log_energy' is NaN or infinite in 1 event(s)")
    with pytest.raises(KeyError, match=r"/data/run_0042\.h5: the tokens have no field 'pt'"):
        with _naming(source):
            raise KeyError("the tokens have no field 'pt'")
    with pytest.raises(ValueError, match=r"^run_0042\.h5: truncated$"):  # named already: as it was
        with _naming(source):
            raise ValueError("run_0042.h5: truncated")
    with pytest.raises(ConfigError):  # a setting's error keeps its kind (exit code 2)
        with _naming(source):
            raise ConfigError("--set", ["data.params.x: unknown key"])


def test_no_output_replaces_a_runs_own_files_even_with_overwrite(collider: RunDir, tmp_path: Path) -> None:
    """``--overwrite`` of an output named RUN/config.yaml or RUN/checkpoints/best.ckpt broke the run (its config an
    HDF5 file, its weights an ONNX graph); a new file in one of its folders is refused too (it would be taken for
    the run's own, and could not be replaced later)."""
    run = RunDir(Path(shutil.copytree(collider.path, tmp_path / "run")))
    kept = {path: path.read_bytes() for path in (run.config_file, run.best_checkpoint(), run.metrics_file)}
    for command, output in ((["predict", str(run.path)], run.config_file),
                            (["export", str(run.path), "--format", "onnx", "--no-progress"], run.best_checkpoint()),
                            (["board", str(run.path)], run.metrics_file),
                            (["board", str(run.path)], run.checkpoints / "board.html")):
        result = CliRunner().invoke(app, [*command, "--output", str(output), "--overwrite"])
        message = "".join(result.output.split())
        assert result.exit_code != 0 and f"ispartoftherun{run.path}".replace(" ", "") in message, result.output
    assert all(path.read_bytes() == content for path, content in kept.items())
    # an output of its own, and a file beside the run that only shares a name with its entries, are written
    assert RunDir.owning(tmp_path / "config.yaml") is None and RunDir.owning(run.path / "notes" / "x.h5") is None
    assert RunDir.owning(run.checkpoints / "other.ckpt") == (run, run.checkpoints)


def test_a_file_is_matched_to_the_runs_data_files_by_size_then_content(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``file_read_by``: the name run.json records a file under, for a copy too; nothing for another file, and
    nothing (rather than an error) for one it cannot read."""
    from showerlearn.engine import data_fingerprint
    from showerlearn.engine.data_fingerprint import file_read_by

    data, other = tmp_path / "data.h5", tmp_path / "other.h5"
    data.write_bytes(b"events" * 1000)
    other.write_bytes(b"EVENTS" * 1000)  # the same size, other bytes
    status = {"data_files": {"runs/data.h5": {"size": data.stat().st_size, "sample": sample_digest(data, blocks=4)}}}
    assert file_read_by(status, Path(shutil.copy(data, tmp_path / "copy.h5"))) == "runs/data.h5"
    assert file_read_by(status, other) is None and file_read_by({}, data) is None

    def unreadable(path: Path, blocks: int) -> str:
        raise PermissionError(path)

    monkeypatch.setattr(data_fingerprint, "sample_digest", unreadable)
    assert file_read_by(status, data) is None


def test_a_file_of_the_runs_own_simulated_events_is_known_as_such_wherever_it_is_predicted(
    calorimeter: tuple[RunDir, Path], tmp_path: Path
) -> None:
    """A run on simulated events records its cached file once it read it; predicting that file, or a copy of it
    elsewhere, stamps it as the run's own events (their metrics would not be of held-out ones), and a file of other
    events is not."""
    run = calorimeter[0]
    (cached,) = [Path(name) for name in run.status()[SIMULATED_KEY]]
    assert cached.parent.name == "cache" and cached.is_file()
    copy = Path(shutil.copy(cached, tmp_path / "moved.h5"))
    predictions = _predicted(run, copy, tmp_path / "copy")
    assert read_attributes(predictions)[READ_BY_RUN] == str(cached)
    scored = _scored(run, predictions, tmp_path / "o", "--set", "evaluation={name: calorimeter}")  # the run has none
    assert scored.exit_code == 1 and "predictions of moved.h5, the same events as" in _text(scored), scored.output
    assert read_attributes(_predicted(run, calorimeter[1] / "a.h5", tmp_path / "new"))[READ_BY_RUN] == ""


def test_the_test_split_is_not_predicted_over_a_data_file_of_the_run(
    window: RunDir, calorimeter: tuple[RunDir, Path], tmp_path: Path
) -> None:
    """--overwrite replaces an earlier output, not the events the run reads (known by content: a copy counts)."""
    data = Path(shutil.copy(calorimeter[1] / "a.h5", tmp_path / "a_copy.h5"))
    before = data.read_bytes()
    result = CliRunner().invoke(app, ["predict", str(window.path), "-o", str(data), "--overwrite", "--no-progress"])
    assert result.exit_code != 0 and "a data file of the run" in _text(result), result.output
    assert data.read_bytes() == before
