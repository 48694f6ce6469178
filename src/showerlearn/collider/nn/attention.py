"""Pre-norm transformer blocks over padded token sets: self-attention and cross-attention, with padding
masked in every attention (keys) and an optional additive bias per head (pairwise features).

Each block is ``x + Attention(LN(x), LN(context)) -> x + MLP(LN(x))`` (pre-norm, Xiong et al. 2020),
the attention being :class:`torch.nn.MultiheadAttention` (its subclass that exports with any batch,
:class:`showerlearn.models.attention.MultiheadAttention`) so that
:func:`showerlearn.explain.attention.capture_attention` records its per-head weights. Padded keys get
-inf before the softmax: a real token's output never depends on padding, so appending padded tokens
leaves every real token, and the event's score, unchanged. A padded query gets an output too, which
nothing downstream reads (pooling and cross-attention mask it).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from showerlearn.models.attention import MultiheadAttention, usable_mask

__all__ = ["AttentionBlock", "Encoder", "additive_mask"]


def additive_mask(mask: Tensor, dtype: torch.dtype) -> Tensor:
    """``(B, S)`` real-token mask -> ``(B, S)`` float mask added to attention logits: 0 for a real key,
    -inf for a padded one. An event without any real key keeps its first key visible, so its softmax is
    defined; :class:`AttentionBlock` then discards what was read from it."""
    return torch.zeros(mask.shape, dtype=dtype, device=mask.device).masked_fill(~usable_mask(mask), float("-inf"))


class AttentionBlock(nn.Module):
    """One pre-norm transformer block: self-attention (``context`` None) or cross-attention to ``context``.

    Parameters
    ----------
    dim
        Token width.
    heads
        Attention heads (``dim`` must be a multiple).
    mlp_ratio
        Hidden width of the feed-forward network over ``dim``.
    dropout
        Dropout of the attention weights and after the attention and feed-forward outputs.
    """

    def __init__(self, dim: int, heads: int, mlp_ratio: float = 2.0, dropout: float = 0.0) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"the token width {dim} must be a multiple of the number of heads {heads}")
        self.heads = heads
        self.norm_query = nn.LayerNorm(dim)
        self.norm_context = nn.LayerNorm(dim)
        self.attention = MultiheadAttention(dim, heads, dropout=dropout, batch_first=True)
        self.dropout = nn.Dropout(dropout)
        hidden = max(1, round(dim * mlp_ratio))  # any ratio above 0 leaves a unit
        self.norm_mlp = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden, dim))

    def forward(
        self,
        x: Tensor,
        mask: Tensor,
        context: Tensor | None = None,
        context_mask: Tensor | None = None,
        bias: Tensor | None = None,
    ) -> Tensor:
        """``x`` (B, L, dim) with its mask (B, L); ``context`` (B, S, dim) and ``context_mask`` (B, S) for
        cross-attention; ``bias`` (B, heads, L, S) added to the attention logits. Returns (B, L, dim)."""
        query = self.norm_query(x)
        if context is None:
            keys, key_mask = query, mask  # the same tensor: capture_attention tells self-attention by identity
        else:
            if context_mask is None:
                raise ValueError("cross-attention needs the context's mask")
            keys, key_mask = self.norm_context(context), context_mask
        padding = additive_mask(key_mask, query.dtype)
        attended, _ = self.attention(
            query, keys, keys, key_padding_mask=padding, attn_mask=self._logit_bias(bias, x.shape[1]), need_weights=False
        )
        # an event whose keys are all padding (an empty stream) reads nothing: the padded key kept visible by
        # additive_mask must not reach its queries (the objects of an event without constituents, say)
        attended = attended * key_mask.any(dim=1).to(attended.dtype)[:, None, None]
        x = x + self.dropout(attended)
        return x + self.dropout(self.mlp(self.norm_mlp(x)))

    def _logit_bias(self, bias: Tensor | None, length: int) -> Tensor | None:
        """(B, heads, L, S) -> (B * heads, L, S), the layout of ``nn.MultiheadAttention``'s ``attn_mask``."""
        if bias is None:
            return None
        if bias.dim() != 4 or bias.shape[1] != self.heads or bias.shape[2] != length:
            raise ValueError(f"the attention bias must be (B, {self.heads}, {length}, S), got {tuple(bias.shape)}")
        return bias.reshape(-1, *bias.shape[2:])


class Encoder(nn.Module):
    """A stack of self-attention blocks and a final layer norm (pre-norm blocks leave the output unnormalised)."""

    def __init__(self, dim: int, heads: int, layers: int, mlp_ratio: float = 2.0, dropout: float = 0.0) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(AttentionBlock(dim, heads, mlp_ratio, dropout) for _ in range(layers))
        self.norm = nn.LayerNorm(dim)

    def forward(self, x: Tensor, mask: Tensor, bias: Tensor | None = None) -> Tensor:
        for block in self.blocks:
            x = block(x, mask, bias=bias)
        return self.norm(x)
