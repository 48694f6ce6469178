"""The :class:`showerlearn.iact.nn.LatticeResNet` architecture built from indexedconv's layers (GammaLearn style).

The reference the lattice benchmarks compare against: same blocks, same parameter names and shapes
(``model.load_state_dict(lattice_resnet.state_dict(), strict=False)`` copies the weights; the only
extra keys are indexedconv's index buffers), the index tables made by indexedconv's own utilities
(``neighbours_extraction``, ``pool_index_matrix``) from the lattice's index matrix.

indexedconv numbers a convolution's output pixels in row-major order of the index matrix, so the
input is put in that order once; the coarse lattices of ``Lattice.downsample`` use the same order,
so the final output matches ``LatticeResNet`` pixel by pixel.

Needs ``pip install --no-deps indexedconv``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from showerlearn.iact.geometry import Lattice


class _Block(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, indices: Tensor) -> None:
        super().__init__()
        from indexedconv.engine import IndexedConv

        self.bn1 = nn.BatchNorm1d(in_channels)
        self.conv1 = IndexedConv(in_channels, out_channels, indices, bias=False)
        self.bn2 = nn.BatchNorm1d(out_channels)
        self.conv2 = IndexedConv(out_channels, out_channels, indices, bias=False)
        # pixel-wise projection: each pixel is its own (only) neighbour
        identity = torch.arange(indices.shape[1])[None]
        self.shortcut = IndexedConv(in_channels, out_channels, identity, bias=False) if in_channels != out_channels else None

    def forward(self, x: Tensor) -> Tensor:
        h = F.relu(self.bn1(x))
        skip = self.shortcut(h) if self.shortcut is not None else x
        return self.conv2(F.relu(self.bn2(self.conv1(h)))) + skip


class IndexedConvResNet(nn.Module):
    """Pre-activation lattice ResNet made of ``IndexedConv``, ``BatchNorm1d`` and indexed pooling."""

    def __init__(
        self,
        lattice: Lattice,
        in_channels: int,
        depth: int = 56,
        widths: tuple[int, ...] = (16, 32, 64),
        pool: str = "max",
    ) -> None:
        super().__init__()
        from indexedconv.engine import IndexedAveragePool2d, IndexedConv, IndexedMaxPool2d
        from indexedconv.utils import neighbours_extraction, pool_index_matrix

        if depth < 8 or (depth - 2) % 6:
            raise ValueError(f"depth must be 6 n + 2, got {depth}")
        kernel = "Hex" if lattice.kind == "hex" else "Square"
        matrix_np = lattice.index_matrix()
        valid = matrix_np >= 0
        self.register_buffer("row_major", torch.as_tensor(matrix_np[valid]), persistent=False)
        matrix_np[valid] = range(int(valid.sum()))  # pixels renumbered in row-major order, as the input
        matrix = torch.as_tensor(matrix_np, dtype=torch.float)[None, None]
        n_blocks = (depth - 2) // 6
        pool_class = IndexedMaxPool2d if pool == "max" else IndexedAveragePool2d
        self.stem = IndexedConv(in_channels, widths[0], neighbours_extraction(matrix, kernel), bias=False)
        self.pools = nn.ModuleList()
        self.stages = nn.ModuleList()
        previous = widths[0]
        for index, width in enumerate(widths):
            if index > 0:
                self.pools.append(pool_class(neighbours_extraction(matrix, kernel, stride=2)))
                matrix = pool_index_matrix(matrix, kernel)
            indices = neighbours_extraction(matrix, kernel)
            self.stages.append(
                nn.Sequential(*(_Block(previous if b == 0 else width, width, indices) for b in range(n_blocks)))
            )
            previous = width
        self.final_bn = nn.BatchNorm1d(widths[-1])
        self.out_channels = widths[-1]

    def forward(self, x: Tensor) -> Tensor:
        h = self.stem(x[..., self.row_major])
        for index, stage in enumerate(self.stages):
            if index > 0:
                h = self.pools[index - 1](h)
            h = stage(h)
        return F.relu(self.final_bn(h))


def build_indexedconv_resnet(
    lattice: Lattice, in_channels: int, depth: int = 56, widths: tuple[int, ...] = (16, 32, 64), pool: str = "max"
) -> IndexedConvResNet:
    """indexedconv twin of ``LatticeResNet(lattice, in_channels, depth, widths, pool=pool)``."""
    return IndexedConvResNet(lattice, in_channels, depth, widths, pool)
