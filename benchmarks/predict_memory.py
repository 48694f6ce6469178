"""Peak memory and throughput of ``showerlearn predict`` on a million events.

``predict_files`` reads an input in parts and appends the decoded predictions chunk by chunk, so its memory
should not grow with the file. This benchmark predicts a simulated calorimeter hit file of ``--events``
events (the calorimeter simulator is the fastest of the families: ~10k events/s) end to end, with a tiny
hit transformer trained for one epoch, and measures in separate processes (peak resident memory of the
process and its children, ``resource.getrusage`` ``ru_maxrss``):

* ``imports``: Python with torch and showerlearn imported, nothing read (the floor);
* ``read whole file``: the input file read into memory at once (``load_hit_files``), as a DataModule that
  holds its inputs whole does (the reference: what predicting without parts would take at least);
* ``predict``: ``showerlearn predict``'s engine on the file, ``--chunk-events`` at a time: events/s, and
  the peak against the 2 GiB target.

The simulated file, the run and the output stay in ``--workdir`` (the file and run are reused). This
process imports nothing heavy and starts one process per step (preparation included): on Linux a process
started from another reports at least that one's peak (``ru_maxrss`` survives ``exec``). Run
``python benchmarks/predict_memory.py --help``; the table goes to ``results/predict_memory.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from _machine import cpu_model  # benchmarks/, first on the path of a script run from it (standard library only)

RESULTS = Path(__file__).resolve().parent / "results" / "predict_memory.md"
TARGET_GIB = 2.0
MODES = ("imports", "read whole file", "predict")
PREPARE = "prepare"


def _peak_mib() -> float:
    """Peak resident memory of this process and of its waited-for children, MiB (Linux reports KiB)."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, children) / 1024


def _run_config(workdir: Path) -> Any:
    from showerlearn.config import resolve_config

    return resolve_config({
        "name": "predict_memory", "seed": 1, "output_dir": str(workdir / "runs"),
        "data": {"name": "calorimeter", "params": {
            "simulate": {"events": 2000, "seed": 4}, "split": {"fractions": [0.8, 0.1, 0.1], "seed": 1},
            "batch_size": 64, "cache_dir": str(workdir / "cache")}},
        "model": {"name": "hit_transformer", "params": {"dim": 16, "layers": 1, "heads": 2}},
        "task": {"heads": {"pairs": {"loss": "pairwise_bce", "loss_params": {"pos_weight": 3.0}}}},
        "trainer": {"max_epochs": 1, "accelerator": "cpu", "threads": 1, "checkpoint_every_n_steps": None},
        "evaluation": None,
    })  # fmt: skip


def _prepare(args: argparse.Namespace) -> dict[str, Any]:
    """The input file (simulated once), the trained run (trained once), the seconds each took, the input's hits."""
    from showerlearn.calorimeter.io import read_event_columns
    from showerlearn.calorimeter.simulation import CalorimeterSimulationConfig, simulate_calorimeter
    from showerlearn.engine.runner import train

    seconds = {}
    source = args.workdir / f"hits_{args.events}.h5"
    if not source.is_file():
        started = time.perf_counter()
        simulate_calorimeter(CalorimeterSimulationConfig(n_events=args.events), source, seed=7, n_jobs=args.jobs)
        seconds["simulate"] = time.perf_counter() - started
    runs = sorted((args.workdir / "runs" / "predict_memory").glob("*/checkpoints/best.ckpt"))
    if runs:
        run = runs[-1].parent.parent
    else:
        started = time.perf_counter()
        run = train(_run_config(args.workdir), progress=False).path
        seconds["train"] = time.perf_counter() - started
    n_hits = int(read_event_columns(source)["n_hits"].sum())
    return {"source": str(source), "run": str(run), "seconds": seconds, "n_hits": n_hits, "mib": source.stat().st_size / 2**20}


def _child(mode: str, args: argparse.Namespace) -> dict[str, Any]:
    """One measurement, in this (fresh) process."""
    import torch

    import showerlearn.engine.predict as engine
    from showerlearn.calorimeter.data.events import load_hit_files

    if mode == PREPARE:
        return _prepare(args)
    torch.set_num_threads(args.threads)
    started = time.perf_counter()
    result: dict[str, Any] = {}
    if mode == "imports":
        return {"peak_mib": _peak_mib()}
    if mode == "read whole file":
        events = load_hit_files([args.source], require_truth=False)
        result["events"] = len(events)
    elif mode == "predict":
        (summary,) = engine.predict_files(
            args.run, [args.source], args.workdir / "predictions", chunk_events=args.chunk_events,
            overwrite=True, progress=False,
        )
        result.update(events=summary.events_predicted, events_per_second=summary.events_per_second,
                      output_mib=summary.output.stat().st_size / 2**20)
    result.update(seconds=time.perf_counter() - started, peak_mib=_peak_mib())
    return result


