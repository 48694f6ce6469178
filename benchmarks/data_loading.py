"""How fast the iact DataModule feeds training batches, against what a training step consumes.

Four ways to the same training batches of the same simulated set (the settings of ``physics_vs_baseline.py``'s
presets: intensity > 50 p.e., lstchain cleaning as a mask, linear charges, compressed ctapipe DL1), without a
network:

* one event at a time (the reference): the loader asks the dataset for each event, which reads one HDF5 row,
  cleans and transforms one image (as the loaders read until issue 19, through today's code);
* lazy: the loader asks for a whole batch (``IACTDataset.__getitems__``): one read per file, cleaned and
  transformed together;
* ``in_memory: true``: the images read and transformed once into memory when training starts;
* ``in_memory: memmap``: the same written once into a ``.npy`` file and mapped from disk (data sets larger
  than memory); the one-time write is timed, then the loader.

The rate to beat is the one a training step of the CPU benchmark's network consumes, measured in the same run:
gamma-PhysNet-DA, depth 8, widths 16/32/64, a batch of 64, forward, backward and Adam
(``train_throughput.py``'s step).

Run ``python benchmarks/data_loading.py --help``; the table goes to ``results/data_loading.md``.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset

from showerlearn.iact.baselines import LSTCHAIN_CLEANING
from showerlearn.iact.data import IACTDataModule
from showerlearn.iact.data.dataset import collate_batch
from showerlearn.iact.geometry import Lattice
from showerlearn.io.atomic import write_text_atomic

from _machine import cpu_model  # benchmarks/, first on the path of a script run from it
from _summary import Figure, write_summary
from train_throughput import build_network, fake_batch, make_train_step, timed

RESULTS = Path(__file__).resolve().parent / "results" / "data_loading.md"


class OneEventAtATime(Dataset):
    """The dataset without its batch read: torch's loader then fetches and stacks event by event."""

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, i: int) -> dict[str, Any]:
        return self.dataset[i]


def _module(args: argparse.Namespace, in_memory: bool | str) -> IACTDataModule:
    return IACTDataModule(
        simulate={"events": args.events, "seed": 1, "n_jobs": 2, "config": {"gamma_source": "diffuse"}},
        cache_dir=args.cache_dir,
        cuts={"min_intensity": 50},
        cleaning={**LSTCHAIN_CLEANING.model_dump(), "as": "mask"},
        transforms={"charge": "scale"},
        batch_size=args.batch_size,
        num_workers=args.workers,
        in_memory=in_memory,
        seed=1,
    )


def _rate(loader: DataLoader, n_batches: int) -> tuple[float, int]:
    """(events/s, events) over the first ``n_batches`` batches of ``loader``."""
    events, started = 0, time.perf_counter()
    for i, batch in enumerate(loader):
        events += len(batch["inputs"])
        if i + 1 == n_batches:
            break
    return events / (time.perf_counter() - started), events


def _read_through(path: Path, block: int = 64 * 2**20) -> None:
    with path.open("rb") as file:
        while file.read(block):
            pass


def _one_event_at_a_time(module: IACTDataModule, batches: int) -> float:
    loader = module.train_dataloader()
    reference = DataLoader(OneEventAtATime(loader.dataset), batch_size=loader.batch_size, sampler=loader.sampler,
                           num_workers=loader.num_workers, collate_fn=collate_batch)
    return _rate(reference, batches)[0]


def _loaded(module: IACTDataModule) -> tuple[float, float]:
    """(seconds, GB) of the one-time load of the training and validation splits, as training starts."""
    started = time.perf_counter()
    module.train_dataloader(), module.val_dataloader()
    seconds = time.perf_counter() - started
    images = len(module.train_set) + len(module.val_set)
    return seconds, images * len(module.transform.channels) * module.camera.n_pixels * 4 / 1e9


