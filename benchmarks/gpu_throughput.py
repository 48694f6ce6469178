"""Training and inference throughput of gamma-PhysNet-DA (ResNet-56) on the LST camera on a CUDA GPU, with
each of the config's GPU switches.

The same network and loss as ``train_throughput.py`` (its CPU counterpart), run on the GPU in float32 (TF32
off, the reference), with TF32 convolutions (torch's default where the GPU has TF32) and matrix products,
with ``trainer.precision: bf16-mixed`` and ``16-mixed`` (float16 with a gradient scaler, as Lightning
trains it), with bf16 and ``model.params.channels_last: false``, and compiled (``trainer.compile: true``) in
bf16. Each variant's outputs are compared with the float32
network's (largest deviation of the log-energy, same weights, eval mode) so that the table shows what each
switch costs in accuracy as well as what it gains in speed.

The achieved rate counts useful floating-point operations only (as in ``train_throughput.py``) and is compared
with the rate of a dense ``conv2d`` (batch 256, 64 -> 64 channels, 3x3, 64x64) measured in the same run, in
float32 (TF32 off), TF32 and bfloat16/float16: each variant against the peak at its own precision.

Run ``python benchmarks/gpu_throughput.py --help`` on a machine with a CUDA GPU.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from showerlearn.iact.geometry import Lattice, lst_camera
from showerlearn.io.atomic import write_text_atomic

sys.path.insert(0, str(Path(__file__).resolve().parent))
from train_throughput import build_network, fake_batch, make_train_step, useful_forward_flops  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "gpu_throughput.md"


@dataclass(frozen=True)
class Variant:
    """One way of running the network: what the config says, and how the benchmark does it."""

    name: str
    config: str
    dtype: torch.dtype | None = None  # autocast type; None: float32
    tf32: bool = False
    channels_last: bool = True
    compiled: bool = False

    @property
    def peak(self) -> str:
        """Which dense-convolution peak the variant is measured against."""
        return {None: "tf32" if self.tf32 else "float32", torch.bfloat16: "bfloat16", torch.float16: "float16"}[self.dtype]


VARIANTS = (
    Variant("float32", "trainer.precision: 32-true, TF32 off (torch.backends.cudnn.allow_tf32 = False)"),
    Variant("TF32", "32-true as torch runs convolutions by default (cudnn.allow_tf32), matrix products too", tf32=True),
    Variant("bf16", "trainer.precision: bf16-mixed", dtype=torch.bfloat16),
    Variant("bf16 contiguous", "bf16-mixed, model.params.channels_last: false", dtype=torch.bfloat16, channels_last=False),
    Variant("fp16", "trainer.precision: 16-mixed (with a gradient scaler)", dtype=torch.float16),
    Variant("bf16 compiled", "bf16-mixed, trainer.compile: true", dtype=torch.bfloat16, compiled=True),
)


@contextlib.contextmanager
def tf32(enabled: bool) -> Iterator[None]:
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = enabled
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


def gpu_seconds(function: Callable[[], object], repeats: int) -> float:
    """Median wall-clock seconds of ``function`` over ``repeats`` calls, the GPU drained around each."""
    times = []
    for _ in range(repeats):
        torch.cuda.synchronize()
        start = time.perf_counter()
        function()
        torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def dense_conv_peak(kind: str) -> float:
    """TFLOP/s of a dense 3x3 conv2d (batch 256, 64 -> 64, 64x64, channels-last) at precision ``kind``."""
    dtype = {"float32": torch.float32, "tf32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[kind]
    x = torch.randn(256, 64, 64, 64, device="cuda", dtype=dtype).contiguous(memory_format=torch.channels_last)
    w = torch.randn(64, 64, 3, 3, device="cuda", dtype=dtype).contiguous(memory_format=torch.channels_last)
    with tf32(kind == "tf32"), torch.inference_mode():
        for _ in range(3):
            F.conv2d(x, w, padding=1)
        seconds = gpu_seconds(lambda: F.conv2d(x, w, padding=1), 20)
    return 2 * 256 * 64 * 64 * 9 * 64 * 64 / seconds / 1e12


def measure(variant: Variant, args: argparse.Namespace, lattice: Lattice) -> dict[str, float]:
    """Images/s of training and inference, the first step and pass's seconds (with ``compiled``: compilation),
    and the largest deviation of the first pass's log-energy from the float32 network's."""
    network = build_network(lattice, args.depth, args.local_head, args.seed, channels_last=variant.channels_last).cuda()
    images, targets = fake_batch(lattice, args.batch, args.seed)
    images, targets = images.cuda(), {key: value.cuda() for key, value in targets.items()}
    with torch.no_grad(), tf32(False):
        reference = network.eval()(images)["energy"].float()
    if variant.compiled:
        network.compile()
    autocast = torch.autocast("cuda", dtype=variant.dtype or torch.float32, enabled=variant.dtype is not None)
    scaler = torch.amp.GradScaler("cuda") if variant.dtype is torch.float16 else None
    train_step = make_train_step(network, images, targets, scaler=scaler)

    def train() -> None:
        with autocast:
            train_step()

    def infer() -> torch.Tensor:
        network.eval()
        with torch.inference_mode(), autocast:
            return network(images)["energy"].float()

    with tf32(variant.tf32):
        outputs: list[torch.Tensor] = []  # the first pass's, for the deviation
        first = gpu_seconds(lambda: outputs.append(infer()), 1) + gpu_seconds(train, 1)
        for _ in range(args.warmup):
            train()
            infer()
        train_seconds, infer_seconds = gpu_seconds(train, args.repeats), gpu_seconds(infer, args.repeats)
    deviation = (outputs[0] - reference).abs().max().item()
    return {"train": train_seconds, "infer": infer_seconds, "first": first, "deviation": deviation}


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=256, help="images per step (default 256)")
    parser.add_argument("--depth", type=int, default=56, help="ResNet depth 6n+2 (default 56)")
    parser.add_argument("--local-head", choices=("full", "light"), default="full", help="physics head (default full)")
    parser.add_argument("--repeats", type=int, default=20, help="timed steps and passes per variant (default 20)")
    parser.add_argument("--warmup", type=int, default=5, help="untimed steps first (default 5)")
    parser.add_argument("--variants", default=",".join(v.name for v in VARIANTS), help="comma-separated names (default all)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", type=Path, default=RESULTS, help=f"markdown table (default {RESULTS})")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_arguments(argv)
    if not torch.cuda.is_available():
        raise SystemExit("gpu_throughput.py needs a CUDA GPU (torch.cuda.is_available() is False)")
    chosen = [v for v in VARIANTS if v.name in {name.strip() for name in args.variants.split(",")}]
    lattice = Lattice.from_camera(lst_camera())
    network = build_network(lattice, args.depth, args.local_head, args.seed)
    forward_flops = useful_forward_flops(network, fake_batch(lattice, 8, args.seed)[0]) / 8 * args.batch
    peaks = {kind: dense_conv_peak(kind) for kind in {v.peak for v in chosen}}
    results = {}
    for variant in chosen:
        results[variant.name] = measure(variant, args, lattice)
        print(f"{variant.name} done", file=sys.stderr)
    table = report(args, chosen, results, peaks, forward_flops)
    print(table)
    write_text_atomic(args.output, table)
    print(f"written to {args.output}")


def report(args: argparse.Namespace, chosen: list[Variant], results: dict[str, dict[str, float]],
           peaks: dict[str, float], forward_flops: float) -> str:
    reference = results[chosen[0].name]
    rows = []
    for variant in chosen:
        result = results[variant.name]
        cells = []
        for mode, flops in (("train", 3 * forward_flops), ("infer", forward_flops)):
            rate = flops / result[mode] / 1e12
            cells.append(f"{args.batch / result[mode]:,.0f} | {reference[mode] / result[mode]:.2f}x | {rate / peaks[variant.peak]:.1%}")
        rows.append(f"| {variant.name} | {variant.config} | {' | '.join(cells)} | {result['first']:.1f} | {result['deviation']:.1e} |")
    peak_text = ", ".join(f"{kind} {rate:.1f} TFLOP/s" for kind, rate in peaks.items())
    return (
        f"# gamma-PhysNet-DA (ResNet-{args.depth}, {args.local_head} head) on a GPU: {torch.cuda.get_device_name()}\n\n"
        f"`python benchmarks/gpu_throughput.py` — batch {args.batch}, torch {torch.__version__}; medians of "
        f"{args.repeats} steps / passes after {args.warmup} warm-up ones; useful forward work "
        f"{forward_flops / args.batch / 1e6:.0f} MFLOP/image. Dense conv2d peaks measured in this run: {peak_text}. "
        f"Speed-ups against the first row; deviation: largest |log-energy - float32's| of the same weights (eval mode).\n\n"
        "| variant | config | training images/s | speed-up | of the peak | inference images/s | speed-up | of the peak "
        "| first step + pass [s] | deviation |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n"
        + "\n".join(rows) + "\n"
    )


if __name__ == "__main__":
    main()
