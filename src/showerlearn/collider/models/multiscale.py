"""The multi-scale cross-attention transformer (Hammad, Moretti, Nojiri, JHEP 03 (2024) 144,
arXiv:2401.00452): local information (the jets' constituents) and global information (the
reconstructed objects) each through its own self-attention encoder, then cross-attention between the
two, so that one stream reads the other token by token instead of through one pooled vector.

::

    constituents -> embedding -> self-attention x constituent_layers --+
                                                                       +-> cross-attention (query stream
    objects      -> embedding -> self-attention x object_layers -------+   attends to the other) x cross_layers
                                                                            -> pooling -> MLP head -> logits

``query`` chooses the stream whose tokens ask: ``"objects"`` (each object reads the constituents),
``"constituents"``, or ``"both"`` (two cross-attentions, their pooled vectors concatenated). Unlike the
authors' TensorFlow code, padded tokens are masked in every attention, cross-attention included, and
the tokens are pooled, not flattened, so the score depends neither on the number of padded tokens nor
on the order of the tokens.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor, nn

from showerlearn.collider.nn.attention import AttentionBlock
from showerlearn.collider.nn.blocks import (
    ClassifierHead,
    Pooling,
    last_self_attention,
    make_pool,
    stream_encoders,
    stream_inputs,
    token_stream,
)
from showerlearn.collider.nn.pairwise import PairBias, required_momenta
from showerlearn.models.attention import EncoderSettingsCheck
from showerlearn.registry import MODELS, Count, DropRate, NonNegative, Ratio

__all__ = ["MultiScaleTransformer"]

_OTHER = {"constituents": "objects", "objects": "constituents"}


@MODELS.register("collider_multiscale")
class MultiScaleTransformer(EncoderSettingsCheck, nn.Module):
    """Two self-attention encoders joined by cross-attention (see the module docstring).

    Parameters
    ----------
    constituent_features, object_features, n_classes
        Input features of each stream and classes (given by the DataModule).
    dim, heads
        Token width and attention heads of every block.
    constituent_layers, object_layers
        Self-attention blocks of each stream.
    cross_layers
        Cross-attention blocks (each with its feed-forward network) of each query stream.
    query
        The stream whose tokens attend to the other: ``"objects"``, ``"constituents"`` or ``"both"``.
    pooling
        ``"class_token"`` (class attention) or ``"mean"`` (masked mean of the real tokens).
    class_layers
        Class-attention blocks with ``pooling: class_token``.
    mlp_ratio
        Feed-forward width over ``dim``.
    head_hidden
        Hidden width of the classifier head.
    dropout
        Dropout of attention, feed-forward and head.
    pair_features
        Add Particle-Transformer pairwise features of each stream's tokens as a per-head bias in its
        self-attention (needs ``data.params.pair_inputs: true``).
    cross_pair_features
        Add the same features of each (query token, key token) pair across the two streams as a per-head
        bias in the cross-attention (needs ``data.params.pair_inputs: true``): where a constituent lies
        relative to each object, which only a network relating the streams token by token can read.
    pair_hidden
        Width of the pairwise-feature MLPs.
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
        cross_layers: NonNegative = 1,
        query: Literal["objects", "constituents", "both"] = "objects",
        pooling: Pooling = "class_token",
        class_layers: NonNegative = 1,
        mlp_ratio: Ratio = 2.0,
        head_hidden: Count = 64,
        dropout: DropRate = 0.0,
        pair_features: bool = False,
        cross_pair_features: bool = False,
        pair_hidden: Count = 16,
    ) -> None:
        super().__init__()
        if query not in ("objects", "constituents", "both"):
            raise ValueError(f"query must be 'objects', 'constituents' or 'both', got {query!r}")
        if cross_pair_features and cross_layers < 1:
            raise ValueError("cross_pair_features biases the cross-attention: it needs cross_layers >= 1")
        layers = {"constituents": constituent_layers, "objects": object_layers}
        features = {"constituents": constituent_features, "objects": object_features}
        self.streams = stream_encoders(features, layers, dim, heads, mlp_ratio, dropout, pair_hidden if pair_features else None)
        self.queries = ("objects", "constituents") if query == "both" else (query,)
        self.cross = nn.ModuleDict({
            stream: nn.ModuleList(AttentionBlock(dim, heads, mlp_ratio, dropout) for _ in range(cross_layers))
            for stream in self.queries
        })  # fmt: skip
        self.cross_pair_bias = (
            nn.ModuleDict({stream: PairBias(heads, pair_hidden) for stream in self.queries}) if cross_pair_features else None
        )
        self.pools = nn.ModuleDict(
            {stream: make_pool(pooling, dim, heads, class_layers, mlp_ratio, dropout) for stream in self.queries}
        )
        self.head = ClassifierHead(dim * len(self.queries), head_hidden, n_classes, dropout)
        #: the layer Grad-CAM explains by default, and the stream its positions are the tokens of
        self.explain_layer = f"streams.constituents.encoder.blocks.{constituent_layers - 1}" if constituent_layers else None
        self.explain_stream = "constituents"
        #: attention drawn by ``showerlearn explain``: module -> (label, query stream, key stream)
        self.explain_attention = {
            **last_self_attention("streams.{stream}.encoder", layers),
            **{
                f"cross.{stream}.{i}.attention": (f"{stream} to {_OTHER[stream]} {i + 1}", stream, _OTHER[stream])
                for stream in self.queries
                for i in range(cross_layers)
            },
        }

    def explain_stream_of(self, layer: str) -> str:
        """The stream whose tokens the output of module ``layer`` holds (Grad-CAM's ``--layer``)."""
        return token_stream(layer, self.explain_stream)

    def forward(self, inputs: dict[str, Tensor]) -> dict[str, Tensor]:
        tokens, masks, momenta = {}, {}, {}
        for stream, encoder in self.streams.items():
            x, masks[stream], momenta[stream] = stream_inputs(inputs, stream)
            tokens[stream] = encoder(x, masks[stream], momenta[stream])
        pooled = []
        for stream in self.queries:
            x, other = tokens[stream], _OTHER[stream]
            bias = self._cross_bias(stream, momenta, masks)
            for block in self.cross[stream]:
                x = block(x, masks[stream], context=tokens[other], context_mask=masks[other], bias=bias)
            pooled.append(self.pools[stream](x, masks[stream]))
        return {"label": self.head(torch.cat(pooled, dim=-1))}

    def _cross_bias(self, stream: str, momenta: dict[str, Tensor | None], masks: dict[str, Tensor]) -> Tensor | None:
        """The cross-attention bias of query ``stream``'s tokens against the other stream's, if the network has one."""
        if self.cross_pair_bias is None:
            return None
        query, key = required_momenta(momenta[stream], momenta[_OTHER[stream]])
        return self.cross_pair_bias[stream](query, masks[stream], key, masks[_OTHER[stream]])
