"""Every performance figure of the project in one table, from one command (issue 21).

Runs each benchmark script in its own process, one after the other: ``python benchmarks/<name>.py ARGS
--output TMP/<name>.md --summary TMP/<name>.json``, so that a quick run never overwrites the committed
full-size tables in ``results/``. Each script writes its headline figures (``_summary.py``); this one
gathers them into one markdown table, every figure with its reference and ratio, under a header naming the
machine and, per benchmark, the 1-min load average at its start and end: the development machine is shared,
and a rate means little without the load it ran under.

A benchmark that fails, or whose script is missing, gets a row saying so and why; the others still run and
the exit code is 1. ``--quick`` runs every benchmark small (a few minutes on 2 idle cores): it checks that
they all run, its rates are not the project's figures. The full run takes hours.

Run ``python benchmarks/run_all.py --quick``, or ``--only NAME ...`` (``--help`` lists the names).
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _machine import cpu_model, cpu_seconds, load_average  # noqa: E402
from _summary import Figure, read_summary  # noqa: E402

from showerlearn.io.atomic import write_text_atomic  # noqa: E402

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
LOG_TAIL = 15  # lines of a failed benchmark's output shown on the console


@dataclass(frozen=True)
class Benchmark:
    """A benchmark script, ``<folder>/<name>.py``, and its extra arguments for the full and the quick run.

    ``{tmp}`` in an argument is replaced by this run's temporary folder (for files a quick run must not share
    with the full-size runs).
    """

    name: str
    full: tuple[str, ...] = ()
    quick: tuple[str, ...] = ()
    folder: Path = HERE

    @property
    def script(self) -> Path:
        return self.folder / f"{self.name}.py"

    def arguments(self, quick: bool, tmp: Path) -> list[str]:
        return [argument.format(tmp=tmp) for argument in (self.quick if quick else self.full)]


#: the full runs use each script's defaults, the sizes of its committed table
BENCHMARKS = (
    Benchmark("lattice_conv", quick=("--quick",)),
    Benchmark("train_throughput", quick=("--depth", "8", "--batch", "8", "--images-per-grid", "4", "--rounds", "1",
                                         "--train-repeats", "2", "--infer-repeats", "2", "--warmup", "1")),  # fmt: skip
    Benchmark("data_loading", quick=("--events", "5000", "--batches", "20")),
    Benchmark("simulation_throughput", quick=("--events", "2000", "--memory-events", "500", "--reference-events", "50")),
    Benchmark("calorimeter_simulation", quick=("--events", "5000")),
    Benchmark("collider_generation", quick=("--events", "40", "--file-events", "50")),
    Benchmark("predict_memory", quick=("--events", "20000", "--chunk-events", "5000", "--workdir", "{tmp}/predict_memory")),
    Benchmark("convert_memory", quick=("--events", "20000", "--workdir", "{tmp}/convert_memory")),
)


@dataclass
class Outcome:
    """What running one benchmark gave: its figures, or why there are none; its time and the load around it."""

    benchmark: Benchmark
    arguments: list[str]
    status: str  # "ok", "failed" or "not available"
    reason: str = ""
    figures: list[Figure] = field(default_factory=list)
    wall: float = 0.0
    cpu: float = 0.0
    load: tuple[float | None, float | None] = (None, None)
    log: Path | None = None


def run_benchmark(benchmark: Benchmark, quick: bool, tmp: Path) -> Outcome:
    """Run ``benchmark`` in a new process, its output to ``tmp/<name>.log``; never raises for the benchmark's sake."""
    arguments = benchmark.arguments(quick, tmp)
    if not benchmark.script.is_file():
        return Outcome(benchmark, arguments, "not available", f"{benchmark.script} does not exist")
    summary, log = tmp / f"{benchmark.name}.json", tmp / f"{benchmark.name}.log"
    command = [sys.executable, str(benchmark.script), *arguments, "--output", str(tmp / f"{benchmark.name}.md"),
               "--summary", str(summary)]  # fmt: skip
    load_start, cpu, wall = load_average(), cpu_seconds(), time.perf_counter()
    with log.open("w") as output:
        returncode = subprocess.run(command, stdout=output, stderr=subprocess.STDOUT, cwd=ROOT).returncode
    outcome = Outcome(benchmark, arguments, "failed", wall=time.perf_counter() - wall, cpu=cpu_seconds() - cpu,
                      load=(load_start, load_average()), log=log)  # fmt: skip
    if returncode != 0:
        outcome.reason = f"exit code {returncode}: {_last_line(log)}"
    elif not summary.is_file():
        outcome.reason = "exited without writing its summary"
    else:
        try:
            outcome.figures, outcome.status = read_summary(summary), "ok"
        except ValueError as error:
            outcome.reason = str(error)
    return outcome


def _last_line(log: Path) -> str:
    """The last non-empty line of the output: the error message of a Python traceback or of ``SystemExit``."""
    lines = [line.strip() for line in log.read_text(errors="replace").splitlines() if line.strip()]
    return lines[-1] if lines else "no output"


