"""``showerlearn simulate calorimeter`` end to end on tiny settings, and its messages for bad settings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import h5py
import pytest
from typer.testing import CliRunner

import showerlearn.calorimeter.simulation as simulation
from showerlearn.calorimeter.io import n_events, read_gammas
from showerlearn.cli.main import app
from showerlearn.parallel import SEED_RANGE

_MAX_SEED = SEED_RANGE[1]


def test_simulate_calorimeter_writes_the_file_and_a_summary(tmp_path: Path) -> None:
    config = tmp_path / "sim.yaml"
    config.write_text("beta: 0.5\nenergy_max_mev: 3.0\nchunk_size: 40\n")
    output = tmp_path / "hits.h5"
    result = CliRunner().invoke(app, [
        "simulate", "calorimeter", "--output", str(output), "--events", "100", "--gammas", "2", "--seed", "4",
        "--jobs", "2", "--config", str(config), "--set", "background_hits_mean=1",
    ])
    assert result.exit_code == 0, result.output
    assert n_events(output) == 100
    gammas = read_gammas(output)
    assert len(gammas[0]) == 2 and float(gammas.energy_rest[0][0]) <= 3.0
    assert f"wrote {output}" in result.output  # the whole path, however long
    for word in ("events", "100", "gammas", "hits", "background", "events/s"):
        assert word in result.output, word
    # an existing output is kept unless --overwrite; a folder is refused; both before simulating
    written = output.stat().st_mtime_ns
    again = ["simulate", "calorimeter", "--output", str(output), "--events", "10", "--gammas", "2", "--jobs", "1"]
    result = CliRunner().invoke(app, again)
    assert result.exit_code == 1 and "exists; pass --overwrite" in " ".join(result.output.split())
    assert output.stat().st_mtime_ns == written
    result = CliRunner().invoke(app, [*again, "--overwrite"])
    assert result.exit_code == 0, result.output
    assert n_events(output) == 10
    result = CliRunner().invoke(app, ["simulate", "calorimeter", "--output", str(tmp_path), "--events", "10"])
    assert result.exit_code == 1 and "is a folder" in " ".join(result.output.split())


def test_bad_settings_name_the_key(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["simulate", "calorimeter", "--output", str(tmp_path / "x.h5"), "--events", "5",
                                      "--set", "bta=0.5"])
    assert result.exit_code == 2 and "bta" in result.output
    result = CliRunner().invoke(app, ["simulate", "calorimeter", "--output", str(tmp_path / "x.h5"), "--set", "beta=0.99"])
    assert result.exit_code == 2 and "beta" in result.output
    # NaN and infinity pass every range check: refused by name, not crashing (or written) later
    for setting in ("energy_lines_mev=[nan]", "readout_window_ns=[nan,nan]", "time_resolution_ns=inf",
                    "background_energy_mev=inf", "background_hits_mean=1e12"):
        result = _simulate(tmp_path / "x.h5", "--set", setting)
        assert result.exit_code == 2 and setting.split("=")[0] in result.output, setting
    # the toy transports nothing, so no cross-section check sees its lines: a line of 0 MeV crashed its response
    for line in ("0", "-1"):
        result = _simulate(tmp_path / "x.h5", "--set", "geometry=toy_grid", "--set", f"energy_lines_mev=[{line}]")
        assert result.exit_code == 2 and "energy_lines_mev.0: Input should be greater than 0" in result.output, line
    result = _simulate(tmp_path / "x.h5", "--gammas", "0")  # named by the option given, not by the key it sets
    assert result.exit_code == 2 and "--gammas (n_gammas: Input should be greater than or equal to 1" in result.output
    result = _simulate(tmp_path / "x.h5", "--gammas", "2", "--set", "n_gammas_min=3")  # a check across settings
    assert result.exit_code == 2 and "n_gammas_min (3) exceeds n_gammas (2)" in result.output
    assert "(n_gammas given by --gammas)" in " ".join(result.output.split())
    assert not (tmp_path / "x.h5").exists()


def _simulate(output: Path, *options: str) -> Any:
    return CliRunner().invoke(app, ["simulate", "calorimeter", "--output", str(output), "--events", "2", "--jobs", "1", *options])


def test_the_seed_is_checked_before_simulating(tmp_path: Path) -> None:
    output = tmp_path / "hits.h5"
    for seed in ("-1", str(2**64)):
        result = _simulate(output, "--seed", seed)
        assert result.exit_code == 2 and "--seed" in result.output and not output.exists()
    for family in ("calorimeter", "collider", "iact"):  # every simulator's range, one (showerlearn.parallel)
        result = CliRunner().invoke(app, ["simulate", family, "--output", str(output), "--seed", str(_MAX_SEED + 1)])
        assert result.exit_code == 2 and "--seed" in result.output and not output.exists(), family
    result = _simulate(output, "--seed", str(_MAX_SEED))
    assert result.exit_code == 0, result.output
    with h5py.File(output) as file:
        assert file.attrs["seed"] == _MAX_SEED
    with pytest.raises(ValueError, match="seed must be in 0"):
        simulation.simulate_calorimeter(simulation.CalorimeterSimulationConfig(n_events=1), tmp_path / "x.h5", seed=-1)


def test_the_number_of_processes_is_checked_by_its_option(tmp_path: Path) -> None:
    output = tmp_path / "hits.h5"
    for family in ("calorimeter", "collider", "iact"):
        for jobs in ("0", "-3"):
            result = CliRunner().invoke(app, ["simulate", family, "--output", str(output), "--jobs", jobs])
            message = " ".join(result.output.split())
            assert result.exit_code == 2 and f"'--jobs': {jobs}: expected a number of processes >= 1, or -1" in message, message
            assert not output.exists()


def test_an_output_created_while_simulating_is_kept_without_overwrite(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    output = tmp_path / "hits.h5"
    original = simulation.simulate_calorimeter

    def someone_writes_the_output_meanwhile(*args: Any, **kwargs: Any) -> Any:
        output.write_text("another process's file")
        return original(*args, **kwargs)

    monkeypatch.setattr(simulation, "simulate_calorimeter", someone_writes_the_output_meanwhile)
    result = _simulate(output)
    assert result.exit_code == 1 and "created while this file was being written); not replaced; pass --overwrite" in (
        " ".join(result.output.split()))
    assert output.read_text() == "another process's file" and [path.name for path in tmp_path.iterdir()] == ["hits.h5"]
    result = _simulate(output, "--overwrite")
    assert result.exit_code == 0, result.output
    assert n_events(output) == 2


def test_a_simulation_stopped_by_sigterm_leaves_no_temporary_file(tmp_path: Path) -> None:
    """A batch system's time limit sends SIGTERM: the half-written file goes, as on any other error."""
    import signal
    import subprocess
    import sys
    import time

    command = [sys.executable, "-m", "showerlearn.cli.main", "simulate", "calorimeter", "-o", str(tmp_path / "big.h5"),
               "--events", "1000000", "--jobs", "1"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not list(tmp_path.glob(".big.h5.*")) and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.1)
    assert list(tmp_path.glob(".big.h5.*")), "the simulation never started writing"
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=60) == 128 + signal.SIGTERM
    assert list(tmp_path.iterdir()) == []


def test_an_output_inside_a_file_is_named_as_such(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    result = CliRunner().invoke(app, ["simulate", "calorimeter", "--output", str(tmp_path / "notes.txt" / "hits.h5"),
                                      "--events", "10", "--overwrite"])
    assert result.exit_code == 1 and "notes.txtisafile,notafolder" in "".join(result.output.split())  # wrapped anywhere
    assert (tmp_path / "notes.txt").read_text() == "mine"
