"""The two-stream concatenation network: each stream through its own self-attention encoder and pooling,
the two event vectors concatenated into one MLP head. The streams meet only in the head, after each is
reduced to one vector; the comparison the multi-scale transformer's cross-attention is measured
against (arXiv:2401.00452)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from showerlearn.collider.nn.blocks import (
    ClassifierHead,
    Pooling,
    last_self_attention,
    make_pool,
    stream_encoders,
    stream_inputs,
    token_stream,
)
from showerlearn.models.attention import EncoderSettingsCheck
from showerlearn.registry import MODELS, Count, DropRate, NonNegative, Ratio

__all__ = ["ConcatenationNetwork"]


@MODELS.register("collider_concat")
class ConcatenationNetwork(EncoderSettingsCheck, nn.Module):
    """Per stream: embedding -> self-attention blocks -> pooling; then both vectors -> MLP head.

    Parameters
    ----------
    constituent_features, object_features, n_classes
        Input features of each stream and classes (given by the DataModule).
    dim, heads
        Token width and attention heads.
    constituent_layers, object_layers
        Self-attention blocks of each stream.
    pooling, class_layers
        ``"class_token"`` (with ``class_layers`` class-attention blocks) or ``"mean"``.
    mlp_ratio, head_hidden, dropout
        Feed-forward width over ``dim``, hidden width of the head, dropout.
    pair_features, pair_hidden
        Particle-Transformer pairwise bias in each stream's self-attention (needs
        ``data.params.pair_inputs: true``), and the width of its MLP.
    """

    #: the outputs ``forward`` returns: the heads a task may train (the config check reads them)
    output_heads: tuple[str, ...] = ("label",)

    def __init__(
        self,
        constituent_features: int,
        object_features: int,
        n_classes: int,
        dim: Count = 64,
        heads: Count = 4,
        constituent_layers: NonNegative = 2,
        object_layers: NonNegative = 2,
        pooling: Pooling = "class_token",
        class_layers: NonNegative = 1,
        mlp_ratio: Ratio = 2.0,
        head_hidden: Count = 64,
        dropout: DropRate = 0.0,
        pair_features: bool = False,
        pair_hidden: Count = 16,
    ) -> None:
        super().__init__()
        layers = {"constituents": constituent_layers, "objects": object_layers}
        features = {"constituents": constituent_features, "objects": object_features}
        self.streams = stream_encoders(features, layers, dim, heads, mlp_ratio, dropout, pair_hidden if pair_features else None)
        self.pools = nn.ModuleDict(
            {stream: make_pool(pooling, dim, heads, class_layers, mlp_ratio, dropout) for stream in self.streams}
        )
        self.head = ClassifierHead(2 * dim, head_hidden, n_classes, dropout)
        self.explain_layer = f"streams.constituents.encoder.blocks.{constituent_layers - 1}" if constituent_layers else None
        self.explain_stream = "constituents"
        self.explain_attention = last_self_attention("streams.{stream}.encoder", layers)

    def explain_stream_of(self, layer: str) -> str:
        """The stream whose tokens the output of module ``layer`` holds (Grad-CAM's ``--layer``)."""
        return token_stream(layer, self.explain_stream)

    def forward(self, inputs: dict[str, Tensor]) -> dict[str, Tensor]:
        pooled = []
        for stream, encoder in self.streams.items():
            x, mask, p4 = stream_inputs(inputs, stream)
            pooled.append(self.pools[stream](encoder(x, mask, p4), mask))
        return {"label": self.head(torch.cat(pooled, dim=-1))}
