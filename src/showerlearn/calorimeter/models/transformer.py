"""Transformers over the hits of an event: one with a pairwise-similarity head and a merge cut (the seed study's,
made to train), one with an object-condensation head (Kieseler 2020).

The published transformer's outputs stayed near 0.5 (its authors give no cause). What this one does so that it
trains, each a known cause of a stuck pairwise output: the hits enter standardised on the training split (raw
energies in MeV next to angles in radians and times in ns put most inputs far outside the range of the
initialised weights); the encoder is pre-norm, with a padding mask so that padded slots never enter attention;
the same-gamma pairs, a few among many, are weighed up with ``pos_weight``; and the similarity head sees,
besides the product and difference of the two hits' embeddings, the cosine of their opening angle.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor, nn

from showerlearn.calorimeter.data.features import FeatureSpec
from showerlearn.calorimeter.models.layers import (
    HitPairBias,
    SetEncoder,
    angle_features,
    directions,
    mlp,
    pair_angles,
    pair_cosines,
)
from showerlearn.models.attention import EncoderSettingsCheck
from showerlearn.registry import MODELS, Count, DropRate, NonNegative

__all__ = ["HitCondensation", "HitTransformer"]


@MODELS.register("hit_transformer")
class HitTransformer(EncoderSettingsCheck, nn.Module):
    """Transformer encoder over the hits with a pairwise-similarity head: one same-gamma logit per hit pair
    (output ``pairs``), cut at the decoding's merge threshold.

    Parameters
    ----------
    hit_features
        Injected by the DataModule: the hit features and their standardisation.
    dim
        Width of the hit embeddings.
    layers
        Transformer encoder layers.
    heads
        Attention heads per layer.
    dropout
        Dropout in the encoder.
    pair_bias
        Add a per-head attention bias from each hit pair's opening angle and energies (:class:`HitPairBias`).
    pair_hidden
        Width of the pair-bias MLP, and of the MLP that maps recycled pair logits to a bias (``stages``).
    stages
        Groups the encoder layers run in. After each group but the last, the similarity head reads the
        embeddings so far, and its same-gamma logits bias the attention of the next group (a learnt map per
        head): later layers can attend to the hits the head, as far as the network has got, puts with theirs.
    head_angles
        The similarity head also sees each pair's opening angle and its logarithm, besides the cosine: the cosine is
        flat between neighbouring crystals (0.995 at 0.1 rad), where two gammas' hits are told apart.
    """

    #: the outputs ``forward`` returns: the heads a task may train (the config check reads them)
    output_heads: tuple[str, ...] = ("pairs",)

    @classmethod
    def config_problems(cls, params: Mapping[str, Any], path: str) -> list[str]:
        """The encoder's problems, and more stages than layers (found by ``config validate``, before any work)."""
        problems = super().config_problems(params, path)
        layers, stages = params.get("layers"), params.get("stages")
        if isinstance(layers, int) and isinstance(stages, int) and (problem := _stages_problem(layers, stages)):
            problems.append(f"{path}.stages: {problem}")
        return problems

    def __init__(self, hit_features: FeatureSpec, dim: Count = 64, layers: NonNegative = 3, heads: Count = 4, dropout: DropRate = 0.0,
                 pair_bias: bool = False, pair_hidden: Count = 16, stages: Count = 1, head_angles: bool = False) -> None:
        super().__init__()
        if problem := _stages_problem(layers, stages):
            raise ValueError(f"stages: {problem}")
        self.spec = hit_features
        self.stages = stages
        self.encoder = SetEncoder(len(hit_features.names), dim, layers, heads, dropout)
        self.pair_bias = _pair_bias(hit_features, heads, layers, pair_hidden) if pair_bias else None
        self.explain_layer, self.explain_attention = self.encoder.explained("encoder")
        self.head_angles = head_angles
        self.similarity = mlp([2 * dim + (3 if head_angles else 1), dim, dim, 1])
        self.recycled = mlp([2, pair_hidden, heads]) if stages > 1 else None

    def forward(self, inputs: dict[str, Tensor]) -> dict[str, Tensor]:
        features, mask = inputs["hits"], inputs["hits_mask"]
        direction = directions(features, self.spec)
        cosines = pair_cosines(direction)
        geometry = torch.cat([cosines, angle_features(pair_angles(direction))], dim=-1) if self.head_angles else cosines
        bias = _bias(self.pair_bias, features)
        if self.recycled is None:
            z = self.encoder(features, mask, bias)
        else:
            recycled = self.recycled

            def between(embeddings: Tensor) -> Tensor:
                logits = self._logits(embeddings, geometry)
                return recycled(torch.cat([logits[..., None], cosines], dim=-1)).permute(0, 3, 1, 2)

            z = self.encoder.staged(features, mask, bias, self.stages, between)
        return {"pairs": self._logits(z, geometry)}

    def _logits(self, z: Tensor, geometry: Tensor) -> Tensor:
        """Same-gamma logits ``(B, N, N)`` from the embeddings and the pairs' geometry ``(B, N, N, G)``."""
        n = z.shape[1]
        first, second = z[:, :, None, :].expand(-1, -1, n, -1), z[:, None, :, :].expand(-1, n, -1, -1)
        # product and absolute difference: symmetric in the two hits by construction
        return self.similarity(torch.cat([first * second, (first - second).abs(), geometry], dim=-1)).squeeze(-1)


