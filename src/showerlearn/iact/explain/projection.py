"""Projection of maps living on a coarse lattice of a model's pooling hierarchy back onto the camera pixels.

A lattice network pools ``camera -> stage 1 -> stage 2 ...``; each pooling layer keeps its
:class:`~showerlearn.iact.geometry.Downsampling` (``level``), whose ``upsample_index`` says which coarse
pixel each fine pixel takes its value from (the nearest one). Chaining those levels from the camera
lattice down to a stage gives the exact inverse path of the network's own pooling, so a Grad-CAM or
attention map of any stage lands on the pixels the network pooled it from.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from torch import nn

from showerlearn.iact.geometry import Downsampling, Lattice, upsample_to_pixels

__all__ = ["PixelProjector", "find_input_lattice"]


def _same_lattice(a: Lattice, b: Lattice) -> bool:
    """The same lattice object, or an equal copy (a pooling layer may rebuild its coarse lattice)."""
    if a is b:
        return True
    return (
        a.kind == b.kind
        and a.n_pixels == b.n_pixels
        and np.array_equal(a.axial, b.axial)
        and np.allclose(a.x, b.x)
        and np.allclose(a.y, b.y)
    )


class PixelProjector:
    """Maps values on any lattice of ``model``'s pooling hierarchy onto the pixels of ``lattice``.

    The hierarchy is read from the model's pooling layers: every sub-module holding a ``lattice``
    (the fine lattice, a :class:`Lattice`) and a ``level`` (its :class:`Downsampling`), as the lattice
    pools of :mod:`showerlearn.iact.nn.lattice` do. Lattices of one chain have strictly fewer pixels at each
    level, so the pixel count of a map identifies its level.

    Args:
        model: the network.
        lattice: the camera (input) lattice.
    """

    def __init__(self, model: nn.Module, lattice: Lattice) -> None:
        self.lattice = lattice
        pools = [
            (module.lattice, module.level)
            for module in model.modules()
            if isinstance(getattr(module, "level", None), Downsampling) and isinstance(getattr(module, "lattice", None), Lattice)
        ]
        self.chains: dict[int, list[Downsampling]] = {lattice.n_pixels: []}
        current, chain = lattice, []
        while True:
            level = next((lvl for fine, lvl in pools if _same_lattice(fine, current)), None)
            if level is None or level.lattice.n_pixels >= current.n_pixels:
                break
            chain = [*chain, level]
            current = level.lattice
            self.chains[current.n_pixels] = chain

    def __call__(self, values: Any) -> Any:
        """``(..., n_stage)`` numpy array or tensor on one lattice of the hierarchy -> ``(..., n_pixels)``."""
        n = values.shape[-1]
        if n not in self.chains:
            raise ValueError(
                f"cannot project a map of {n} pixels onto the camera: the model's pooling hierarchy has "
                f"lattices of {sorted(self.chains, reverse=True)} pixels"
            )
        return upsample_to_pixels(values, self.chains[n])


def find_input_lattice(model: nn.Module, n_pixels: int) -> Lattice:
    """The first lattice held by a sub-module of ``model`` with ``n_pixels`` pixels (the input lattice)."""
    for module in model.modules():
        lattice = getattr(module, "lattice", None)
        if isinstance(lattice, Lattice) and lattice.n_pixels == n_pixels:
            return lattice
    raise ValueError(
        f"no sub-module of {type(model).__name__} holds a lattice of {n_pixels} pixels (the input size): pass the "
        "camera lattice explicitly"
    )

