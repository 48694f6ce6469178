"""Peak memory and speed of ``showerlearn convert calorimeter`` on a large ROOT tree, whole against in chunks.

``convert calorimeter`` reads a flat tree of crystal hits ``--chunk-entries`` entries at a time and appends each
chunk to the hit file, so its memory should not grow with the tree. This benchmark writes trees as R3B users
export CALIFA data (one entry per hit: ``event``, ``crystal_id``, ``energy`` in keV, ``time`` in ns; from
simulated hit files of ``--events`` 3-gamma events each) and converts each in separate processes, next to the
floor (Python with the reader's libraries imported, nothing read):

* ``whole tree``: ``--chunk-entries`` the tree's entries, one chunk (the reference: how the command read trees
  before it streamed);
* ``in chunks``: the default chunk size.

Peak memory is ``ru_maxrss`` of the converting process (each run from a fresh one). The tree and the simulated
file stay in ``--workdir`` and are reused. The table goes to ``results/convert_memory.md``:

    python benchmarks/convert_memory.py --events 1000000 4000000
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from _machine import cpu_model  # benchmarks/, first on the path of a script run from it (standard library only)
from _summary import Figure, write_summary

from showerlearn.io.atomic import write_text_atomic

RESULTS = Path(__file__).resolve().parent / "results" / "convert_memory.md"
IMPORTS = "import awkward, uproot, h5py; import showerlearn.calorimeter.io, showerlearn.cli.main"


def _prepare(events: int, workdir: Path) -> Path:
    """The per-hit tree of ``events`` simulated events (simulated and written once)."""
    tree = workdir / f"califa_{events}.root"
    if tree.is_file():
        return tree
    script = f"""
import numpy as np, uproot, awkward as ak
from showerlearn.calorimeter.io import iter_events
from showerlearn.calorimeter.simulation import CalorimeterSimulationConfig, simulate_calorimeter
hits = {str(workdir / f"hits_{events}.h5")!r}
simulate_calorimeter(CalorimeterSimulationConfig(n_events={events}, n_gammas=3), hits, seed=7, n_jobs=2)
with uproot.recreate({str(tree) + ".part"!r}) as file:
    out = file.mktree("califa", {{"event": np.int64, "crystal_id": np.int32, "energy": np.float32, "time": np.float32}})
    first = 0
    for chunk in iter_events(hits, 100_000, truth=False):
        n = ak.to_numpy(ak.num(chunk))
        out.extend({{"event": np.repeat(np.arange(first, first + len(n)), n),
                    "crystal_id": ak.to_numpy(ak.flatten(chunk.crystal_id)).astype(np.int32),
                    "energy": (ak.to_numpy(ak.flatten(chunk.energy)) * 1e3).astype(np.float32),
                    "time": ak.to_numpy(ak.flatten(chunk.time)).astype(np.float32)}})
        first += len(n)
"""
    subprocess.run([sys.executable, "-c", script], check=True)
    shutil.move(str(tree) + ".part", tree)
    return tree


def _entries(tree: Path) -> int:
    script = f"import uproot; print(uproot.open({str(tree)!r})['califa'].num_entries)"
    return int(subprocess.run([sys.executable, "-c", script], check=True, stdout=subprocess.PIPE, text=True).stdout)


def _measure(command: list[str]) -> dict[str, float]:
    """Seconds and peak memory [MiB] of ``command``, run from a fresh process (``ru_maxrss`` of its children: Linux
    gives KiB)."""
    wrapper = ("import resource, subprocess, sys, time; t = time.perf_counter(); subprocess.run(sys.argv[1:], check=True, "
               "stdout=subprocess.DEVNULL); print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    out = subprocess.run([sys.executable, "-c", wrapper, *command], check=True, stdout=subprocess.PIPE, text=True).stdout.split()
    return {"seconds": float(out[0]), "peak_mib": float(out[1]) / 1024}


def _rows(events: int, workdir: Path) -> tuple[dict[str, Any], dict[str, dict[str, float]]]:
    tree = _prepare(events, workdir)
    entries = _entries(tree)
    convert = [str(Path(sys.executable).with_name("showerlearn")), "convert", "calorimeter", str(tree), "-o",
               str(workdir / "converted.h5"), "--event", "event", "--overwrite", "--no-progress"]
    rows = {"whole tree": _measure([*convert, "--chunk-entries", str(entries)]), "in chunks (default)": _measure(convert)}
    return {"events": events, "hits": entries, "mib": tree.stat().st_size / 2**20}, rows


def _figures(tree: dict[str, Any], rows: dict[str, dict[str, float]]) -> list[Figure]:
    chunks, whole = rows["in chunks (default)"], rows["whole tree"]
    size = f"{tree['hits']:,} hits"
    return [
        Figure("convert_memory", f"convert calorimeter peak memory, {size}", chunks["peak_mib"], "MiB",
               "the whole tree at once", whole["peak_mib"]),
        Figure("convert_memory", f"convert calorimeter, {size}", tree["hits"] / chunks["seconds"], "hits/s",
               "the whole tree at once", tree["hits"] / whole["seconds"]),
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, nargs="+", default=[1_000_000, 4_000_000], help="Simulated events per tree.")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/showerlearn_convert_memory"))
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument("--summary", type=Path, help="also write the headline figures as JSON (for run_all.py)")
    args = parser.parse_args(argv)
    args.workdir.mkdir(parents=True, exist_ok=True)
    floor = _measure([sys.executable, "-c", IMPORTS])
    lines = [
        "# `showerlearn convert calorimeter`: peak memory and speed, whole tree against in chunks",
        "",
        f"`python benchmarks/convert_memory.py --events {' '.join(map(str, args.events))}` on {cpu_model()} "
        f"({os.cpu_count()} CPUs), {time.strftime('%Y-%m-%d')}.",
        "",
        "Input: flat trees of one entry per hit (`event`, `crystal_id`, `energy` [keV], `time` [ns]) of simulated "
        "3-gamma events. Each row is a fresh process; peak memory is its `ru_maxrss`. Python with the reader's "
        f"libraries imported and nothing read peaks at {floor['peak_mib']:,.0f} MiB.",
        "",
        "| tree | run | seconds | hits/s | peak memory [MiB] | memory / whole tree | time / whole tree |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    figures = []
    for events in args.events:
        tree, rows = _rows(events, args.workdir)
        figures = _figures(tree, rows)  # of the largest tree, the last
        whole = rows["whole tree"]
        label = f"{tree['events']:,} events, {tree['hits']:,} hits, {tree['mib']:,.0f} MiB"
        for name, row in rows.items():
            lines.append(f"| {label} | {name} | {row['seconds']:.1f} | {tree['hits'] / row['seconds']:,.0f} | "
                         f"{row['peak_mib']:,.0f} | {row['peak_mib'] / whole['peak_mib']:.2f} | "
                         f"{row['seconds'] / whole['seconds']:.2f} |")
    table = "\n".join(lines) + "\n"
    write_text_atomic(args.output, table)
    print(table)
    if args.summary:
        write_summary(args.summary, figures)


if __name__ == "__main__":
    main()
