"""The one-scale transformer: one self-attention encoder over the union of both token sets, the
constituents and the objects side by side (the "one scale" comparison of arXiv:2401.00452). Each stream
has its own embedding into the common token width; attention then mixes the two kinds freely."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from showerlearn.collider.nn.attention import Encoder
from showerlearn.collider.nn.blocks import (
    ClassifierHead,
    Pooling,
    TokenEmbedding,
    fixed_length,
    last_self_attention,
    make_pool,
    stream_inputs,
)
from showerlearn.collider.nn.pairwise import PairBias, required_momenta
from showerlearn.models.attention import EncoderSettingsCheck
from showerlearn.registry import MODELS, Count, DropRate, NonNegative, Ratio

__all__ = ["OneScaleTransformer"]


@MODELS.register("collider_one_scale")
class OneScaleTransformer(EncoderSettingsCheck, nn.Module):
    """Embeddings per stream -> one self-attention encoder over all tokens -> pooling -> MLP head.

    The streams are cut or padded to ``n_constituents`` and ``n_objects`` positions (the DataModule's
    sizes) before they are joined, so a token's position in the union says its stream whatever the batch.

    Parameters
    ----------
    constituent_features, object_features, n_classes, n_constituents, n_objects
        Input features and tokens of each stream, and classes (given by the DataModule).
    dim, heads, layers
        Token width, attention heads, self-attention blocks.
    pooling, class_layers
        ``"class_token"`` (with ``class_layers`` class-attention blocks) or ``"mean"``.
    mlp_ratio, head_hidden, dropout
        Feed-forward width over ``dim``, hidden width of the head, dropout.
    pair_features, pair_hidden
        Particle-Transformer pairwise bias between all tokens of the union (needs
        ``data.params.pair_inputs: true``), and the width of its MLP.
    """

    #: the outputs ``forward`` returns: the heads a task may train (the config check reads them)
    output_heads: tuple[str, ...] = ("label",)

    def __init__(
        self,
        constituent_features: int,
        object_features: int,
        n_classes: int,
        n_constituents: int,
        n_objects: int,
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
        self.lengths = {"constituents": n_constituents, "objects": n_objects}
        self.embeddings = nn.ModuleDict({
            "constituents": TokenEmbedding(constituent_features, dim), "objects": TokenEmbedding(object_features, dim),
        })  # fmt: skip
        self.pair_bias = PairBias(heads, pair_hidden) if pair_features else None
        self.encoder = Encoder(dim, heads, layers, mlp_ratio, dropout)
        self.pool = make_pool(pooling, dim, heads, class_layers, mlp_ratio, dropout)
        self.head = ClassifierHead(dim, head_hidden, n_classes, dropout)
        self.explain_layer = f"encoder.blocks.{layers - 1}" if layers else None
        self.explain_stream = "union"
        self.explain_attention = last_self_attention("encoder", {"union": layers})

    def forward(self, inputs: dict[str, Tensor]) -> dict[str, Tensor]:
        tokens, masks, momenta = [], [], []
        for stream, embedding in self.embeddings.items():
            x, mask, p4 = stream_inputs(inputs, stream)
            x, mask_fixed = fixed_length(embedding(x), mask, self.lengths[stream])
            tokens.append(x)
            masks.append(mask_fixed)
            momenta.append(None if p4 is None else fixed_length(p4, mask, self.lengths[stream])[0])
        mask = torch.cat(masks, dim=1)
        bias = None
        if self.pair_bias is not None:
            bias = self.pair_bias(torch.cat(required_momenta(*momenta), dim=1), mask)
        return {"label": self.head(self.pool(self.encoder(torch.cat(tokens, dim=1), mask, bias), mask))}
