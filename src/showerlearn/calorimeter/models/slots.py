"""Invariant slot attention over the hits (Biza et al., "Invariant Slot Attention: Object Discovery with
Slot-Centric Reference Frames", ICML 2023), as the seed study tried slot attention: a fixed number of slots,
each a cluster candidate, compete for the hits.

Each slot carries a content vector and a reference frame on the sphere of directions: a position (unit vector)
and a scale (angle). Keys and values of a hit are computed from its embedding *and its direction relative to
the slot's frame*, ``(x_i - p_k) / s_k``, so what a slot attends to does not depend on where on the detector
the gamma went. Slot ``k`` starts at the direction of the ``k``-th most energetic hit (the seeds of the R3B
window; a slot beyond the event's hits starts at the most energetic one). Per iteration: softmax over the slots
(competition), weighted means over the hits, a GRU update of the contents, and the frames move to the
weighted centroid and spread of their hits.

Outputs: ``slots`` ``(B, N, K)``, the share of each hit in each slot (a hit's cluster is its largest slot),
and ``pairs``, the logit of the probability ``sum_k a_ik a_jk`` that two hits share a slot: trained with
``pairwise_bce``, which needs no matching of slots to gammas.
"""

from __future__ import annotations

import math
from typing import ClassVar

import torch
from torch import Tensor, nn

from showerlearn.calorimeter.data.features import FeatureSpec
from showerlearn.calorimeter.models.layers import SetEncoder, directions, mlp
from showerlearn.models.attention import EncoderSettingsCheck
from showerlearn.registry import MODELS, Count, NonNegative

__all__ = ["HitSlotAttention", "pair_logits"]

#: smallest frame scale [rad]: a slot on a single hit would otherwise divide by zero
MIN_SCALE = 0.02
#: a hit's feature that orders the seeds (any increasing function of the energy)
_ENERGY_FEATURES = ("log_energy", "energy")