def _training_consumes(module: IACTDataModule, batch_size: int, steps: int) -> float:
    """Images/s a training step of the CPU benchmark's network takes on this machine."""
    lattice = Lattice.from_camera(module.camera)
    model = build_network(lattice, depth=8, local_head="light", seed=0)
    images, targets = fake_batch(lattice, batch_size, seed=0)
    step = make_train_step(model, images, targets)
    step()  # warm-up
    return batch_size * steps / sum(timed(step) for _ in range(steps))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=260_000, help="simulated events (the 260k benchmark set is cached)")
    parser.add_argument("--cache-dir", type=Path, default=Path("/tmp/showerlearn_bench_cache"))
    parser.add_argument("--batches", type=int, default=300, help="training batches timed per mode")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--workers", type=int, default=0, help="DataLoader workers (0: the cpu preset)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=20, help="training steps timed for the consumption")
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument("--summary", type=Path, help="also write the headline figures as JSON (for run_all.py)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    lazy = _module(args, False)
    lazy.prepare_data()  # simulate the set now if it is not cached: not part of any timing
    lazy.setup("fit")
    _read_through(lazy.files[0].path)  # every mode then reads it from the page cache
    reference = _one_event_at_a_time(lazy, args.batches)
    lazy_rate, n = _rate(lazy.train_dataloader(), args.batches)
    consumed = _training_consumes(lazy, args.batch_size, args.steps)
    lazy.teardown("fit")

    rows = [("one event at a time (reference)", None, None, reference), ("lazy, a batch at a time", None, None, lazy_rate)]
    for mode, label in ((True, "in_memory: true"), ("memmap", "in_memory: memmap (written now)")):
        module = _module(args, mode)
        module.setup("fit")
        stores = [module._input_store(dataset) for dataset in (module.train_set, module.val_set)] if mode == "memmap" else []
        for store in stores:  # written in this run, not mapped from an earlier one
            store.unlink(missing_ok=True)
        seconds, gigabytes = _loaded(module)
        rows.append((label, seconds, gigabytes, _rate(module.train_dataloader(), args.batches)[0]))
        module.teardown("fit")
        for store in stores:  # gigabytes no later run asked for
            store.unlink()
    n_train, n_val = len(lazy.train_set), len(lazy.val_set)
    lines = [
        "# iact data loading: one event at a time, a batch at a time, in memory, memory-mapped",
        "",
        f"Command: `python benchmarks/data_loading.py --events {args.events} --batches {args.batches} "
        f"--batch-size {args.batch_size} --workers {args.workers} --threads {args.threads} --steps {args.steps}`",
        "",
        f"Machine: {cpu_model()}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the end. Set: "
        f"{args.events} simulated events (compressed ctapipe DL1), {n_train} training and {n_val} validation images "
        f"after the cuts, lstchain cleaning. Timed: the first {n} training events of epoch 0, {args.workers} loader "
        f"workers. A training step of the CPU benchmark's network (depth 8, batch {args.batch_size}, "
        f"{args.threads} threads) consumes **{consumed:.0f} images/s** on this machine in this run.",
        "",
        "| mode | one-time load [s] | stored [GB] | loader events/s | vs one event at a time | vs a training step |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for label, seconds, gigabytes, rate in rows:
        load = "" if seconds is None else f"{seconds:.0f}"
        stored = "" if gigabytes is None else f"{gigabytes:.2f}"
        lines.append(f"| {label} | {load} | {stored} | {rate:.0f} | {rate / reference:.2f} | {rate / consumed:.1f} |")
    table = "\n".join(lines) + "\n"
    print(table)
    write_text_atomic(args.output, table)
    if args.summary:
        step = f"a training step of the CPU benchmark's network ({args.threads} threads)"
        write_summary(args.summary, [
            Figure("data_loading", "iact loader, lazy (a batch at a time)", lazy_rate, "events/s",
                   "the same loader one event at a time", reference, f"{n_train} training images"),
            Figure("data_loading", "iact loader, in_memory: memmap", rows[-1][3], "events/s", step, consumed,
                   f"after a {rows[-1][1]:.0f} s write of {rows[-1][2]:.2f} GB"),
        ])  # fmt: skip


if __name__ == "__main__":
    main()