@MODELS.register("hit_condensation")
class HitCondensation(EncoderSettingsCheck, nn.Module):
    """Object condensation (Kieseler, EPJC 80, 886 (2020)) on a transformer backbone: per hit a condensation
    strength logit and coordinates in a learnt cluster space (output ``objects``, ``(B, N, 1 + space_dim)``,
    trained with the ``object_condensation`` loss). Clusters form around the condensation points; a cluster's
    energy is the sum of its hits'.

    Parameters
    ----------
    hit_features
        Injected by the DataModule: the hit features and their standardisation.
    dim
        Width of the hit embeddings.
    layers
        Transformer encoder layers.
    heads
        Attention heads per layer.
    space_dim
        Dimensions of the cluster space.
    dropout
        Dropout in the encoder.
    pair_bias
        Add a per-head attention bias from each hit pair's opening angle and energies (:class:`HitPairBias`).
    pair_hidden
        Width of the pair-bias MLP.
    """

    #: the outputs ``forward`` returns: the heads a task may train (the config check reads them)
    output_heads: tuple[str, ...] = ("objects",)

    def __init__(self, hit_features: FeatureSpec, dim: Count = 64, layers: NonNegative = 3, heads: Count = 4, space_dim: Count = 4,
                 dropout: DropRate = 0.0, pair_bias: bool = False, pair_hidden: Count = 16) -> None:
        super().__init__()
        self.encoder = SetEncoder(len(hit_features.names), dim, layers, heads, dropout)
        self.pair_bias = _pair_bias(hit_features, heads, layers, pair_hidden) if pair_bias else None
        self.explain_layer, self.explain_attention = self.encoder.explained("encoder")
        self.head = mlp([dim, dim, 1 + space_dim])

    def forward(self, inputs: dict[str, Tensor]) -> dict[str, Tensor]:
        features = inputs["hits"]
        return {"objects": self.head(self.encoder(features, inputs["hits_mask"], _bias(self.pair_bias, features)))}


def _stages_problem(layers: int, stages: int) -> str | None:
    if stages > max(layers, 1):
        return f"must be at most layers ({layers}): each stage runs one layer at least, got {stages}"
    return None


def _pair_bias(spec: FeatureSpec, heads: int, layers: int, hidden: int) -> HitPairBias:
    if layers < 1:
        raise ValueError("pair_bias needs attention layers to bias: layers must be >= 1")
    return HitPairBias(spec, heads, hidden)


def _bias(pair_bias: HitPairBias | None, features: Tensor) -> Tensor | None:
    return pair_bias(features) if pair_bias is not None else None
