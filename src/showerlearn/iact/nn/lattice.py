"""Convolution and pooling on pixel lattices, input and output ``(batch, channels, n_pixels)``.

Two implementations of the same operator (same parameters, same results):

* ``"indexed"`` — the general one, for any neighbour table: gather each pixel's neighbours
  (missing neighbours read a zero column) and contract with the weights in one matrix product.
  This is indexed convolution (indexedconv / GammaLearn), with the weight layout
  ``(out_channels, in_channels, k)`` of ``indexedconv.engine.IndexedConv``.
* ``"dense"`` — the fast path for regular hexagonal and square lattices: scatter the pixels onto the
  lattice's index matrix (zeros elsewhere), run a dense ``conv2d`` whose kernel is the lattice kernel
  scattered into a ``(2r+1) x (2r+1)`` square (the hexagon's two non-neighbour corners fixed at zero,
  so they receive no gradient either), and gather the pixels back. Cells without a pixel are zero,
  which is exactly the zero padding of missing neighbours.

``implementation="auto"`` takes ``"dense"`` unless the index matrix is mostly empty (a lattice whose
pixels cover less than :data:`DENSE_MIN_FILL` of its bounding matrix), where the gather is cheaper.
The ``*_grid`` methods work on the 2-D layout directly; :class:`~showerlearn.iact.nn.backbone.LatticeResNet`
uses them to keep activations in that layout between layers.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from showerlearn.iact.geometry import Lattice
from showerlearn.iact.nn.packing import pack_images

__all__ = [
    "DENSE_MIN_FILL",
    "GridLayout",
    "LatticeAvgPool",
    "LatticeBatchNorm",
    "LatticeConv",
    "LatticeMaxPool",
]

# Below this pixel fraction of the index matrix the dense path computes mostly empty cells; measured
# on LSTCam (61 % fill) the dense path is several times faster, so the break-even is far lower.
DENSE_MIN_FILL = 0.2
_IMPLEMENTATIONS = ("auto", "indexed", "dense")


class GridLayout(nn.Module):
    """Scatter ``(B, C, N)`` pixel tensors onto a lattice's index matrix ``(B, C, H, W)`` and back.

    With ``channels_last`` (the default) the 2-D layout is channels-last in memory, what oneDNN's
    conv2d on CPUs and 16-bit tensor-core convolutions on GPUs are fastest on: scatter and gather copy
    whole rows of channels, and pixel tensors come back as ``(B, C, N)`` views of ``(B, N, C)`` memory,
    which the next scatter reads without a copy. Without, the layout is contiguous ``(B, C, H, W)``.
    Later layers keep the memory format of their input, so the scatter decides it for a whole stage.

    With ``images`` > 1, that many images share one grid (:func:`~showerlearn.iact.nn.packing.pack_images`:
    no pixel of one is a neighbour of another's within a radius-1 kernel, the backbone's convolutions): a
    batch of ``B`` images becomes ``B / images`` grids, image ``i`` in grid ``i // images``. ``B`` must be a
    multiple of ``images``.
    """

    def __init__(self, lattice: Lattice, channels_last: bool = True, images: int = 1) -> None:
        super().__init__()
        self.channels_last = channels_last
        self.images = images
        self.n_pixels = lattice.n_pixels
        pixels = lattice.matrix_coordinates
        self.shape, offsets = pack_images(pixels, lattice.shape, lattice.kernel_offsets(1), images)
        cells = (offsets[:, None, :] + pixels[None, :, :]).reshape(-1, 2)  # image-major
        flat_index = torch.as_tensor(cells[:, 0] * self.shape[1] + cells[:, 1], dtype=torch.long)
        self.register_buffer("flat_index", flat_index, persistent=False)
        mask = torch.zeros(self.shape[0] * self.shape[1])
        mask[self.flat_index] = 1.0
        self.register_buffer("mask", mask.view(1, 1, *self.shape), persistent=False)

    @property
    def grid_pixels(self) -> int:
        """Pixels in one grid: those of its ``images`` images."""
        return self.images * self.n_pixels

    @property
    def fill(self) -> float:
        return self.grid_pixels / (self.shape[0] * self.shape[1])

    def fits(self, batch: int) -> bool:
        """Whether a batch of ``batch`` images fills whole grids."""
        return batch % self.images == 0

    def mask_like(self, x: Tensor) -> Tensor:
        """The ``(1, 1, H, W)`` pixel mask in ``x``'s dtype: under 16-bit autocast a float32 mask would
        promote every masked activation to float32 (twice the memory traffic, and a cast before each conv)."""
        return self.mask if self.mask.dtype == x.dtype else self.mask.to(x.dtype)

    def scatter(self, x: Tensor) -> Tensor:
        """``(B, C, N)`` -> ``(B / images, C, H, W)``, zeros where there is no pixel."""
        if not self.fits(x.shape[0]):
            raise ValueError(f"a batch of {x.shape[0]} images does not fill grids of {self.images} images each")
        channels, grids, cells = x.shape[1], x.shape[0] // self.images, self.shape[0] * self.shape[1]
        if not self.channels_last:
            pixels = x.reshape(grids, self.images, channels, self.n_pixels).transpose(1, 2).reshape(grids, channels, -1)
            return x.new_zeros(grids, channels, cells).index_copy(2, self.flat_index, pixels).view(grids, channels, *self.shape)
        pixels = x.transpose(1, 2).reshape(grids, self.grid_pixels, channels)
        rows = x.new_zeros(grids, cells, channels).index_copy(1, self.flat_index, pixels)
        return rows.view(grids, *self.shape, channels).permute(0, 3, 1, 2)

    def gather(self, grid: Tensor) -> Tensor:
        """``(B / images, C, H, W)`` -> ``(B, C, N)`` (with ``channels_last``, a view of ``(B, N, C)`` memory)."""
        grids, channels = grid.shape[0], grid.shape[1]
        if not self.channels_last:
            pixels = grid.flatten(2).index_select(2, self.flat_index)
            if self.images == 1:
                return pixels
            return pixels.view(grids, channels, self.images, self.n_pixels).transpose(1, 2).reshape(-1, channels, self.n_pixels)
        rows = grid.permute(0, 2, 3, 1).reshape(grids, -1, channels)
        return rows.index_select(1, self.flat_index).view(grids * self.images, self.n_pixels, channels).transpose(1, 2)


def _resolve(implementation: str, lattice: Lattice) -> str:
    if implementation not in _IMPLEMENTATIONS:
        raise ValueError(f"implementation must be one of {_IMPLEMENTATIONS}, got {implementation!r}")
    if implementation == "auto":
        fill = lattice.n_pixels / (lattice.shape[0] * lattice.shape[1])
        return "dense" if fill >= DENSE_MIN_FILL else "indexed"
    return implementation


def _neighbour_buffer(table: np.ndarray, n_input: int) -> Tensor:
    """Flat ``(n_out * k)`` gather indices into the input padded by one zero pixel (index ``n_input``)."""
    return torch.as_tensor(np.where(table < 0, n_input, table).ravel(), dtype=torch.long)


def _gather_windows(x: Tensor, index: Tensor, k: int) -> Tensor:
    """``(B, C, N)`` -> ``(B, N_out, k, C)``: each output pixel's neighbours, zeros where missing."""
    rows = F.pad(x.transpose(1, 2), (0, 0, 0, 1))  # (B, N + 1, C): the zero pixel last
    return rows.index_select(1, index).view(x.shape[0], -1, k, x.shape[1])