def _measure(mode: str, args: argparse.Namespace, source: str = "", run: str = "") -> dict[str, Any]:
    """Run one step in a new process; its result, with the mean load average over it."""
    command = [sys.executable, __file__, "--child", mode, "--source", source, "--run", run, "--events", str(args.events),
               "--workdir", str(args.workdir), "--chunk-events", str(args.chunk_events), "--threads", str(args.threads),
               "--jobs", str(args.jobs)]
    load = os.getloadavg()[0]
    finished = subprocess.run(command, check=True, stdout=subprocess.PIPE, text=True)
    return {**json.loads(finished.stdout.strip().splitlines()[-1]), "load": (load + os.getloadavg()[0]) / 2}


def _table(args: argparse.Namespace, prepared: dict[str, Any], rows: dict[str, dict]) -> str:
    predict = rows["predict"]
    lines = [
        "# `showerlearn predict` on a million events: peak memory and throughput",
        "",
        f"`python benchmarks/predict_memory.py --events {args.events} --chunk-events {args.chunk_events} "
        f"--threads {args.threads}` on {cpu_model()} ({os.cpu_count()} CPUs, shared: the load average is given), "
        f"{time.strftime('%Y-%m-%d')}.",
        "",
        f"Input: a simulated calorimeter hit file, {args.events:,} events, {prepared['n_hits']:,} hits, "
        f"{prepared['mib']:,.0f} MiB (gzip). Model: a hit transformer (dim 16, 1 layer) trained "
        f"for one epoch on 2,000 events; decoding: connected components of the same-gamma pairs. Each row is a "
        "fresh process; peak memory is `ru_maxrss` of the process and its children.",
        "",
        "| measurement | events | seconds | events/s | peak memory [MiB] | load |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for mode in MODES:
        row = rows[mode]
        rate = f"{row['events_per_second']:,.0f}" if "events_per_second" in row else "-"
        events = f"{row['events']:,}" if "events" in row else "-"
        seconds = f"{row['seconds']:,.1f}" if "seconds" in row else "-"
        lines.append(f"| {mode} | {events} | {seconds} | {rate} | {row['peak_mib']:,.0f} | {row['load']:.1f} |")
    verdict = "under" if predict["peak_mib"] < TARGET_GIB * 1024 else "OVER"
    lines += [
        "",
        f"Prediction peaks at {predict['peak_mib']:,.0f} MiB, {verdict} the {TARGET_GIB:g} GiB target, "
        f"{predict['peak_mib'] - rows['imports']['peak_mib']:,.0f} MiB above the imports alone; reading the input whole "
        f"takes {rows['read whole file']['peak_mib']:,.0f} MiB. The output holds {predict['events']:,} events "
        f"({predict['output_mib']:,.0f} MiB). Throughput {predict['events_per_second']:,.0f} events/s (all of it: "
        "reading, network, decoding, writing, hashing the input).",
    ]
    if prepared["seconds"]:
        lines += ["", "Preparation (not measured above): " + ", ".join(f"{k} {v:,.0f} s" for k, v in prepared["seconds"].items()) + "."]
    return "\n".join(lines) + "\n"


def _write_summary(path: Path, args: argparse.Namespace, rows: dict[str, dict]) -> None:
    """The headline figures (for ``run_all.py``): prediction's rate and peak against reading the input whole."""
    from _summary import Figure, write_summary  # the standard library and showerlearn.io.atomic only

    predict, read = rows["predict"], rows["read whole file"]
    reference = "reading the input whole"
    verdict = "under" if predict["peak_mib"] < TARGET_GIB * 1024 else "OVER"
    write_summary(path, [
        Figure("predict_memory", f"predict end to end, {predict['events']:,} events", predict["events_per_second"],
               "events/s", reference, read["events"] / read["seconds"],
               f"chunks of {args.chunk_events:,} events: reading, network, decoding, writing"),
        Figure("predict_memory", "predict peak memory", predict["peak_mib"], "MiB", reference, read["peak_mib"],
               f"{verdict} the {TARGET_GIB:g} GiB target; imports alone {rows['imports']['peak_mib']:,.0f} MiB"),
    ])  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--chunk-events", type=int, default=10_000)
    parser.add_argument("--threads", type=int, default=1, help="torch threads of the measured processes")
    parser.add_argument("--jobs", type=int, default=2, help="simulator worker processes")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/showerlearn_bench_predict"))
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument("--summary", type=Path, help="also write the headline figures as JSON (for run_all.py)")
    parser.add_argument("--child", choices=(PREPARE, *MODES), help=argparse.SUPPRESS)
    parser.add_argument("--source", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--run", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_child(args.child, args)))
        return
    args.workdir.mkdir(parents=True, exist_ok=True)
    prepared = _measure(PREPARE, args)
    rows = {}
    for mode in MODES:
        rows[mode] = _measure(mode, args, prepared["source"], prepared["run"])
        print(mode, rows[mode], flush=True)
    from showerlearn.io.atomic import write_text_atomic  # the standard library only: no peak to pass on

    table = _table(args, prepared, rows)
    write_text_atomic(args.output, table)
    print(table)
    if args.summary:
        _write_summary(args.summary, args, rows)


if __name__ == "__main__":
    main()
