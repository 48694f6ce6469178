"""LatticeResNet: the dense 2-D-layout path equals the indexed path and indexedconv's ResNet; hooks and stages."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from test_lattice_layers import LATTICES
from torch import nn

from showerlearn.iact.geometry import Lattice, lst_camera, upsample_to_pixels
from showerlearn.iact.nn import LatticeResNet
from showerlearn.iact.nn.packing import pack_images


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


@pytest.mark.parametrize("name", ["hex", "square_gaps", "lst"])
@pytest.mark.parametrize("channels_last", [True, False])
def test_images_sharing_a_grid_equal_the_indexed_path(lattice: Lattice, name: str, channels_last: bool) -> None:
    """Three images per grid (two grids for a batch of 6, one image per grid for a batch of 4, not a multiple):
    outputs, stage outputs, gradients and batch statistics equal the indexed path's, with a stage hook."""
    chosen = lattice if name == "lst" else LATTICES[name]()

    def hook(index: int, channels: int, stage_lattice: Lattice) -> nn.Module | None:
        return nn.Conv1d(channels, channels, 1) if index == 0 else None

    torch.manual_seed(0)
    options = {"depth": 8, "widths": (4, 6, 8), "stage_hook": hook, "channels_last": channels_last}
    indexed = LatticeResNet(chosen, 2, implementation="indexed", **options).double()
    shared = LatticeResNet(chosen, 2, implementation="dense", images_per_grid=3, **options).double()
    shared.load_state_dict(indexed.state_dict())
    grids: list[int] = []
    scatter = shared.shared_layouts[0].scatter
    shared.shared_layouts[0].scatter = lambda x: grids.append(x.shape[0]) or scatter(x)  # which batches shared grids
    for batch in (6, 4):
        x = torch.randn(batch, 2, chosen.n_pixels, dtype=torch.float64) * 5 + 1
        outputs = []
        for model in (indexed, shared):
            model.zero_grad()
            stages = model.forward_stages(x)
            out = model(x)
            out.square().mean().backward()
            outputs.append((out, stages))
        assert (outputs[0][0] - outputs[1][0]).abs().max() < 1e-10
        for a, b in zip(outputs[0][1], outputs[1][1], strict=True):
            assert (a - b).abs().max() < 1e-10
        for (name_, p), q in zip(indexed.named_parameters(), shared.parameters(), strict=True):
            assert torch.allclose(p.grad, q.grad, rtol=1e-8, atol=1e-10), name_
        states = shared.state_dict()
        for key, a in indexed.state_dict().items():
            assert torch.allclose(a.double(), states[key].double(), atol=1e-10), key  # running statistics
    assert grids == [6, 6]  # the batch of 6 (stage outputs, then the forward pass) in grids, the batch of 4 not


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_a_non_finite_pixel_stays_in_its_event_when_images_share_grids(lattice: Lattice, bad: float) -> None:
    """Predicting on 4 images, 2 per grid: the image with a non-finite pixel gets NaN outputs, the others what
    they get with one image per grid (before, the mask's product carried the NaN into its grid's other image)."""
    torch.manual_seed(0)
    alone = LatticeResNet(lattice, 2, depth=8, widths=(4, 6, 8), implementation="dense").double().eval()
    shared = LatticeResNet(lattice, 2, depth=8, widths=(4, 6, 8), implementation="dense", images_per_grid=2).double().eval()
    shared.load_state_dict(alone.state_dict())
    x = torch.randn(4, 2, lattice.n_pixels, dtype=torch.float64)
    x[1, 0, 100] = bad
    with torch.no_grad():
        expected, stages = alone(x), shared.forward_stages(x)
        got = shared(x)
    assert torch.isnan(got[1]).all() and all(torch.isnan(stage[1]).all() for stage in stages)
    others = [0, 2, 3]  # image 0 shares image 1's grid
    assert torch.isfinite(got[others]).all() and (got[others] - expected[others]).abs().max() < 1e-10


@pytest.mark.parametrize("images", [2, 3, 7, 16])
@pytest.mark.parametrize("name", ["hex", "square_gaps", "lst"])
def test_packed_images_are_out_of_each_others_kernels(lattice: Lattice, name: str, images: int) -> None:
    """Every stage lattice: no pixel of one image is a radius-1 kernel neighbour of another image's pixel
    (brute force over all cells); 16 LST-camera images fill more of a grid than one does of its own."""
    chosen = lattice if name == "lst" else LATTICES[name]()
    stages = [chosen]
    while stages[-1].n_pixels > 20 and len(stages) < 3:
        stages.append(stages[-1].downsample(2, 1).lattice)
    for stage in stages:
        pixels = stage.matrix_coordinates
        (rows, cols), offsets = pack_images(pixels, stage.shape, stage.kernel_offsets(1), images)
        owner = np.full((rows, cols), -1)
        for image, (d_row, d_col) in enumerate(offsets):
            cells = pixels + [d_row, d_col]
            assert cells.min() >= 0 and (cells < [rows, cols]).all()
            assert (owner[cells[:, 0], cells[:, 1]] == -1).all()
            owner[cells[:, 0], cells[:, 1]] = image
        padded = np.pad(owner, 1, constant_values=-1)
        for d_row, d_col in stage.kernel_offsets(1):
            neighbour = padded[1 + d_row : 1 + d_row + rows, 1 + d_col : 1 + d_col + cols]
            assert not ((owner >= 0) & (neighbour >= 0) & (neighbour != owner)).any()
        if name == "lst" and images == 16 and stage is chosen:  # the documented gain: 61 % -> 76 % of the grid
            assert stage.n_pixels / (stage.shape[0] * stage.shape[1]) < 0.62 and images * stage.n_pixels / (rows * cols) > 0.75


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
