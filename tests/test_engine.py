"""End-to-end runs of the engine on a tiny table: run directory, determinism, kill and resume, sweeps."""

from __future__ import annotations

import errno
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import yaml
from lightning.pytorch.utilities.exceptions import SIGTERMException
from typer.testing import CliRunner

from showerlearn.cli.main import app
from showerlearn.config import ConfigError, resolve_config
from showerlearn.data.sampling import EpochShuffleSampler
from showerlearn.engine.launch import RUN_DIR_VARIABLE
from showerlearn.engine.run_dir import RunDir
from showerlearn.engine.run_lock import run_lock
from showerlearn.engine.runner import build_datamodule, train
from showerlearn.engine.sweep import sweep
from showerlearn.io.tables import read_columns, write_columns
from showerlearn.registry import DATAMODULES

TESTS = Path(__file__).parent


def test_run_directory_is_complete(tabular_config: dict) -> None:
    run = train(resolve_config(tabular_config), progress=False)
    for name in ("config.yaml", "environment.json", "run.json", "predictions.h5", "metrics.json"):
        assert (run.path / name).is_file(), name
    assert (run.checkpoints / "best.ckpt").is_file() and (run.checkpoints / "last.ckpt").is_file()
    assert list(run.logs.glob("tensorboard/attempt_0/events.out.tfevents.*"))
    assert (run.logs / "csv" / "attempt_0" / "metrics.csv").is_file()
    assert run.status()["state"] == "completed"
    environment = json.loads(run.environment_file.read_text())
    assert environment["seed"] == 3 and environment["packages"]["torch"]
    assert environment["working_folder"] == str(Path.cwd())  # what the command's relative paths were read from
    predictions = read_columns(run.predictions_file)
    assert set(predictions) >= {"label", "score"} and len(predictions["label"]) == 60
    # a learnable problem: the tiny network must beat chance clearly
    assert run.metrics()["scalars"]["auc"] > 0.8
    assert not list(run.path.rglob("*.tmp*")), "temporary files left behind"


def test_ctrl_c_marks_the_run_interrupted_and_leaves_ctrl_c_working(tabular_config: dict) -> None:
    """Lightning turns a KeyboardInterrupt into sys.exit(1) and ignores SIGINT from then on."""
    tabular_config["callbacks"] = [{"name": "engine_plugins:CrashAtStep", "params": {"step": 3, "interrupt": True}}]
    before = signal.getsignal(signal.SIGINT)
    with pytest.raises(BaseException):
        train(resolve_config(tabular_config), progress=False)
    assert signal.getsignal(signal.SIGINT) is before
    (run_path,) = (Path(tabular_config["output_dir"]) / "tabular").iterdir()
    assert RunDir(run_path).status()["state"] == "interrupted"
    assert RunDir(run_path).status()["error"] == "interrupted (Ctrl+C)"  # not Lightning's "SystemExit: 1"


