"""Training and inference throughput of gamma-PhysNet-DA (ResNet-56) on the LST camera.

Seven runs of the same network:

* showerlearn's network compiled with ``torch.compile`` (``trainer.compile: true``), ``--images-per-grid``
  images sharing each 2-D grid of the backbone (model parameter ``images_per_grid``, default 16 here);
* the same network compiled with one image per grid (what the packing of images adds);
* the same network run eagerly (the default);
* the eager network with glibc's default memory allocator (``trainer.cpu_allocator: system``) and one image
  per grid: showerlearn before issue 19, the reference of "speed-up vs before";
* the same architecture built on ``indexedconv`` (GammaLearn's operator): everything (Dual Attention
  blocks, physics heads, parameter count) but the backbone, which is the ResNet-56 of
  ``benchmarks/_indexedconv_resnet.py``;
* the eager and the compiled network with bfloat16 autocast (``trainer.precision: bf16-mixed``), native on
  CPUs with AVX512-BF16 or AMX (``--no-bf16`` leaves them out).

Each runs in a process of its own, as in a training run, in rounds over them so that load from
other processes hits all alike; the table gives medians and their ratios. All but the third use
``--allocator`` (default ``tuned``: ``trainer.cpu_allocator: tuned``). Compilation time is the
first step of the compiled network: in the first round with an empty kernel cache, in the later rounds
with the kernels the first one left there (what every later training run of the network pays).

The achieved rate counts *useful* floating-point operations only: 2 x multiply-adds of every lattice
convolution over real pixels (7-pixel hexagonal kernels), of the 1x1 convolutions and of the fully
connected layers; a training step counts 3x the forward pass (forward, input gradient, weight gradient).
It is compared with the rate of a dense ``conv2d`` (64 -> 64 channels, 3x3, batch 64, 32x32, the faster of
the contiguous and the channels-last layout) measured in the same run, twice in every worker, in float32
and in bfloat16: the best rate it reaches is the machine's practical dense-convolution peak at that
precision, and each network is compared with the peak at its own precision.

Run ``python benchmarks/train_throughput.py --help``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from functools import partial
from typing import Any
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from showerlearn.config.schema import TrainerConfig
from showerlearn.engine.speed import compile_network, keep_freed_memory
from showerlearn.iact.geometry import Lattice, lst_camera
from showerlearn.io.atomic import write_text_atomic
from showerlearn.iact.models.gamma_physnet import GammaPhysNetDA
from showerlearn.iact.nn import DualAttention, LatticeConv
from showerlearn.tasks.losses import cross_entropy, l1, masked_mean

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _indexedconv_resnet import IndexedConvResNet  # noqa: E402  (benchmarks/ is not a package)
from _machine import cpu_model  # noqa: E402
from _summary import Figure, write_summary  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "train_throughput.md"


class IndexedConvResNetDA(IndexedConvResNet):
    """The indexedconv ResNet with a Dual Attention block after every stage (gamma-PhysNet-DA's backbone)."""

    def __init__(self, lattice: Lattice, in_channels: int, depth: int, widths: tuple[int, ...] = (16, 32, 64)) -> None:
        super().__init__(lattice, in_channels, depth, widths)
        stage_lattices = [lattice]
        for _ in widths[1:]:
            stage_lattices.append(stage_lattices[-1].downsample().lattice)
        self.attention = nn.ModuleList(DualAttention(w, stage) for w, stage in zip(widths, stage_lattices, strict=True))

    def forward(self, x: Tensor) -> Tensor:
        h = self.stem(x[..., self.row_major])
        for index, (stage, attention) in enumerate(zip(self.stages, self.attention, strict=True)):
            if index > 0:
                h = self.pools[index - 1](h)
            h = attention(stage(h))
        return F.relu(self.final_bn(h))


COMPILED, EAGER, INDEXEDCONV = "showerlearn, compiled", "showerlearn, eager", "indexedconv"
#: the compiled network with one image per grid: what sharing grids adds
COMPILED_ONE_IMAGE = "showerlearn, compiled, one image per grid"
#: the same two with ``trainer.precision: bf16-mixed`` (bfloat16 autocast): measured against the bfloat16 peak
COMPILED_BF16, EAGER_BF16 = "showerlearn, compiled, bf16 autocast", "showerlearn, eager, bf16 autocast"
BF16 = (COMPILED_BF16, EAGER_BF16)
COMPILED_RUNS = (COMPILED, COMPILED_ONE_IMAGE, COMPILED_BF16)
#: the eager network with glibc's default allocator and one image per grid: showerlearn before issue 19
BEFORE = "showerlearn, eager, system allocator, one image per grid"
#: the runs with one image per grid whatever --images-per-grid says
ONE_IMAGE = (COMPILED_ONE_IMAGE, BEFORE, INDEXEDCONV)


def build_network(lattice: Lattice, depth: int, local_head: str, seed: int, **options: Any) -> GammaPhysNetDA:
    torch.manual_seed(seed)
    return GammaPhysNetDA(lattice, depth=depth, local_head=local_head, **options)


def build_model(
    name: str, lattice: Lattice, depth: int, local_head: str, seed: int, compile_cache: Path | None, images_per_grid: int = 1
) -> nn.Module:
    """One of the implementations, with the same initial weights where they share layers."""
    network = build_network(lattice, depth, local_head, seed, images_per_grid=1 if name in ONE_IMAGE else images_per_grid)
    if name in COMPILED_RUNS:
        assert compile_cache is not None
        compile_network(network, TrainerConfig(compile=True, compile_cache=compile_cache))
    elif name == INDEXEDCONV:
        network.backbone = IndexedConvResNetDA(lattice, in_channels=2, depth=depth)
    return network


def _count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def useful_forward_flops(model: nn.Module, images: Tensor) -> int:
    """Useful FLOPs of one forward pass: 2 x multiply-adds of convolutions and fully connected layers.

    Lattice convolutions are counted from their definition (C_in x k multiply-adds per output pixel and
    channel), whatever the implementation executes; 1x1 convolutions and linear layers from their outputs.
    """
    flops = 0

    def count(module: nn.Module, _inputs: tuple[Tensor, ...], output: Tensor) -> None:
        nonlocal flops
        flops += 2 * output.numel() * module.weight[0].numel()

    hooks = [m.register_forward_hook(count) for m in model.modules() if isinstance(m, (nn.Linear, nn.Conv1d))]
    with torch.no_grad():
        model.eval()(images)
    for hook in hooks:
        hook.remove()
    batch = images.shape[0]
    for module in model.modules():
        if isinstance(module, LatticeConv):
            flops += 2 * batch * module.weight.numel() * module.lattice.n_pixels
        elif type(module).__name__ == "IndexedConv":
            flops += 2 * batch * module.weight.numel() * module.output_width
    return flops


def fake_batch(lattice: Lattice, batch: int, seed: int) -> tuple[Tensor, dict[str, Tensor]]:
    generator = torch.Generator().manual_seed(seed)
    images = torch.randn(batch, 2, lattice.n_pixels, generator=generator).relu()  # charge-like: sparse, >= 0
    targets = {
        "particle": torch.randint(0, 2, (batch,), generator=generator),
        "energy": torch.randn(batch, generator=generator),
        "direction": torch.randn(batch, 2, generator=generator),
        "impact": torch.randn(batch, 2, generator=generator),
    }
    return images, targets


def make_train_step(
    model: nn.Module,
    images: Tensor,
    targets: dict[str, Tensor],
    scaler: torch.amp.GradScaler | None = None,
    autocast: Callable[[], AbstractContextManager[Any]] = nullcontext,
) -> Callable[[], None]:
    """One optimisation step: forward, masked multi-task loss, backward, Adam update. The forward pass and the
    loss run under ``autocast()`` and ``scaler`` scales the loss, as Lightning runs ``16-mixed`` on a GPU."""
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    if scaler is None:
        scaler = torch.amp.GradScaler(enabled=False)
    gammas = targets["particle"] == 0

    def step() -> None:
        model.train()
        with autocast():
            outputs = model(images)
            loss = masked_mean(cross_entropy(outputs["particle"], targets["particle"]))
            for head in ("energy", "direction", "impact"):
                loss = loss + masked_mean(l1(outputs[head], targets[head]), gammas)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()

    return step


def make_inference(model: nn.Module, images: Tensor) -> Callable[[], None]:
    def infer() -> None:
        model.eval()
        with torch.inference_mode():
            model(images)

    return infer


def timed(function: Callable[[], None]) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def dense_conv_rate(dtype: torch.dtype = torch.float32) -> float:
    """GFLOP/s of one dense 3x3 conv2d (64 -> 64 channels, batch 64, 32x32) in ``dtype``, the faster of the
    contiguous and the channels-last layout (which is faster depends on the CPU and the dtype); its best over
    a run is the peak."""
    w = torch.randn(64, 64, 3, 3, dtype=dtype)
    flops = 2 * 64 * 64 * 9 * 32 * 32 * 64
    rates = []
    for layout in (torch.contiguous_format, torch.channels_last):
        x = torch.randn(64, 64, 32, 32, dtype=dtype).contiguous(memory_format=layout)
        with torch.inference_mode():
            F.conv2d(x, w, padding=1)
            rates.append(flops / timed(partial(F.conv2d, x, w, padding=1)) / 1e9)
    return max(rates)


def worker(args: argparse.Namespace) -> dict[str, object]:
    """One implementation in this process: its first calls (with ``COMPILED``: compilation, or loading the
    kernels from the cache), warm-up, then the timed steps and passes, and the dense conv2d rate after each."""
    lattice = Lattice.from_camera(lst_camera())
    model = build_model(args.worker, lattice, args.depth, args.local_head, args.seed, args.compile_cache, args.images_per_grid)
    images, targets = fake_batch(lattice, args.batch, args.seed)
    train, infer = make_train_step(model, images, targets), make_inference(model, images)
    if args.worker in BF16:
        train, infer = in_bf16(train), in_bf16(infer)
    first = {"train": timed(train), "infer": timed(infer)}
    for _ in range(args.warmup):
        train()
        infer()
    train_times = [timed(train) for _ in range(args.train_repeats)]
    dtypes = {"float32": torch.float32, "bfloat16": torch.bfloat16}
    peaks = {name: [dense_conv_rate(dtype)] for name, dtype in dtypes.items()}
    infer_times = [timed(infer) for _ in range(args.infer_repeats)]
    for name, dtype in dtypes.items():
        peaks[name].append(dense_conv_rate(dtype))
    result = {"first": first, "train": train_times, "infer": infer_times, "peak": peaks}
    if args.worker in COMPILED_RUNS:
        result["convolution_share"] = {"train": convolution_share(train), "infer": convolution_share(infer)}
    return result


#: the operators that run the dense convolutions, forward and backward (oneDNN on CPUs)
CONVOLUTION_OPERATORS = ("aten::mkldnn_convolution", "aten::convolution_backward", "aten::_convolution_pointwise")


def convolution_share(function: Callable[[], None], calls: int = 3) -> float:
    """Share of ``function``'s CPU time spent inside the convolution operators (torch.profiler, self time).

    What remains is everything around them (batch-norm statistics, ReLU and masks, pooling, attention,
    heads, optimiser), so ``share x time`` bounds how fast the network could run with free element-wise work.
    """
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as profiler:
        for _ in range(calls):
            function()
    events = profiler.key_averages()
    total = sum(event.self_cpu_time_total for event in events)
    inside = sum(event.self_cpu_time_total for event in events if event.key in CONVOLUTION_OPERATORS)
    return inside / total


def in_bf16(function: Callable[[], None]) -> Callable[[], None]:
    """``function`` under bfloat16 CPU autocast, as with ``precision: bf16-mixed`` (Lightning autocasts the
    forward pass and the loss only; backward and the optimiser step here run under it too, which changes
    nothing: autocast applies to forward operators)."""

    def autocast() -> None:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            function()

    return autocast


WORKER_TIMEOUT_S = 3600  # a cold compilation and indexedconv's steps take minutes, not an hour


def run_worker(args: argparse.Namespace, name: str, cache: Path | None) -> dict[str, Any]:
    """:func:`worker` for ``name`` in a new process; its JSON result."""
    allocator = "system" if name == BEFORE else args.allocator
    command = [
        sys.executable, __file__, "--worker", name, "--depth", str(args.depth), "--batch", str(args.batch),
        "--threads", str(args.threads), "--local-head", args.local_head, "--seed", str(args.seed),
        "--allocator", allocator, "--warmup", str(args.warmup), "--train-repeats", str(args.train_repeats),
        "--infer-repeats", str(args.infer_repeats), "--images-per-grid", str(args.images_per_grid),
    ]  # fmt: skip
    if cache is not None:
        command += ["--compile-cache", str(cache)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=WORKER_TIMEOUT_S)
    lines = result.stdout.strip().splitlines()
    if result.returncode != 0 or not lines:
        raise RuntimeError(f"the {name} worker failed (exit {result.returncode}):\n{result.stderr[-3000:]}")
    return json.loads(lines[-1])


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--batch", type=int, default=64, help="images per step (default 64)")
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads (default 2)")
    parser.add_argument("--depth", type=int, default=56, help="ResNet depth 6n+2 (default 56)")
    parser.add_argument("--local-head", choices=("full", "light"), default="full", help="physics head (default full)")
    parser.add_argument(
        "--allocator", choices=("tuned", "system"), default="tuned",
        help="trainer.cpu_allocator of the processes but the 'before' one (default tuned)",
    )  # fmt: skip
    parser.add_argument("--no-compile", action="store_true", help="leave out the compiled network(s)")
    parser.add_argument(
        "--no-bf16", action="store_true", help="leave out the network with bfloat16 autocast (trainer.precision: bf16-mixed)"
    )
    parser.add_argument(
        "--compile-cache", type=Path,
        help="kernel cache of the compiled network (default: a new temporary folder, so that compilation starts cold)",
    )  # fmt: skip
    parser.add_argument(
        "--images-per-grid", type=int, default=16,
        help="images sharing one 2-D grid in showerlearn's backbone (model parameter images_per_grid; default 16)",
    )  # fmt: skip
    workers = (COMPILED, COMPILED_ONE_IMAGE, EAGER, BEFORE, INDEXEDCONV, *BF16)
    parser.add_argument("--worker", choices=workers, help=argparse.SUPPRESS)
    parser.add_argument(
        "--nominal-peak", type=float, default=200.0,
        help="nominal float32 dense-convolution peak in GFLOP/s (default 200; not shown for the bf16 rows)",
    )  # fmt: skip
    parser.add_argument("--rounds", type=int, default=3, help="rounds over the implementations (default 3)")
    parser.add_argument("--train-repeats", type=int, default=4, help="timed training steps per round (default 4)")
    parser.add_argument("--infer-repeats", type=int, default=6, help="timed inference passes per round (default 6)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps per process and mode first (default 2)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", type=Path, default=RESULTS, help=f"markdown table (default {RESULTS})")
    parser.add_argument("--summary", type=Path, help="also write the headline figures as JSON (for run_all.py)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_arguments(argv)
    if args.images_per_grid < 1 or args.batch % args.images_per_grid:
        # otherwise the rows said to share grids would run one image per grid
        raise SystemExit(f"--batch {args.batch} must be a multiple of --images-per-grid {args.images_per_grid}")
    torch.set_num_threads(args.threads)
    if args.allocator == "tuned":
        keep_freed_memory()
    if args.worker:
        print(json.dumps(worker(args)))
        return
    with tempfile.TemporaryDirectory(prefix="train_throughput_kernels_") as scratch:
        cache = None if args.no_compile else (args.compile_cache or Path(scratch))
        measure(args, cache)


def measure(args: argparse.Namespace, cache: Path | None) -> None:
    """Rounds over the implementations, each in a process of its own (as a training run has one network:
    measured here, a network run right after indexedconv's large kernels in the same process is 10-40 %
    slower for several steps), so that load from other processes affects all alike."""
    load_before = os.getloadavg()[0]
    lattice = Lattice.from_camera(lst_camera())
    images, _ = fake_batch(lattice, args.batch, args.seed)
    eager = build_model(EAGER, lattice, args.depth, args.local_head, args.seed, None, args.images_per_grid)
    reference = build_model(INDEXEDCONV, lattice, args.depth, args.local_head, args.seed, None)
    if _count(eager) != _count(reference):
        raise RuntimeError(f"the two networks differ: {_count(eager)} vs {_count(reference)} parameters")
    forward_flops, reference_flops = useful_forward_flops(eager, images), useful_forward_flops(reference, images)
    if forward_flops != reference_flops:
        raise RuntimeError(f"useful FLOPs differ: {forward_flops} vs {reference_flops}")
    del reference
    names = [EAGER, BEFORE, INDEXEDCONV] + ([] if args.no_bf16 else [EAGER_BF16])
    if cache is not None:
        names = [COMPILED, COMPILED_ONE_IMAGE, *names] + ([] if args.no_bf16 else [COMPILED_BF16])
    times: dict[tuple[str, str], list[float]] = {(name, mode): [] for name in names for mode in ("train", "infer")}
    peak_rates: dict[str, list[float]] = {"float32": [], "bfloat16": []}
    compile_seconds: dict[str, list[dict[str, float]]] = {}
    convolution_shares: dict[tuple[str, str], list[float]] = {}
    for round_index in range(args.rounds):
        for name in names:
            # each compiled network its own kernel cache: the first round of each compiles from nothing
            result = run_worker(args, name, None if cache is None else cache / name.replace(", ", "_").replace(" ", "_"))
            for mode in ("train", "infer"):
                times[name, mode].extend(result[mode])
            for dtype, rates in result["peak"].items():
                peak_rates[dtype].extend(rates)
            if name in COMPILED_RUNS:
                first = "first round, kernels from --compile-cache" if args.compile_cache else "first round, empty kernel cache"
                when = first if round_index == 0 else "later runs, kernels from the cache"
                compile_seconds.setdefault(f"{name}, {when}", []).append(result["first"])
                for mode, share in result["convolution_share"].items():
                    convolution_shares.setdefault((name, mode), []).append(share)
            print(f"round {round_index + 1}/{args.rounds}: {name} done", file=sys.stderr)
    load_after = os.getloadavg()[0]
    table, figures = report(
        args, lattice, eager, times, forward_flops, {dtype: max(rates) for dtype, rates in peak_rates.items()},
        len(peak_rates["float32"]), compile_seconds, convolution_shares,
        (load_before, load_after),
    )  # fmt: skip
    print(table)
    write_text_atomic(args.output, table)
    print(f"written to {args.output}")
    if args.summary:
        write_summary(args.summary, figures)


TARGET_SHARE = {"train": 0.30, "infer": 0.40}  # issue 19: of the dense-convolution peak measured in the same run


def report(
    args: argparse.Namespace,
    lattice: Lattice,
    eager: nn.Module,
    times: dict[tuple[str, str], list[float]],
    forward_flops: int,
    peaks: dict[str, float],
    n_peaks: int,
    compile_seconds: dict[str, list[dict[str, float]]],
    convolution_shares: dict[tuple[str, str], list[float]],
    load: tuple[float, float],
) -> tuple[str, list[Figure]]:
    """The markdown table and the headline figures."""
    flops = {"train": 3 * forward_flops, "infer": forward_flops}
    names = list(dict.fromkeys(name for name, _ in times))
    rows, figures = [], []
    for mode, label in (("train", "training step"), ("infer", "inference")):
        median = {name: statistics.median(times[name, mode]) for name in names}
        for name in names:
            rate = flops[mode] / median[name] / 1e9
            share = rate / _peak(name, peaks)
            target = f" (target {TARGET_SHARE[mode]:.0%})" if name in COMPILED_RUNS else ""
            rows.append(
                f"| {label} | {name} | {args.batch / median[name]:.1f} | {median[name] * 1e3:.0f} "
                f"({min(times[name, mode]) * 1e3:.0f}-{max(times[name, mode]) * 1e3:.0f}) | {rate:.1f} | "
                f"**{share:.1%}**{target} | {'-' if name in BF16 else f'{100 * rate / args.nominal_peak:.0f} %'} | "
                f"{_paired(times, mode, name, INDEXEDCONV)} | {_paired(times, mode, name, BEFORE)} |"
            )
        best = COMPILED if COMPILED in names else EAGER
        rate, peak = flops[mode] / median[best] / 1e9, peaks["float32"]
        figures.append(Figure(
            "train_throughput", f"gamma-PhysNet-DA (ResNet-{args.depth}) {label}, batch {args.batch}, {best}",
            args.batch / median[best], "images/s", "same network on indexedconv",
            args.batch / median[INDEXEDCONV], f"{rate:.1f} useful GFLOP/s, {rate / peak:.1%} of the {peak:.0f} GFLOP/s "
            f"dense conv2d peak measured in this run; {_paired(times, mode, best, BEFORE)} the eager network with "
            "the system allocator",
        ))  # fmt: skip
    compiled = "".join(
        f"- {when}: first training step {statistics.median(s['train'] for s in seconds):.1f} s, first inference "
        f"{statistics.median(s['infer'] for s in seconds):.1f} s" + (f" (median of {len(seconds)})" if len(seconds) > 1 else "") + "\n"
        for when, seconds in compile_seconds.items()
    )
    header = (
        f"# gamma-PhysNet-DA (ResNet-{args.depth}, {args.local_head} head) throughput on the LST camera "
        f"({lattice.n_pixels} pixels)\n\n"
        f"`python benchmarks/train_throughput.py` — batch {args.batch}, {args.threads} threads, "
        f"torch {torch.__version__}, {cpu_model()} ({os.cpu_count()} CPUs), allocator {args.allocator} (system in the row that says so), "
        f"load average {load[0]:.1f} -> {load[1]:.1f}; {_count(eager):,} parameters; useful forward work "
        f"{forward_flops / args.batch / 1e6:.0f} MFLOP/image; dense conv2d peak measured in this run (best of "
        f"{n_peaks}, in every worker, of the contiguous and the channels-last layout): **{peaks['float32']:.0f} GFLOP/s** "
        f"in float32, **{peaks['bfloat16']:.0f} GFLOP/s** in bfloat16; the share of the peak is taken at the "
        "network's precision (bf16 rows: of the bfloat16 peak). "
        f"{_grid_fill(eager, args.images_per_grid)}\n"
        f"Each implementation runs in a process of its own, {args.rounds} rounds over them; medians over "
        f"{args.rounds} x {args.train_repeats} training steps / {args.rounds} x {args.infer_repeats} inference passes "
        f"per implementation, after {args.warmup} warm-up step(s) in each process (min-max in brackets); speed-ups "
        "are medians of the ratios of the k-th steps of each round. Targets "
        f"(issue 19): training >= {TARGET_SHARE['train']:.0%} and inference >= {TARGET_SHARE['infer']:.0%} of the peak.\n\n"
        "| mode | implementation | images/s | ms/batch | useful GFLOP/s | of measured conv2d peak (same precision) "
        f"| of {args.nominal_peak:.0f} GFLOP/s nominal | speed-up vs indexedconv | speed-up vs before (eager, system allocator, one image per grid) |\n"
        "|---|---|---|---|---|---|---|---|---|\n"
    )
    table = header + "\n".join(rows) + "\n" + _convolution_bound(flops, times, peaks, convolution_shares)
    if compiled:
        table += f"\nCompilation (`trainer.compile: true`, kernels kept in `trainer.compile_cache`):\n\n{compiled}"
    if max(load) > (os.cpu_count() or 1):
        table += (
            f"\n**Busy machine** (load average above the {os.cpu_count()} CPUs): the two threads of each parallel "
            "region wait for each other while the scheduler runs other processes, which penalises many small "
            "operations more than few large ones; rerun on an idle machine for representative ratios.\n"
        )
    return table, figures


def _grid_fill(network: nn.Module, images_per_grid: int) -> str:
    """How much of the backbone's 2-D grids the pixels fill, stage by stage, with one and with several images per grid."""
    one = [layout.fill for layout in network.backbone.layouts]
    shared = [layout.fill for layout in network.backbone.shared_layouts] or one
    return (
        f"showerlearn's rows but those that say otherwise: {images_per_grid} images per 2-D grid (`images_per_grid`), "
        f"their pixels filling {' / '.join(f'{f:.0%}' for f in shared)} of the grids of the stages, against "
        f"{' / '.join(f'{f:.0%}' for f in one)} with one image per grid."
    )


def _peak(name: str, peaks: dict[str, float]) -> float:
    """The dense-convolution peak at the precision the implementation ``name`` runs in."""
    return peaks["bfloat16" if name in BF16 else "float32"]


def _convolution_bound(
    flops: dict[str, int],
    times: dict[tuple[str, str], list[float]],
    peaks: dict[str, float],
    convolution_shares: dict[tuple[str, str], list[float]],
) -> str:
    """How much of the compiled networks' time the dense convolutions take, and the share of the peak the
    network would reach if everything around them took no time at all."""
    if not convolution_shares:
        return ""
    rows = []
    for (name, mode), shares in convolution_shares.items():
        share = statistics.median(shares)
        seconds = statistics.median(times[name, mode])
        bound = flops[mode] / (share * seconds) / 1e9 / _peak(name, peaks)
        target = f" (target {TARGET_SHARE[mode]:.0%})"
        rows.append(f"| {name} | {mode} | {share:.0%} | {seconds * 1e3:.0f} | {share * seconds * 1e3:.0f} | {bound:.1%}{target} |")
    return (
        "\nWhere the compiled networks' time goes (torch.profiler, self CPU time of the convolution operators "
        f"{', '.join(CONVOLUTION_OPERATORS)}, median of the rounds): the convolutions compute the 3x3 kernel for 7 "
        "pixels on every cell of the grids, pixel or not, so even with everything around them free the "
        "network reaches only the share of the last column.\n\n"
        "| implementation | mode | time in convolutions | ms/batch | of which convolutions [ms] | of the peak with the rest free |\n"
        "|---|---|---:|---:|---:|---:|\n" + "\n".join(rows) + "\n"
    )


def _paired(times: dict[tuple[str, str], list[float]], mode: str, name: str, reference: str) -> str:
    """Median of reference time / this time over the k-th steps of each round: steps of the two processes
    that ran closest in time (rounds apart by minutes, the processes of a round by seconds)."""
    ratio = statistics.median(r / t for t, r in zip(times[name, mode], times[reference, mode], strict=True))
    return f"{ratio:.2f}x"


if __name__ == "__main__":
    main()
