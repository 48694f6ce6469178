"""Throughput of collider event generation against Pythia alone, the floor it cannot beat.

Per process of the default config (signal gg -> H -> hh -> 4b at 1 TeV, QCD multijet, t t~), one
batch of events is drawn from Pythia (``nextBatch``) and then sent through the rest of the chain
(detector, FastJet, N-subjettiness, b-tags, leptons, selection) on the same events, timing both
parts; the ratio chain / Pythia alone is measured on the same events in the same run. A second table
gives ``simulate_collider`` writing a file (Pythia initialisation, selection, HDF5 included) with one
and with ``--jobs`` worker processes.

The machine is shared: the table also gives the load average and the CPU time.

Run ``python benchmarks/collider_generation.py --help``.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np

from showerlearn.collider.simulation import ColliderSimulationConfig, Detector, simulate_collider
from showerlearn.collider.simulation.capture import captured_stdout
from showerlearn.collider.simulation.generator import chunk_seeds, pythia_generator, reconstruct_batch
from showerlearn.io.atomic import write_text_atomic

from _machine import cpu_seconds  # benchmarks/, first on the path of a script run from it
from _summary import Figure, write_summary

RESULTS = Path(__file__).resolve().parent / "results" / "collider_generation.md"


def chain_against_pythia(config: ColliderSimulationConfig, process: str, n_events: int, seed: int) -> dict[str, float]:
    """Seconds of Pythia and of the rest of the chain on the same ``n_events`` events of ``process``."""
    pythia_seed, sequence = chunk_seeds(seed, process, 0)
    pythia = pythia_generator(config.pythia_settings(process), pythia_seed, process)
    detector, rng = Detector(config.detector), np.random.default_rng(sequence)
    with captured_stdout():
        start = time.perf_counter()
        batch = pythia.nextBatch(n_events)
        generated = time.perf_counter()
        _, selected, _ = reconstruct_batch(batch, pythia.particleData, detector, config, rng)
        done = time.perf_counter()
    return {
        "events": len(batch),
        "pythia": generated - start,
        "rest": done - generated,
        "selected": int(selected.sum()),
    }


def file_run(config: ColliderSimulationConfig, n_jobs: int, seed: int) -> dict[str, float]:
    load, cpu, wall = os.getloadavg()[0], cpu_seconds(), time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        summary = simulate_collider(config, Path(folder) / "events.h5", seed=seed, n_jobs=n_jobs)
        size = (Path(folder) / "events.h5").stat().st_size / 1e6
    return {"wall": time.perf_counter() - wall, "cpu": cpu_seconds() - cpu, "load": load, "written": summary.n_events,
            "generated": summary.n_generated, "size": size}  # fmt: skip


def _chain_table(config: ColliderSimulationConfig, n_events: int, seed: int) -> tuple[list[str], list[Figure]]:
    """The table's lines and, per process, the headline figure: the full chain against Pythia alone."""
    figures = []
    lines = [
        "| process | events | Pythia alone [s] | Pythia alone [events/s] | rest of the chain [s] | full chain [events/s] | full chain / Pythia alone | selected |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for process in config.processes:
        row = chain_against_pythia(config, process, n_events, seed)
        floor, chain = row["events"] / row["pythia"], row["events"] / (row["pythia"] + row["rest"])
        lines.append(
            f"| {process} | {row['events']} | {row['pythia']:.2f} | {floor:.0f} | {row['rest']:.2f} | {chain:.0f} | {chain / floor:.2f} | {row['selected']} |"
        )
        print(lines[-1], flush=True)
        figures.append(Figure("collider_generation", f"{process}: full chain", chain, "events/s",
                              "Pythia alone, same events", floor, f"{row['selected']} of {row['events']} selected"))
    return lines, figures


def _file_table(config: ColliderSimulationConfig, jobs: int, seed: int) -> tuple[list[str], list[Figure]]:
    """The table's lines and the headline figure: the last (parallel) file run against the first (1 worker)."""
    rates = []
    lines = [
        "| run | written | generated | wall [s] | generated events/s | written events/s | CPU [s] | generated per CPU-s | load | file [MB] |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for n_jobs in sorted({1, jobs}):
        row = file_run(config, n_jobs, seed)
        lines.append(
            f"| simulate_collider, n_jobs={n_jobs} | {row['written']} | {row['generated']} | {row['wall']:.1f} | "
            f"{row['generated'] / row['wall']:.0f} | {row['written'] / row['wall']:.1f} | {row['cpu']:.1f} | "
            f"{row['generated'] / row['cpu']:.0f} | {row['load']:.1f} | {row['size']:.1f} |"
        )
        print(lines[-1], flush=True)
        rates.append(row["generated"] / row["wall"])
    figure = Figure("collider_generation", f"simulate_collider -> file, n_jobs={n_jobs}, generated", rates[-1],
                    "events/s", "the same, n_jobs=1", rates[0], f"{row['generated'] / row['cpu']:.0f} generated per CPU-second")
    return lines, [figure]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--events", type=int, default=400, help="Pythia events per process for the chain table (default 400)"
    )
    parser.add_argument(
        "--file-events", type=int, default=200, help="selected events written by the file runs (default 200)"
    )
    parser.add_argument("--jobs", type=int, default=2, help="worker processes of the parallel file run (default 2)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--output", type=Path, default=RESULTS, help=f"markdown table (default {RESULTS})")
    parser.add_argument("--summary", type=Path, help="also write the headline figures as JSON (for run_all.py)")
    args = parser.parse_args()

    config = ColliderSimulationConfig(
        n_events=args.file_events, chunk_size=50
    )  # several chunks per process for the workers
    chain, chain_figures = _chain_table(config, args.events, args.seed)
    files, file_figures = _file_table(config, args.jobs, args.seed)
    header = [
        "# Collider generation throughput (default config: signal 50 %, QCD 45 %, t t~ 5 %; heavy scalar 1 TeV)",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores visible, Python {platform.python_version()}. "
        f"Command: `python benchmarks/collider_generation.py --events {args.events} --file-events {args.file_events} --jobs {args.jobs}`.",
        "",
        "## The chain against Pythia alone, on the same events",
        "",
        "Pythia (hard process, shower, hadronisation, decays; `nextBatch`) is the floor: the rest of the chain (detector, "
        "particle flow, anti-kT R=1.0 and R=0.5 jets, N-subjettiness, b-tags, leptons, missing pT, selection) adds to it.",
        "",
    ]
    middle = [
        "",
        "## Writing a file (chunks of 50 selected events; Pythia initialisation per chunk, selection and HDF5 included)",
        "",
        "Shared machine: wall-clock rates depend on the load average (1-min, at the start of each row); events per CPU-second do not.",
        "",
    ]
    write_text_atomic(args.output, "\n".join([*header, *chain, *middle, *files]) + "\n")
    print(f"wrote {args.output}")
    if args.summary:
        write_summary(args.summary, [*chain_figures, *file_figures])


if __name__ == "__main__":
    main()