@MODELS.register("hit_slot_attention")
class HitSlotAttention(EncoderSettingsCheck, nn.Module):
    """Invariant slot attention: ``slots`` compete for the hits over ``iterations`` rounds (outputs ``slots`` and
    ``pairs``).

    Parameters
    ----------
    hit_features
        Injected by the DataModule: the hit features and their standardisation (needs x, y, z and an energy).
    slots
        Number of slots (cluster candidates) per event.
    dim
        Width of the hit embeddings and slot contents.
    iterations
        Rounds of slot attention.
    encoder_layers
        Transformer encoder layers over the hits before the slots (0: the embedding MLP only).
    heads
        Attention heads of the encoder layers.
    initial_scale
        Starting scale of every slot's frame [rad].
    """

    #: the outputs ``forward`` returns: the heads a task may train (the config check reads them)
    output_heads: tuple[str, ...] = ("slots", "pairs")
    #: both outputs are the same shares (``pairs`` their products): training one trains the other
    trained_with: ClassVar[dict[str, str]] = {"slots": "pairs", "pairs": "slots"}

    def __init__(self, hit_features: FeatureSpec, slots: Count = 8, dim: Count = 64, iterations: Count = 3,
                 encoder_layers: NonNegative = 1, heads: Count = 4, initial_scale: float = 0.2) -> None:
        super().__init__()
        if slots < 1 or iterations < 1:
            raise ValueError(f"slots and iterations must be >= 1, got {slots} and {iterations}")
        self.spec = hit_features
        self.energy_index = next((hit_features.names.index(n) for n in _ENERGY_FEATURES if n in hit_features.names), None)
        if self.energy_index is None:
            raise ValueError(f"hit_slot_attention orders its seeds by energy: the inputs need one of {list(_ENERGY_FEATURES)}")
        hit_features.index(("x", "y", "z"))  # fails now, with the names, rather than in the first batch
        self.n_slots, self.iterations, self.dim = slots, iterations, dim
        self.encoder = SetEncoder(len(hit_features.names), dim, encoder_layers, heads)
        self.explain_layer, self.explain_attention = self.encoder.explained("encoder")
        self.slot_init = nn.Parameter(torch.randn(slots, dim) / math.sqrt(dim))
        self.seed_content = nn.Linear(dim, dim)
        self.log_scale = nn.Parameter(torch.tensor(math.log(initial_scale)))
        self.to_q, self.to_k, self.to_v = nn.Linear(dim, dim), nn.Linear(dim, dim), nn.Linear(dim, dim)
        self.relative = mlp([3, dim, dim])
        self.keys, self.values = mlp([dim, dim, dim]), mlp([dim, dim, dim])
        self.norm_slots, self.norm_update = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.gru = nn.GRUCell(dim, dim)
        self.update = mlp([dim, 2 * dim, dim])

    def forward(self, inputs: dict[str, Tensor]) -> dict[str, Tensor]:
        features, mask = inputs["hits"], inputs["hits_mask"]
        x, position = self.encoder(features, mask), directions(features, self.spec)
        slots, centre = self._seeds(features, mask, x, position)
        scale = self.log_scale.exp().expand(centre.shape[:2])
        for _ in range(self.iterations):
            share, slots, centre, scale = self._step(x, position, mask, slots, centre, scale)
        return {"slots": share, "pairs": pair_logits(share)}

    def _seeds(self, features: Tensor, mask: Tensor, x: Tensor, position: Tensor) -> tuple[Tensor, Tensor]:
        """Initial contents ``(B, K, dim)`` and positions ``(B, K, 3)``: at the most energetic hits, in order."""
        energy = features[..., self.energy_index].masked_fill(~mask, float("-inf"))
        order = energy.argsort(dim=1, descending=True)
        rank = torch.arange(self.n_slots, device=features.device).clamp(max=max(features.shape[1] - 1, 0))
        seed = order[:, rank] if features.shape[1] else order.new_zeros(len(order), self.n_slots)
        real = torch.arange(self.n_slots, device=features.device)[None, :] < mask.sum(dim=1, keepdim=True)
        seed = torch.where(real, seed, order[:, :1] if features.shape[1] else seed)
        content = self.slot_init + self.seed_content(_gather(x, seed)) * real[..., None]
        return content, _gather(position, seed)

    def _step(self, x: Tensor, position: Tensor, mask: Tensor, slots: Tensor, centre: Tensor, scale: Tensor
              ) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        relative = self.relative((position[:, None] - centre[:, :, None]) / scale[..., None, None])  # (B, K, N, dim)
        keys = self.keys(self.to_k(x)[:, None] + relative)
        values = self.values(self.to_v(x)[:, None] + relative)
        query = self.to_q(self.norm_slots(slots))
        logits = torch.einsum("bkd,bknd->bkn", query, keys) / math.sqrt(self.dim)
        share = logits.softmax(dim=1) * mask[:, None, :]  # hits shared among the slots
        weight = share / share.sum(dim=2, keepdim=True).clamp_min(1e-8)  # each slot's mean over its hits
        updates = torch.einsum("bkn,bknd->bkd", weight, values)
        slots = self.gru(self.norm_update(updates).flatten(0, 1), slots.flatten(0, 1)).view_as(slots)
        slots = slots + self.update(self.norm_slots(slots))
        centre = torch.einsum("bkn,bnc->bkc", weight, position)
        spread = torch.einsum("bkn,bkn->bk", weight, (position[:, None] - centre[:, :, None]).pow(2).sum(-1))
        return share.transpose(1, 2), slots, centre, spread.clamp_min(MIN_SCALE**2).sqrt()


def pair_logits(share: Tensor) -> Tensor:
    """Logit ``(B, N, N)`` of the probability ``p_ij = sum_k a_ik a_jk`` that two hits share a slot, from the shares
    ``a`` ``(B, N, K)`` (a real hit's sum to 1), bounded to +-13.8 (p in [1e-6, 1 - 1e-6]). Its complement is
    summed from the other slots' shares, ``sum_k a_ik sum_(l != k) a_jl``, rather than taken as ``1 - p``: near
    p = 1, a trained network's usual answer, that difference would keep few of float32's digits, and two exact
    computations of the network (PyTorch and its ONNX export) would give logits 1 % apart."""
    same = torch.einsum("bnk,bmk->bnm", share, share)
    k = share.shape[-1]
    others = share @ (torch.ones(k, k, dtype=share.dtype, device=share.device) - torch.eye(k, dtype=share.dtype, device=share.device))
    other = torch.einsum("bnk,bmk->bnm", share, others)
    return torch.log(same.clamp_min(1e-6)) - torch.log(other.clamp_min(1e-6))


def _gather(values: Tensor, index: Tensor) -> Tensor:
    """``values[b, index[b, k]]`` ``(B, K, C)`` from ``values`` ``(B, N, C)``."""
    if values.shape[1] == 0:
        return values.new_zeros(*index.shape, values.shape[-1])
    return values.gather(1, index[..., None].expand(-1, -1, values.shape[-1]))
