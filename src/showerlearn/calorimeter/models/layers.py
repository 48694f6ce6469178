"""Building blocks of the calorimeter networks: MLPs, a masked transformer encoder over a set of hits (with an
optional attention bias from the hits' opening angles and energies), the physical directions of standardised
hits and the features of element pairs."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
from torch import Tensor, nn

from showerlearn.calorimeter.data.features import DIRECTION, FeatureSpec
from showerlearn.models.attention import MultiheadAttention, encoder_problems, usable_mask

__all__ = [
    "HitPairBias", "SetEncoder", "angle_features", "directions", "mlp", "ordered_pair_features", "pair_angles",
    "pair_cosines",
    "symmetric",
]


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


#: smallest pair angle [rad], that of a hit with itself: what the arccos of a cosine clamped at 1 - 1e-6 gave in
#: float32, which earlier versions computed and trained networks saw
_MIN_ANGLE = float(torch.arccos(torch.tensor(1.0 - 1e-6)))


def pair_angles(direction: Tensor) -> Tensor:
    """Opening angle [rad] of every element pair ``(B, N, N, 1)`` of unit directions ``(B, N, 3)``: the angle itself,
    not its cosine, which is flat where neighbouring crystals lie (0.1 rad apart). From the chord,
    ``2 asin(|u - v| / 2)``, exact to float32's digits at small angles: the arccos of the cosine loses them there,
    where a rounding of the cosine moves the angle 20 times more, enough for PyTorch and an ONNX export to disagree
    by 1e-4. (Not atan2 of sine and cosine: ONNX has no such operator, and its replacement divides 0 by 0 for a
    padded hit.)"""
    chord = (direction[:, :, None, :] - direction[:, None, :, :]).norm(dim=-1, keepdim=True)
    # below 1 by what the smallest angle leaves: asin's slope is infinite at 1 (opposite hits), its gradient NaN
    half = (chord / 2).clamp(max=math.cos(_MIN_ANGLE / 2))
    return (2 * torch.asin(half)).clamp(min=_MIN_ANGLE)


def angle_features(angles: Tensor) -> Tensor:
    """``(B, N, N, 2)``: the pair angles ``(B, N, N, 1)`` [rad] and their logarithm, which spreads the neighbouring
    crystals' angles (offset by 1 mrad, below the smallest angle, to stay finite)."""
    return torch.cat([angles, torch.log(angles + 1e-3)], dim=-1)


class HitPairBias(nn.Module):
    """Per pair of hits, one attention-logit bias per head, ``(B, heads, N, N)``, from the pair's opening angle
    and both hits' log energies (standardised): the pairwise-interaction bias of Particle Transformer (Qu, Li,
    Qian 2022) with a calorimeter's pair quantities. Without it, attention must learn which hits are
    neighbours from the embedded directions; with it, every layer starts from the angle.

    Parameters
    ----------
    spec
        The hit features (they must hold ``x``, ``y``, ``z`` and ``log_energy``).
    heads
        Attention heads of the encoder the bias goes to.
    hidden
        Width of the per-pair MLP (it runs on B x N x N pairs: keep it small on a CPU).
    """

    def __init__(self, spec: FeatureSpec, heads: int, hidden: int = 16) -> None:
        super().__init__()
        self.spec = spec
        self.log_energy = spec.index(["log_energy"])[0]
        self.mlp = mlp([4, hidden, heads])

    def angles(self, features: Tensor) -> Tensor:
        """Opening angle [rad] of every hit pair, ``(B, N, N, 1)`` (:func:`pair_angles`)."""
        return pair_angles(directions(features, self.spec))

    def forward(self, features: Tensor) -> Tensor:
        angle = self.angles(features)
        n = features.shape[1]
        log_energy = features[..., self.log_energy]
        pairs = torch.cat([
            angle_features(angle), log_energy[:, :, None, None].expand(-1, -1, n, -1),
            log_energy[:, None, :, None].expand(-1, n, -1, -1),
        ], dim=-1)  # fmt: skip
        return self.mlp(pairs).permute(0, 3, 1, 2)


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