class LatticeConv(nn.Module):
    """Convolution on a pixel lattice: ``out[b, o, i] = bias[o] + sum_{c,j} weight[o, c, j] x[b, c, nb[i, j]]``.

    ``nb = lattice.neighbours(radius)`` (kernel order of :meth:`Lattice.kernel_offsets`, 7 pixels for a
    hexagonal radius 1, 9 for square); missing neighbours count as zeros.

    Args:
        in_channels, out_channels: channel counts.
        lattice: the pixel lattice (input and output live on it).
        radius: kernel radius in pixels.
        bias: add a learnable bias.
        implementation: ``"auto"``, ``"indexed"`` (any lattice) or ``"dense"`` (regular lattices).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        lattice: Lattice,
        radius: int = 1,
        bias: bool = True,
        implementation: str = "auto",
    ) -> None:
        super().__init__()
        self.in_channels, self.out_channels, self.radius = in_channels, out_channels, radius
        self.lattice = lattice
        self.n_pixels = lattice.n_pixels  # an int: forward reads no numpy (torch.compile guards on it)
        self.implementation = _resolve(implementation, lattice)
        offsets = lattice.kernel_offsets(radius)
        self.kernel_size = len(offsets)
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels, self.kernel_size))
        self.bias = nn.Parameter(torch.empty(out_channels)) if bias else None
        self.register_buffer("neighbour_index", _neighbour_buffer(lattice.neighbours(radius), lattice.n_pixels), persistent=False)
        side = 2 * radius + 1
        kernel_cells = (offsets[:, 0] + radius) * side + offsets[:, 1] + radius
        self.register_buffer("kernel_cells", torch.as_tensor(kernel_cells, dtype=torch.long), persistent=False)
        self.layout = GridLayout(lattice)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # same initialisation as indexedconv.IndexedConv (uniform +-1/sqrt(fan_in))
        bound = 1.0 / math.sqrt(self.in_channels * self.kernel_size)
        nn.init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            nn.init.uniform_(self.bias, -bound, bound)

    def dense_weight(self) -> Tensor:
        """The kernel as a ``(out, in, 2r+1, 2r+1)`` conv2d weight, zero outside the lattice kernel."""
        side = 2 * self.radius + 1
        dense = self.weight.new_zeros(self.out_channels, self.in_channels, side * side)
        dense = dense.index_copy(2, self.kernel_cells, self.weight)
        return dense.view(self.out_channels, self.in_channels, side, side)

    def forward(self, x: Tensor) -> Tensor:
        _check_input(x, self.in_channels, self.n_pixels, type(self).__name__)
        if self.implementation == "dense":
            return self.layout.gather(self.forward_grid(self.layout.scatter(x)))
        return self.forward_indexed(x)

    def forward_indexed(self, x: Tensor) -> Tensor:
        """The general implementation: gather neighbours channels-last, then one matrix product."""
        windows = _gather_windows(x, self.neighbour_index, self.kernel_size)  # (B, N, k, C)
        batch, n_out = windows.shape[0], windows.shape[1]
        weight = self.weight.permute(2, 1, 0).reshape(-1, self.out_channels)  # (k * C, O)
        columns = windows.reshape(batch * n_out, -1)
        out = torch.addmm(self.bias, columns, weight) if self.bias is not None else columns @ weight
        return out.view(batch, n_out, self.out_channels).transpose(1, 2)

    def forward_grid(self, grid: Tensor) -> Tensor:
        """Dense conv2d on a zero-filled ``(B, C, H, W)`` layout; cells without a pixel hold garbage."""
        return F.conv2d(grid, self.dense_weight(), self.bias, padding=self.radius)

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, radius={self.radius}, kernel_size={self.kernel_size}, "
            f"bias={self.bias is not None}, implementation={self.implementation!r}, n_pixels={self.lattice.n_pixels}"
        )


class _LatticePool(nn.Module):
    """Pooling onto the stride-``stride`` coarse lattice (windows: ``Lattice.downsample``)."""

    reduce: str

    def __init__(
        self, lattice: Lattice, stride: int = 2, window_radius: int = 1, implementation: str = "auto", channels_last: bool = True
    ) -> None:
        super().__init__()
        self.lattice = lattice
        self.n_pixels = lattice.n_pixels  # an int: forward reads no numpy (torch.compile guards on it)
        self.stride = stride
        self.window_radius = window_radius
        self.level = lattice.downsample(stride, window_radius)
        self.out_lattice = self.level.lattice
        self.implementation = _resolve(implementation, lattice)
        self.register_buffer("pool_index", _neighbour_buffer(self.level.pool_index, lattice.n_pixels), persistent=False)
        # plain ints: read on every forward, they must not live on the GPU
        self.window_offsets = [tuple(offset) for offset in lattice.kernel_offsets(window_radius).tolist()]
        self.layout = GridLayout(lattice, channels_last)
        self.out_layout = GridLayout(self.out_lattice, channels_last)
        # where the coarse lattice's index matrix starts inside the strided grid
        fine = lattice.matrix_coordinates[self.level.kept] // stride
        self.crop = (int(fine[:, 0].min()), int(fine[:, 1].min()))

    def forward(self, x: Tensor) -> Tensor:
        _check_input(x, None, self.n_pixels, type(self).__name__)
        if self.implementation == "dense":
            return self.out_layout.gather(self.forward_grid(self.layout.scatter(x)))
        return self.forward_pixels(x)

    def forward_pixels(self, x: Tensor) -> Tensor:
        """The general implementation on ``(B, C, N)`` pixels: gather each window, then reduce."""
        windows = _gather_windows(x, self.pool_index, len(self.window_offsets))  # (B, N_out, k, C)
        pooled = windows.amax(dim=2) if self.reduce == "max" else windows.mean(dim=2)
        return pooled.transpose(1, 2)

    def forward_grid(self, grid: Tensor) -> Tensor:
        """Pool a zero-filled fine layout into the coarse lattice's layout (zero where no pixel)."""
        pad = self.window_radius
        padded = F.pad(grid, (pad, pad, pad, pad))
        height, width = self.out_layout.shape
        row0, col0 = self.crop[0] * self.stride, self.crop[1] * self.stride
        out = None
        for d_row, d_col in self.window_offsets:
            r, c = row0 + pad + d_row, col0 + pad + d_col
            window = padded[..., r : r + self.stride * (height - 1) + 1 : self.stride, c : c + self.stride * (width - 1) + 1 : self.stride]
            if out is None:
                out = window
            elif self.reduce == "max":
                out = torch.maximum(out, window)
            else:
                out = out + window
        assert out is not None
        if self.reduce == "mean":
            out = out / len(self.window_offsets)
        return out * self.out_layout.mask_like(out)

    def extra_repr(self) -> str:
        return (
            f"stride={self.stride}, window_radius={self.window_radius}, implementation={self.implementation!r}, "
            f"n_pixels={self.lattice.n_pixels} -> {self.out_lattice.n_pixels}"
        )


