"""Progress bars in batch logs: plain lines where the console is not a terminal, none on a terminal."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

import showerlearn.progress as progress
from showerlearn.cli.main import app
from showerlearn.progress import Progress, progress_line


def _advance_three_times(console: Console, **kwargs: object) -> None:
    with Progress(console=console, log_interval=0.0, **kwargs) as bar:
        task = bar.add_task("simulating", total=3)
        for _ in range(3):
            bar.advance(task)


def test_a_log_file_gets_a_plain_line_per_step_due() -> None:
    log = io.StringIO()
    _advance_three_times(Console(file=log, force_terminal=False, width=200))
    lines = [line for line in log.getvalue().splitlines() if line.startswith("simulating: ")]
    assert [line.split(",")[0] for line in lines] == [f"simulating: {k} of 3 ({round(100 * k / 3)} %)" for k in (1, 2, 3)]
    assert "elapsed" in lines[0] and "left" not in lines[-1]  # nothing is left once done


def test_a_terminal_or_a_disabled_bar_gets_no_plain_line() -> None:
    for console, kwargs in ((Console(file=io.StringIO(), force_terminal=True, width=200), {}),
                            (Console(file=io.StringIO(), force_terminal=False, width=200), {"disable": True})):
        _advance_three_times(console, **kwargs)
        assert "of 3 (" not in console.file.getvalue()


def test_a_terminal_that_draws_nothing_live_gets_the_lines() -> None:
    """A dumb terminal (TERM=dumb: an editor's shell, some CI systems): rich shows the bar only at the end."""
    log = io.StringIO()
    _advance_three_times(Console(file=log, force_terminal=True, force_interactive=False, width=200))
    assert "simulating: 2 of 3 (67 %)" in log.getvalue()


def test_lines_wait_for_the_interval() -> None:
    log = io.StringIO()
    with Progress(console=Console(file=log, force_terminal=False, width=200), log_interval=3600.0) as bar:
        task = bar.add_task("predicting", total=10)
        bar.update(task, completed=5)
    assert "predicting: 5 of 10" not in log.getvalue()


def test_the_line_says_what_is_known() -> None:
    assert progress_line("simulating", 4000, 20000, 31.2, 124.9) == \
        "simulating: 4,000 of 20,000 (20 %), 0:00:31 elapsed, about 0:02:04 left"
    assert progress_line("explaining run", 7, None, 3725.0, None) == "explaining run: 7, 1:02:05 elapsed"
    # a bar over files says the events it holds as fields: the line says them too
    assert progress_line("run.h5", 0, 1, 300.0, None, {"events": 125000, "rate": 416.7, "unit": "ev"}) == \
        "run.h5: 0 of 1 (0 %), events 125,000, rate 417, 0:05:00 elapsed"


def test_simulate_in_a_batch_log_reports_while_it_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """CliRunner's output is no terminal, as a batch job's log: the simulator's bar reports in plain lines."""
    monkeypatch.setattr(progress, "DEFAULT_LOG_INTERVAL", 0.0)
    result = CliRunner().invoke(app, ["simulate", "calorimeter", "--output", str(tmp_path / "hits.h5"), "--events", "60",
                                      "--gammas", "1", "--jobs", "1", "--set", "chunk_size=20"])
    assert result.exit_code == 0, result.output
    assert "20 of 60 (33 %)" in result.output and "40 of 60 (67 %)" in result.output and ", hits " in result.output


def test_a_work_bar_draws_only_inside_work_bars(capsys: pytest.CaptureFixture[str]) -> None:
    """Deep work (an estimator's fit) draws a bar where the engine opened ``work_bars`` (a command with progress),
    nothing elsewhere (``--no-progress``, a parallel sweep's workers, inside another live bar)."""
    with progress.work_bar("outside", 2) as advance:
        advance(2)
    with progress.work_bars(False), progress.work_bar("disabled", 2) as advance:
        advance(2)
    assert not capsys.readouterr().err
    with progress.work_bars(), progress.work_bar("fitting forests", 4) as advance:
        for _ in range(4):
            advance(1)
    assert "fitting forests" in (err := capsys.readouterr().err) and "4/4" in err
