"""Building blocks of the calorimeter networks: MLPs, a masked transformer encoder over a set of hits, the
physical directions of standardised hits and the features of element pairs."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from showerlearn.calorimeter.data.features import DIRECTION, FeatureSpec

__all__ = ["SetEncoder", "directions", "mlp", "ordered_pair_features", "pair_cosines", "symmetric", "usable_mask"]


def mlp(sizes: Sequence[int], dropout: float = 0.0) -> nn.Sequential:
    """Linear layers of the given widths with ReLU (and dropout) between them, none after the last."""
    layers: list[nn.Module] = []
    for number, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(n_in, n_out))
        if number < len(sizes) - 2:
            layers += [nn.ReLU(), nn.Dropout(dropout)] if dropout else [nn.ReLU()]
    return nn.Sequential(*layers)


def directions(features: Tensor, spec: FeatureSpec) -> Tensor:
    """Unit directions ``(B, N, 3)`` of standardised elements, from their ``x``, ``y``, ``z`` features."""
    index = spec.index(DIRECTION)
    mean, std = features.new_tensor([spec.mean[i] for i in index]), features.new_tensor([spec.std[i] for i in index])
    vectors = features[..., index] * std + mean
    return vectors / vectors.norm(dim=-1, keepdim=True).clamp_min(1e-6)


def pair_cosines(direction: Tensor) -> Tensor:
    """Cosine of the opening angle of every element pair ``(B, N, N, 1)``."""
    return (direction @ direction.transpose(1, 2)).clamp(-1.0, 1.0).unsqueeze(-1)


def ordered_pair_features(features: Tensor, cosines: Tensor) -> Tensor:
    """``(B, N, N, 3F + 1)``: the features of both elements, their difference and the cosine of their angle
    (the seed study's pair features, with the angle that needs no azimuthal wrap-around)."""
    n = features.shape[1]
    first = features[:, :, None, :].expand(-1, -1, n, -1)
    second = features[:, None, :, :].expand(-1, n, -1, -1)
    return torch.cat([first, second, first - second, cosines], dim=-1)


def symmetric(logits: Tensor) -> Tensor:
    """``(s_ij + s_ji) / 2``: one score per unordered pair."""
    return 0.5 * (logits + logits.transpose(1, 2))


def usable_mask(mask: Tensor) -> Tensor:
    """The element mask with the first slot of empty events opened: attention over no key at all gives NaN,
    which would reach the loss through the padding of an event without hits. Without a branch on the data,
    so that a traced export opens it in every batch, not only in batches like the traced one. The mask needs
    one slot at least (the calorimeter DataModule's batches have it, even when no event has a hit)."""
    first = torch.arange(mask.shape[1], device=mask.device) == 0
    return mask | (~mask.any(dim=1, keepdim=True) & first)


class SetEncoder(nn.Module):
    """Embedding MLP and a pre-norm transformer encoder over the real elements of each event (no positional
    encoding: a set has no order)."""

    def __init__(self, in_features: int, dim: int, layers: int, heads: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.embed = mlp([in_features, dim, dim])
        layer = nn.TransformerEncoderLayer(dim, heads, 2 * dim, dropout, batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False) if layers else None
        self.norm = nn.LayerNorm(dim)

    def explained(self, name: str) -> tuple[str | None, dict[str, str]]:
        """What ``showerlearn explain`` reads of this encoder, named ``name`` in its model: the last encoder
        layer (Grad-CAM's layer, if a target is named) and its self-attention with its label; ``(None, {})``
        without encoder layers."""
        if self.encoder is None:
            return None, {}
        last = len(self.encoder.layers) - 1
        layer = f"{name}.encoder.layers.{last}"
        return layer, {f"{layer}.self_attn": f"self-attention, layer {last + 1}"}

    def forward(self, features: Tensor, mask: Tensor) -> Tensor:
        """``(B, N, dim)`` element embeddings; padding rows are zero."""
        x = self.embed(features)
        if self.encoder is not None:
            x = self.encoder(x, src_key_padding_mask=~usable_mask(mask))
        return self.norm(x) * mask[..., None]