class LatticeMaxPool(_LatticePool):
    """Max over each coarse pixel's window (7 pixels on a hexagonal lattice); missing pixels are zeros,
    as in indexedconv's ``IndexedMaxPool2d``. Output ``(B, C, out_lattice.n_pixels)``."""

    reduce = "max"


class LatticeAvgPool(_LatticePool):
    """Mean over each coarse pixel's window, missing pixels counting as zeros (as ``IndexedAveragePool2d``)."""

    reduce = "mean"


class LatticeBatchNorm(nn.BatchNorm1d):
    """BatchNorm over batch and pixels of ``(B, C, N)``, also on the zero-filled 2-D layout.

    :meth:`relu_grid` gives the same result as ``relu(forward(x))`` on the pixels: its statistics use
    the real pixels only, and running statistics are updated the same way.
    """

    def relu_grid(self, grid: Tensor, layout: GridLayout) -> Tensor:
        """``relu(batchnorm(x)) * mask`` on a zero-filled ``(B, C, H, W)`` layout, as :meth:`forward` + ReLU on the pixels.

        The statistics are those of the real pixels (:func:`_pixel_statistics`). The mask folds into the
        shift, ``relu(x * scale + shift * mask)``, so empty cells stay zero in two passes.
        """
        if self.training:
            mean, var = _pixel_statistics(grid, layout)
            with torch.no_grad():
                count = grid.shape[0] * layout.grid_pixels
                self.num_batches_tracked += 1
                momentum = self.momentum if self.momentum is not None else 1.0 / float(self.num_batches_tracked)
                # the buffers' dtype: float32 under autocast, 16-bit in a network converted whole (.bfloat16())
                self.running_mean.lerp_(mean.detach().to(self.running_mean.dtype), momentum)
                unbiased = var.detach() * count / max(count - 1, 1)
                self.running_var.lerp_(unbiased.to(self.running_var.dtype), momentum)
        else:
            mean, var = self.running_mean, self.running_var
        scale = self.weight * torch.rsqrt(var + self.eps)
        shift = (self.bias - mean * scale)[:, None, None] * layout.mask
        # normalised at the statistics' precision, rounded to the grid's dtype after the ReLU: a bf16 scale and
        # shift would shift each value by ~|mean| / std x 2^-8, flipping the ReLU of values near zero
        return torch.addcmul(shift, grid, scale[:, None, None]).relu_().to(grid.dtype)


