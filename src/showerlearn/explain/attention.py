"""Attention maps: Dual Attention spatial maps on the camera, and per-head transformer attention weights.

* Dual Attention (gamma-PhysNet-DA): every block keeps the spatial factor of its latest forward pass,
  ``(B, N_stage)`` in [1, 2]. :func:`dual_attention_maps` projects each onto the camera pixels through
  the pooling hierarchy; :func:`global_spatial_attention` is their Hadamard product, the paper's
  global spatial attention (in ``[1, 2 ** n_blocks]``): how much the whole backbone amplified a pixel.
* Transformers: :func:`capture_attention` records the weights of every ``torch.nn.MultiheadAttention``
  call, per head, by forcing ``need_weights=True, average_attn_weights=False`` through forward hooks.
  Self-attention (query is key) and cross-attention are told apart at call time.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import Tensor, nn

from showerlearn.iact.explain.projection import PixelProjector
from showerlearn.iact.geometry import Lattice
from showerlearn.iact.nn.attention import DualAttention

__all__ = [
    "AttentionWeights",
    "capture_attention",
    "dual_attention_maps",
    "dual_attention_modules",
    "global_spatial_attention",
]

# positional order of nn.MultiheadAttention.forward's arguments
_MHA_ARGUMENTS = ("query", "key", "value", "key_padding_mask", "need_weights", "attn_mask", "average_attn_weights", "is_causal")


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


@dataclass(frozen=True)
class AttentionWeights:
    """Attention weights of one ``nn.MultiheadAttention`` call.

    Attributes:
        name: the module's name in the model.
        kind: ``"self"`` (query and key are the same tensor) or ``"cross"``.
        weights: ``(B, heads, L_query, L_key)``, rows summing to 1.
    """

    name: str
    kind: Literal["self", "cross"]
    weights: Tensor


@contextlib.contextmanager
def capture_attention(model: nn.Module) -> Iterator[list[AttentionWeights]]:
    """Record per-head attention weights of every ``nn.MultiheadAttention`` call inside the block.

    PyTorch's fused transformer fast path bypasses ``MultiheadAttention.forward`` in eval mode, so it
    is switched off inside the block (and restored after). Usage::

        with capture_attention(model) as records:
            model(inputs)
        records[0].weights  # (B, heads, L, S)
    """
    records: list[AttentionWeights] = []
    kinds: dict[int, Literal["self", "cross"]] = {}
    handles = []

    def force_weights(module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[tuple[Any, ...], dict[str, Any]]:
        kwargs = {**kwargs, **dict(zip(_MHA_ARGUMENTS[3:], args[3:]))}
        kwargs.update(need_weights=True, average_attn_weights=False)
        query, key = (args[0] if args else kwargs["query"]), (args[1] if len(args) > 1 else kwargs["key"])
        kinds[id(module)] = "self" if query is key else "cross"
        return args[:3], kwargs

    for name, module in model.named_modules():
        if isinstance(module, nn.MultiheadAttention):
            handles.append(module.register_forward_pre_hook(force_weights, with_kwargs=True))
            handles.append(
                module.register_forward_hook(
                    lambda m, _args, output, name=name: records.append(AttentionWeights(name, kinds[id(m)], output[1].detach()))
                )
            )
    fast_path = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)
    try:
        yield records
    finally:
        torch.backends.mha.set_fastpath_enabled(fast_path)
        for handle in handles:
            handle.remove()
