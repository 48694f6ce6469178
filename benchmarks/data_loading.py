"""How fast the iact DataModule feeds training batches: read per event from the DL1 file, or in memory.

Reading lazily, every training event costs an HDF5 row read plus the tailcuts cleaning and transforms,
every epoch. ``in_memory: true`` pays them once, reading chunks sorted by file. This benchmark times
both on the same simulated set and the same batches (the settings of ``physics_vs_baseline.py``'s
presets: intensity > 50 p.e., cleaning as a mask, linear charges), without a network:

* lazy: events/s of the training DataLoader;
* in memory: the one-time load, then events/s of the same DataLoader.

A training step of the reduced CPU network takes ~10 ms per event on 2 cores (``CONSUMED``, the reference
of the ``--summary`` figures), so a loader at a few thousand events/s costs a few per cent of a step, and
one at a few hundred costs a quarter.

Run ``python benchmarks/data_loading.py --help``; the table goes to ``results/data_loading.md``.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import torch

from showerlearn.iact.data import IACTDataModule
from showerlearn.io.atomic import write_text_atomic

from _machine import cpu_model  # benchmarks/, first on the path of a script run from it
from _summary import Figure, write_summary

RESULTS = Path(__file__).resolve().parent / "results" / "data_loading.md"
#: events/s a training step of the reduced CPU network consumes on 2 cores (~10 ms per event: a ~17-minute
#: epoch of the 100,345 training images, docs/data_iact.md): the rate a loader has to beat
CONSUMED = 100.0


def _module(args: argparse.Namespace, in_memory: bool) -> IACTDataModule:
    return IACTDataModule(
        simulate={"events": args.events, "seed": 1, "n_jobs": 2, "config": {"gamma_source": "diffuse"}},
        cache_dir=args.cache_dir,
        cuts={"min_intensity": 50},
        cleaning={"as": "mask"},
        transforms={"charge": "scale"},
        batch_size=args.batch_size,
        num_workers=args.workers,
        in_memory=in_memory,
        seed=1,
    )


def _loader_rate(module: IACTDataModule, n_batches: int) -> tuple[float, int]:
    """(events/s, events) over the first ``n_batches`` training batches."""
    events, started = 0, time.perf_counter()
    for i, batch in enumerate(module.train_dataloader()):
        events += len(batch["inputs"])
        if i + 1 == n_batches:
            break
    return events / (time.perf_counter() - started), events


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=260_000, help="simulated events (the 260k benchmark set is cached)")
    parser.add_argument("--cache-dir", type=Path, default=Path("/tmp/showerlearn_bench_cache"))
    parser.add_argument("--batches", type=int, default=300, help="training batches timed per mode")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--workers", type=int, default=0, help="DataLoader workers (0: the cpu preset)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument("--summary", type=Path, help="also write the headline figures as JSON (for run_all.py)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    lazy = _module(args, in_memory=False)
    lazy.prepare_data()  # simulate the set now if it is not cached: not part of either timing
    lazy.setup("fit")
    lazy_rate, n = _loader_rate(lazy, args.batches)
    lazy.teardown("fit")

    cached = _module(args, in_memory=True)
    cached.setup("fit")
    started = time.perf_counter()
    cached.train_dataloader(), cached.val_dataloader()  # in_memory loads here, as when training starts
    load_seconds = time.perf_counter() - started
    cached_rate, _ = _loader_rate(cached, args.batches)
    stored = cached.train_set._inputs.nbytes + cached.val_set._inputs.nbytes

    n_train, n_val = len(cached.train_set), len(cached.val_set)
    epoch_lazy, epoch_cached = n_train / lazy_rate, n_train / cached_rate
    lines = [
        "# iact data loading: per event from the DL1 file vs in memory",
        "",
        f"Command: `python benchmarks/data_loading.py --events {args.events} --batches {args.batches} "
        f"--batch-size {args.batch_size} --workers {args.workers} --threads {args.threads}`",
        "",
        f"Machine: {cpu_model()}, {os.cpu_count()} CPUs, load average "
        f"{os.getloadavg()[0]:.1f} at the end. Set: {args.events} simulated events, {n_train} training and "
        f"{n_val} validation images after the cuts. Timed: the first {n} training events of epoch 0.",
        "",
        "| mode | one-time load [s] | memory [GB] | loader events/s | ratio | loading per training epoch [s] |",
        "|---|---|---|---|---|---|",
        f"| lazy (per-event HDF5 read + cleaning) | 0 | 0 | {lazy_rate:.0f} | 1.00 | {epoch_lazy:.0f} |",
        f"| in_memory (train + val) | {load_seconds:.0f} | {stored / 1e9:.2f} | {cached_rate:.0f} | "
        f"{cached_rate / lazy_rate:.2f} | {epoch_cached:.0f} |",
    ]
    table = "\n".join(lines) + "\n"
    print(table)
    write_text_atomic(args.output, table)
    if args.summary:
        consumed = "a training step of the reduced CPU network (2 cores)"
        write_summary(args.summary, [
            Figure("data_loading", "iact loader, lazy (per-event HDF5 read + cleaning)", lazy_rate, "events/s",
                   consumed, CONSUMED, f"{epoch_lazy:.0f} s of loading per epoch of {n_train} images"),
            Figure("data_loading", "iact loader, in_memory", cached_rate, "events/s", consumed, CONSUMED,
                   f"{cached_rate / lazy_rate:.2f}x lazy, after a {load_seconds:.0f} s load of {stored / 1e9:.2f} GB"),
        ])  # fmt: skip


if __name__ == "__main__":
    main()
