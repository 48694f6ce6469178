"""Pairwise interaction features of Particle Transformer (Qu, Li, Qian, ICML 2022, arXiv:2202.03772) as
an attention bias.

For tokens a, b with (pT, eta, phi, E)::

    delta = sqrt((eta_a - eta_b)^2 + (phi_a - phi_b)^2)     (phi difference wrapped into [-pi, pi))
    kT    = min(pT_a, pT_b) delta
    z     = min(pT_a, pT_b) / (pT_a + pT_b)
    m^2   = (E_a + E_b)^2 - |p_a + p_b|^2

and the network reads (ln delta, ln kT, ln z, ln m^2), each logarithm of the value clamped from below
at ``EPSILON`` (as ParT does), so that collinear or massless pairs and padding give finite features.
A token with itself carries no pairwise information and gets zeros (instead of ln EPSILON = -18). :class:`PairBias` embeds them per pair with a small MLP into one logit bias per
attention head, ``(B, heads, L, L)``, which the attention blocks add before the softmax. ParT uses
rapidity; here pseudorapidity, which the token streams carry (the two agree for the light particles of
a jet).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

__all__ = ["EPSILON", "PairBias", "pairwise_features"]

#: lower clamp of the logarithms' arguments
EPSILON = 1e-8


def pairwise_features(p4: Tensor) -> Tensor:
    """``(B, L, 4)`` tokens as (pT, eta, phi, E) -> ``(B, L, L, 4)``: ln delta, ln kT, ln z, ln m^2."""
    pt, eta, phi, energy = p4.unbind(dim=-1)
    deta = eta[:, :, None] - eta[:, None, :]
    dphi = torch.remainder(phi[:, :, None] - phi[:, None, :] + math.pi, 2 * math.pi) - math.pi
    delta = torch.sqrt(deta**2 + dphi**2)
    pt_min = torch.minimum(pt[:, :, None], pt[:, None, :])
    pt_sum = pt[:, :, None] + pt[:, None, :]
    px, py, pz = pt * torch.cos(phi), pt * torch.sin(phi), pt * torch.sinh(eta)
    pair_momentum = sum((c[:, :, None] + c[:, None, :]) ** 2 for c in (px, py, pz))
    mass2 = (energy[:, :, None] + energy[:, None, :]) ** 2 - pair_momentum
    values = (delta, pt_min * delta, pt_min / pt_sum.clamp_min(EPSILON), mass2)
    features = torch.stack([torch.log(value.clamp_min(EPSILON)) for value in values], dim=-1)
    itself = torch.eye(p4.shape[1], dtype=torch.bool, device=p4.device)[None, :, :, None]
    return features.masked_fill(itself, 0.0)


class PairBias(nn.Module):
    """Pairwise features -> one attention-logit bias per head, ``(B, heads, L, L)``.

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

    def forward(self, p4: Tensor) -> Tensor:
        bias = self.mlp(pairwise_features(p4))
        return bias.permute(0, 3, 1, 2)
