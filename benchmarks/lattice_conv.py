"""Lattice convolution speed on the LST camera: showerlearn's implementations against indexedconv.

Run: ``python benchmarks/lattice_conv.py`` (about 5-15 minutes on 2 threads; ``--quick`` for a smoke run).

Measures, for each implementation, the median over ``--repeats`` runs (after one warm-up) of

* one lattice convolution layer (radius 1, 7-pixel hexagon), batch 64 and 256, 16->16 and 64->64
  channels: forward (no grad) and forward+backward time, achieved GFLOP/s (useful multiply-adds of the
  7-pixel kernel only: 2 B N C_in C_out 7 per forward, 3x that for forward+backward), speed-up over
  indexedconv;
* the ResNet-56-style backbone (``LatticeResNet`` against the same network made of indexedconv layers,
  ``benchmarks/_indexedconv_resnet.py``): train step (forward, backward, SGD step) and inference, images/s.

Implementations: ``indexedconv`` (the reference), ``indexed`` (our gather + one GEMM), ``dense``
(scatter to the index matrix, conv2d, gather: the ``(B, C, N)`` layer API), ``dense 2-D kept`` (the
same convolution on activations already in the 2-D layout, as inside ``LatticeResNet``). Outputs are
checked against indexedconv with copied weights before timing. Writes the markdown table to
``benchmarks/results/lattice_conv_run.md`` (``lattice_conv.md`` summarises the committed runs).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))

from showerlearn.iact.geometry import Lattice, lst_camera  # noqa: E402
from showerlearn.io import write_text_atomic  # noqa: E402
from showerlearn.iact.nn import LatticeConv, LatticeResNet  # noqa: E402

from _machine import cpu_model  # noqa: E402
from _summary import Figure, write_summary  # noqa: E402

# the run's own table; results/lattice_conv.md is the summary of the committed runs (quiet and shared machine)
RESULTS = Path(__file__).resolve().parent / "results" / "lattice_conv_run.md"


def median_ms(function: Callable[[], object], repeats: int) -> float:
    function()  # warm-up: allocator, oneDNN primitive cache
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times)


def layer_rows(lattice: Lattice, batch: int, channels: int, repeats: int, with_indexedconv: bool) -> list[dict]:
    torch.manual_seed(0)
    conv = LatticeConv(channels, channels, lattice)
    x = torch.randn(batch, channels, lattice.n_pixels)
    candidates: dict[str, tuple[nn.Module | Callable, torch.Tensor]] = {}
    if with_indexedconv:
        from indexedconv.engine import IndexedConv

        reference = IndexedConv(channels, channels, torch.as_tensor(lattice.neighbours(1).T.copy()))
        with torch.no_grad():
            reference.weight.copy_(conv.weight)
            reference.bias.copy_(conv.bias)
        candidates["indexedconv"] = (reference, x)
    for implementation in ("indexed", "dense"):
        layer = LatticeConv(channels, channels, lattice, implementation=implementation)
        layer.load_state_dict(conv.state_dict())
        candidates[implementation] = (layer, x)
    kept = LatticeConv(channels, channels, lattice, implementation="dense")
    kept.load_state_dict(conv.state_dict())
    candidates["dense 2-D kept"] = (kept.forward_grid, kept.layout.scatter(x).detach())
    flops = 2 * batch * lattice.n_pixels * channels * channels * 7
    expected = candidates["indexed"][0](x).detach()
    rows = []
    for name, (function, inputs) in candidates.items():
        with torch.no_grad():
            out = function(inputs)
            if name == "dense 2-D kept":
                out = kept.layout.gather(out)
            error = (out - expected).abs().max().item()
        if error > 1e-3:
            raise AssertionError(f"{name} differs from the indexed implementation by {error}")
        leaf = inputs.clone().requires_grad_(True)

        def forward(function: Callable = function, inputs: torch.Tensor = inputs) -> None:
            with torch.no_grad():
                function(inputs)

        def forward_backward(function: Callable = function, leaf: torch.Tensor = leaf) -> None:
            function(leaf).sum().backward()

        fwd = median_ms(forward, repeats)
        fwd_bwd = median_ms(forward_backward, repeats)
        rows.append(
            {
                "batch": batch,
                "channels": f"{channels}->{channels}",
                "implementation": name,
                "fwd_ms": fwd,
                "fwd_bwd_ms": fwd_bwd,
                "gflops_fwd": flops / fwd / 1e6,
                "gflops_fwd_bwd": 3 * flops / fwd_bwd / 1e6,
            }
        )
    return _add_ratios(rows, ("fwd_ms", "fwd_bwd_ms"))


def backbone_rows(lattice: Lattice, batch: int, depth: int, repeats: int, with_indexedconv: bool) -> list[dict]:
    torch.manual_seed(0)
    models: dict[str, nn.Module] = {}
    base = LatticeResNet(lattice, 2, depth=depth, implementation="indexed")
    if with_indexedconv:
        from _indexedconv_resnet import build_indexedconv_resnet

        reference = build_indexedconv_resnet(lattice, 2, depth=depth)
        reference.load_state_dict(base.state_dict(), strict=False)
        models["indexedconv"] = reference
    models["indexed"] = base
    dense = LatticeResNet(lattice, 2, depth=depth, implementation="dense")
    dense.load_state_dict(base.state_dict())
    models["dense"] = dense
    x = torch.randn(batch, 2, lattice.n_pixels)
    with torch.no_grad():
        expected = base.eval()(x)
        for name, model in models.items():
            error = (model.eval()(x) - expected).abs().max().item()
            if error > 1e-3:
                raise AssertionError(f"backbone {name} differs from the indexed implementation by {error}")
    rows = []
    for name, model in models.items():
        optimizer = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)

        def train_step(model: nn.Module = model, optimizer: torch.optim.Optimizer = optimizer) -> None:
            optimizer.zero_grad(set_to_none=True)
            model(x).square().mean().backward()
            optimizer.step()

        def inference(model: nn.Module = model) -> None:
            with torch.no_grad():
                model(x)

        model.train()
        train = median_ms(train_step, repeats)
        model.eval()
        infer = median_ms(inference, repeats)
        rows.append(
            {
                "batch": batch,
                "implementation": name,
                "train_ms": train,
                "infer_ms": infer,
                "train_img_s": 1e3 * batch / train,
                "infer_img_s": 1e3 * batch / infer,
            }
        )
    return _add_ratios(rows, ("train_ms", "infer_ms"))


def _add_ratios(rows: list[dict], keys: tuple[str, ...]) -> list[dict]:
    """Speed-up over indexedconv (its time / this time) for each timing column."""
    reference = next((row for row in rows if row["implementation"] == "indexedconv"), None)
    for row in rows:
        for key in keys:
            row[f"x_{key}"] = reference[key] / row[key] if reference else float("nan")
    return rows


def markdown(layers: list[dict], backbones: list[dict], header: list[str]) -> str:
    lines = ["# Lattice convolution benchmark (LST camera, 1855 hexagonal pixels)", "", *header, ""]
    lines += [
        "## One radius-1 layer (7-pixel hexagon)",
        "",
        "| batch | channels | implementation | fwd ms | fwd+bwd ms | fwd GFLOP/s | fwd+bwd GFLOP/s | fwd x indexedconv | fwd+bwd x indexedconv |",
        "|---:|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in layers:
        lines.append(
            f"| {r['batch']} | {r['channels']} | {r['implementation']} | {r['fwd_ms']:.1f} | {r['fwd_bwd_ms']:.1f} | "
            f"{r['gflops_fwd']:.1f} | {r['gflops_fwd_bwd']:.1f} | {r['x_fwd_ms']:.2f} | {r['x_fwd_bwd_ms']:.2f} |"
        )
    if backbones:
        lines += [
            "",
            "## ResNet-56-style backbone (pre-activation, widths 16/32/64, 2 input channels)",
            "",
            "| batch | implementation | train step ms | train img/s | inference ms | inference img/s | train x indexedconv | inference x indexedconv |",
            "|---:|---|---:|---:|---:|---:|---:|---:|",
        ]
        for r in backbones:
            lines.append(
                f"| {r['batch']} | {r['implementation']} | {r['train_ms']:.0f} | {r['train_img_s']:.0f} | "
                f"{r['infer_ms']:.0f} | {r['infer_img_s']:.0f} | {r['x_train_ms']:.2f} | {r['x_infer_ms']:.2f} |"
            )
    return "\n".join(lines) + "\n"


def summary_figures(layers: list[dict], backbones: list[dict], depth: int) -> list[Figure]:
    """The headline figures: the layer and the backbone as the LST camera gets them (``implementation="auto"``
    picks ``dense`` there) against indexedconv, forward+backward for the layer."""
    figures = []
    for row in (r for r in layers if r["implementation"] == "dense"):
        reference, kept = _twin(layers, row, "indexedconv"), _twin(layers, row, "dense 2-D kept")
        note = f"{kept['x_fwd_bwd_ms']:.2f}x indexedconv with the 2-D layout kept, as inside the backbone" if reference else ""
        figures.append(Figure(
            "lattice_conv", f"layer {row['channels']}, batch {row['batch']}, forward+backward", row["gflops_fwd_bwd"],
            "GFLOP/s", "indexedconv", reference and reference["gflops_fwd_bwd"], note,
        ))  # fmt: skip
    for row in (r for r in backbones if r["implementation"] == "dense"):
        reference = _twin(backbones, row, "indexedconv")
        for key, mode in (("train_img_s", "train step"), ("infer_img_s", "inference")):
            figures.append(Figure(
                "lattice_conv", f"ResNet-{depth} backbone, batch {row['batch']}, {mode}", row[key], "images/s",
                "indexedconv", reference and reference[key],
            ))  # fmt: skip
    return figures


def _twin(rows: list[dict], row: dict, implementation: str) -> dict | None:
    """The row of ``implementation`` measured on the same batch (and channels) as ``row``."""
    same = (r for r in rows if r["batch"] == row["batch"] and r.get("channels") == row.get("channels"))
    return next((r for r in same if r["implementation"] == implementation), None)


def machine_header(threads: int, repeats: int) -> list[str]:
    load = " ".join(f"{v:.1f}" for v in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"
    return [
        f"- CPU: {cpu_model()} ({os.cpu_count()} logical cores), torch {torch.__version__}, {threads} threads, "
        f"median of {repeats} runs after a warm-up",
        f"- load average at start: {load}",
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads (default 2)")
    parser.add_argument("--batches", type=int, nargs="+", default=[64, 256], help="layer batch sizes")
    parser.add_argument("--channels", type=int, nargs="+", default=[16, 64], help="layer channels (C -> C)")
    parser.add_argument("--backbone-batches", type=int, nargs="*", default=[64], help="backbone batch sizes (none: skip)")
    parser.add_argument("--depth", type=int, default=56, help="backbone depth (6 n + 2)")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per measurement (median)")
    parser.add_argument("--quick", action="store_true", help="smoke run: batch 8, depth 8, 2 repeats")
    parser.add_argument("--output", type=Path, default=RESULTS, help=f"markdown table (default {RESULTS})")
    parser.add_argument("--summary", type=Path, help="also write the headline figures as JSON (for run_all.py)")
    args = parser.parse_args(argv)
    if args.quick:
        args.batches, args.backbone_batches, args.depth, args.repeats = [8], [8], 8, 2
    torch.set_num_threads(args.threads)
    try:
        import indexedconv  # noqa: F401

        with_indexedconv = True
    except ImportError:
        print("indexedconv not installed (pip install --no-deps indexedconv): no reference, ratios are NaN")
        with_indexedconv = False
    lattice = Lattice.from_camera(lst_camera())
    header = machine_header(args.threads, args.repeats)
    print("\n".join(header), flush=True)
    layers = []
    for batch in args.batches:
        for channels in args.channels:
            layers += layer_rows(lattice, batch, channels, args.repeats, with_indexedconv)
            print(f"layer batch {batch} {channels}->{channels}: " + ", ".join(f"{r['implementation']} {r['fwd_bwd_ms']:.1f} ms" for r in layers[-4:]), flush=True)
    backbones = []
    for batch in args.backbone_batches:
        backbones += backbone_rows(lattice, batch, args.depth, args.repeats, with_indexedconv)
    load = " ".join(f"{v:.1f}" for v in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"
    header.append(f"- load average at end: {load}")
    text = markdown(layers, backbones, header)
    print(text)
    write_text_atomic(args.output, text)
    print(f"written to {args.output}")
    if args.summary:
        write_summary(args.summary, summary_figures(layers, backbones, args.depth))


if __name__ == "__main__":
    main()
