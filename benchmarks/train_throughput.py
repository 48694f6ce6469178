"""Training and inference throughput of gamma-PhysNet-DA (ResNet-56) on the LST camera.

Compares showerlearn's network with the same architecture built on ``indexedconv`` (GammaLearn's
operator): the two models share everything (Dual Attention blocks, physics heads, parameter count) but
the backbone, which for the reference is the ResNet-56 of ``benchmarks/_indexedconv_resnet.py``.
Both are measured in the same process, interleaved step by step, so that load from other processes
hits both alike; the table gives medians and their ratio.

The achieved rate counts *useful* floating-point operations only: 2 x multiply-adds of every lattice
convolution over real pixels (7-pixel hexagonal kernels), of the 1x1 convolutions and of the fully
connected layers; a training step counts 3x the forward pass (forward, input gradient, weight gradient).
It is compared with the rate of a dense ``conv2d`` (64 -> 64 channels, 3x3, batch 64, 32x32) measured
in the same run: the machine's practical dense-convolution peak.

Run ``python benchmarks/train_throughput.py --help``.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from showerlearn.iact.geometry import Lattice, lst_camera
from showerlearn.io.atomic import write_text_atomic
from showerlearn.iact.models.gamma_physnet import GammaPhysNetDA
from showerlearn.iact.nn import DualAttention, LatticeConv
from showerlearn.tasks.losses import cross_entropy, l1, masked_mean

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _indexedconv_resnet import IndexedConvResNet  # noqa: E402  (benchmarks/ is not a package)
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


def build_models(lattice: Lattice, depth: int, local_head: str, seed: int) -> dict[str, nn.Module]:
    """showerlearn's gamma-PhysNet-DA and the same network with the indexedconv backbone."""
    torch.manual_seed(seed)
    showerlearn_model = GammaPhysNetDA(lattice, depth=depth, local_head=local_head)
    torch.manual_seed(seed)
    reference = GammaPhysNetDA(lattice, depth=depth, local_head=local_head)
    reference.backbone = IndexedConvResNetDA(lattice, in_channels=2, depth=depth)
    n_showerlearn, n_reference = _count(showerlearn_model), _count(reference)
    if n_showerlearn != n_reference:
        raise RuntimeError(f"the two networks differ: {n_showerlearn} vs {n_reference} parameters")
    return {"showerlearn": showerlearn_model, "indexedconv": reference}


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


def make_train_step(model: nn.Module, images: Tensor, targets: dict[str, Tensor]) -> Callable[[], None]:
    """One optimisation step: forward, masked multi-task loss, backward, Adam update."""
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    gammas = targets["particle"] == 0

    def step() -> None:
        model.train()
        outputs = model(images)
        loss = masked_mean(cross_entropy(outputs["particle"], targets["particle"]))
        for head in ("energy", "direction", "impact"):
            loss = loss + masked_mean(l1(outputs[head], targets[head]), gammas)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

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


