"""A self-attention transformer on one token stream alone (the constituents, or the objects): the
single-stream comparisons of the multi-scale transformer (arXiv:2401.00452)."""

from __future__ import annotations

from typing import Literal

from torch import Tensor, nn

from showerlearn.collider.nn.blocks import (
    ClassifierHead,
    Pooling,
    StreamEncoder,
    last_self_attention,
    make_pool,
    stream_inputs,
)
from showerlearn.models.attention import EncoderSettingsCheck
from showerlearn.registry import MODELS, Count, DropRate, NonNegative, Ratio

__all__ = ["StreamTransformer"]


@MODELS.register("collider_transformer")
class StreamTransformer(EncoderSettingsCheck, nn.Module):
    """Embedding -> self-attention blocks -> pooling -> MLP head, on the tokens of ``stream`` only.

    Parameters
    ----------
    constituent_features, object_features, n_classes
        Input features of each stream and classes (given by the DataModule).
    stream
        The stream read: ``"constituents"`` or ``"objects"``.
    dim, heads, layers
        Token width, attention heads, self-attention blocks.
    pooling, class_layers
        ``"class_token"`` (with ``class_layers`` class-attention blocks) or ``"mean"``.
    mlp_ratio, head_hidden, dropout
        Feed-forward width over ``dim``, hidden width of the head, dropout.
    pair_features, pair_hidden
        Particle-Transformer pairwise bias in the self-attention (needs ``data.params.pair_inputs: true``),
        and the width of its MLP.
    """

    #: the outputs ``forward`` returns: the heads a task may train (the config check reads them)
    output_heads: tuple[str, ...] = ("label",)

    def __init__(
        self,
        constituent_features: int,
        object_features: int,
        n_classes: int,
        stream: Literal["constituents", "objects"] = "constituents",
        dim: Count = 64,
        heads: Count = 4,
        layers: NonNegative = 2,
        pooling: Pooling = "class_token",
        class_layers: NonNegative = 1,
        mlp_ratio: Ratio = 2.0,
        head_hidden: Count = 64,
        dropout: DropRate = 0.0,
        pair_features: bool = False,
        pair_hidden: Count = 16,
    ) -> None:
        super().__init__()
        features = {"constituents": constituent_features, "objects": object_features}
        if stream not in features:
            raise ValueError(f"stream must be 'constituents' or 'objects', got {stream!r}")
        self.stream = stream
        pairs = pair_hidden if pair_features else None
        self.encoder = StreamEncoder(features[stream], dim, heads, layers, mlp_ratio, dropout, pairs)
        self.pool = make_pool(pooling, dim, heads, class_layers, mlp_ratio, dropout)
        self.head = ClassifierHead(dim, head_hidden, n_classes, dropout)
        self.explain_layer = f"encoder.encoder.blocks.{layers - 1}" if layers else None
        self.explain_stream = stream
        self.explain_attention = last_self_attention("encoder.encoder", {stream: layers})

    def forward(self, inputs: dict[str, Tensor]) -> dict[str, Tensor]:
        x, mask, p4 = stream_inputs(inputs, self.stream)
        return {"label": self.head(self.pool(self.encoder(x, mask, p4), mask))}