def run_all(benchmarks: Sequence[Benchmark], quick: bool, tmp: Path) -> list[Outcome]:
    """Run ``benchmarks`` one after the other, a progress line each (and the output's tail for a failure)."""
    outcomes = []
    for index, benchmark in enumerate(benchmarks, start=1):
        prefix = f"[{index}/{len(benchmarks)}] {benchmark.name}"
        print(f"{prefix}: {' '.join(benchmark.arguments(quick, tmp)) or 'defaults'}, load {_load(load_average())}", flush=True)
        outcome = run_benchmark(benchmark, quick, tmp)
        outcomes.append(outcome)
        if outcome.status == "ok":
            print(f"{prefix}: ok, {len(outcome.figures)} figures, {outcome.wall:.0f} s, load {_loads(outcome)}", flush=True)
            continue
        print(f"{prefix}: {outcome.status.upper()}: {outcome.reason}", flush=True)
        if outcome.log:
            tail = outcome.log.read_text(errors="replace").splitlines()[-LOG_TAIL:]
            print("\n".join("    " + line for line in tail), flush=True)
    return outcomes


def machine_header() -> list[str]:
    """The machine and software every figure ran on (torch imported here only to report it)."""
    import torch

    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return [
        f"- Machine: {cpu_model()}, {os.cpu_count()} logical cores ({usable} usable here), {platform.node()}.",
        f"- Software: Python {platform.python_version()}, torch {torch.__version__} ({torch.get_num_threads()} "
        "intra-op threads by default; each network benchmark sets its own: `--threads`, see its `--help`).",
    ]


def markdown(outcomes: Sequence[Outcome], command: str, quick: bool, header: Sequence[str]) -> str:
    """One table of every figure (or failure), the header above it and, below it, how each benchmark ran."""
    lines = [
        f"# showerlearn performance{' (quick run)' if quick else ''}: every benchmark, one table",
        "",
        f"`{command}`, {time.strftime('%Y-%m-%d %H:%M')}.",
        "",
        *header,
        f"- Ratio: value / reference value; above 1 means faster than the reference (for memory: more). Load: the "
        f"1-min load average at the start and end of each benchmark, on {os.cpu_count()} cores; above that, other "
        "processes took CPU time from the benchmark and its wall-clock rates are low.",
    ]
    if quick:
        lines.append("- **Quick run**: every benchmark at a small size, to check that all of them run; its rates are "
                     "not the project's figures. Run without `--quick` for those.")  # fmt: skip
    lines += [
        "",
        "| benchmark | figure | value | unit | reference | reference value | ratio | load start → end | notes |",
        "|---|---|---:|---|---|---:|---:|---|---|",
    ]
    for outcome in outcomes:
        name, load = outcome.benchmark.name, _loads(outcome)
        if outcome.status != "ok":
            lines.append(f"| {name} | **{outcome.status}**: {_cell(outcome.reason)} | | | | | | {load} | |")
        for f in outcome.figures:
            lines.append(
                f"| {name} | {_cell(f.figure)} | {_number(f.value)} | {f.unit} | {_cell(f.reference_label)} | "
                f"{_number(f.reference_value)} | {_number(f.ratio, ratio=True)} | {load} | {_cell(f.notes)} |"
            )
    lines += ["", "How each benchmark ran (its own table: `python benchmarks/<name>.py` plus these arguments):", ""]
    for outcome in outcomes:
        arguments = " ".join(outcome.arguments) or "defaults"
        lines.append(f"- {outcome.benchmark.name} (`{arguments}`): {outcome.status}, {outcome.wall:.0f} s wall, "
                     f"{outcome.cpu:.0f} s CPU")  # fmt: skip
    return "\n".join(lines) + "\n"


def _number(value: float | None, ratio: bool = False) -> str:
    if value is None:
        return "-"
    if ratio:
        return f"{value:.2f}"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def _load(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f}"


def _loads(outcome: Outcome) -> str:
    start, end = outcome.load
    return f"{_load(start)} → {_load(end)}" if start is not None or end is not None else "-"


def _cell(text: str) -> str:
    """``text`` safe inside a markdown table cell."""
    return text.replace("|", "\\|").replace("\n", " ")


def main(argv: Sequence[str] | None = None, benchmarks: Sequence[Benchmark] = BENCHMARKS) -> int:
    """Run the benchmarks, print and write the table; 0 if every benchmark gave its figures, else 1."""
    names = [b.name for b in benchmarks]
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="every benchmark small: minutes instead of hours")
    parser.add_argument("--only", nargs="+", choices=names, metavar="NAME", help=f"run these only: {', '.join(names)}")
    parser.add_argument("--output", type=Path, help="markdown table (default results/run_all.md, "
                        "results/run_all_quick.md with --quick)")  # fmt: skip
    args = parser.parse_args(argv)
    output = args.output or RESULTS / ("run_all_quick.md" if args.quick else "run_all.md")
    selected = [b for b in benchmarks if not args.only or b.name in args.only]
    header = machine_header()
    print("\n".join(header), flush=True)
    with tempfile.TemporaryDirectory(prefix="showerlearn_run_all_") as folder:
        outcomes = run_all(selected, args.quick, Path(folder))
    command = " ".join(["python benchmarks/run_all.py", *(sys.argv[1:] if argv is None else argv)])
    table = markdown(outcomes, command, args.quick, header)
    print(table)
    write_text_atomic(output, table)
    print(f"written to {output}")
    return 0 if all(outcome.status == "ok" for outcome in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
