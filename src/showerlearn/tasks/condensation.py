r"""Object condensation (Kieseler, EPJC 80, 886 (2020), arXiv:2002.03605): one network output per hit
both assigns hits to objects and picks one representative hit per object, for any number of objects.

Per hit ``i`` of an event the head outputs ``(B, N, 1 + D)``: a logit whose sigmoid is the condensation
strength :math:`\beta_i \in (0, 1)` and coordinates :math:`x_i \in \mathbb{R}^D` in a learned cluster
space. Targets ``(B, N)`` are the object index of each hit (any non-negative integers, ``-1`` for noise);
the head's mask says which hits are real (not padding). Per event, with :math:`N` real hits:

* charge :math:`q_i = \operatorname{arctanh}^2 \beta_i + q_\mathrm{min}` (``beta`` is capped at
  ``1 - 1e-4`` so the charge stays finite);
* the condensation point of object :math:`k` is its hit of highest charge, :math:`\alpha_k`;
* potential loss :math:`L_V = \frac{1}{N} \sum_j q_j \sum_k \big(M_{jk}\, \|x_j - x_{\alpha_k}\|^2 q_{\alpha_k}
  + (1 - M_{jk}) \max(0, 1 - \|x_j - x_{\alpha_k}\|)\, q_{\alpha_k}\big)`, :math:`M_{jk} = 1` when hit
  :math:`j` belongs to object :math:`k`: each object attracts its hits and repels all others (noise too);
* condensation loss :math:`L_\beta = \frac{1}{K} \sum_k (1 - \beta_{\alpha_k})
  + s_B \frac{1}{N_B} \sum_{i \in \mathrm{noise}} \beta_i` over the :math:`K` objects and :math:`N_B` noise
  hits of the event (each part zero when the event has no object, no noise hit);
* loss :math:`L = L_V + L_\beta`, one value per event.

At inference, hits of high ``beta`` far apart in cluster space are the objects' representatives and the
other hits join the nearest within a radius: the family's decoding.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from showerlearn.registry import LOSSES
from showerlearn.tasks.losses import declare_kind, loss_kind

#: ``beta`` is capped below 1 by this much: ``arctanh(1)`` is infinite
BETA_MARGIN = 1e-4

# not a likelihood: task balancing treats it as a Gaussian (regression) term
declare_kind("object_condensation", categorical=False)


@LOSSES.register("object_condensation")
@loss_kind("object_condensation")
def object_condensation(
    output: Tensor, target: Tensor, mask: Tensor | None, q_min: float = 0.1, noise_weight: float = 1.0
) -> Tensor:
    """Object condensation: potential and condensation losses of per-hit ``beta`` logits and cluster
    coordinates ``(B, N, 1 + D)`` against per-hit object indices ``(B, N)`` (-1: noise), per event.

    Parameters
    ----------
    q_min
        Minimal charge of a hit: every hit keeps some pull in cluster space.
    noise_weight
        ``s_B``, the weight of the suppression of ``beta`` on noise hits.
    """
    if target.shape[1] == 0:  # a batch of events without hits
        return output.sum(dim=(1, 2)) * 0.0
    real = torch.ones_like(target, dtype=torch.bool) if mask is None else mask.bool()
    if real.shape != target.shape:
        raise ValueError(f"object condensation needs a per-hit mask {tuple(target.shape)}, got {tuple(real.shape)}")
    # at least float32: in bf16/fp16 (autocast) 1 - BETA_MARGIN rounds to 1 and atanh(beta) is infinite
    output = output.float() if output.dtype in (torch.float16, torch.bfloat16) else output
    output = torch.where(real[..., None], output, torch.zeros_like(output))  # padding may hold anything
    beta = torch.sigmoid(output[..., 0]).clamp(max=1.0 - BETA_MARGIN)
    coordinates = output[..., 1:]
    charge = torch.atanh(beta) ** 2 + q_min
    members = _members(target, real)  # (B, N, K)
    present = members.any(dim=1)  # (B, K)
    alpha = torch.where(members, charge[..., None], float("-inf")).argmax(dim=1)  # (B, K)
    charge_alpha, beta_alpha = charge.gather(1, alpha), beta.gather(1, alpha)
    x_alpha = coordinates.gather(1, alpha[..., None].expand(-1, -1, coordinates.shape[-1]))  # (B, K, D)
    squared = (coordinates[:, :, None, :] - x_alpha[:, None, :, :]).pow(2).sum(dim=-1)  # (B, N, K)
    # clamped: sqrt has an infinite gradient at 0, the distance of each condensation point to itself
    distance = squared.clamp_min(1e-12).sqrt()
    potential = torch.where(members, squared, F.relu(1.0 - distance)) * (charge_alpha * present)[:, None, :]
    potential_loss = (charge * potential.sum(dim=-1) * real).sum(dim=1) / real.sum(dim=1).clamp_min(1)
    condensation = ((1.0 - beta_alpha) * present).sum(dim=1) / present.sum(dim=1).clamp_min(1)
    noise = (target < 0) & real
    noise_loss = (beta * noise).sum(dim=1) / noise.sum(dim=1).clamp_min(1)
    return potential_loss + condensation + noise_weight * noise_loss


def _members(target: Tensor, real: Tensor) -> Tensor:
    """``(B, N, K)``: hit ``n`` of event ``b`` is a real hit of object ``k``, the objects' ids renumbered
    0..K-1 (any ids, Geant4 track numbers say, cost memory by their count, not by their size)."""
    ids = torch.where(real, target.long(), -1)
    present, dense = torch.unique(ids[ids >= 0], return_inverse=True)
    renumbered = torch.full_like(ids, -1)
    renumbered[ids >= 0] = dense
    objects = torch.arange(max(len(present), 1), device=target.device)  # at least one (empty) object: no 0-size argmax
    return (renumbered[..., None] == objects) & real[..., None]
