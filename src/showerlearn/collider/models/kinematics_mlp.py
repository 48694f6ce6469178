"""A multilayer perceptron on the kinematics of the reconstructed objects: the object tokens in the DataModule's
order (missing pT and the two selected large-R jets in the first slots of every generated event, then the
small-R jets and the leptons packed kind after kind, each token with its ``is_*`` kind indicators), flattened
into one vector. The baseline without any token structure."""

from __future__ import annotations

from typing import Literal

from torch import Tensor, nn

from showerlearn.collider.nn.blocks import fixed_length, stream_inputs
from showerlearn.registry import MODELS, Count, DropRate

__all__ = ["KinematicsMLP"]


@MODELS.register("collider_mlp")
class KinematicsMLP(nn.Module):
    """The tokens of ``stream`` cut or zero-padded to their DataModule size, flattened -> MLP -> logits.

    Parameters
    ----------
    constituent_features, object_features, n_classes, n_constituents, n_objects
        Input features and tokens of each stream, and classes (given by the DataModule).
    stream
        The stream read: ``"objects"`` (the kinematics) or ``"constituents"``.
    hidden
        Widths of the hidden layers.
    dropout
        Dropout after each hidden layer.
    """

    #: the outputs ``forward`` returns: the heads a task may train (the config check reads them)
    output_heads: tuple[str, ...] = ("label",)
    #: why ``showerlearn explain`` has nothing to map here, and what to explain instead (the explain command reads it)
    explain_unavailable: str = (
        "it reads the tokens of its stream (by default the objects' high-level kinematics) flattened into one vector, "
        "so no activation belongs to one constituent or object, and it has no attention. Explain a token-based "
        "collider network trained on the same data instead: collider_transformer, collider_multiscale, "
        "collider_one_scale or collider_concat (examples/collider_*.yaml)"
    )

    def __init__(
        self,
        constituent_features: int,
        object_features: int,
        n_classes: int,
        n_constituents: int,
        n_objects: int,
        stream: Literal["objects", "constituents"] = "objects",
        hidden: tuple[Count, ...] = (128, 128),
        dropout: DropRate = 0.0,
    ) -> None:
        super().__init__()
        shapes = {"constituents": (n_constituents, constituent_features), "objects": (n_objects, object_features)}
        if stream not in shapes:
            raise ValueError(f"stream must be 'objects' or 'constituents', got {stream!r}")
        self.stream, (self.length, features) = stream, shapes[stream]
        layers: list[nn.Module] = []
        width = self.length * features
        for size in hidden:
            layers += [nn.Linear(width, size), nn.GELU(), nn.Dropout(dropout)]
            width = size
        self.mlp = nn.Sequential(*layers, nn.Linear(width, n_classes))

    def forward(self, inputs: dict[str, Tensor]) -> dict[str, Tensor]:
        x, mask, _ = stream_inputs(inputs, self.stream)
        x, _ = fixed_length(x, mask, self.length)
        return {"label": self.mlp(x.flatten(start_dim=1))}