class _PreNormLayer(nn.TransformerEncoderLayer):
    """torch's pre-norm encoder layer with an attention that exports to ONNX (:class:`MultiheadAttention`), on its
    differentiable path whenever an attention bias is given: its inference fast path reads a float attention
    mask as a boolean one (every non-zero logit bias masked), which would mask whole biased rows. In an ONNX
    export, on that path too: the fast path is one fused kernel that never calls the attention module. Else
    (only the boolean padding mask) torch's own forward, fast path included."""

    def __init__(self, dim: int, heads: int, dropout: float) -> None:
        super().__init__(dim, heads, 2 * dim, dropout, batch_first=True, norm_first=True)
        # the attention torch built, recast (the subclass adds no state): a second one would draw other random
        # weights, and a seed would no longer give the networks it gave before
        self.self_attn.__class__ = MultiheadAttention

    def forward(self, src: Tensor, src_mask: Tensor | None = None, src_key_padding_mask: Tensor | None = None,
                is_causal: bool = False) -> Tensor:
        if src_mask is None and not torch.onnx.is_in_onnx_export():
            return super().forward(src, src_key_padding_mask=src_key_padding_mask, is_causal=is_causal)
        x = src + self._sa_block(self.norm1(src), src_mask, src_key_padding_mask, is_causal=is_causal)
        return x + self._ff_block(self.norm2(x))


class SetEncoder(nn.Module):
    """Embedding MLP and a pre-norm transformer encoder over the real elements of each event (no positional
    encoding: a set has no order), with an optional per-head attention bias given to ``forward``."""

    def __init__(self, in_features: int, dim: int, layers: int, heads: int, dropout: float = 0.0) -> None:
        super().__init__()
        if problems := encoder_problems(dim, heads):
            raise ValueError("; ".join(f"{name}: {problem}" for name, problem in problems.items()))
        self.heads = heads
        self.embed = mlp([in_features, dim, dim])
        layer = _PreNormLayer(dim, heads, dropout)
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

    def forward(self, features: Tensor, mask: Tensor, bias: Tensor | None = None) -> Tensor:
        """``(B, N, dim)`` element embeddings; padding rows are zero. ``bias``: ``(B, heads, N, N)`` added to every
        layer's attention logits (query, key)."""
        x = self.embed(features)
        if self.encoder is not None:
            x = self.encoder(x, **_attention_masks(mask, bias, self.heads), is_causal=False)
        return self.norm(x) * mask[..., None]

    def staged(self, features: Tensor, mask: Tensor, bias: Tensor | None, stages: int,
               between: Callable[[Tensor], Tensor]) -> Tensor:
        """:meth:`forward` with the layers in ``stages`` consecutive groups: after each group but the last,
        ``between`` reads the embeddings so far (normed, padding zero) and returns ``(B, heads, N, N)``, added to
        ``bias`` for the layers of the next group."""
        x = self.embed(features)
        layers = list(self.encoder.layers) if self.encoder is not None else []
        bounds = [k * len(layers) // stages for k in range(stages + 1)]  # a later stage takes the extra layer
        extra = None
        for stage, (start, stop) in enumerate(zip(bounds[:-1], bounds[1:])):
            if stage:
                extra = between(self.norm(x) * mask[..., None])
            stage_bias = extra if bias is None else bias if extra is None else bias + extra
            masks = _attention_masks(mask, stage_bias, self.heads)
            for layer in layers[start:stop]:
                x = layer(x, src_mask=masks.get("mask"), src_key_padding_mask=masks.get("src_key_padding_mask"))
        return self.norm(x) * mask[..., None]


def _attention_masks(mask: Tensor, bias: Tensor | None, heads: int) -> dict[str, Tensor]:
    """The keyword arguments of torch's encoder that keep padded keys out of attention and add ``bias``."""
    blocked = ~usable_mask(mask)
    if bias is None:
        return {"src_key_padding_mask": blocked}
    expected = (mask.shape[0], heads, mask.shape[1], mask.shape[1])
    if tuple(bias.shape) != expected:
        raise ValueError(f"the attention bias has shape {tuple(bias.shape)}, expected (batch, heads, N, N) = {expected}")
    # padded keys folded into the bias: torch takes one float mask (B * heads, N, N), the same in every layer
    logits = bias.masked_fill(blocked[:, None, None, :], float("-inf"))
    return {"mask": logits.reshape(-1, *logits.shape[2:])}