def dense_conv_peak(repeats: int) -> float:
    """GFLOP/s of a dense 3x3 conv2d (64 -> 64 channels, batch 64, 32x32): the practical peak."""
    x, w = torch.randn(64, 64, 32, 32), torch.randn(64, 64, 3, 3)
    flops = 2 * 64 * 64 * 9 * 32 * 32 * 64
    with torch.inference_mode():
        F.conv2d(x, w, padding=1)
        best = min(timed(lambda: F.conv2d(x, w, padding=1)) for _ in range(repeats))
    return flops / best / 1e9


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--batch", type=int, default=64, help="images per step (default 64)")
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads (default 2)")
    parser.add_argument("--depth", type=int, default=56, help="ResNet depth 6n+2 (default 56)")
    parser.add_argument("--local-head", choices=("full", "light"), default="full", help="physics head (default full)")
    parser.add_argument(
        "--nominal-peak", type=float, default=200.0, help="nominal dense-convolution peak in GFLOP/s (default 200)"
    )
    parser.add_argument("--train-repeats", type=int, default=5, help="timed training steps per model (default 5)")
    parser.add_argument("--infer-repeats", type=int, default=8, help="timed inference passes per model (default 8)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps per model and mode first (default 2)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", type=Path, default=RESULTS, help=f"markdown table (default {RESULTS})")
    parser.add_argument("--summary", type=Path, help="also write the headline figures as JSON (for run_all.py)")
    args = parser.parse_args(argv)

    torch.set_num_threads(args.threads)
    load_before = os.getloadavg()[0]
    lattice = Lattice.from_camera(lst_camera())
    models = build_models(lattice, args.depth, args.local_head, args.seed)
    images, targets = fake_batch(lattice, args.batch, args.seed)
    forward_flops = useful_forward_flops(models["showerlearn"], images)
    reference_flops = useful_forward_flops(models["indexedconv"], images)
    if forward_flops != reference_flops:
        raise RuntimeError(f"useful FLOPs differ: {forward_flops} vs {reference_flops}")

    train = {name: make_train_step(model, images, targets) for name, model in models.items()}
    infer = {name: make_inference(model, images) for name, model in models.items()}
    for name in models:
        for _ in range(args.warmup):
            train[name]()
            infer[name]()
    times: dict[tuple[str, str], list[float]] = {(name, mode): [] for name in models for mode in ("train", "infer")}
    # interleave the two implementations so that load from other processes affects both alike
    for _ in range(args.train_repeats):
        for name in models:
            times[name, "train"].append(timed(train[name]))
    for _ in range(args.infer_repeats):
        for name in models:
            times[name, "infer"].append(timed(infer[name]))
    peak = dense_conv_peak(repeats=5)
    load_after = os.getloadavg()[0]

    flops = {"train": 3 * forward_flops, "infer": forward_flops}
    rows, figures = [], []
    for mode, label in (("train", "training step"), ("infer", "inference")):
        median = {name: statistics.median(times[name, mode]) for name in models}
        spread = {name: (min(times[name, mode]), max(times[name, mode])) for name in models}
        # each showerlearn step is timed right before its indexedconv twin: their ratio sees the same load
        paired = statistics.median(
            ic / sl for sl, ic in zip(times["showerlearn", mode], times["indexedconv", mode], strict=True)
        )
        for name in models:
            rate = flops[mode] / median[name] / 1e9
            ratio = median["indexedconv"] / median[name]
            best = spread["indexedconv"][0] / spread[name][0]  # fastest runs: the least disturbed by other load
            speedup = f"{ratio:.2f}x (paired {paired:.2f}x, fastest {best:.2f}x)" if name == "showerlearn" else "1.00x"
            rows.append(
                f"| {label} | {name} | {args.batch / median[name]:.1f} | {median[name] * 1e3:.0f} "
                f"({spread[name][0] * 1e3:.0f}-{spread[name][1] * 1e3:.0f}) | {rate:.1f} | {100 * rate / peak:.0f} % "
                f"| {100 * rate / args.nominal_peak:.0f} % | {speedup} |"
            )
        rate = flops[mode] / median["showerlearn"] / 1e9
        figures.append(Figure(
            "train_throughput", f"gamma-PhysNet-DA (ResNet-{args.depth}) {label}, batch {args.batch}",
            args.batch / median["showerlearn"], "images/s", "same network on indexedconv",
            args.batch / median["indexedconv"], f"paired {paired:.2f}x; {rate:.1f} useful GFLOP/s, "
            f"{100 * rate / peak:.0f} % of the {peak:.0f} GFLOP/s dense conv2d measured in this run",
        ))  # fmt: skip
    header = (
        f"# gamma-PhysNet-DA (ResNet-{args.depth}, {args.local_head} head) throughput on the LST camera "
        f"({lattice.n_pixels} pixels)\n\n"
        f"batch {args.batch}, {args.threads} threads, torch {torch.__version__}, {platform.machine()}, "
        f"{os.cpu_count()} CPUs, load average {load_before:.1f} -> {load_after:.1f}; "
        f"{_count(models['showerlearn']):,} parameters; useful forward work "
        f"{forward_flops / args.batch / 1e6:.0f} MFLOP/image; "
        f"dense conv2d rate measured in this run: {peak:.0f} GFLOP/s.\n"
        f"Medians over {args.train_repeats} training steps / {args.infer_repeats} inference passes per model "
        "(interleaved; min-max in brackets). Targets: training >= 2x, inference >= 2.5x.\n\n"
        "| mode | implementation | images/s | ms/batch | useful GFLOP/s | of measured conv2d peak "
        f"| of {args.nominal_peak:.0f} GFLOP/s nominal | speed-up vs indexedconv |\n"
        "|---|---|---|---|---|---|---|---|\n"
    )
    table = header + "\n".join(rows) + "\n"
    if max(load_before, load_after) > (os.cpu_count() or 1):
        table += (
            f"\n**Busy machine** (load average above the {os.cpu_count()} CPUs): the two threads of each parallel "
            "region wait for each other while the scheduler runs other processes, which penalises many small "
            "operations more than few large ones; rerun on an idle machine for representative ratios.\n"
        )
    print(table)
    write_text_atomic(args.output, table)
    print(f"written to {args.output}")
    if args.summary:
        write_summary(args.summary, figures)


if __name__ == "__main__":
    main()
