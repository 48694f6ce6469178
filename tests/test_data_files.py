"""The core's data-file helpers (showerlearn.data.files): the simulation cache."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel

from showerlearn.data.files import cached_simulation


def test_a_cached_simulation_is_written_once_with_a_progress_bar_only_on_a_terminal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Settings(BaseModel):
        n_events: int = 3

    calls = []

    def simulate(config: Settings, path: Path, seed: int, progress: bool) -> None:
        calls.append(progress)
        path.write_text(f"{config.n_events} events, seed {seed}")

    for terminal in (False, True):
        monkeypatch.setattr("sys.stderr.isatty", lambda terminal=terminal: terminal)
        path = cached_simulation(tmp_path, "toy", ".txt", Settings(n_events=2 + terminal), 5, simulate)
        assert path.read_text() == f"{2 + terminal} events, seed 5"
    assert cached_simulation(tmp_path, "toy", ".txt", Settings(n_events=2), 5, simulate).name.endswith("_seed5.txt")
    assert calls == [False, True]  # the third call found its file
