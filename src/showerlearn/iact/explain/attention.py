"""Dual Attention maps (gamma-PhysNet-DA) on the camera pixels.

Every Dual Attention block keeps the spatial factor of its latest forward pass, ``(B, N_stage)`` in
[1, 2]. :func:`dual_attention_maps` projects each onto the camera pixels through the pooling hierarchy;
:func:`global_spatial_attention` is their Hadamard product, the paper's global spatial attention (in
``[1, 2 ** n_blocks]``): how much the whole backbone amplified a pixel.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from showerlearn.iact.explain.projection import PixelProjector
from showerlearn.iact.geometry import Lattice
from showerlearn.iact.nn.attention import DualAttention

__all__ = ["dual_attention_maps", "dual_attention_modules", "global_spatial_attention"]


def dual_attention_modules(model: nn.Module) -> list[DualAttention]:
    """The Dual Attention blocks of ``model`` in forward (stage) order."""
    return [m for m in model.modules() if isinstance(m, DualAttention)]


def dual_attention_maps(model: nn.Module, lattice: Lattice) -> list[Tensor]:
    """Spatial map of each Dual Attention block from the latest forward pass, on the camera pixels.

    Returns one ``(B, n_pixels)`` tensor per block, values in [1, 2].

    Raises:
        ValueError: the model has no Dual Attention block, or none has run yet.
    """
    modules = dual_attention_modules(model)
    if not modules:
        raise ValueError(f"{type(model).__name__} has no Dual Attention block")
    if any(m.last_spatial_map is None for m in modules):
        raise ValueError("no Dual Attention map yet: run a forward pass of the model first")
    project = PixelProjector(model, lattice)
    return [project(m.last_spatial_map) for m in modules]


def global_spatial_attention(maps: Sequence[Tensor]) -> Tensor:
    """Hadamard (element-wise) product of the per-block maps on the camera pixels."""
    if not maps:
        raise ValueError("global_spatial_attention needs at least one map")
    product = maps[0]
    for other in maps[1:]:
        product = product * other
    return product
