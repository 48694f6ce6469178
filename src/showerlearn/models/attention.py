"""Multi-head attention that exports with a dynamic batch and element count.

:class:`MultiheadAttention` is torch's ``nn.MultiheadAttention`` (the same parameters, checkpoints and fused
kernels, and the per-head weights ``showerlearn explain`` records) except during an ONNX export: torch's own
forward, traced by the TorchScript-based ONNX exporter, writes the example batch's size and element count into
its reshapes as constants, so the exported graph fails on any other batch. There, the same attention is written
out in tensor operations whose shapes follow the inputs. (A TorchScript trace of torch's forward keeps them
dynamic: it runs torch's.)

:func:`usable_mask` opens one key of an event without any, without a branch on the data (a trace keeps it).
:func:`encoder_problems` and :class:`EncoderSettingsCheck`: the width and head counts attention cannot take,
for the config check of the networks built on it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["EncoderSettingsCheck", "MultiheadAttention", "encoder_problems", "usable_mask"]


def encoder_problems(dim: Any, heads: Any) -> dict[str, str]:
    """What attention of width ``dim`` with ``heads`` heads cannot be, by parameter name."""
    problems = {name: f"must be an integer >= 1, got {value!r}" for name, value in (("dim", dim), ("heads", heads))
                if not isinstance(value, int) or value < 1}
    if not problems and dim % heads:
        problems["heads"] = f"{heads} does not divide dim {dim}: each attention head reads dim / heads of the width"
    return problems


class EncoderSettingsCheck:
    """For networks built on attention from their ``dim`` and ``heads``: the config check reports a width or head
    count the attention cannot take before any work (``config validate``), not as torch's error at construction."""

    @classmethod
    def config_problems(cls, params: Mapping[str, Any], path: str) -> list[str]:
        return [f"{path}.{name}: {problem}" for name, problem in
                encoder_problems(params.get("dim"), params.get("heads")).items()]


def usable_mask(mask: Tensor) -> Tensor:
    """The element mask ``(B, N)`` with the first slot of empty events opened: attention over no key at all gives
    NaN, which would reach the outputs and the loss through the padding of an event without elements. Without a
    branch on the data, so that a traced export opens it in every batch, not only in batches like the traced
    one. The mask needs one slot at least."""
    first = torch.arange(mask.shape[1], device=mask.device) == 0
    return mask | (~mask.any(dim=1, keepdim=True) & first)


class MultiheadAttention(nn.MultiheadAttention):
    """``nn.MultiheadAttention`` whose ONNX export keeps the batch and element axes dynamic (module docstring).
    The written-out form covers what showerlearn's networks build (``batch_first``, one width for query, key and
    value, no extra key/value bias); anything else runs torch's forward, exported or not. A query whose keys are
    all masked gets NaN there (torch's fused path gives 0): keep one key open (:func:`usable_mask`)."""

    def forward(self, query: Tensor, key: Tensor, value: Tensor, key_padding_mask: Tensor | None = None,
                need_weights: bool = True, attn_mask: Tensor | None = None, average_attn_weights: bool = True,
                is_causal: bool = False) -> tuple[Tensor, Tensor | None]:
        if not (torch.onnx.is_in_onnx_export() and self._written_out_form_applies(query, is_causal)):
            return super().forward(query, key, value, key_padding_mask=key_padding_mask, need_weights=need_weights,
                                   attn_mask=attn_mask, average_attn_weights=average_attn_weights, is_causal=is_causal)
        heads, width = self.num_heads, self.head_dim
        weight_q, weight_k, weight_v = self.in_proj_weight.chunk(3)
        bias_q, bias_k, bias_v = self.in_proj_bias.chunk(3) if self.in_proj_bias is not None else (None, None, None)
        q, k, v = (F.linear(x, w, b).unflatten(-1, (heads, width)).transpose(1, 2)  # (B, heads, L or S, width)
                   for x, w, b in ((query, weight_q, bias_q), (key, weight_k, bias_k), (value, weight_v, bias_v)))
        logits = q @ k.transpose(-1, -2) / math.sqrt(width)
        if attn_mask is not None:  # (L, S) or (B * heads, L, S), torch's layouts
            logits = _add_mask(logits, attn_mask if attn_mask.dim() == 2 else attn_mask.unflatten(0, (-1, heads)))
        if key_padding_mask is not None:  # (B, S)
            logits = _add_mask(logits, key_padding_mask[:, None, None, :])
        weights = F.dropout(logits.softmax(dim=-1), p=self.dropout, training=self.training)
        attended = self.out_proj((weights @ v).transpose(1, 2).flatten(start_dim=-2))
        if not need_weights:
            return attended, None
        return attended, weights.mean(dim=1) if average_attn_weights else weights

    def _written_out_form_applies(self, query: Tensor, is_causal: bool) -> bool:
        return (self.batch_first and self._qkv_same_embed_dim and self.bias_k is None and not self.add_zero_attn
                and query.dim() == 3 and not is_causal)


def _add_mask(logits: Tensor, mask: Tensor) -> Tensor:
    """Torch's two kinds of attention mask: a boolean one blocks where True, a float one is added."""
    if mask.dtype == torch.bool:
        return logits.masked_fill(mask, float("-inf"))
    return logits + mask
