"""``benchmarks/run_all.py``: the summary files round-trip, and the table holds every figure and every failure.

No real benchmark runs here: the benchmark list is replaced by tiny scripts written to a temporary folder.
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import run_all  # noqa: E402
from _summary import Figure, read_summary, write_summary  # noqa: E402

GOOD = f"""
import argparse, sys
sys.path.insert(0, {str(BENCHMARKS)!r})
from _summary import Figure, write_summary

parser = argparse.ArgumentParser()
parser.add_argument("--events", type=int, required=True)
parser.add_argument("--output")
parser.add_argument("--summary")
args = parser.parse_args()
open(args.output, "w").write("table")
write_summary(args.summary, [Figure("good", f"rate at {{args.events}} events", 300.0, "events/s", "baseline", 100.0)])
"""
BROKEN = "raise SystemExit('simulator exploded')\n"
SILENT = "pass\n"


def test_summary_round_trips(tmp_path: Path) -> None:
    figures = [
        Figure("bench", "rate", 2500.0, "events/s", "target", 2000.0, "2 workers"),
        Figure("bench", "no reference", 1.5, "images/s", "indexedconv (not installed)", None),
    ]
    write_summary(tmp_path / "s.json", figures)
    assert read_summary(tmp_path / "s.json") == figures
    assert figures[0].ratio == pytest.approx(1.25)
    assert figures[1].ratio is None


def test_read_summary_names_a_file_that_is_not_one(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    path.write_text('{"rows": []}')
    with pytest.raises(ValueError, match="s.json is not a benchmark summary"):
        read_summary(path)


def test_table_has_every_figure_and_failure(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for name, text in (("good", GOOD), ("broken", BROKEN), ("silent", SILENT)):
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(text))
    benchmarks = [
        run_all.Benchmark("good", full=("--events", "1000"), quick=("--events", "10"), folder=tmp_path),
        run_all.Benchmark("broken", folder=tmp_path),
        run_all.Benchmark("silent", folder=tmp_path),
        run_all.Benchmark("absent", folder=tmp_path),
    ]
    output = tmp_path / "table.md"

    code = run_all.main(["--quick", "--output", str(output)], benchmarks=benchmarks)

    assert code == 1
    table = output.read_text()
    rows = {line.split(" | ")[0].lstrip("| "): line for line in table.splitlines() if line.startswith("| ")}
    assert "| rate at 10 events | 300 | events/s | baseline | 100 | 3.00 |" in rows["good"]  # the quick arguments
    assert "**failed**: exit code 1: simulator exploded" in rows["broken"]
    assert "**failed**: exited without writing its summary" in rows["silent"]
    assert "**not available**" in rows["absent"] and "absent.py does not exist" in rows["absent"]
    assert "Machine:" in table and "Quick run" in table
    assert "[2/4] broken: FAILED" in capsys.readouterr().out


def test_only_runs_the_named_benchmarks(tmp_path: Path) -> None:
    (tmp_path / "good.py").write_text(textwrap.dedent(GOOD))
    benchmarks = [
        run_all.Benchmark("good", full=("--events", "1000"), folder=tmp_path),
        run_all.Benchmark("absent", folder=tmp_path),
    ]
    output = tmp_path / "table.md"

    assert run_all.main(["--only", "good", "--output", str(output)], benchmarks=benchmarks) == 0
    table = output.read_text()
    assert "rate at 1000 events" in table and "absent" not in table
