"""Throughput of the IACT (LST) simulator, in memory and writing ctapipe DL1 HDF5.

Measures, for the default configuration (50 % gammas E^-2, 50 % protons E^-2.7, triggered events only):

* ``simulate_iact_arrays`` in one process (events/s, wall and CPU);
* ``simulate_iact`` writing the DL1 file with 1 and with ``--jobs`` worker processes;
* the reference: ctapipe's own toy model (``SkewedGaussian.generate_image`` per event, the same image
  model without shower geometry, protons, timing or cleaning) over the same LST camera.

The target of the issue is >= 2,000 events/s on 2 cores for the file. On a shared machine, wall
times depend on the other processes: the table also gives the load average and the CPU time, and
``events/s per CPU-second`` is the load-independent figure.

Run ``python benchmarks/simulation_throughput.py --help``.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

import astropy.units as u
import numpy as np
from ctapipe.coordinates import TelescopeFrame
from ctapipe.image.toymodel import SkewedGaussian

from showerlearn.io.atomic import write_text_atomic
from showerlearn.iact.simulation import IACTSimulationConfig, simulate_iact, simulate_iact_arrays
from showerlearn.iact.simulation.camera import simulated_camera

from _machine import command_line, cpu_model, cpu_seconds  # benchmarks/, first on the path of a script run from it
from _summary import Figure, write_summary

RESULTS = Path(__file__).resolve().parent / "results" / "simulation_throughput.md"
TARGET = 2000.0  # events/s on 2 cores (issue 4)


def _measure(label: str, n_events: int, action) -> dict[str, object]:
    load = os.getloadavg()[0]
    cpu, wall = cpu_seconds(), time.perf_counter()
    action()
    wall = time.perf_counter() - wall
    cpu = cpu_seconds() - cpu
    return {"label": label, "events": n_events, "wall": wall, "cpu": cpu, "load": load}


def toymodel_reference(n_events: int, seed: int) -> None:
    """ctapipe toy model: one SkewedGaussian image + Poisson NSB per event (what issue 4 suggests to reuse)."""
    rng = np.random.default_rng(seed)
    geometry = simulated_camera().geometry.transform_to(TelescopeFrame())
    for _ in range(n_events):
        model = SkewedGaussian(
            x=rng.uniform(-1, 1) * u.deg, y=rng.uniform(-1, 1) * u.deg, length=0.2 * u.deg, width=0.06 * u.deg,
            psi=rng.uniform(0, 180) * u.deg, skewness=0.3,
        )
        model.generate_image(geometry, intensity=300, nsb_level_pe=2, rng=rng)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=20_000, help="events written to the DL1 file (default 20000)")
    parser.add_argument("--memory-events", type=int, default=4000, help="events simulated in memory (default 4000)")
    parser.add_argument("--reference-events", type=int, default=300, help="events of the ctapipe toy model (default 300)")
    parser.add_argument("--jobs", type=int, default=2, help="worker processes for the parallel file run (default 2)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--output", type=Path, default=RESULTS, help=f"markdown table (default {RESULTS})")
    parser.add_argument("--summary", type=Path, help="also write the headline figures as JSON (for run_all.py)")
    args = parser.parse_args()

    config = IACTSimulationConfig(n_events=args.events)
    simulated_camera()  # geometry loading is not part of the throughput
    rows = [
        _measure("ctapipe toymodel (reference, 1 process)", args.reference_events,
                 lambda: toymodel_reference(args.reference_events, args.seed)),
        _measure("simulate_iact_arrays (in memory, 1 process)", args.memory_events,
                 lambda: simulate_iact_arrays(config, args.seed, args.memory_events)),
    ]
    with tempfile.TemporaryDirectory() as folder:
        for jobs in sorted({1, args.jobs}):
            path = Path(folder) / f"sim_{jobs}.dl1.h5"
            rows.append(_measure(f"simulate_iact -> DL1 file, n_jobs={jobs}", args.events,
                                 lambda path=path, jobs=jobs: simulate_iact(config, path, args.seed, n_jobs=jobs)))
            rows[-1]["size"] = path.stat().st_size / 1e6

    reference_rate = rows[0]["events"] / rows[0]["wall"]
    lines = [
        "# Simulation throughput (LST, default config: 50 % gammas, 50 % protons, triggered events)",
        "",
        f"Machine: {cpu_model()}, {os.cpu_count()} cores visible, "
        f"Python {platform.python_version()}. Shared machine: wall-clock rates depend on the load "
        "average (1-min, at the start of each row); events per CPU-second do not.",
        "",
        "| run | events | wall [s] | events/s | vs toymodel | vs target 2000/s | CPU [s] | events per CPU-s | load | file [MB] |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        rate = row["events"] / row["wall"]
        size = f"{row['size']:.0f}" if "size" in row else ""
        lines.append(
            f"| {row['label']} | {row['events']} | {row['wall']:.2f} | {rate:.0f} | {rate / reference_rate:.1f}x | "
            f"{rate / TARGET:.2f} | {row['cpu']:.2f} | {row['events'] / row['cpu']:.0f} | {row['load']:.1f} | {size} |"
        )
    parallel = rows[-1]
    estimate = args.jobs * parallel["events"] / parallel["cpu"]
    lines += [
        "",
        f"Load-independent estimate for {args.jobs} idle cores: {args.jobs} x events per CPU-second of the "
        f"n_jobs={args.jobs} file run = {estimate:.0f} events/s "
        f"(target {TARGET:.0f}). CPU seconds also grow under contention, so this is conservative.",
        "",
        f"Command: `{command_line()}`",
    ]
    table = "\n".join(lines) + "\n"
    print(table)
    write_text_atomic(args.output, table)
    if args.summary:
        rate = parallel["events"] / parallel["wall"]
        write_summary(args.summary, [
            Figure("simulation_throughput", f"IACT simulator -> DL1 file, n_jobs={args.jobs}", rate, "events/s",
                   "ctapipe toy model, 1 process", reference_rate, f"{rate / TARGET:.2f}x the {TARGET:.0f}/s target"),
            Figure("simulation_throughput", f"IACT simulator, {args.jobs} idle cores (from CPU time)", estimate,
                   "events/s", "target (issue 4)", TARGET, f"{args.jobs} x events per CPU-second of the file run"),
        ])  # fmt: skip


if __name__ == "__main__":
    main()
