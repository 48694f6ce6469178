"""The pieces every collider network is built from: a per-token embedding, a stream encoder (embedding,
optional pairwise bias, self-attention blocks), pooling of a token set into one vector over its real
tokens (a class token, or the masked mean) and the classifier head."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

import torch
from torch import Tensor, nn

from showerlearn.collider.nn.attention import AttentionBlock, Encoder
from showerlearn.collider.nn.pairwise import PairBias, required_momenta

__all__ = [
    "ClassTokenPool", "ClassifierHead", "MeanPool", "Pooling", "StreamEncoder", "TokenEmbedding", "fixed_length",
    "last_self_attention", "make_pool", "masked_mean", "stream_encoders", "stream_inputs", "token_stream",
]  # fmt: skip

Pooling = Literal["class_token", "mean"]


def masked_mean(x: Tensor, mask: Tensor) -> Tensor:
    """``(B, L, C)`` -> ``(B, C)``: the mean over each event's real tokens (zero for an event without any)."""
    weights = mask.unsqueeze(-1).to(x.dtype)
    return (x * weights).sum(dim=1) / weights.sum(dim=1).clamp_min(1.0)


def stream_inputs(inputs: Mapping[str, Tensor], stream: str) -> tuple[Tensor, Tensor, Tensor | None]:
    """``(tokens, mask, p4 or None)`` of one stream of a batch's inputs (the collider DataModule's names)."""
    if stream not in inputs or f"{stream}_mask" not in inputs:
        raise KeyError(f"the inputs have no stream {stream!r} with its mask; they have {sorted(inputs)}")
    return inputs[stream], inputs[f"{stream}_mask"], inputs.get(f"{stream}_p4")


def last_self_attention(encoder: str, layers: Mapping[str, int]) -> dict[str, tuple[str, str, str]]:
    """The attention module of each stream's last self-attention block, for ``explain_attention``:
    ``{module name: (label, stream, stream)}``; ``encoder`` is the encoder's module name with ``{stream}``
    in it where it depends on the stream, ``layers`` its blocks per stream (streams without any are left out)."""
    return {
        f"{encoder.format(stream=stream)}.blocks.{n - 1}.attention": (f"{stream} self", stream, stream)
        for stream, n in layers.items()
        if n > 0
    }


def token_stream(layer: str, default: str) -> str:
    """The stream whose tokens the output of a two-stream network's module ``layer`` holds: the modules under
    ``streams.<stream>`` (that stream's encoder) and ``cross.<stream>`` (cross-attention with that stream's tokens
    as queries) hold that stream's; any other module ``default``."""
    parts = layer.split(".")
    return parts[1] if len(parts) > 1 and parts[0] in ("streams", "cross") else default


def fixed_length(x: Tensor, mask: Tensor, length: int) -> tuple[Tensor, Tensor]:
    """Tokens ``(B, L, C)`` and mask cut or zero-padded to ``length`` positions, padding zeroed: for networks
    whose token positions must not depend on the batch (an MLP's input slots).

    Always ``length`` zero rows appended, then cut: no branch on ``L``, so that a traced export pads a batch of
    fewer tokens than the traced one as well."""
    x = torch.cat([x, x.new_zeros(x.shape[0], length, x.shape[2])], dim=1)[:, :length]
    mask = torch.cat([mask, mask.new_zeros(mask.shape[0], length)], dim=1)[:, :length]
    return x * mask.unsqueeze(-1).to(x.dtype), mask


class TokenEmbedding(nn.Module):
    """Per-token MLP from the input features to the token width: Linear -> GELU -> Linear."""

    def __init__(self, features: int, dim: int) -> None:
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(features, dim), nn.GELU(), nn.Linear(dim, dim))

    def forward(self, x: Tensor) -> Tensor:
        return self.mlp(x)


class StreamEncoder(nn.Module):
    """One token stream: embedding, self-attention blocks, and optionally the pairwise bias of its tokens.

    Parameters
    ----------
    features
        Input features per token.
    dim, heads, layers, mlp_ratio, dropout
        Token width, attention heads, self-attention blocks, feed-forward width ratio, dropout.
    pair_hidden
        Width of the pairwise-feature MLP; None: no pairwise bias.
    """

    def __init__(
        self, features: int, dim: int, heads: int, layers: int, mlp_ratio: float = 2.0, dropout: float = 0.0,
        pair_hidden: int | None = None,
    ) -> None:  # fmt: skip
        super().__init__()
        self.embedding = TokenEmbedding(features, dim)
        self.pair_bias = PairBias(heads, pair_hidden) if pair_hidden is not None else None
        self.encoder = Encoder(dim, heads, layers, mlp_ratio, dropout)

    def forward(self, x: Tensor, mask: Tensor, p4: Tensor | None = None) -> Tensor:
        """``x`` (B, L, features), ``mask`` (B, L), ``p4`` (B, L, 4) with a pairwise bias -> (B, L, dim)."""
        bias = None
        if self.pair_bias is not None:
            bias = self.pair_bias(*required_momenta(p4), mask)
        return self.encoder(self.embedding(x), mask, bias)


def stream_encoders(
    features: Mapping[str, int], layers: Mapping[str, int], dim: int, heads: int, mlp_ratio: float, dropout: float,
    pair_hidden: int | None,
) -> nn.ModuleDict:
    """One :class:`StreamEncoder` per stream (``features`` and ``layers`` by stream name), all of one width."""
    return nn.ModuleDict({
        stream: StreamEncoder(features[stream], dim, heads, layers[stream], mlp_ratio, dropout, pair_hidden)
        for stream in features
    })  # fmt: skip


class MeanPool(nn.Module):
    """The masked mean of the real tokens."""

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        return masked_mean(x, mask)


class ClassTokenPool(nn.Module):
    """Class attention (CaiT, Touvron et al. 2021; Particle Transformer): a learned class token attends to
    itself and the real tokens in ``layers`` cross-attention blocks; its final state is the event's vector."""

    def __init__(self, dim: int, heads: int, layers: int = 1, mlp_ratio: float = 2.0, dropout: float = 0.0) -> None:
        super().__init__()
        self.token = nn.Parameter(torch.zeros(1, 1, dim))
        nn.init.trunc_normal_(self.token, std=0.02)
        self.blocks = nn.ModuleList(AttentionBlock(dim, heads, mlp_ratio, dropout) for _ in range(layers))
        self.norm = nn.LayerNorm(dim)

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        token = self.token.expand(x.shape[0], -1, -1)
        real = mask.new_ones(mask.shape[0], 1)
        for block in self.blocks:
            context = torch.cat([token, x], dim=1)
            token = block(token, real, context=context, context_mask=torch.cat([real, mask], dim=1))
        return self.norm(token[:, 0])


def make_pool(pooling: Pooling, dim: int, heads: int, layers: int, mlp_ratio: float, dropout: float) -> nn.Module:
    """The pooling named ``pooling``: ``"class_token"`` (with ``layers`` class-attention blocks) or ``"mean"``."""
    if pooling == "class_token":
        return ClassTokenPool(dim, heads, layers, mlp_ratio, dropout)
    if pooling == "mean":
        return MeanPool()
    raise ValueError(f"pooling must be 'class_token' or 'mean', got {pooling!r}")


class ClassifierHead(nn.Module):
    """MLP from the pooled event vector to one logit per class: Linear -> GELU -> Dropout -> Linear."""

    def __init__(self, features: int, hidden: int, n_classes: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(features, hidden), nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden, n_classes))

    def forward(self, x: Tensor) -> Tensor:
        return self.mlp(x)
