"""Lattice convolution and pooling: every implementation against a naive per-pixel reference and indexedconv."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch.autograd import gradcheck

from showerlearn.iact.geometry import Lattice, lst_camera
from showerlearn.iact.nn import LatticeAvgPool, LatticeConv, LatticeMaxPool

IMPLEMENTATIONS = ["indexed", "dense"]


def hex_camera(radius: int, degrees: float) -> tuple[np.ndarray, np.ndarray]:
    """Hexagonal patch with a notch (so it is not symmetric), rotated, shuffled."""
    q, r = (a.ravel() for a in np.meshgrid(np.arange(-radius, radius + 1), np.arange(-radius, radius + 1)))
    keep = (np.abs(q + r) <= radius) & ~((q > 1) & (r > 0))
    q, r = q[keep], r[keep]
    return _place(q + r / 2, r * math.sqrt(3) / 2, degrees)


def square_camera(degrees: float) -> tuple[np.ndarray, np.ndarray]:
    """12 x 12 square pixels in 4 x 4 modules with 0.3-pixel gaps (CHEC-like), rotated, shuffled."""
    index = np.arange(12)
    coordinate = index + 0.3 * (index // 4)
    x, y = (a.ravel() for a in np.meshgrid(coordinate, coordinate))
    return _place(x, y, degrees)


def _place(u: np.ndarray, v: np.ndarray, degrees: float) -> tuple[np.ndarray, np.ndarray]:
    order = np.random.default_rng(0).permutation(len(u))
    c, s = math.cos(math.radians(degrees)), math.sin(math.radians(degrees))
    u, v = 0.05 * u[order], 0.05 * v[order]
    return c * u - s * v, s * u + c * v


LATTICES = {
    "hex": lambda: Lattice.from_positions(*hex_camera(4, 100.893)),
    "square_gaps": lambda: Lattice.from_positions(*square_camera(30.0)),
}


def naive_neighbours(lattice: Lattice, radius: int) -> np.ndarray:
    """Neighbour table from positions alone, kernel order as documented in Lattice.kernel_offsets.

    Kernel position (d_row, d_col), row-major over [-radius, radius]^2 (hexagon: |d_row - d_col| <=
    radius), is the axial step (dq, dr) = (d_col, -d_row); the neighbour is the pixel nearest to the
    centre plus that step in the lattice frame (a module gap shifts it by < 0.5 spacing).
    """
    xy = np.column_stack([lattice.x, lattice.y])
    angle = math.radians(lattice.rotation)
    rot = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    table = np.full((lattice.n_pixels, 0), -1).tolist()
    for d_row in range(-radius, radius + 1):
        for d_col in range(-radius, radius + 1):
            if lattice.kind == "hex" and abs(d_row - d_col) > radius:
                continue
            dq, dr = d_col, -d_row
            step = np.array([dq + dr / 2, dr * math.sqrt(3) / 2] if lattice.kind == "hex" else [dq, dr], dtype=float)
            for i in range(lattice.n_pixels):
                target = xy[i] + lattice.spacing * (rot @ step)
                distance = np.hypot(*(xy - target).T)
                # across a module gap (at most one per axis here) the neighbour sits <= 0.3 * sqrt(2) off
                found = int(np.argmin(distance))
                table[i].append(found if distance[found] < 0.45 * lattice.spacing else -1)
    return np.array(table)


def naive_conv(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, table: np.ndarray) -> torch.Tensor:
    out = torch.zeros(x.shape[0], weight.shape[0], len(table), dtype=x.dtype)
    for i, row in enumerate(table):
        for j, pixel in enumerate(row):
            if pixel >= 0:
                out[:, :, i] += x[:, :, pixel] @ weight[:, :, j].T
    return out + bias[:, None]


@pytest.fixture(scope="module", params=list(LATTICES))
def lattice(request: pytest.FixtureRequest) -> Lattice:
    return LATTICES[request.param]()


@pytest.mark.parametrize("radius", [1, 2])
def test_conv_equals_naive_reference(lattice: Lattice, radius: int) -> None:
    table = naive_neighbours(lattice, radius)
    assert (lattice.neighbours(radius) == table).all()
    torch.manual_seed(radius)
    x = torch.randn(2, 3, lattice.n_pixels, dtype=torch.float64)
    for implementation in IMPLEMENTATIONS:
        conv = LatticeConv(3, 4, lattice, radius=radius, implementation=implementation).double()
        torch.manual_seed(7)
        conv.reset_parameters()
        expected = naive_conv(x, conv.weight.detach(), conv.bias.detach(), table)
        assert (conv(x) - expected).abs().max() < 1e-10, implementation


@pytest.mark.parametrize("radius", [1, 2])
def test_conv_gradients(lattice: Lattice, radius: int) -> None:
    x = torch.randn(1, 2, lattice.n_pixels, dtype=torch.float64, requires_grad=True)
    grads = []
    for implementation in IMPLEMENTATIONS:
        conv = LatticeConv(2, 2, lattice, radius=radius, implementation=implementation).double()
        torch.manual_seed(3)
        conv.reset_parameters()
        assert gradcheck(lambda x, w, b, conv=conv: _conv_with(conv, x, w, b), (x, conv.weight, conv.bias), fast_mode=True)
        conv(x).square().sum().backward()
        grads.append((x.grad.clone(), conv.weight.grad.clone()))
        x.grad = None
    # same weights, same gradients: the dense kernel's corners receive no gradient
    assert torch.allclose(grads[0][0], grads[1][0], atol=1e-12)
    assert torch.allclose(grads[0][1], grads[1][1], atol=1e-12)


def _conv_with(conv: LatticeConv, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    return torch.func.functional_call(conv, {"weight": weight, "bias": bias}, (x,))


@pytest.mark.parametrize("pool_class", [LatticeMaxPool, LatticeAvgPool])
def test_pools_equal_naive_reference(lattice: Lattice, pool_class: type) -> None:
    x = torch.randn(2, 3, lattice.n_pixels, dtype=torch.float64, requires_grad=True)
    table = naive_neighbours(lattice, 1)
    for implementation in IMPLEMENTATIONS:
        pool = pool_class(lattice, implementation=implementation)
        windows = table[pool.level.kept]
        padded = torch.cat([x, torch.zeros(2, 3, 1, dtype=x.dtype)], dim=-1)  # missing pixels are zeros
        gathered = padded[:, :, np.where(windows < 0, lattice.n_pixels, windows)]
        expected = gathered.amax(-1) if pool_class is LatticeMaxPool else gathered.mean(-1)
        out = pool(x)
        assert out.shape == (2, 3, pool.out_lattice.n_pixels)
        assert (out - expected).abs().max() < 1e-10, implementation
        assert gradcheck(pool, (x,), fast_mode=True)


def test_auto_implementation() -> None:
    camera = Lattice.from_camera(lst_camera())
    assert LatticeConv(1, 1, camera).implementation == "dense"
    # a ring of pixels fills little of its bounding matrix: the gather is cheaper
    x, y = hex_camera(12, 0.0)
    ring = np.hypot(x, y) > 0.5
    sparse = Lattice.from_positions(x[ring], y[ring])
    assert LatticeConv(1, 1, sparse).implementation == "indexed"
    with pytest.raises(ValueError, match="implementation"):
        LatticeConv(1, 1, camera, implementation="fft")
    with pytest.raises(ValueError, match=r"\(batch, 1, 1855\)"):
        LatticeConv(1, 1, camera)(torch.zeros(2, 1, 100))


def test_equals_indexedconv_on_lst() -> None:
    pytest.importorskip("indexedconv", reason="indexedconv not installed (pip install --no-deps indexedconv)")
    from indexedconv.engine import IndexedAveragePool2d, IndexedConv, IndexedMaxPool2d
    from indexedconv.utils import neighbours_extraction, pool_index_matrix

    lattice = Lattice.from_camera(lst_camera())
    index_matrix = torch.as_tensor(lattice.index_matrix(), dtype=torch.float)[None, None]
    # indexedconv numbers the output pixels of a convolution in row-major order of the index matrix
    row_major = lattice.index_matrix()[lattice.index_matrix() >= 0]
    torch.manual_seed(0)
    x = torch.randn(3, 4, lattice.n_pixels)
    for radius in (1, 2):
        reference = IndexedConv(4, 5, neighbours_extraction(index_matrix, "Hex", radius=radius))
        for implementation in IMPLEMENTATIONS:
            conv = LatticeConv(4, 5, lattice, radius=radius, implementation=implementation)
            with torch.no_grad():
                conv.weight.copy_(reference.weight)
                conv.bias.copy_(reference.bias)
                assert torch.allclose(conv(x)[..., row_major], reference(x), atol=1e-5), (radius, implementation)
    pool_indices = neighbours_extraction(index_matrix, "Hex", stride=2)
    coarse_matrix = pool_index_matrix(index_matrix, "Hex")
    coarse = LatticeMaxPool(lattice).out_lattice
    assert (coarse_matrix[0, 0].long().numpy() == coarse.index_matrix()).all()
    for ours, theirs in ((LatticeMaxPool, IndexedMaxPool2d), (LatticeAvgPool, IndexedAveragePool2d)):
        for implementation in IMPLEMENTATIONS:
            assert torch.allclose(ours(lattice, implementation=implementation)(x), theirs(pool_indices)(x), atol=1e-6)
