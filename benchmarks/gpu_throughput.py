"""Training and inference throughput of gamma-PhysNet-DA (ResNet-56) on the LST camera on a CUDA GPU, with
each of the config's GPU switches.

The same network and loss as ``train_throughput.py`` (its CPU counterpart), on the GPU in float32 with
``trainer.tf32: false`` (the reference), with torch's defaults (``trainer.tf32: null``: TF32 convolutions,
float32 matrix products), with ``trainer.tf32: true``, with ``trainer.precision: bf16-mixed`` and ``16-mixed``
(float16 with a gradient scaler, as Lightning trains it), each of TF32 and bf16 also with
``model.params.channels_last: false``, and compiled (``trainer.compile: true``) in bf16. The forward pass
and loss run under autocast, as Lightning runs them. Each variant's first output is compared with the
reference's (same random weights and images, eval mode): how far a switch moves the outputs of an
untrained network, in units of their spread.

The achieved rate counts useful floating-point operations only (as in ``train_throughput.py``) and is compared
with the rate of a dense ``conv2d`` (batch 256, 64 -> 64 channels, 3x3, 64x64; the faster of the contiguous
and the channels-last layout) measured in the same run at the variant's precision. The dense lattice layout
computes the 3x3 kernel for 7 hexagonal pixels on every cell of its index matrix, 61 % of which hold a pixel
on the LST camera: about 7/9 x 61 % = 47 % of the peak is the most that can be useful work.

Run ``python benchmarks/gpu_throughput.py --help`` on a machine with a CUDA GPU.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import torch
import torch.nn.functional as F

from showerlearn.config.schema import TrainerConfig
from showerlearn.engine.speed import compile_network, tf32
from showerlearn.iact.geometry import Lattice, lst_camera
from showerlearn.io.atomic import write_text_atomic

sys.path.insert(0, str(Path(__file__).resolve().parent))
from train_throughput import build_network, fake_batch, make_train_step, useful_forward_flops  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "gpu_throughput.md"
PEAK_DTYPES = {"float32": torch.float32, "tf32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


@dataclass(frozen=True)
class Variant:
    """One way of running the network: what the config says, and how the benchmark does it."""

    name: str
    config: str
    dtype: torch.dtype | None = None  # autocast type; None: float32
    tf32: bool | None = False  # trainer.tf32 (None: torch's defaults, TF32 convolutions)
    channels_last: bool = True
    compiled: bool = False

    @property
    def peak(self) -> str:
        """Which dense-convolution peak the variant is measured against (its convolutions' precision)."""
        if self.dtype is not None:
            return {torch.bfloat16: "bfloat16", torch.float16: "float16"}[self.dtype]
        return "float32" if self.tf32 is False else "tf32"


VARIANTS = (
    Variant("float32", "trainer.tf32: false"),
    Variant("torch defaults", "trainer.tf32: null (TF32 convolutions, float32 matrix products)", tf32=None),
    Variant("TF32", "trainer.tf32: true", tf32=True),
    Variant("TF32 contiguous", "trainer.tf32: true, model.params.channels_last: false", tf32=True, channels_last=False),
    Variant("bf16", "trainer.precision: bf16-mixed", dtype=torch.bfloat16, tf32=None),
    Variant("bf16 contiguous", "bf16-mixed, model.params.channels_last: false", dtype=torch.bfloat16, tf32=None, channels_last=False),
    Variant("fp16", "trainer.precision: 16-mixed (with a gradient scaler)", dtype=torch.float16, tf32=None),
    Variant("bf16 compiled", "bf16-mixed, trainer.compile: true", dtype=torch.bfloat16, compiled=True, tf32=None),
)


def tf32_setting(enabled: bool | None) -> AbstractContextManager[None]:
    """The TF32 flags of ``trainer.tf32``: None leaves torch's defaults."""
    return nullcontext() if enabled is None else tf32(enabled)


def gpu_seconds(function: Callable[[], object], calls: int = 1) -> float:
    """Wall-clock seconds per call of ``calls`` calls of ``function`` in a row, the GPU drained before and after."""
    torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(calls):
        function()
    torch.cuda.synchronize()
    return (time.perf_counter() - start) / calls


def dense_conv_peak(kind: str) -> float:
    """TFLOP/s of a dense 3x3 conv2d (batch 256, 64 -> 64, 64x64) at precision ``kind``: the faster layout, best
    of 5 rounds of 20 back-to-back calls."""
    dtype, rates = PEAK_DTYPES[kind], []
    flops = 2 * 256 * 64 * 64 * 9 * 64 * 64
    for layout in (torch.contiguous_format, torch.channels_last):
        x = torch.randn(256, 64, 64, 64, device="cuda", dtype=dtype).contiguous(memory_format=layout)
        w = torch.randn(64, 64, 3, 3, device="cuda", dtype=dtype).contiguous(memory_format=layout)
        with tf32(kind == "tf32"), torch.inference_mode():
            convolution = partial(F.conv2d, x, w, padding=1)
            gpu_seconds(convolution, 3)
            rates += [flops / gpu_seconds(convolution, 20) / 1e12 for _ in range(5)]
    return max(rates)


def measure(variant: Variant, args: argparse.Namespace, lattice: Lattice, kernels: Path) -> dict[str, float]:
    """Seconds per training step and inference pass, the first pass and step's seconds (compiled: compilation
    into the empty folder ``kernels``), and the first output's largest deviation from the reference's."""
    network = build_network(lattice, args.depth, args.local_head, args.seed, channels_last=variant.channels_last).cuda()
    images, targets = fake_batch(lattice, args.batch, args.seed)
    images, targets = images.cuda(), {key: value.cuda() for key, value in targets.items()}
    with torch.no_grad(), tf32(False):
        reference = network.eval()(images)["energy"].float()
    if variant.compiled:
        compile_network(network, TrainerConfig(compile=True, compile_cache=kernels))
    autocast = (
        partial(torch.autocast, "cuda", dtype=variant.dtype) if variant.dtype is not None else nullcontext
    )  # fmt: skip
    scaler = torch.amp.GradScaler("cuda") if variant.dtype is torch.float16 else None
    train = make_train_step(network, images, targets, scaler=scaler, autocast=autocast)

    def infer() -> torch.Tensor:
        network.eval()
        with torch.inference_mode(), autocast():
            return network(images)["energy"].float()

    with tf32_setting(variant.tf32):
        outputs: list[torch.Tensor] = []  # the first pass's, for the deviation
        first = gpu_seconds(lambda: outputs.append(infer())) + gpu_seconds(train)
        for _ in range(args.warmup):
            train()
            infer()
        train_seconds = statistics.median(gpu_seconds(train) for _ in range(args.repeats))
        infer_seconds = statistics.median(gpu_seconds(infer) for _ in range(args.repeats))
    deviation = ((outputs[0] - reference).abs().max() / reference.std()).item()
    return {"train": train_seconds, "infer": infer_seconds, "first": first, "deviation": deviation}


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=256, help="images per step (default 256)")
    parser.add_argument("--depth", type=int, default=56, help="ResNet depth 6n+2 (default 56)")
    parser.add_argument("--local-head", choices=("full", "light"), default="full", help="physics head (default full)")
    parser.add_argument("--repeats", type=int, default=20, help="timed steps and passes per variant (default 20)")
    parser.add_argument("--warmup", type=int, default=5, help="untimed steps and passes first (default 5)")
    names = [v.name for v in VARIANTS]
    parser.add_argument("--variants", default=",".join(names), help=f"comma-separated, of {names} (default all)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", type=Path, default=RESULTS, help=f"markdown table (default {RESULTS})")
    args = parser.parse_args(argv)
    args.variants = [name.strip() for name in args.variants.split(",")]
    unknown = sorted(set(args.variants) - set(names))
    if unknown or not args.variants:
        parser.error(f"--variants: unknown {unknown}; choose among {names}")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_arguments(argv)
    if not torch.cuda.is_available():
        raise SystemExit("gpu_throughput.py needs a CUDA GPU (torch.cuda.is_available() is False)")
    chosen = [v for v in VARIANTS if v.name in args.variants]
    lattice = Lattice.from_camera(lst_camera())
    images = fake_batch(lattice, 8, args.seed)[0]
    forward_flops = useful_forward_flops(build_network(lattice, args.depth, args.local_head, args.seed), images) / 8 * args.batch
    peaks = {kind: dense_conv_peak(kind) for kind in dict.fromkeys(v.peak for v in chosen)}  # also wakes CUDA up
    results = {}
    with tempfile.TemporaryDirectory(prefix="gpu_throughput_kernels_") as kernels:
        for variant in chosen:
            results[variant.name] = measure(variant, args, lattice, Path(kernels) / variant.name.replace(" ", "_"))
            print(f"{variant.name} done", file=sys.stderr)
    table = report(args, chosen, results, peaks, forward_flops)
    print(table)
    write_text_atomic(args.output, table)
    print(f"written to {args.output}")


def report(args: argparse.Namespace, chosen: list[Variant], results: dict[str, dict[str, float]],
           peaks: dict[str, float], forward_flops: float) -> str:
    """The markdown table: speed-ups against the first variant chosen."""
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
        f"`python benchmarks/gpu_throughput.py` — batch {args.batch}, torch {torch.__version__}, CUDA "
        f"{torch.version.cuda}, cuDNN {torch.backends.cudnn.version()}; medians of {args.repeats} steps / passes "
        f"after {args.warmup} warm-up ones; useful forward work {forward_flops / args.batch / 1e6:.0f} MFLOP/image "
        f"(at most about 47 % of a dense peak can be useful work on this camera). Dense conv2d peaks measured in "
        f"this run: {peak_text}. Speed-ups against the first row; first pass + step: compilation included where "
        "compiled; deviation: largest |log-energy - the first row's| of the first pass, in units of its spread "
        "(an untrained network: same random weights and images, eval mode).\n\n"
        "| variant | config | training images/s | speed-up | of the peak | inference images/s | speed-up | of the peak "
        "| first pass + step [s] | deviation |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n"
        + "\n".join(rows) + "\n"
    )


if __name__ == "__main__":
    main()