def test_ctrl_c_on_the_command_line_says_how_to_go_on(tabular_config: dict, tmp_path: Path,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    """One line naming the interruption and the shell's status of SIGINT, after the run's own line: where it is
    kept and the command that continues it."""
    tabular_config["callbacks"] = [{"name": "engine_plugins:CrashAtStep", "params": {"step": 3, "interrupt": True}}]
    config = tmp_path / "interrupted.yaml"
    config.write_text(yaml.safe_dump(tabular_config))
    with caplog.at_level(logging.WARNING, logger="showerlearn"):
        result = CliRunner().invoke(app, ["train", str(config), "--no-progress"])
    assert result.exit_code == 130 and "interrupted (Ctrl+C)" in result.output, result.output
    (run_path,) = (Path(tabular_config["output_dir"]) / "tabular").iterdir()
    assert f"continue it with: showerlearn train {run_path / 'config.yaml'} --resume {run_path}" in caplog.text


@pytest.mark.parametrize(("error", "expected", "status"), [
    (KeyboardInterrupt(), "interrupted (Ctrl+C)", 130),
    (SystemExit(128 + signal.SIGTERM), "stopped by SIGTERM", 143),
    (SIGTERMException(), "stopped by SIGTERM", 143),  # Lightning's, where our handler is not installed
    (SystemExit(3), "stopped (exit status 3)", 3),
    (SystemExit("text"), "stopped (exit status text)", 1),
    (SystemExit(0), None, None),
    (RuntimeError("out of memory"), None, None),
])
def test_what_stopped_a_command_from_outside(error: BaseException, expected: str | None, status: int | None) -> None:
    from showerlearn.engine.launch import interruption, interruption_status

    assert interruption(error) == expected
    if status is not None:
        assert interruption_status(error) == status


def test_lightnings_exit_after_ctrl_c_is_an_interruption() -> None:
    from showerlearn.engine.launch import interruption

    try:
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt:
            sys.exit(1)  # as Lightning's trainer does
    except SystemExit as error:
        assert interruption(error) == "interrupted (Ctrl+C)"


def test_a_run_that_trained_nothing_is_not_continued(tabular_config: dict) -> None:
    first = train(resolve_config({**tabular_config, "trainer": {**tabular_config["trainer"], "max_epochs": 1}}), progress=False)
    copied = resolve_config({**tabular_config, "init_from": str(first.path), "trainer": {"max_epochs": 0}})
    copy = train(copied, progress=False)
    more = resolve_config({**tabular_config, "init_from": str(first.path), "trainer": {"max_epochs": 2}})
    with pytest.raises(ConfigError, match="trained nothing"):
        train(more, resume=copy.path, progress=False)


def test_a_plateau_scheduler_and_a_head_metric_by_import_path_train(tabular_config: dict) -> None:
    """ReduceLROnPlateau watches val/loss; a metric class named by import path (dots and a colon) is logged."""
    tabular_config["scheduler"] = {"name": "torch.optim.lr_scheduler:ReduceLROnPlateau", "params": {"patience": 0}}
    tabular_config["task"]["heads"]["label"]["metrics"] = ["showerlearn.tasks.metrics:Accuracy"]
    tabular_config["trainer"]["max_epochs"] = 2
    run = train(resolve_config(tabular_config), progress=False)
    assert run.status()["state"] == "completed"
    header = (run.logs / "csv" / "attempt_0" / "metrics.csv").read_text().splitlines()[0]
    assert "val/label_showerlearn.tasks.metrics:Accuracy" in header


def test_every_epoch_reports_its_metrics_speed_and_time_left(
    tabular_config: dict, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a batch job's log shows, without a progress bar; also for an epoch resumed in its middle."""
    ticks = iter(range(10**6, 10**7))  # a clock a day after boot, one second per reading
    monkeypatch.setattr("showerlearn.engine.callbacks.time", SimpleNamespace(monotonic=lambda: float(next(ticks))))
    tabular_config["callbacks"] = [{"name": "engine_plugins:CrashAtStep", "params": {"step": 7}}]  # in epoch 2 of 3
    config = resolve_config(tabular_config)
    with caplog.at_level(logging.INFO, logger="showerlearn"):
        with pytest.raises(RuntimeError, match="simulated crash"):
            train(config, progress=False)
        (run_path,) = (Path(tabular_config["output_dir"]) / "tabular").iterdir()
        train(config, resume=run_path, progress=False)
    reports = [r.getMessage() for r in caplog.records if r.getMessage().startswith("epoch ")]
    assert [r.split(",")[0] for r in reports] == ["epoch 1/3", "epoch 2/3", "epoch 3/3"]
    assert all("val/loss" in r and "val/label_auroc" in r and "events/s" in r for r in reports)
    assert [" left" in r for r in reports] == [True, True, False]
    # each epoch's clock starts at its own first batch: seconds, not the time since boot
    assert all(" h " not in r and " min" not in r for r in reports), reports


def test_epochs_without_validation_report_too(tabular_config: dict, caplog: pytest.LogCaptureFixture) -> None:
    tabular_config["trainer"]["limit_val_batches"] = 0
    with caplog.at_level(logging.INFO, logger="showerlearn"):
        train(resolve_config(tabular_config), progress=False)
    reports = [r.getMessage() for r in caplog.records if r.getMessage().startswith("epoch ")]
    assert len(reports) == 3 and all("no validation metrics" in r for r in reports)


@pytest.mark.slow
def test_same_config_and_seed_give_identical_metrics(tabular_config: dict) -> None:
    first = train(resolve_config(tabular_config), progress=False)
    second = train(resolve_config(tabular_config), progress=False)
    assert first.path != second.path
    assert first.metrics_file.read_text() == second.metrics_file.read_text()
    a, b = read_columns(first.predictions_file), read_columns(second.predictions_file)
    np.testing.assert_array_equal(a["score"], b["score"])
    tabular_config["seed"] = 4
    other = train(resolve_config(tabular_config), progress=False)
    assert not np.array_equal(read_columns(other.predictions_file)["score"], a["score"])


def test_resume_refuses_a_different_config(tabular_config: dict) -> None:
    run = train(resolve_config(tabular_config), progress=False)
    hidden = tabular_config["model"]["params"].get("hidden")
    tabular_config["model"]["params"]["hidden"] = 16
    with pytest.raises(ConfigError, match=r"differs from the one this run was started with in model\.params\.hidden"):
        train(resolve_config(tabular_config), resume=run.path, progress=False)
    # a whole section set in one config and not the other is named once, by the section
    tabular_config["model"]["params"]["hidden"] = hidden
    tabular_config["scheduler"] = {"name": "cosine", "params": {"T_max": 3}}
    with pytest.raises(ConfigError, match=r"started with in scheduler \(pass") as refused:
        train(resolve_config(tabular_config), resume=run.path, progress=False)
    assert "scheduler.params" not in str(refused.value).partition("(pass")[0]


@pytest.mark.slow
def test_a_larger_budget_trains_a_completed_run_further_as_if_it_had_been_given_at_the_start(
    tabular_config: dict, tmp_path: Path
) -> None:
    """A run stopped by its budget (max_epochs here, max_time alike) continues where it ended: the same
    batches in the same order, the same learning-rate schedule, the same predictions as one long run."""
    tabular_config["scheduler"] = {"name": "step", "params": {"step_size": 2, "gamma": 0.5}}
    tabular_config["trainer"]["max_epochs"] = 5
    long_run = train(resolve_config(_with_recorder(tabular_config, tmp_path / "a.txt")), progress=False)
    tabular_config["trainer"]["max_epochs"] = 2
    short = train(resolve_config(_with_recorder(tabular_config, tmp_path / "b.txt")), progress=False)
    with pytest.raises(ConfigError, match="already holds a completed run"):
        train(resolve_config(_with_recorder(tabular_config, tmp_path / "b.txt")), resume=short.path, progress=False)
    tabular_config["trainer"]["max_time"] = "00:01:00:00"  # more time, but the epochs are used up
    with pytest.raises(ConfigError, match=r"trains nothing more: raise trainer\.max_epochs=2 \(the run has trained 2 epochs\)"):
        train(resolve_config(_with_recorder(tabular_config, tmp_path / "b.txt")), resume=short.path, progress=False)
    tabular_config["trainer"]["max_time"] = None
    tabular_config["trainer"]["max_epochs"] = 5
    continued = train(resolve_config(_with_recorder(tabular_config, tmp_path / "b.txt")), resume=short.path, progress=False)
    assert _recorded(tmp_path / "b.txt") == _recorded(tmp_path / "a.txt")
    np.testing.assert_array_equal(
        read_columns(continued.predictions_file)["score"], read_columns(long_run.predictions_file)["score"]
    )
    status = continued.status()
    assert status["state"] == "completed" and status["attempts"] == 2
    assert status["budget_changes"] == [{"attempt": 1, "trainer.max_epochs": [2, 5]}]
    assert resolve_config(yaml.safe_load(continued.config_file.read_text())).trainer.max_epochs == 5


@pytest.mark.slow
def test_killed_run_resumes_to_a_complete_run_directory(tabular_config: dict, tmp_path: Path) -> None:
    tabular_config["model"]["params"]["delay"] = 0.05  # ~0.35 s per epoch of 7 batches
    tabular_config["trainer"].update(max_epochs=8, checkpoint_every_n_steps=2)
    config_file = tmp_path / "slow.yaml"
    config_file.write_text(yaml.safe_dump(tabular_config))
    env = {**os.environ, "PYTHONPATH": f"{TESTS}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    command = [sys.executable, "-m", "showerlearn.cli.main", "train", str(config_file), "--no-progress"]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    runs = Path(tabular_config["output_dir"]) / "tabular"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not list(runs.glob("*/checkpoints/last.ckpt")):
        time.sleep(0.1)
    time.sleep(0.3)  # now somewhere in the middle of an epoch
    process.send_signal(signal.SIGKILL)
    process.wait()
    (run_path,) = runs.iterdir()
    run = RunDir(run_path)
    assert run.status()["state"] == "running"  # killed: never marked completed
    assert not run.metrics_file.exists()
    result = subprocess.run([*command, "--resume", str(run_path)], env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert run.status()["state"] == "completed" and run.status()["attempts"] == 2
    assert run.metrics_file.is_file() and run.predictions_file.is_file()
    assert (run.logs / "csv" / "attempt_1" / "metrics.csv").is_file()


@pytest.mark.slow
def test_a_run_being_trained_is_refused_to_a_second_process_until_the_first_ends(
    tabular_config: dict, tmp_path: Path
) -> None:
    """Two processes training into one folder would interleave its checkpoints and logs (a benchmark relaunched
    while a killed one's workers still train): the second is refused, naming the first; a killed first one
    leaves no lock behind."""
    tabular_config["model"]["params"]["delay"] = 0.05
    tabular_config["trainer"].update(max_epochs=12, checkpoint_every_n_steps=2)  # ~4 s
    config_file = tmp_path / "slow.yaml"
    config_file.write_text(yaml.safe_dump(tabular_config))
    config = resolve_config(tabular_config)
    folder = tmp_path / "shared_run"
    env = {**os.environ, "PYTHONPATH": f"{TESTS}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    command = [sys.executable, "-m", "showerlearn.cli.main", "train", str(config_file), "--no-progress", "--run-dir", str(folder)]
    first = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not (folder / "checkpoints" / "last.ckpt").is_file():
            time.sleep(0.1)
        assert first.poll() is None, "the first process ended before it could be raced"
        holder = rf"another process is training this run \(process {first.pid} on "
        with pytest.raises(ConfigError, match=holder):
            train(config, resume=folder, progress=False)
        with pytest.raises(ConfigError, match=holder):  # not told to write over its run either
            train(config, run_dir=folder, progress=False)
        assert RunDir(folder).status()["state"] == "running" and first.poll() is None
    finally:
        first.kill()
        first.wait()
    resumed = train(config, resume=folder, progress=False)
    assert resumed.status()["state"] == "completed" and resumed.status()["pid"] == os.getpid()


def _with_recorder(config: dict, record: Path, *callbacks: dict) -> dict:
    config = {**config, "callbacks": [{"name": "engine_plugins:RecordBatches", "params": {"path": str(record)}}, *callbacks]}
    config["data"]["params"]["batch_size"] = 32  # 9 batches an epoch
    return config


def _recorded(record: Path) -> dict[tuple[str, str], str]:
    """``(step, rank) -> batch sum``; a step trained again after a resume keeps its last record."""
    return {(step, rank): total for _, step, rank, total in (line.split() for line in record.read_text().splitlines())}


@pytest.mark.slow
@pytest.mark.parametrize(
    ("crash_step", "trainer", "workers", "averaging"),
    [
        (4, {}, 0, []),  # mid-epoch (9 batches an epoch, a checkpoint every 2 steps)
        (9, {}, 0, []),  # on an epoch boundary
        (12, {}, 2, []),  # mid-epoch, loader worker processes reading ahead
        (9, {"max_steps": 24, "max_epochs": 100}, 0, []),  # step-based training, where Lightning's epoch count slips
        (6, {"limit_train_batches": 5}, 0, []),  # epochs cut short
        # the moving average of the weights goes on from the checkpoint, beside the weights being trained
        (13, {}, 0, [{"name": "ema_weight_averaging", "params": {"decay": 0.8, "update_starting_at_step": 3}}]),
    ],
)
def test_resumed_run_trains_as_if_never_interrupted(
    tabular_config: dict, tmp_path: Path, crash_step: int, trainer: dict, workers: int, averaging: list[dict]
) -> None:
    """Killed after its last checkpoint and resumed, a run trains on the same batches in the same order
    and ends with the same predictions as a run that was never interrupted."""
    tabular_config["trainer"].update(trainer)
    tabular_config["data"]["params"]["num_workers"] = workers
    uninterrupted = train(resolve_config(_with_recorder(tabular_config, tmp_path / "a.txt", *averaging)), progress=False)
    crash = {"name": "engine_plugins:CrashAtStep", "params": {"step": crash_step}}
    config = resolve_config(_with_recorder(tabular_config, tmp_path / "b.txt", *averaging, crash))
    with pytest.raises(RuntimeError, match="simulated crash"):
        train(config, progress=False)
    (interrupted,) = [p for p in uninterrupted.path.parent.iterdir() if p != uninterrupted.path]
    interrupted_status = RunDir(interrupted).status()
    crashed_seconds = interrupted_status["train_seconds"]
    resumed = train(config, resume=interrupted, progress=False)
    assert resumed.status()["attempts"] == 2
    assert resumed.status()["train_seconds"] > crashed_seconds > 0  # the wall time of both attempts
    assert _recorded(tmp_path / "b.txt") == _recorded(tmp_path / "a.txt")
    a, b = read_columns(uninterrupted.predictions_file), read_columns(resumed.predictions_file)
    np.testing.assert_array_equal(a["score"], b["score"])


def test_a_run_resumes_elsewhere_with_other_threads_and_accelerator_but_not_another_precision(tabular_config: dict) -> None:
    """Where and how fast a run trains may change on resuming (a CPU run moved to a GPU node, or given more
    threads): recorded in run.json and config.yaml. What changes its numbers' types (precision) may not."""
    tabular_config["trainer"].update(max_epochs=1, accelerator="auto", threads=None)
    run = train(resolve_config(tabular_config), progress=False)
    tabular_config["trainer"].update(max_epochs=2, accelerator="cpu", threads=1)
    continued = train(resolve_config(tabular_config), resume=run.path, progress=False)
    status = continued.status()
    assert status["state"] == "completed" and status["attempts"] == 2
    assert status["machine_changes"] == [{"attempt": 1, "trainer.accelerator": ["auto", "cpu"], "trainer.threads": [None, 1]}]
    assert status["budget_changes"] == [{"attempt": 1, "trainer.max_epochs": [1, 2]}]
    stored = resolve_config(yaml.safe_load(continued.config_file.read_text())).trainer
    assert (stored.accelerator, stored.threads, stored.max_epochs) == ("cpu", 1, 2)
    tabular_config["trainer"]["threads"] = 2  # elsewhere alone: a completed run has nothing left to train
    with pytest.raises(ConfigError, match="already holds a completed run"):
        train(resolve_config(tabular_config), resume=run.path, progress=False)
    tabular_config["trainer"].update(max_epochs=3, precision="64-true")
    with pytest.raises(ConfigError, match=r"differs from the one this run was started with in trainer\.precision"):
        train(resolve_config(tabular_config), resume=run.path, progress=False)
    tabular_config["trainer"].update(precision="32-true", strategy="ddp")
    with pytest.raises(ConfigError, match=r"differs from the one this run was started with in trainer\.strategy"):
        train(resolve_config(tabular_config), resume=run.path, progress=False)
    # the refusals leave the run as it was
    assert run.status()["attempts"] == 2 and resolve_config(yaml.safe_load(run.config_file.read_text())).trainer.threads == 1


def test_under_16_mixed_a_run_goes_on_only_in_the_number_type_it_trained_in(tabular_config: dict) -> None:
    """float16 with a gradient scaler (a GPU; Lightning's checkpoint holds the scaler) against bfloat16 (this CPU),
    whatever the accelerator setting says ('auto' on another machine): refused either way round, before any change."""
    from showerlearn.engine.resume_settings import machine_problems

    tabular_config["trainer"].update(accelerator="auto", precision="16-mixed")
    config = resolve_config(tabular_config)
    datamodule = DATAMODULES.get(config.data.name).__qualname__
    on_gpu = {datamodule: {"world_size": 1}, "MixedPrecision": {"scale": 65536.0, "_growth_tracker": 3}}
    (problem,) = machine_problems(config, on_gpu)
    assert "trained in float16 (with a gradient scaler, on a GPU) and would go on in bfloat16 (no GPU) here" in problem
    assert machine_problems(config, {datamodule: {"world_size": 1}}) == []  # trained here, in bfloat16
    tabular_config["trainer"]["precision"] = "32-true"
    assert machine_problems(resolve_config(tabular_config), on_gpu) == []  # the scaler state is of no 16-mixed run


def test_resuming_with_another_number_of_processes_is_refused(tabular_config: dict) -> None:
    run = train(resolve_config(tabular_config), progress=False)
    checkpoint = torch.load(run.checkpoints / "last.ckpt", weights_only=False)
    (state,) = [v for k, v in checkpoint.items() if k.endswith("DataModule")]
    state["world_size"] = 4  # as if trained on 4 GPUs
    torch.save(checkpoint, run.checkpoints / "last.ckpt")
    tabular_config["trainer"]["max_epochs"] += 1  # something left to train
    config_text, status = run.config_file.read_text(), run.status()
    for devices in ("auto", 2):  # as before (one process on this CPU), or given otherwise: refused before any change
        tabular_config["trainer"].update(accelerator="cpu", devices=devices)
        with pytest.raises(ConfigError, match=rf"trained by 4 process\(es\); .* give {1 if devices == 'auto' else 2} on "
                           r"this machine: set devices and num_nodes so that devices x nodes = 4"):
            train(resolve_config(tabular_config), resume=run.path, progress=False)
        assert run.config_file.read_text() == config_text and run.status() == status
    # an older checkpoint, read past that check, is still refused when it is loaded
    from showerlearn.data.base import ShowerDataModule

    datamodule = ShowerDataModule.__new__(ShowerDataModule)
    datamodule.trainer = None
    with pytest.raises(RuntimeError, match="trained by 4 process"):
        datamodule.load_state_dict({"world_size": 4})


@pytest.mark.slow
def test_ddp_processes_train_on_their_own_shards_and_report_once(tabular_config: dict, tmp_path: Path) -> None:
    """Two CPU processes (gloo) train on the two shards of each epoch's order, padded: 279 training events.
    Trained for 2 epochs, then given a third by the same command: both processes go on from the checkpoint."""
    tabular_config["data"]["params"]["split"] = {"fractions": [0.6975, 0.15, 0.1525]}
    config = _with_recorder(tabular_config, tmp_path / "ddp.txt")
    config["trainer"].update(accelerator="cpu", devices=2, strategy="ddp", threads=1, max_epochs=2)
    config_file = tmp_path / "ddp.yaml"
    config_file.write_text(yaml.safe_dump(config))
    env = {**os.environ, "PYTHONPATH": f"{TESTS}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    run = RunDir(tmp_path / "run")
    command = [sys.executable, "-m", "showerlearn.cli.main", "train", str(config_file), "--run-dir", str(run.path), "--no-progress"]
    for extra in ([], ["--set", "trainer.max_epochs=3"]):
        result = subprocess.run([*command, *extra], env=env, capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, result.stderr[-3000:]
        assert (result.stdout + result.stderr).count("run complete") == 1
    assert run.status()["state"] == "completed" and run.status()["attempts"] == 2
    assert run.metrics()["scalars"]["auc"] > 0.8

    datamodule = build_datamodule(resolve_config(config))
    datamodule.setup("fit")
    assert len(datamodule.train_set) == 279
    recorded = [line.split() for line in (tmp_path / "ddp.txt").read_text().splitlines()]
    for rank in (0, 1):
        sampler = EpochShuffleSampler(datamodule.train_set, seed=3, num_replicas=2, rank=rank)
        expected = []
        for _ in range(3):  # epochs
            shard = list(sampler)  # 140 events: one padded
            expected += [sum(float(datamodule.train_set[i]["inputs"].double().sum()) for i in shard[b : b + 32])
                         for b in range(0, len(shard), 32)]
        got = [float(total) for _, _, r, total in recorded if r == str(rank)]
        assert len(got) == len(expected) == 3 * 5
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6)


@pytest.mark.slow
def test_cli_sweep_and_evaluate(tabular_config: dict, tmp_path: Path) -> None:
    config_file = tmp_path / "experiment.yaml"
    tabular_config["trainer"]["max_epochs"] = 2
    config_file.write_text(yaml.safe_dump(tabular_config))
    runner = CliRunner()
    # a fixed split seed: the seeds differ in initialisation and batch order only, on the same test set
    result = runner.invoke(
        app, ["sweep", str(config_file), "--seeds", "2", "--set", "trainer.max_epochs=1", "--set", "data.params.split.seed=0"]
    )
    assert result.exit_code == 0, result.output
    (sweep_folder,) = (Path(tabular_config["output_dir"]) / "tabular").glob("sweep-*")
    aggregate = json.loads((sweep_folder / "aggregate.json").read_text())
    assert aggregate["n_runs"] == 2 and len(aggregate["scalars"]["auc"]["values"]) == 2
    evaluated = runner.invoke(app, ["evaluate", str(sweep_folder)])
    assert evaluated.exit_code == 0, evaluated.output
    assert "mean ± std over 2 seeds" in evaluated.output and "auc" in evaluated.output
    seed3 = sweep_folder / "seed3"
    scored = (seed3 / "metrics.json").stat().st_mtime_ns
    missing = runner.invoke(app, ["evaluate", str(seed3), str(tmp_path / "no_such_run")])  # a typo scores nothing
    assert missing.exit_code != 0 and "no_such_run" in "".join(missing.output.split())  # rich may wrap inside the word
    assert (seed3 / "metrics.json").stat().st_mtime_ns == scored
    # a sweep folder stands for its seeds in an ensemble: the scores are their mean
    ensembled = runner.invoke(app, ["ensemble", str(sweep_folder), "--output", str(tmp_path / "ensemble")])
    assert ensembled.exit_code == 0, ensembled.output
    seeds = [read_columns(sweep_folder / f"seed{seed}" / "predictions.h5") for seed in (3, 4)]
    averaged = read_columns(tmp_path / "ensemble" / "predictions.h5")
    np.testing.assert_array_equal(averaged["row"], seeds[0]["row"])
    np.testing.assert_allclose(averaged["score"], (seeds[0]["score"] + seeds[1]["score"]) / 2)
    assert 0.0 <= RunDir.existing(tmp_path / "ensemble").metrics()["scalars"]["auc"] <= 1.0


@pytest.mark.slow
def test_ensemble_averages_only_runs_of_the_same_events_and_writes_all_or_nothing(
    tabular_config: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import showerlearn.engine.runner as runner
    from sklearn.metrics import roc_auc_score

    from showerlearn.engine.ensemble import ensemble

    first = train(resolve_config(tabular_config), progress=False)  # seed 3
    tabular_config["seed"] = 4
    other_split = train(resolve_config(tabular_config), progress=False)
    with pytest.raises(ValueError, match=r"column 'row' differs .* fixed data.params.split.seed"):
        ensemble([first.path, other_split.path], tmp_path / "refused")
    tabular_config["data"]["params"]["split"] = {"seed": 3}  # seed 4's network on seed 3's split
    same_split = train(resolve_config(tabular_config), progress=False)

    monkeypatch.setattr(runner, "evaluate", lambda run: (_ for _ in ()).throw(RuntimeError("disk full")))
    with pytest.raises(RuntimeError, match="disk full"):
        ensemble([first.path, same_split.path], tmp_path / "interrupted")
    assert not (tmp_path / "interrupted").exists() and not list(tmp_path.glob(".*partial*"))
    monkeypatch.undo()

    (tmp_path / "empty").mkdir()  # an existing empty folder is used
    run = ensemble([first.path, same_split.path], tmp_path / "empty")
    columns = read_columns(run.predictions_file)
    assert run.metrics()["scalars"]["auc"] == pytest.approx(roc_auc_score(columns["label"], columns["score"]))
    assert (run.path / "environment.json").is_file()
    with pytest.raises(ValueError, match="is itself an ensemble"):
        ensemble([run.path, first.path], tmp_path / "nested")
    copy = shutil.copytree(first.path, tmp_path / "copy_of_first")  # another path, the same predictions
    with pytest.raises(ValueError, match=r"copy_of_first hold the same predictions, byte for byte"):
        ensemble([first.path, copy, same_split.path], tmp_path / "copied")
    (tmp_path / "a_file").write_text("")
    with pytest.raises(NotADirectoryError, match=r"a_file is a file, not a folder to write into"):
        ensemble([first.path, same_split.path], tmp_path / "a_file" / "ensemble")
    assert not (tmp_path / "copied").exists()
    with pytest.raises(ValueError, match=r"inside the member run .*: give a folder outside every member"):
        ensemble([first.path, same_split.path], same_split.path / "ensemble")
    assert not (same_split.path / "ensemble").exists()
    with pytest.raises(ConfigError, match="is an ensemble of runs"):
        train(resolve_config(tabular_config), resume=run.path, progress=False)
    # a member's predictions the evaluator refuses (a NaN score): named as the average's, not the staged folder's
    damaged = RunDir(Path(shutil.copytree(same_split.path, tmp_path / "damaged")))
    columns = read_columns(damaged.predictions_file)
    columns["score"][0] = np.nan
    write_columns(damaged.predictions_file, columns)
    with pytest.raises(ValueError, match=r"the average of the members .*damaged cannot be evaluated \(.*NaN.*\); "
                                         r"`showerlearn evaluate MEMBER` names the member at fault"):
        ensemble([first.path, damaged.path], tmp_path / "with_nan")
    assert not (tmp_path / "with_nan").exists()
    first.update_status(state="failed")
    with pytest.raises(ValueError, match=r"not a completed run \(state 'failed'\)"):
        ensemble([first.path, same_split.path], tmp_path / "unfinished")


@pytest.mark.slow
def test_max_time_stops_training_and_the_run_still_completes(tabular_config: dict) -> None:
    tabular_config["trainer"].update(max_epochs=100000, max_time="00:00:00:01")
    run = train(resolve_config(tabular_config), progress=False)
    status = run.status()
    assert status["state"] == "completed" and status["stopped_by"] == "max_time"
    assert run.metrics_file.is_file() and run.predictions_file.is_file()
    # more time, and an epoch count it reaches: the run goes on from where the clock stopped it
    stopped_at = torch.load(run.checkpoints / "last.ckpt", weights_only=False)["epoch"]
    tabular_config["trainer"]["max_epochs"] = 200000  # more epochs, but no more time: nothing to train
    with pytest.raises(ConfigError, match=r"trains nothing more: raise trainer\.max_time=00:00:00:01"):
        train(resolve_config(tabular_config), resume=run.path, progress=False)
    assert run.status()["attempts"] == 1 and "budget_changes" not in run.status()
    tabular_config["trainer"].update(max_epochs=stopped_at + 2, max_time="00:01:00:00")
    continued = train(resolve_config(tabular_config), resume=run.path, progress=False)
    status = continued.status()
    assert status["state"] == "completed" and status["attempts"] == 2 and "stopped_by" not in status
    assert torch.load(run.checkpoints / "last.ckpt", weights_only=False)["epoch"] == stopped_at + 1
    with pytest.raises(ConfigError, match="max_time"):
        resolve_config({**tabular_config, "trainer": {**tabular_config["trainer"], "max_time": "1 hour"}})


@pytest.mark.slow
def test_sweep_goes_on_past_a_failed_seed(tabular_config: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    import showerlearn.engine.runner as runner
    from showerlearn.engine.sweep import SweepError, sweep, sweep_runs

    def train_unless_seed_4(config, **kwargs):  # noqa: ANN001, ANN003 - stands in for runner.train
        if config.seed == 4:
            raise RuntimeError("out of memory")
        return train(config, **kwargs)

    monkeypatch.setattr(runner, "train", train_unless_seed_4)
    tabular_config["trainer"]["max_epochs"] = 1
    with pytest.raises(SweepError, match=r"1 of 3 seeds failed \(seed 4: RuntimeError: out of memory\)"):
        sweep(resolve_config(tabular_config), 3, progress=False)
    (folder,) = (Path(tabular_config["output_dir"]) / "tabular").glob("sweep-*")
    description = json.loads((folder / "sweep.json").read_text())
    assert description["runs"] == ["seed3", "seed4", "seed5"] and description["failed"] == {"4": "RuntimeError: out of memory"}
    assert [run.path.name for run in sweep_runs(folder)] == ["seed3", "seed5"]  # completed runs only
    assert json.loads((folder / "aggregate.json").read_text())["n_runs"] == 2


@pytest.mark.slow
def test_a_resumed_sweep_keeps_completed_seeds_and_continues_the_others(tabular_config: dict) -> None:
    """A sweep stopped mid-way (here: both seeds crash at step 9) goes on with --resume: a seed completed in
    between is kept as it is, the other continues from its checkpoint; nothing else may be resumed."""
    from showerlearn.engine.sweep import SweepError, sweep, sweep_runs

    tabular_config["callbacks"] = [{"name": "engine_plugins:CrashAtStep", "params": {"step": 9}}]
    config = resolve_config(tabular_config)
    with pytest.raises(SweepError, match="every seed failed"):
        sweep(config, 2, progress=False)
    (folder,) = (Path(tabular_config["output_dir"]) / "tabular").glob("sweep-*")
    other = resolve_config({**tabular_config, "model": {**tabular_config["model"], "params": {"hidden": 16}}})
    described = (folder / "sweep.json").read_bytes()
    with pytest.raises(ConfigError, match=r"seed3:\s+- the config differs from the one this run was started with in model\.params\.hidden"):
        sweep(other, 2, progress=False, resume=folder)  # seeds started, none completed: refused before any trains
    assert (folder / "sweep.json").read_bytes() == described
    train(config, resume=folder / "seed3", progress=False)  # one seed finished by hand
    finished = (folder / "seed3" / "metrics.json").read_bytes()
    # the folder given, not the config, is named as the wrong one
    with pytest.raises(ValueError, match=r"^--resume .*: holds the seeds \[3, 4\], but .* give \[3, 4, 5\]") as wrong:
        sweep(config, 3, progress=False, resume=folder)
    assert not isinstance(wrong.value, ConfigError)
    with pytest.raises(ValueError, match=r"^--resume .*seed3: is not a sweep folder"):
        sweep(config, 2, progress=False, resume=folder / "seed3")
    with pytest.raises(ConfigError, match=r"seed3:\s+- the config differs from the one this run was started with in model\.params\.hidden"):
        sweep(other, 2, progress=False, resume=folder)  # the completed seed is another experiment's
    assert sweep(config, 2, progress=False, resume=folder) == folder
    assert [run.status()["attempts"] for run in sweep_runs(folder)] == [2, 2]  # seed 4 resumed, not restarted
    assert (folder / "seed3" / "metrics.json").read_bytes() == finished
    assert "failed" not in json.loads((folder / "sweep.json").read_text())
    assert json.loads((folder / "aggregate.json").read_text())["n_runs"] == 2


def test_estimator_runs_through_the_same_path(tabular_config: dict) -> None:
    tabular_config.pop("model")
    tabular_config.pop("task")
    tabular_config["estimator"] = {"name": "random_forest", "params": {"n_estimators": 20}}
    run = train(resolve_config(tabular_config), progress=False)
    assert (run.checkpoints / "estimator.skops").is_file()
    # the share of the data the test split holds, kept for evaluators scaling totals of the whole data set
    n_rows = len(Path(tabular_config["data"]["params"]["source"]["path"]).read_text().splitlines()) - 1
    assert run.status()["test_share"] == pytest.approx(len(read_columns(run.predictions_file)["score"]) / n_rows)
    assert run.metrics()["scalars"]["auc"] > 0.8
    predictions = read_columns(run.predictions_file)
    assert ((predictions["score"] >= 0) & (predictions["score"] <= 1)).all()


@pytest.mark.slow
def test_externally_launched_ddp_job_shares_one_run_folder(tabular_config: dict, tmp_path: Path) -> None:
    """torchrun starts both processes itself, as srun does on a cluster: one --run-dir, one run, one report."""
    tabular_config["trainer"].update(accelerator="cpu", devices=2, strategy="ddp", threads=1)
    tabular_config["evaluation"]["params"]["figure_formats"] = ["png"]  # one process draws them
    config_file = tmp_path / "ddp.yaml"
    config_file.write_text(yaml.safe_dump(tabular_config))
    run_path = tmp_path / "shared_run"
    env = {**os.environ, "PYTHONPATH": f"{TESTS}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m",
               "showerlearn.cli.main", "train", str(config_file), "--run-dir", str(run_path), "--no-progress"]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert (result.stdout + result.stderr).count("run complete") == 1
    assert not (Path(tabular_config["output_dir"])).exists()  # nothing written outside --run-dir
    run = RunDir(run_path)
    assert run.status()["state"] == "completed" and run.status()["attempts"] == 1
    assert run.metrics()["scalars"]["auc"] > 0.8
    assert sorted(p.name for p in run_path.iterdir()) == sorted(
        ["checkpoints", "config.yaml", "environment.json", "logs", "metrics.json", "plots", "predictions.h5", "run.json"]
    )


def test_rank_above_zero_of_an_external_launch_needs_the_run_folder_and_writes_nothing(
    tabular_config: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLURM_PROCID", "1")  # the second task of an srun job
    with pytest.raises(ConfigError, match="rank 1 of a job started by an external launcher"):
        train(resolve_config(tabular_config), progress=False)
    assert not Path(tabular_config["output_dir"]).exists()

    def stop(config: object, progress: bool) -> None:
        raise RuntimeError("stop before training")

    monkeypatch.setattr("showerlearn.engine.runner.build_datamodule", stop)
    shared = tmp_path / "shared_run"
    shared.mkdir()
    with run_lock(RunDir(shared)), pytest.raises(RuntimeError, match="stop before training"):  # rank 0 holds it
        train(resolve_config(tabular_config), run_dir=shared, progress=False)
    assert not list(shared.iterdir())  # rank 0 owns the folder: config, environment and status are its


def test_a_ddp_process_started_by_lightning_trains_in_the_folder_its_rank_0_holds(
    tabular_config: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def stop(config: object, progress: bool) -> None:
        raise RuntimeError("stop before training")

    monkeypatch.setattr("showerlearn.engine.runner.build_datamodule", stop)
    shared = tmp_path / "shared_run"
    shared.mkdir()
    monkeypatch.setenv(RUN_DIR_VARIABLE, str(shared))
    with run_lock(RunDir(shared)), pytest.raises(RuntimeError, match="stop before training"):
        train(resolve_config(tabular_config), progress=False)


def test_a_new_run_refuses_a_folder_of_files_it_would_replace_or_of_a_run(tabular_config: dict, tmp_path: Path) -> None:
    """--run-dir of a folder holding the user's metrics.json: the run's would replace it; a batch log stays beside."""
    users = tmp_path / "notes"
    users.mkdir()
    (users / "metrics.json").write_text("my notes")
    with pytest.raises(ConfigError, match="holds metrics.json but no run"):
        train(resolve_config(tabular_config), run_dir=users, progress=False)
    assert [path.name for path in users.iterdir()] == ["metrics.json"] and (users / "metrics.json").read_text() == "my notes"
    (users / "config.yaml").write_text("name: x\n")
    with pytest.raises(ConfigError, match="holds a run already"):
        train(resolve_config(tabular_config), run_dir=users, progress=False)
    sweep = tmp_path / "sweep"  # a sweep's folder holds its seeds' runs, not a run
    sweep.mkdir()
    (sweep / "sweep.json").write_text("{}")
    with pytest.raises(ConfigError, match="is a sweep's folder"):
        train(resolve_config(tabular_config), run_dir=sweep, progress=False)
    assert [path.name for path in sweep.iterdir()] == ["sweep.json"]
    inside = users / "plots" / "new"  # in a run's own folder: refused before anything is made there
    (users / "run.json").write_text("{}")
    (users / "plots").mkdir()
    with pytest.raises(ConfigError, match="is part of the run"):
        train(resolve_config(tabular_config), run_dir=inside, progress=False)
    assert not inside.exists()
    batch = tmp_path / "job"  # #SBATCH --output=job/slurm-%j.out writes there before the job starts
    batch.mkdir()
    (batch / "slurm-1.out").write_text("log")
    run = train(resolve_config(tabular_config), run_dir=batch, progress=False)
    assert run.metrics_file.is_file() and (batch / "slurm-1.out").read_text() == "log"


@pytest.mark.slow
def test_the_same_command_again_continues_an_unfinished_run_dir(tabular_config: dict, tmp_path: Path) -> None:
    """A requeued job (srun --requeue, torchrun --max-restarts) re-runs its command line: it resumes."""
    tabular_config["callbacks"] = [{"name": "engine_plugins:CrashAtStep", "params": {"step": 9}}]
    config_file = tmp_path / "experiment.yaml"
    config_file.write_text(yaml.safe_dump(tabular_config))
    command = ["train", str(config_file), "--run-dir", str(tmp_path / "run"), "--no-progress"]
    assert CliRunner().invoke(app, command).exit_code != 0  # the simulated crash
    second = CliRunner().invoke(app, command)
    assert second.exit_code == 0, second.output
    run = RunDir(tmp_path / "run")
    assert run.status()["state"] == "completed" and run.status()["attempts"] == 2
    third = CliRunner().invoke(app, command)
    assert third.exit_code != 0 and "already holds a completed run" in third.output


def test_sweep_refuses_ddp(tabular_config: dict) -> None:
    tabular_config["trainer"]["devices"] = 2
    with pytest.raises(ValueError, match="train DDP seeds one by one"):
        sweep(resolve_config(tabular_config), n_seeds=2, progress=False)


def test_sweeps_started_in_the_same_second_get_folders_of_their_own(
    tabular_config: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    from datetime import datetime

    import showerlearn.engine.sweep as sweeps

    class SameSecond(datetime):
        @classmethod
        def now(cls, tz=None):  # noqa: ANN001, ANN206 - stands in for datetime.now
            return datetime(2026, 1, 2, 3, 4, 5, tzinfo=tz)

    monkeypatch.setattr(sweeps, "datetime", SameSecond)
    config = resolve_config(tabular_config)
    folders = [sweeps._new_folder(config) for _ in range(3)]
    assert [folder.name for folder in folders] == [
        "sweep-20260102-030405", "sweep-20260102-030405_1", "sweep-20260102-030405_2"
    ]
    assert all(folder.is_dir() and not list(folder.iterdir()) for folder in folders)


@pytest.mark.slow
def test_a_resumed_sweep_refuses_a_budget_other_than_that_of_its_completed_seeds(tabular_config: dict) -> None:
    """Completed seeds are kept as they are: resumed with a larger budget, the seeds still to train would go
    further than they went, and the aggregate would average the two."""
    tabular_config["trainer"]["max_epochs"] = 1
    config = resolve_config(tabular_config)
    folder = sweep(config, 2, progress=False)
    aggregated = (folder / "aggregate.json").read_bytes()
    tabular_config["trainer"]["max_epochs"] = 2
    with pytest.raises(ConfigError, match=(
        r"(?s)training budget differs from that of completed seeds.*"
        r"seed3: trainer\.max_epochs=1 \(resumed config: 2\).*seed4: trainer\.max_epochs=1 \(resumed config: 2\)"
    )):
        sweep(resolve_config(tabular_config), 2, progress=False, resume=folder)
    assert (folder / "aggregate.json").read_bytes() == aggregated
    assert sweep(config, 2, progress=False, resume=folder) == folder  # with their budget: resumed as before


def test_a_refused_second_process_is_told_so_even_when_run_json_is_damaged(tmp_path: Path) -> None:
    run = RunDir(tmp_path)
    run.status_file.write_text("{not json")
    with run_lock(run):
        # a second open file description conflicts even in this process: flock locks belong to them
        with pytest.raises(ConfigError, match=r"another process is training this run: wait"):
            with run_lock(run):
                pass
    with run_lock(run):  # released at the end of the block
        pass


def test_a_file_system_that_cannot_lock_trains_unlocked_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """NFS refuses flock on a folder (ENOLCK, EBADF); a run there must still train."""
    import showerlearn.engine.run_lock as run_lock_module

    def no_locking(descriptor: int, operation: int) -> None:
        raise OSError(errno.ENOLCK, os.strerror(errno.ENOLCK))

    monkeypatch.setattr(run_lock_module.fcntl, "flock", no_locking)
    with caplog.at_level(logging.WARNING), run_lock(RunDir(tmp_path)):
        pass
    assert "not locked against a second process" in caplog.text


@pytest.mark.parametrize(("setting", "refusal"), [
    ({"devices": "0,2"}, "a sweep trains each seed in one process"),
    ({"devices": -1}, "a sweep trains each seed in one process"),
    ({"strategy": "dpp"}, "trainer.strategy: 'dpp' is not a name Lightning knows"),
])
def test_a_sweep_refuses_what_a_run_refuses_before_its_folder_exists(tabular_config: dict, setting: dict,
                                                                    refusal: str) -> None:
    tabular_config["trainer"] = {**tabular_config.get("trainer", {}), **setting}
    with pytest.raises((ValueError, ConfigError), match=refusal):
        sweep(resolve_config(tabular_config), 2, progress=False)
    assert not (Path(tabular_config["output_dir"]) / "tabular").exists()


def test_a_run_folder_that_is_not_there_is_named_missing(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"nothere: no such run folder"):
        RunDir.existing(tmp_path / "nothere")
    (tmp_path / "folder").mkdir()
    with pytest.raises(FileNotFoundError, match=r"folder is not a showerlearn run directory \(no config.yaml\)"):
        RunDir.existing(tmp_path / "folder")


def test_an_ensemble_keeps_what_its_members_codes_mean(tmp_path: Path) -> None:
    """The collider's process_names name the process codes of the averaged predictions: kept, and the same in all."""
    from showerlearn.engine.ensemble import _shared_attributes

    runs = [RunDir(tmp_path / name) for name in ("a", "b")]
    for run, names in zip(runs, (["signal", "qcd"], ["signal", "qcd"]), strict=True):
        run.path.mkdir()
        write_columns(run.predictions_file, {"score": np.zeros(2)}, attributes={"process_names": names, "run_id": run.path.name})
    assert _shared_attributes(runs, ("process_names",)) == {"process_names": '["signal", "qcd"]'}
    write_columns(runs[1].predictions_file, {"score": np.zeros(2)}, attributes={"process_names": ["qcd", "signal"]})
    with pytest.raises(ValueError, match=r"b: its predictions' process_names differ from .*a's"):
        _shared_attributes(runs, ("process_names",))
