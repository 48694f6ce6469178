"""A user-side model given by import path (``engine_plugins:TinyClassifier``) in engine tests."""

from __future__ import annotations

import torch
from torch import nn


class TinyClassifier(nn.Module):
    def __init__(self, in_features: int, n_classes: int, hidden: int = 16) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(in_features, hidden), nn.ReLU(), nn.Linear(hidden, n_classes))

    def forward(self, inputs: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"label": self.net(inputs)}
