"""Transformer attention weights, per head: :func:`capture_attention` records the weights of every
``torch.nn.MultiheadAttention`` call by forcing ``need_weights=True, average_attn_weights=False`` through
forward hooks. Self-attention (query is key) and cross-attention are told apart at call time.

Attention that a family's own layers keep (the Dual Attention maps of gamma-PhysNet-DA) is read by the
family (``showerlearn.iact.explain.attention``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import Tensor, nn

__all__ = ["AttentionWeights", "capture_attention"]

# positional order of nn.MultiheadAttention.forward's arguments
_MHA_ARGUMENTS = ("query", "key", "value", "key_padding_mask", "need_weights", "attn_mask", "average_attn_weights", "is_causal")


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
