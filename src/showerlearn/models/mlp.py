"""A small multi-layer perceptron with one linear output per head, for tabular inputs and engine tests."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from torch import Tensor, nn

from showerlearn.registry import MODELS, Count, DropRate


@MODELS.register("mlp")
class MLP(nn.Module):
    """Flatten the inputs, apply ``Linear -> ReLU (-> Dropout)`` blocks, then one linear layer per head.

    Parameters
    ----------
    heads
        Head name -> output size. A head of size 1 returns shape ``(B,)`` (a scalar regression target),
        any other size ``(B, size)`` (logits or a vector target).
    hidden
        Widths of the hidden layers (empty: a linear model).
    dropout
        Dropout probability after each hidden layer.
    in_features
        Number of input features per event. Injected by tabular DataModules; image DataModules inject
        ``in_channels`` and ``lattice`` instead and the input size is ``in_channels * lattice.n_pixels``.
    """

    @classmethod
    def output_heads(cls, params: Mapping[str, Any]) -> tuple[str, ...]:
        """The heads ``forward`` returns with these (resolved) params: those of ``heads`` (the config check
        reads them)."""
        return tuple(params.get("heads") or ())

    def __init__(
        self,
        heads: Mapping[str, int],
        hidden: Sequence[Count] = (64, 64),
        dropout: DropRate = 0.0,
        in_features: int | None = None,
        in_channels: int | None = None,
        lattice: Any = None,  # any pixel layout with ``n_pixels`` (the mlp knows no detector)
    ) -> None:
        super().__init__()
        if not heads:
            raise ValueError("mlp needs at least one head, e.g. heads={'particle': 2}")
        bad = {name: size for name, size in heads.items() if int(size) < 1}
        if bad:
            raise ValueError(f"mlp head sizes must be >= 1, got {bad}")
        if in_features is None:
            if in_channels is None or lattice is None:
                raise ValueError("mlp needs in_features, or in_channels and lattice, to size its first layer")
            in_features = in_channels * lattice.n_pixels
        layers: list[nn.Module] = [nn.Flatten()]
        width = in_features
        for size in hidden:
            layers += [nn.Linear(width, size), nn.ReLU()]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            width = size
        self.in_features = in_features
        self.body = nn.Sequential(*layers)
        self.heads = nn.ModuleDict({name: nn.Linear(width, int(size)) for name, size in heads.items()})

    def forward(self, inputs: Tensor) -> dict[str, Tensor]:
        if inputs.shape[1:].numel() != self.in_features:
            raise ValueError(
                f"mlp expects {self.in_features} features per event, got input of shape {tuple(inputs.shape)}"
            )
        features = self.body(inputs)
        outputs = {name: head(features) for name, head in self.heads.items()}
        return {name: out.squeeze(1) if out.shape[1] == 1 else out for name, out in outputs.items()}

    def shared_parameters(self) -> list[nn.Parameter]:
        """Parameters of the last layer shared by all heads (for GradNorm)."""
        linears = [m for m in self.body if isinstance(m, nn.Linear)]
        if not linears:
            raise ValueError("a linear mlp (hidden=[]) has no shared layer")
        return list(linears[-1].parameters())

