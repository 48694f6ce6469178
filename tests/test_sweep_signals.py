"""A parallel sweep stopped by a signal to its main process stops its workers too, leaving their runs resumable."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from showerlearn.engine.run_dir import RunDir

TESTS = Path(__file__).parent


def test_sigterm_to_a_parallel_sweep_stops_its_workers_and_cancels_queued_seeds(tabular_config: dict, tmp_path: Path) -> None:
    tabular_config["model"]["params"]["delay"] = 0.05  # 200 epochs would take minutes
    tabular_config["trainer"].update(max_epochs=200, threads=1)
    config_file = tmp_path / "slow.yaml"
    config_file.write_text(yaml.safe_dump(tabular_config))
    env = {**os.environ, "PYTHONPATH": f"{TESTS}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    command = [sys.executable, "-m", "showerlearn.cli.main", "sweep", str(config_file), "--seeds", "3", "--jobs", "2",
               "--no-progress"]
    with (tmp_path / "log.txt").open("w") as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=log)
    runs = Path(tabular_config["output_dir"]) / "tabular"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(list(runs.glob("sweep-*/seed*/checkpoints/last.ckpt"))) < 2:
        time.sleep(0.1)
    process.send_signal(signal.SIGTERM)
    stopped = time.monotonic()
    try:
        assert process.wait(timeout=60) == 128 + signal.SIGTERM, (tmp_path / "log.txt").read_text()[-3000:]
    finally:
        process.kill()
    assert time.monotonic() - stopped < 30  # not the minutes the seeds would take to train to their end
    (folder,) = runs.glob("sweep-*")
    states = {path.name: RunDir(path).status().get("state") for path in sorted(folder.glob("seed*"))}
    assert states == {"seed3": "interrupted", "seed4": "interrupted"}  # seed 5, queued, never started


def test_a_sigterm_whose_handler_runs_inside_a_destructor_still_ends_the_command() -> None:
    """A signal's handler runs at whatever line the main thread is at; inside a ``__del__`` or a weak-reference
    callback (h5py has them) Python drops the exit it raises, and the command went on (1 SIGTERM in 5 during a
    simulation). The exit must come all the same, without the "Exception ignored" trace."""
    script = """
import os, signal, time
from showerlearn.cli.main import _exit_cleanly_on_sigterm
_exit_cleanly_on_sigterm()
class Finalised:
    def __del__(self):
        os.kill(os.getpid(), signal.SIGTERM)
        sum(range(1000))  # the handler runs here, inside the destructor
Finalised()
time.sleep(30)
print("went on")
"""
    start = time.monotonic()
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert result.returncode == 128 + signal.SIGTERM, result.stderr
    assert "went on" not in result.stdout and "Exception ignored" not in result.stderr
    assert time.monotonic() - start < 25  # not the 30 s sleep: the exit came during it


def test_an_error_after_a_stop_signal_is_that_stop(monkeypatch, capsys) -> None:
    """A SIGTERM landing in an extension module's import comes out as ``ImportError: initialization failed``
    (onnxruntime's, during ``export``): reported as "need onnxruntime", status 1, a batch script would install
    it rather than resubmit. After a stop signal every error is that stop: status 143."""
    import typer

    from showerlearn.cli.common import user_errors
    from showerlearn.engine import launch

    with pytest.raises(typer.Exit) as failed, user_errors():
        raise ImportError("initialization failed")
    assert failed.value.exit_code == 1  # no signal: an error of the command's own
    monkeypatch.setattr(launch, "_stopped_by", signal.SIGTERM)
    with pytest.raises(typer.Exit) as stopped, user_errors(kept="nothing written"):
        raise ImportError("initialization failed")
    assert stopped.value.exit_code == 143
    assert "stopped by SIGTERM: nothing written" in " ".join(capsys.readouterr().err.split())
