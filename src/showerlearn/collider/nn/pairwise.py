"""Pairwise interaction features of Particle Transformer (Qu, Li, Qian, ICML 2022, arXiv:2202.03772) as
an attention bias.

For tokens a, b with (pT, eta, phi, E)::

    delta = sqrt((eta_a - eta_b)^2 + (phi_a - phi_b)^2)     (phi difference wrapped into [-pi, pi))
    kT    = min(pT_a, pT_b) delta
    z     = min(pT_a, pT_b) / (pT_a + pT_b)
    m^2   = (E_a + E_b)^2 - |p_a + p_b|^2

and the network reads (ln delta, ln kT, ln z, ln m^2), each logarithm of the value clamped from below
at ``EPSILON`` (as ParT does), so that collinear or massless pairs and padding give finite features.
ParT uses rapidity; here pseudorapidity, which the token streams carry (the two agree for the light
particles of a jet).

Within one token set, a token with itself carries no pairwise information and gets zeros (instead of
ln EPSILON = -18). Between two token sets (a cross-attention's queries and keys: a constituent and a
reconstructed object, say) nothing is zeroed: a lepton among the objects may be a constituent too, and its
pair with itself then has the clamped values, as in ParT. Both sets must carry absolute eta and phi (the
collider DataModule's ``*_p4`` inputs do). The missing transverse momentum is an object with eta 0 and
E = pT by convention: its pairs read the partner's eta as if it were the difference.

:class:`PairBias` embeds the features per pair with a small MLP into one logit bias per attention head,
``(B, heads, L, L)`` within a set and ``(B, heads, L, S)`` between two, which the attention blocks add
before the softmax. Padded tokens are zeroed first: whatever they held, they give finite values, which the
attention masks anyway.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

__all__ = ["EPSILON", "PairBias", "pairwise_features", "required_momenta"]

#: lower clamp of the logarithms' arguments
EPSILON = 1e-8


def pairwise_features(p4: Tensor, other: Tensor | None = None) -> Tensor:
    """``(B, L, 4)`` tokens as (pT, eta, phi, E) -> ``(B, L, L, 4)``: ln delta, ln kT, ln z, ln m^2 of each
    pair; with ``other`` ``(B, S, 4)``, of each pair of a token of ``p4`` and one of ``other``: ``(B, L, S, 4)``."""
    a, b = p4.unbind(dim=-1), (p4 if other is None else other).unbind(dim=-1)
    (pt_a, eta_a, phi_a, energy_a), (pt_b, eta_b, phi_b, energy_b) = a, b
    deta = eta_a[:, :, None] - eta_b[:, None, :]
    dphi = torch.remainder(phi_a[:, :, None] - phi_b[:, None, :] + math.pi, 2 * math.pi) - math.pi
    delta = torch.sqrt(deta**2 + dphi**2)
    pt_min = torch.minimum(pt_a[:, :, None], pt_b[:, None, :])
    pt_sum = pt_a[:, :, None] + pt_b[:, None, :]
    momenta_a, momenta_b = _cartesian(pt_a, eta_a, phi_a), _cartesian(pt_b, eta_b, phi_b)
    pair_momentum = sum((ca[:, :, None] + cb[:, None, :]) ** 2 for ca, cb in zip(momenta_a, momenta_b, strict=True))
    mass2 = (energy_a[:, :, None] + energy_b[:, None, :]) ** 2 - pair_momentum
    values = (delta, pt_min * delta, pt_min / pt_sum.clamp_min(EPSILON), mass2)
    features = torch.stack([torch.log(value.clamp_min(EPSILON)) for value in values], dim=-1)
    if other is not None:
        return features
    index = torch.arange(p4.shape[1], device=p4.device)  # not torch.eye: onnxruntime has no boolean EyeLike
    itself = (index[:, None] == index[None, :])[None, :, :, None]
    return features.masked_fill(itself, 0.0)


def required_momenta(*momenta: Tensor | None) -> tuple[Tensor, ...]:
    """The streams' ``*_p4`` inputs a pairwise bias reads; an error naming the setting if one is missing."""
    if any(p4 is None for p4 in momenta):
        raise ValueError("this network uses pairwise features: set data.params.pair_inputs: true")
    return momenta


def _cartesian(pt: Tensor, eta: Tensor, phi: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    return pt * torch.cos(phi), pt * torch.sin(phi), pt * torch.sinh(eta)


class PairBias(nn.Module):
    """Pairwise features -> one attention-logit bias per head, ``(B, heads, L, L)`` (or ``(B, heads, L, S)``).

    Parameters
    ----------
    heads
        Attention heads of the blocks the bias goes to.
    hidden
        Width of the per-pair MLP (it runs on B x L x L pairs: keep it small on a CPU).
    """

    def __init__(self, heads: int, hidden: int = 16) -> None:
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(4, hidden), nn.GELU(), nn.Linear(hidden, heads))

    def forward(self, p4: Tensor, mask: Tensor, other: Tensor | None = None, other_mask: Tensor | None = None) -> Tensor:
        """``(B, L, 4)`` tokens and their real-token mask ``(B, L)`` -> ``(B, heads, L, L)``; with the keys'
        ``other`` ``(B, S, 4)`` and ``other_mask``, ``(B, heads, L, S)``."""
        keys = None if other is None else _real(other, other_mask)
        bias = self.mlp(pairwise_features(_real(p4, mask), keys))
        return bias.permute(0, 3, 1, 2)


def _real(p4: Tensor, mask: Tensor | None) -> Tensor:
    """The tokens with padding zeroed: NaN or overflowing values there would reach the real tokens' scores
    through the bias MLP's NaN (a NaN logit stays NaN under the padding's -inf)."""
    if mask is None:
        raise ValueError("the pairwise features need the tokens' mask")
    return torch.where(mask[..., None], p4, torch.zeros((), dtype=p4.dtype, device=p4.device))
