"""Throughput of the calorimeter simulator for 3-gamma events (issue 22: >= 5,000 events/s on 2 cores).

Measures, for the default configuration (3 gammas of 0.3-10 MeV per event from a fragment at beta = 0.7,
CALIFA-like barrel + iPhos, photon transport, 7.7 % resolution, 100 keV threshold):

* ``simulate_chunk`` in memory, one process (transport and response only);
* ``simulate_calorimeter`` writing the HDF5 hit file with 1 worker: the reference of this run;
* the same with ``--jobs`` workers.

On a shared machine wall times depend on the other processes: the table gives the 1-min load average at
the start of each row and the CPU time; ``events per CPU-second`` does not depend on the load.

Run ``python benchmarks/calorimeter_simulation.py --help``.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from showerlearn.calorimeter.simulation import CalorimeterSimulationConfig, simulate_calorimeter, simulate_chunk
from showerlearn.calorimeter.simulation.materials import attenuation_table
from showerlearn.io.atomic import write_text_atomic

from _machine import command_line, cpu_model, cpu_seconds  # benchmarks/, first on the path of a script run from it
from _summary import Figure, write_summary

RESULTS = Path(__file__).resolve().parent / "results" / "calorimeter_simulation.md"
TARGET = 5000.0  # events/s on 2 cores (issue 22)


def _measure(label: str, n_events: int, action: Callable[[], object]) -> dict[str, object]:
    load = os.getloadavg()[0]
    cpu, wall = cpu_seconds(), time.perf_counter()
    action()
    return {"label": label, "events": n_events, "wall": time.perf_counter() - wall, "cpu": cpu_seconds() - cpu, "load": load}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=50_000, help="events written per file run (default 50000)")
    parser.add_argument("--jobs", type=int, default=2, help="workers of the parallel run (default 2)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--output", type=Path, default=RESULTS, help=f"markdown table (default {RESULTS})")
    parser.add_argument("--summary", type=Path, help="also write the headline figures as JSON (for run_all.py)")
    args = parser.parse_args()

    config = CalorimeterSimulationConfig(n_events=args.events, n_gammas=3)
    attenuation_table()  # the cross-section table is built once per production, not part of the rate
    rows = [_measure("simulate_chunk (in memory, 1 process)", config.chunk_size * 10,
                     lambda: [simulate_chunk(config, args.seed, i, config.chunk_size) for i in range(10)])]
    with tempfile.TemporaryDirectory() as folder:
        for jobs in (1, args.jobs):
            path = Path(folder) / f"hits_{jobs}.h5"
            rows.append(_measure(f"simulate_calorimeter -> HDF5 file, n_jobs={jobs}", args.events,
                                 lambda path=path, jobs=jobs: simulate_calorimeter(config, path, args.seed, n_jobs=jobs)))
            rows[-1]["size"] = path.stat().st_size / 1e6

    reference = rows[1]["events"] / rows[1]["wall"]
    lines = [
        "# Calorimeter simulation throughput (3 gammas of 0.3-10 MeV per event, beta 0.7, CALIFA-like geometry)",
        "",
        f"Machine: {cpu_model()}, {os.cpu_count()} cores visible, Python "
        f"{platform.python_version()}. Reference: the file run with 1 worker, measured in the same run. "
        "Shared machine: wall-clock rates depend on the load average (1-min, at the start of each row); "
        "events per CPU-second do not.",
        "",
        "| run | events | wall [s] | events/s | vs n_jobs=1 | vs target 5000/s | CPU [s] | events per CPU-s | load | file [MB] |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        rate = row["events"] / row["wall"]
        size = f"{row['size']:.1f}" if "size" in row else ""
        lines.append(f"| {row['label']} | {row['events']} | {row['wall']:.2f} | {rate:.0f} | {rate / reference:.2f}x | "
                     f"{rate / TARGET:.2f} | {row['cpu']:.2f} | {row['events'] / row['cpu']:.0f} | {row['load']:.1f} | {size} |")
    parallel = rows[-1]
    estimate = args.jobs * parallel["events"] / parallel["cpu"]
    lines += ["", f"Load-independent estimate for {args.jobs} idle cores: {args.jobs} x events per CPU-second of the "
              f"n_jobs={args.jobs} run = {estimate:.0f} events/s (target {TARGET:.0f}).",
              "", f"Command: `{command_line()}`"]
    table = "\n".join(lines) + "\n"
    print(table)
    write_text_atomic(args.output, table)
    if args.summary:
        rate = parallel["events"] / parallel["wall"]
        write_summary(args.summary, [
            Figure("calorimeter_simulation", f"calorimeter simulator -> HDF5 file, n_jobs={args.jobs}", rate, "events/s",
                   "the same, n_jobs=1", reference, f"{rate / TARGET:.2f}x the {TARGET:.0f}/s target"),
            Figure("calorimeter_simulation", f"calorimeter simulator, {args.jobs} idle cores (from CPU time)", estimate,
                   "events/s", "target (issue 22)", TARGET, f"{args.jobs} x events per CPU-second of the file run"),
        ])  # fmt: skip


if __name__ == "__main__":
    main()
