"""Training speed of the calorimeter transformer with batches grouped by size (``data.params.group_by_size``) and
in bfloat16 autocast (``trainer.precision: bf16-mixed``).

A batch of hit sets is padded to its largest event: with random batches of 64 events of 3-5 gammas, the batch's
largest event has about twice the mean's hits, and attention and the pair head cost the square of that.
Grouping sorts each pool of batches by hits first. This trains one epoch of ``examples/calorimeter_transformer.yaml``
(6 layers, as issue 22's runs) on the same simulated events with each pool size, in alternating rounds, through
the engine's own DataModule, loader and task module (one thread, as the example trains), and prints a table:
training events per second, the ratio to plain batches in 32 bits measured in the same run, and the padding.
bfloat16 pays on CPUs that compute it natively (AVX512-BF16, AMX: the table says whether this one does); elsewhere
oneDNN emulates it, slower than 32 bits. Speed only: what grouping and bfloat16 do to the trained network is
measured by ``calorimeter_clustering.py`` (docs/calorimeter.md).

    python benchmarks/calorimeter_batching.py --precisions 32-true bf16-mixed \
        --output benchmarks/results/calorimeter_batching.md
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import lightning as L
import torch

from _machine import command_line, cpu_model, load_average
from showerlearn.cli.common import quiet_libraries
from showerlearn.config import load_config
from showerlearn.engine.runner import build_datamodule, build_module
from showerlearn.engine.speed import native_bfloat16
from showerlearn.io.atomic import write_text_atomic

ROOT = Path(__file__).resolve().parent.parent


#: the reference every speed-up is taken against: plain shuffled batches in 32 bits
REFERENCE = (0, "32-true")


def _config(cache: Path, events: int, layers: int, pool: int, precision: str):
    return load_config(ROOT / "examples" / "calorimeter_transformer.yaml", [
        f"data.params.simulate.events={events}", f"data.params.cache_dir={cache}", f"data.params.group_by_size={pool}",
        f"model.params.layers={layers}", "trainer.max_epochs=1", f"trainer.precision={precision}",
    ])  # fmt: skip


def _padding(datamodule) -> tuple[float, float]:
    """Padded hit slots per real hit and padded pair slots per real pair over one epoch of training batches."""
    slots = hits = pair_slots = pairs = 0
    for batch in datamodule.train_dataloader():
        mask = batch["inputs"]["hits_mask"]
        n = mask.sum(dim=1)
        slots, hits = slots + mask.numel(), hits + int(n.sum())
        # pairs of two different hits, as the pair targets count them
        pair_slots, pairs = pair_slots + mask.shape[0] * mask.shape[1] * (mask.shape[1] - 1), pairs + int((n * (n - 1)).sum())
    return slots / hits, pair_slots / pairs


def _rounded(load: float | None) -> str:
    return "n/a" if load is None else f"{load:.2f}"


def _epoch_seconds(config) -> float:
    """Wall time of one training epoch (no validation, checkpoints or logs) through Lightning."""
    torch.manual_seed(config.seed)
    datamodule = build_datamodule(config, progress=False)
    datamodule.setup("fit")
    module = build_module(config, datamodule)
    trainer = L.Trainer(max_epochs=1, limit_val_batches=0, logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, accelerator="cpu", num_sanity_val_steps=0,
                        precision=config.trainer.precision)
    loader = datamodule.train_dataloader()
    start = time.perf_counter()
    trainer.fit(module, train_dataloaders=loader)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=20000, help="simulated events (70 %% train)")
    parser.add_argument("--layers", type=int, default=6)
    parser.add_argument("--pools", type=int, nargs="+", default=[0, 8, 32], help="group_by_size values (0: plain)")
    parser.add_argument("--precisions", nargs="+", default=["32-true"], choices=["32-true", "bf16-mixed"],
                        help="trainer.precision values, each with every pool size (32-true: the reference)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--output", type=Path, help="also write the table here (markdown)")
    args = parser.parse_args()
    if 0 not in args.pools or "32-true" not in args.precisions:
        parser.error("--pools must hold 0 and --precisions 32-true: plain batches in 32 bits, which every ratio is "
                     "taken against")
    quiet_libraries()
    torch.set_num_threads(1)
    load_before = load_average()
    with tempfile.TemporaryDirectory() as cache:
        settings = [(pool, precision) for precision in args.precisions for pool in args.pools]
        configs = {setting: _config(Path(cache), args.events, args.layers, *setting) for setting in settings}
        padding = {}
        for pool in args.pools:
            datamodule = build_datamodule(configs[pool, "32-true"], progress=False)
            datamodule.setup("fit")
            padding[pool] = _padding(datamodule)
            train_events = len(datamodule.train_set)
        seconds: dict[tuple[int, str], list[float]] = {setting: [] for setting in settings}
        for round_ in range(args.rounds):  # every other round in the reverse order: no setting always runs first
            for setting in settings[:: 1 if round_ % 2 == 0 else -1]:
                seconds[setting].append(_epoch_seconds(configs[setting]))
    ratios = {setting: statistics.median(p / s for p, s in zip(seconds[REFERENCE], seconds[setting], strict=True))
              for setting in settings}
    lines = [
        "# Calorimeter transformer: training speed with batches grouped by size, and in bfloat16",
        "",
        f"`{command_line()}` — {train_events:,} training events of `examples/calorimeter_transformer.yaml`'s simulation "
        f"(3-5 gammas of 0.3-10 MeV, beta 0.7), {args.layers} layers, batch 64, one thread, torch {torch.__version__}, "
        f"{cpu_model()} (native bfloat16: {'yes' if native_bfloat16() else 'no'}), load average {_rounded(load_before)} -> "
        f"{_rounded(load_average())}. One training epoch per setting and round, {args.rounds} rounds in turn (every other one in the reverse order); "
        "times are medians (min-max), the speed-up the median of the per-round ratios to plain batches in 32 bits.",
        "",
        "| batches | group_by_size | precision | epoch [s] | training events/s | speed-up vs plain, 32 bits | padded hit slots per hit | padded pair slots per pair |",
        "|---|---:|---|---|---:|---:|---:|---:|",
    ]
    for pool, precision in settings:
        times, median = seconds[pool, precision], statistics.median(seconds[pool, precision])
        label = "plain shuffled" if pool == 0 else f"grouped, pools of {pool} batches"
        lines.append(f"| {label} | {pool} | {precision} | {median:.1f} ({min(times):.1f}-{max(times):.1f}) | "
                     f"{train_events / median:,.0f} | {ratios[pool, precision]:.2f}x | {padding[pool][0]:.2f} | {padding[pool][1]:.2f} |")
    table = "\n".join(lines) + "\n"
    print(table)
    if args.output is not None:
        write_text_atomic(args.output, table)


if __name__ == "__main__":
    main()