def _pixel_statistics(grid: Tensor, layout: GridLayout) -> tuple[Tensor, Tensor]:
    """Per-channel mean and (biased) variance over the real pixels of a zero-filled layout.

    They follow from the whole grid's (its empty cells are zeros): mean_pixels = mean_grid / fill,
    E[x^2]_pixels = E[x^2]_grid / fill. A 16-bit grid (autocast) is read in float32 (one float32 copy when
    eager; a compiled network fuses it into the reduction) and the statistics come back in float32, like
    batch norm's running statistics: rounded to 16 bits, E[x^2] - mean^2 would lose a few % of the
    variance of a channel whose mean is a few times its spread.
    """
    if grid.dtype in (torch.float16, torch.bfloat16):
        grid = grid.float()
    var_grid, mean_grid = torch.var_mean(grid, dim=(0, 2, 3), correction=0)
    fill = layout.fill
    mean = mean_grid / fill
    return mean, ((var_grid + mean_grid * mean_grid) / fill - mean * mean).clamp_min(0.0)


def _check_input(x: Tensor, channels: int | None, n_pixels: int, layer: str) -> None:
    if x.dim() != 3 or x.shape[-1] != n_pixels or (channels is not None and x.shape[1] != channels):
        expected = f"(batch, {channels if channels is not None else 'channels'}, {n_pixels})"
        raise ValueError(f"{layer} expects input of shape {expected}, got {tuple(x.shape)}")
