"""The core's data-file helpers (showerlearn.data.files): the simulation cache, and its progress bar as each
family's simulated source shows it."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel
from typer.testing import CliRunner

from showerlearn.cli.main import app
from showerlearn.config import load_config
from showerlearn.data.files import cached_simulation
from showerlearn.engine.runner import train

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_a_cached_simulation_is_written_once_with_progress_unless_refused(tmp_path: Path) -> None:
    """Progress also where stderr is no terminal: the bar reports in plain lines there (a batch job's log)."""

    class Settings(BaseModel):
        n_events: int = 3

    calls = []

    def simulate(config: Settings, path: Path, seed: int, progress: bool) -> None:
        calls.append(progress)
        path.write_text(f"{config.n_events} events, seed {seed}")

    path = cached_simulation(tmp_path, "toy", ".txt", Settings(n_events=2), 5, simulate)
    assert path.read_text() == "2 events, seed 5"
    assert cached_simulation(tmp_path, "toy", ".txt", Settings(n_events=2), 5, simulate) == path
    cached_simulation(tmp_path, "toy", ".txt", Settings(n_events=4), 5, simulate, progress=False)  # --no-progress
    assert calls == [True, False]  # the second call found its file


class _Simulated(Exception):
    """Stops a run at its simulation, once the simulator has been called."""


@pytest.mark.parametrize(
    ("example", "simulator", "cache_key"),
    [
        ("gamma_physnet_da_small.yaml", "iact.simulation.simulate_iact", "data.params.cache_dir"),
        ("calorimeter_r3b_window.yaml", "calorimeter.simulation.simulate_calorimeter", "data.params.cache_dir"),
        ("collider_multiscale.yaml", "collider.simulation.simulate_collider", "data.params.source.cache_dir"),
    ],
)
def test_the_simulation_of_a_training_run_follows_its_progress_option(
    example: str, simulator: str, cache_key: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``train --no-progress`` reaches every family's simulated source: no bar, even on a terminal."""
    calls = []

    def simulate(*args: object, progress: bool, **kwargs: object) -> None:
        calls.append(progress)
        raise _Simulated

    monkeypatch.setattr(f"showerlearn.{simulator}", simulate)
    monkeypatch.setattr("sys.stderr.isatty", lambda: True)
    config = load_config(EXAMPLES / example, [f"output_dir={tmp_path / 'runs'}", f"{cache_key}={tmp_path / 'cache'}"])
    for progress in (False, True):
        with pytest.raises(_Simulated):
            train(config, progress=progress)
    assert calls == [False, True]


def test_a_sweep_passes_its_progress_option_on(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``sweep --no-progress`` reaches the engine's sweep, which trains each seed (and simulates) with it."""
    calls = []

    def sweep(*args: object, progress: bool, **kwargs: object) -> Path:
        calls.append(progress)
        raise ValueError("stopped here")

    monkeypatch.setattr("showerlearn.engine.sweep.sweep", sweep)
    for option in ("--no-progress", "--progress"):
        result = CliRunner().invoke(app, ["sweep", str(EXAMPLES / "calorimeter_r3b_window.yaml"), option])
        assert result.exit_code == 1 and "stopped here" in result.output, result.output
    assert calls == [False, True]
