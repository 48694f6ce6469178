"""Inference speed of the exported attention networks: PyTorch against the ONNX file (onnxruntime) and the
TorchScript file of the same network, on the same batches.

The networks are those of the examples, at their configured size and with untrained weights (the speed does
not depend on them): the calorimeter transformer with the attention bias (``examples/calorimeter_transformer.yaml``)
on events of 6-24 hits padded to 32, and the collider multi-scale transformer with pairwise features within
and between the streams (``examples/collider_multiscale_pairwise.yaml``) on 20-32 constituents of 14 features and
4-10 objects of 13 (the default features). Each is exported with ``showerlearn.engine.exported.export_network``
(its check against PyTorch included), then the three run in interleaved rounds on the same batches, PyTorch
under ``torch.no_grad`` with this process's threads, onnxruntime with its CPU provider's default threads; the
table gives the median rate over the rounds and its ratio to PyTorch's, measured in the same run.

    python benchmarks/export_throughput.py                   # about two minutes
"""

from __future__ import annotations

import argparse
import inspect
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch import Tensor, nn

from showerlearn.calorimeter.data import HIT_FEATURES, FeatureSpec
from showerlearn.calorimeter.models import HitTransformer
from showerlearn.collider.data.streams import DEFAULT_CONSTITUENT_FEATURES, DEFAULT_OBJECT_FEATURES
from showerlearn.config import load_config
from showerlearn.engine.exported import export_network, load_exported
from showerlearn.io.atomic import write_text_atomic
from showerlearn.registry import MODELS

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import command_line, cpu_model, load_average  # noqa: E402  (benchmarks/ is not a package)

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "export_throughput.md"
Batch = dict[str, Tensor]


def _padded(generator: torch.Generator, size: int, slots: int, fewest: int, features: int, stream: str) -> Batch:
    counts = torch.randint(fewest, slots + 1, (size,), generator=generator)
    return {stream: torch.randn(size, slots, features, generator=generator), f"{stream}_mask": torch.arange(slots)[None] < counts[:, None]}


def _p4(generator: torch.Generator, size: int, slots: int) -> Tensor:
    pt = 1.0 + 100.0 * torch.rand(size, slots, generator=generator)
    eta, phi = 4.0 * torch.rand(size, slots, generator=generator) - 2.0, 6.2 * torch.rand(size, slots, generator=generator) - 3.1
    return torch.stack([pt, eta, phi, pt * torch.cosh(eta) * 1.05], dim=-1)


def calorimeter(batch_size: int) -> tuple[nn.Module, Callable[[int], Batch]]:
    params = load_config(ROOT / "examples" / "calorimeter_transformer.yaml").model.params
    spec = FeatureSpec(HIT_FEATURES, (0.0,) * len(HIT_FEATURES), (1.0,) * len(HIT_FEATURES))
    network = HitTransformer(spec, **params)

    def batch(seed: int) -> Batch:
        return _padded(torch.Generator().manual_seed(seed), batch_size, 32, 6, len(HIT_FEATURES), "hits")

    return network, batch


def collider(batch_size: int) -> tuple[nn.Module, Callable[[int], Batch]]:
    model = load_config(ROOT / "examples" / "collider_multiscale_pairwise.yaml").model
    factory = MODELS.get(model.name)
    sizes = {"constituent_features": len(DEFAULT_CONSTITUENT_FEATURES), "object_features": len(DEFAULT_OBJECT_FEATURES),
             "n_classes": 2, "n_constituents": 32, "n_objects": 10}
    accepted = inspect.signature(factory).parameters
    network = factory(**{k: v for k, v in sizes.items() if k in accepted}, **model.params)

    def batch(seed: int) -> Batch:
        generator = torch.Generator().manual_seed(seed)
        streams = {**_padded(generator, batch_size, 32, 20, sizes["constituent_features"], "constituents"),
                   **_padded(generator, batch_size, 10, 4, sizes["object_features"], "objects")}
        return {**streams, "constituents_p4": _p4(generator, batch_size, 32), "objects_p4": _p4(generator, batch_size, 10)}

    return network, batch


NETWORKS = {
    "calorimeter transformer + attention bias": calorimeter,
    "collider multi-scale transformer + pairwise features": collider,
}


def _rate(run: Callable[[Batch], object], batches: list[Batch]) -> float:
    start = time.perf_counter()
    for inputs in batches:
        run(inputs)
    return sum(len(next(iter(b.values()))) for b in batches) / (time.perf_counter() - start)


def measure(name: str, batch_size: int, n_batches: int, rounds: int, scratch: Path) -> list[tuple[str, str, float, float]]:
    torch.manual_seed(0)
    network, make = NETWORKS[name](batch_size)
    network.eval()
    batches = [make(seed) for seed in range(n_batches)]
    implementations: dict[str, Callable[[Batch], object]] = {}

    def pytorch(inputs: Batch) -> object:
        with torch.no_grad():
            return network(inputs)

    implementations["PyTorch (eager)"] = pytorch
    differences = {"PyTorch (eager)": 0.0}
    for label, format, suffix in (("ONNX (onnxruntime)", "onnx", ".onnx"), ("TorchScript", "torchscript", ".pt")):
        exported = export_network(network, batches[:2], scratch / f"{name.split()[0]}{suffix}", format)
        implementations[label] = load_exported(exported.path)
        differences[label] = exported.check.max_abs_diff
    for run in implementations.values():  # warm-up: first-call allocations, onnxruntime's graph optimisation and
        for inputs in batches[:3]:  # TorchScript's profiling runs, which specialise the graph before it is optimised
            run(inputs)
    rates: dict[str, list[float]] = {label: [] for label in implementations}
    for _ in range(rounds):
        for label, run in implementations.items():
            rates[label].append(_rate(run, batches))
    reference = statistics.median(rates["PyTorch (eager)"])
    return [(label, f"{statistics.median(r):,.0f}", statistics.median(r) / reference, differences[label]) for label, r in rates.items()]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch-size", type=int, default=256, help="events per batch (default 256)")
    parser.add_argument("--batches", type=int, default=8, help="batches per round (default 8)")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (default 5)")
    parser.add_argument("--output", type=Path, default=RESULTS, help=f"markdown table (default {RESULTS})")
    args = parser.parse_args(argv)
    lines = ["| network | implementation | events/s | vs PyTorch | max. difference to PyTorch |", "|---|---|---:|---:|---:|"]
    with tempfile.TemporaryDirectory() as scratch:
        for name in NETWORKS:
            for label, rate, ratio, difference in measure(name, args.batch_size, args.batches, args.rounds, Path(scratch)):
                lines.append(f"| {name} | {label} | {rate} | {ratio:.2f} | {difference:.1e} |")
    text = (
        "# Inference speed of the exported attention networks\n\n"
        f"Command: `{command_line()}`. See the module docstring of `benchmarks/export_throughput.py`. Batches of "
        f"{args.batch_size} events, {args.batches} batches per round, median of {args.rounds} interleaved rounds; "
        f"torch {torch.__version__} with {torch.get_num_threads()} threads. Machine: {cpu_model()}, load average "
        f"{load_average() or 0:.1f} at the end.\n\n" + "\n".join(lines) + "\n"
    )
    print(text)
    write_text_atomic(args.output, text)


if __name__ == "__main__":
    main()
