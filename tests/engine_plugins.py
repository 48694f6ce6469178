"""A user-side model given by import path (``engine_plugins:TinyClassifier``) in engine tests."""

from __future__ import annotations

import time

import torch
from torch import nn


class TinyClassifier(nn.Module):
    def __init__(self, in_features: int, n_classes: int, hidden: int = 16, delay: float = 0.0) -> None:
        """``delay`` seconds of sleep per training forward pass make a run slow enough to kill mid-epoch."""
        super().__init__()
        self.delay = delay
        self.net = nn.Sequential(nn.Linear(in_features, hidden), nn.ReLU(), nn.Linear(hidden, n_classes))

    def forward(self, inputs: torch.Tensor) -> dict[str, torch.Tensor]:
        if self.training and self.delay:
            time.sleep(self.delay)
        return {"label": self.net(inputs)}
