"""Lattice ResNet backbone: a CIFAR-style pre-activation ResNet on a camera's pixel lattice.

Three stages of ``(depth - 2) / 6`` basic blocks (two radius-1 lattice convolutions each), with
stride-2 lattice pooling between stages, as the indexed ResNets of GammaLearn / gamma-PhysNet.

With the dense implementation the activations stay in the zero-filled 2-D index-matrix layout
(channels-last) from the first convolution to the end of each stage: batch norm and ReLU run on that
layout with the empty cells masked to zero, so there is no scatter/gather per layer; with one image per
grid the pooling does too. With ``images_per_grid`` > 1 several images share each grid and the pooling
runs on the gathered pixels between stages. Stage outputs, the ``stage_hook`` modules and the result are
always ``(B, C, N)``; the results equal those of the indexed implementation with the same parameters
within float rounding.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from showerlearn.iact.geometry import Downsampling, Lattice
from showerlearn.iact.nn.lattice import (
    GridLayout,
    LatticeAvgPool,
    LatticeBatchNorm,
    LatticeConv,
    LatticeMaxPool,
    _check_input,
    _resolve,
)

__all__ = ["LatticeResNet", "PreActBlock"]

StageHook = Callable[[int, int, Lattice], nn.Module | None]


class PreActBlock(nn.Module):
    """``x + conv2(relu(bn2(conv1(relu(bn1(x))))))``; a pixel-wise projection when channels change."""

    def __init__(self, in_channels: int, out_channels: int, lattice: Lattice, implementation: str) -> None:
        super().__init__()
        self.bn1 = LatticeBatchNorm(in_channels)
        self.conv1 = LatticeConv(in_channels, out_channels, lattice, bias=False, implementation=implementation)
        self.bn2 = LatticeBatchNorm(out_channels)
        self.conv2 = LatticeConv(out_channels, out_channels, lattice, bias=False, implementation=implementation)
        self.shortcut = (
            LatticeConv(in_channels, out_channels, lattice, radius=0, bias=False, implementation=implementation)
            if in_channels != out_channels
            else None
        )

    def forward(self, x: Tensor) -> Tensor:
        h = F.relu(self.bn1(x))
        skip = self.shortcut(h) if self.shortcut is not None else x
        h = self.conv2(F.relu(self.bn2(self.conv1(h))))
        return h + skip

    def forward_grid(self, x: Tensor, layout: GridLayout) -> Tensor:
        """Same block on the zero-filled 2-D layout; returns a zero-filled layout."""
        h = self.bn1.relu_grid(x, layout)
        skip = self.shortcut.forward_grid(h) if self.shortcut is not None else x  # a 1x1 conv keeps zeros
        h = self.conv1.forward_grid(h)
        h = self.bn2.relu_grid(h * layout.mask_like(h), layout)
        return torch.addcmul(skip, self.conv2.forward_grid(h), layout.mask_like(h))


def depth_problem(depth: int) -> str | None:
    """Why a :class:`LatticeResNet` cannot have ``depth`` layers (three stages of equal basic blocks), or None."""
    return None if depth >= 8 and (depth - 2) % 6 == 0 else f"must be 6 n + 2 with n >= 1 (20, 32, 44, 56, 110, ...), got {depth}"


class LatticeResNet(nn.Module):
    """Pre-activation ResNet on a pixel lattice (ResNet-56 by default).

    Args:
        lattice: the camera's pixel lattice.
        in_channels: input channels (e.g. charge and peak time).
        depth: ``6 n + 2`` (20, 32, 44, 56, 110, ...).
        widths: channels of the three (or more) stages.
        stage_hook: ``stage_hook(stage_index, channels, lattice)`` builds a module applied to each
            stage's ``(B, C, N_stage)`` output (e.g. Dual Attention), or returns None.
        pool: ``"max"`` or ``"avg"`` lattice pooling between stages.
        implementation: ``"auto"``, ``"indexed"`` or ``"dense"`` (see :mod:`showerlearn.iact.nn.lattice`).
        zero_init_last: start every block's last convolution at zero, so that each residual branch
            starts as the identity (Goyal et al. 2017, "Accurate, large minibatch SGD"). A deeper network
            grown from a trained shallower one (``init_from``) then starts as that network's function.
        channels_last: keep the dense 2-D layout channels-last in memory (fastest with oneDNN on CPUs and
            with 16-bit autocast on GPUs); False: contiguous ``(B, C, H, W)``. The same results either way,
            within float rounding.
        images_per_grid: with the dense implementation, this many images share one 2-D grid, their empty
            corners interleaved (:mod:`showerlearn.iact.nn.packing`): fewer empty cells to convolve, and
            fewer, larger grids. Between stages the pooling then runs on the pixels. A batch that is not a
            multiple of it runs one image per grid. The same results within float rounding.

    Attributes:
        out_channels, out_lattice: channels and lattice of the output.
        stage_lattices: lattice of each stage; ``levels``: the pooling hierarchy between them.
    """

    def __init__(
        self,
        lattice: Lattice,
        in_channels: int,
        depth: int = 56,
        widths: tuple[int, ...] = (16, 32, 64),
        stage_hook: StageHook | None = None,
        pool: str = "max",
        implementation: str = "auto",
        zero_init_last: bool = False,
        channels_last: bool = True,
        images_per_grid: int = 1,
    ) -> None:
        super().__init__()
        if images_per_grid < 1:
            raise ValueError(f"images_per_grid must be >= 1, got {images_per_grid}")
        if problem := depth_problem(depth):
            raise ValueError(f"depth {problem}")
        if pool not in ("max", "avg"):
            raise ValueError(f"pool must be 'max' or 'avg', got {pool!r}")
        if not widths:
            raise ValueError("widths must name at least one stage")
        self.implementation = _resolve(implementation, lattice)
        n_blocks = (depth - 2) // 6
        self.stem = LatticeConv(in_channels, widths[0], lattice, bias=False, implementation=self.implementation)
        self.stage_lattices: list[Lattice] = [lattice]
        self.pools = nn.ModuleList()
        self.stages = nn.ModuleList()
        self.hooks = nn.ModuleList()
        self.layouts = nn.ModuleList([GridLayout(lattice, channels_last)])
        pool_class = LatticeMaxPool if pool == "max" else LatticeAvgPool
        previous = widths[0]
        for index, width in enumerate(widths):
            if index > 0:
                pooling = pool_class(self.stage_lattices[-1], implementation=self.implementation, channels_last=channels_last)
                self.pools.append(pooling)
                self.stage_lattices.append(pooling.out_lattice)
                self.layouts.append(pooling.out_layout)
            stage_lattice = self.stage_lattices[-1]
            self.stages.append(
                nn.Sequential(
                    *(
                        PreActBlock(previous if block == 0 else width, width, stage_lattice, self.implementation)
                        for block in range(n_blocks)
                    )
                )
            )
            hook = stage_hook(index, width, stage_lattice) if stage_hook is not None else None
            self.hooks.append(hook if hook is not None else nn.Identity())
            previous = width
        if zero_init_last:
            for block in self.blocks():
                nn.init.zeros_(block.conv2.weight)
        self._has_hook = [hook is not None and not isinstance(hook, nn.Identity) for hook in self.hooks]
        # the stages' grids with several images each (radius-1 kernels: the blocks' convolutions)
        self.shared_layouts = nn.ModuleList(
            GridLayout(stage_lattice, channels_last, images_per_grid)
            for stage_lattice in (self.stage_lattices if images_per_grid > 1 and self.implementation == "dense" else [])
        )
        self.final_bn = LatticeBatchNorm(widths[-1])
        self.in_channels = in_channels
        self.out_channels = widths[-1]
        self.out_lattice = self.stage_lattices[-1]

    def blocks(self) -> list[PreActBlock]:
        """Every residual block, stage by stage."""
        return [block for stage in self.stages for block in stage]

    @property
    def levels(self) -> list[Downsampling]:
        """The pooling hierarchy, fine to coarse: ``upsample_to_pixels(stage_map, model.levels[:s])``
        projects a map on stage ``s``'s lattice onto the camera pixels (e.g. Grad-CAM)."""
        return [pooling.level for pooling in self.pools]

    def forward(self, x: Tensor) -> Tensor:
        """``(B, in_channels, N)`` -> ``(B, out_channels, out_lattice.n_pixels)`` (after a final BN-ReLU)."""
        return F.relu(self.final_bn(self._run(x, collect=False)[-1]))

    def forward_stages(self, x: Tensor) -> list[Tensor]:
        """Each stage's output ``(B, C_s, N_s)`` (after its hook), e.g. for Grad-CAM."""
        return self._run(x, collect=True)

    def _run(self, x: Tensor, collect: bool) -> list[Tensor]:
        _check_input(x, self.in_channels, self.layouts[0].n_pixels, type(self).__name__)
        if self.implementation == "indexed":
            outputs: list[Tensor] = []
            h = self.stem(x)
            for index, (stage, hook) in enumerate(zip(self.stages, self.hooks, strict=True)):
                if index > 0:
                    h = self.pools[index - 1](h)
                h = hook(stage(h))
                outputs.append(h)
            return outputs
        # several images per grid when the batch fills whole grids (a Python branch: torch.compile guards on it);
        # never in a traced export, whose graph must take any batch size
        shared = bool(self.shared_layouts) and not torch.jit.is_tracing() and self.shared_layouts[0].fits(x.shape[0])
        layouts = self.shared_layouts if shared else self.layouts
        if shared:
            # the empty cells between images are zeroed by a product with the mask, which keeps a NaN: a
            # non-finite pixel would reach the other images of its grid. Its image enters zeroed instead, and
            # leaves with NaN outputs, as it would alone in its grid
            finite = torch.isfinite(x).flatten(1).all(dim=1)[:, None, None]
            outputs = self._run_grids(torch.where(finite, x, 0.0), layouts, shared, collect)
            return [torch.where(finite, out, torch.nan) for out in outputs]
        return self._run_grids(x, layouts, shared, collect)

    def _run_grids(self, x: Tensor, layouts: Sequence[GridLayout], shared: bool, collect: bool) -> list[Tensor]:
        """The dense path on grids of ``layouts`` (shared by several images if ``shared``)."""
        outputs: list[Tensor] = []
        last = len(self.stages) - 1
        h = self.stem.forward_grid(layouts[0].scatter(x))
        h = h * layouts[0].mask_like(h)
        out = x  # each stage's output pixels, which shared grids pool into the next stage
        for index, (stage, hook) in enumerate(zip(self.stages, self.hooks, strict=True)):
            layout = layouts[index]
            if index > 0:
                pool = self.pools[index - 1]
                # shared grids place each stage's images apart: the pooling runs on the pixels between them
                h = layout.scatter(pool.forward_pixels(out)) if shared else pool.forward_grid(h)
            for block in stage:
                h = block.forward_grid(h, layout)
            if collect or shared or self._has_hook[index] or index == last:
                out = hook(layout.gather(h))
                outputs.append(out)
                if not shared and self._has_hook[index] and index < last:
                    h = layout.scatter(out)
        return outputs
