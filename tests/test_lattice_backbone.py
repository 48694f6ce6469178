"""LatticeResNet: the dense 2-D-layout path equals the indexed path and indexedconv's ResNet; hooks and stages."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from showerlearn.iact.geometry import Lattice, lst_camera, upsample_to_pixels
from showerlearn.iact.nn import LatticeResNet


@pytest.fixture(scope="module")
def lattice() -> Lattice:
    return Lattice.from_camera(lst_camera())


def _pair(lattice: Lattice, **kwargs: object) -> tuple[LatticeResNet, LatticeResNet]:
    torch.manual_seed(0)
    indexed = LatticeResNet(lattice, 2, implementation="indexed", **kwargs).double()
    dense = LatticeResNet(lattice, 2, implementation="dense", **kwargs).double()
    dense.load_state_dict(indexed.state_dict())
    return indexed, dense


@pytest.mark.parametrize("pool", ["max", "avg"])
def test_dense_layout_equals_indexed(lattice: Lattice, pool: str) -> None:
    indexed, dense = _pair(lattice, depth=8, widths=(4, 6, 8), pool=pool)
    assert LatticeResNet(lattice, 2, depth=8).implementation == "dense"  # auto on the LST camera
    x = torch.randn(3, 2, lattice.n_pixels, dtype=torch.float64) * 5 + 1
    outputs = []
    for model in (indexed, dense):
        out = model(x)
        out.square().mean().backward()
        outputs.append(out)
    assert outputs[0].shape == (3, 8, indexed.out_lattice.n_pixels)
    assert (outputs[0] - outputs[1]).abs().max() < 1e-10
    for (name, p), q in zip(indexed.named_parameters(), dense.parameters(), strict=True):
        assert torch.allclose(p.grad, q.grad, rtol=1e-8, atol=1e-10), name
    for (name, a), b in zip(indexed.named_buffers(), dense.buffers(), strict=True):
        assert torch.allclose(a.double(), b.double(), atol=1e-10), name  # running statistics
    indexed.eval()
    dense.eval()
    assert (indexed(x) - dense(x)).abs().max() < 1e-10


def test_stage_hook_and_stage_outputs(lattice: Lattice) -> None:
    calls = []

    def hook(index: int, channels: int, stage_lattice: Lattice) -> nn.Module | None:
        calls.append((index, channels, stage_lattice.n_pixels))
        if index == 1:
            return None
        return nn.Conv1d(channels, channels, 1)  # acts on (B, C, N)

    indexed, dense = _pair(lattice, depth=8, widths=(4, 6, 8), stage_hook=hook)
    assert calls[:3] == [(0, 4, 1855), (1, 6, 462), (2, 8, 117)]
    assert [s.n_pixels for s in dense.stage_lattices] == [1855, 462, 117]
    assert dense.out_channels == 8 and dense.out_lattice is dense.stage_lattices[-1]
    x = torch.randn(2, 2, lattice.n_pixels, dtype=torch.float64)
    stages = dense.forward_stages(x)
    assert [tuple(s.shape) for s in stages] == [(2, 4, 1855), (2, 6, 462), (2, 8, 117)]
    for a, b in zip(indexed.forward_stages(x), stages, strict=True):
        assert (a - b).abs().max() < 1e-10
    # a stage map projects back onto the camera pixels through the pooling hierarchy
    on_camera = upsample_to_pixels(stages[2], dense.levels)
    assert on_camera.shape == (2, 8, 1855)
    centres = dense.levels[0].kept[dense.levels[1].kept]
    assert torch.equal(on_camera[..., centres], stages[2])
    # the hook is really applied: replacing it changes the output
    with torch.no_grad():
        before = dense(x)
        dense.hooks[0].weight.mul_(2)
        assert not torch.allclose(before, dense(x))


def test_depth_validation(lattice: Lattice) -> None:
    with pytest.raises(ValueError, match="6 n \\+ 2"):
        LatticeResNet(lattice, 2, depth=51)
    assert sum(isinstance(m, nn.Module) for m in LatticeResNet(lattice, 2, depth=56).stages[0]) == 9


def test_equals_indexedconv_resnet(lattice: Lattice) -> None:
    pytest.importorskip("indexedconv", reason="indexedconv not installed (pip install --no-deps indexedconv)")
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from _indexedconv_resnet import build_indexedconv_resnet

    torch.manual_seed(1)
    ours = LatticeResNet(lattice, 2, depth=8, widths=(4, 6, 8)).double()
    reference = build_indexedconv_resnet(lattice, 2, depth=8, widths=(4, 6, 8)).double()
    missing, unexpected = reference.load_state_dict(ours.state_dict(), strict=False)
    assert not unexpected and all(key.endswith(("indices_", "mask_")) for key in missing)
    x = torch.randn(3, 2, lattice.n_pixels, dtype=torch.float64)
    assert (ours(x) - reference(x)).abs().max() < 1e-10
