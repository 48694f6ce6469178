"""Position voting on a lattice: each pixel proposes where a point lies, the proposals are averaged.

For the arrival direction of a shower the physics is translation-equivariant: the source lies on the
image's major axis at a distance ("disp") set by the shape of the image, wherever the image is in the
camera. A flatten -> fully connected head must learn that relation separately for every position;
voting states it once. Every pixel ``i`` of a feature map predicts an offset ``d_i`` from its own
position ``p_i`` and a relevance logit ``w_i``; the output is ``sum_i softmax(w)_i (p_i + d_i)`` (a
spatial soft-argmax, Levine et al. 2016, JMLR 17, with per-pixel offsets as in Hough voting).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn

__all__ = ["LatticeVote"]


class LatticeVote(nn.Module):
    """Soft-argmax vote for one 2-D position from ``(B, C, N)`` features on a lattice.

    Args:
        channels: feature channels ``C``.
        positions: ``(N, 2)`` pixel positions in the output's frame and unit (e.g. TelescopeFrame deg).

    Attributes:
        last_weights: ``(B, N)`` softmax relevance of each pixel in the latest forward pass (for
            explanation: which pixels decided the position).
    """

    def __init__(self, channels: int, positions: np.ndarray) -> None:
        super().__init__()
        positions = np.asarray(positions, dtype=np.float32)
        if positions.ndim != 2 or positions.shape[1] != 2:
            raise ValueError(f"positions must have shape (n_pixels, 2), got {positions.shape}")
        self.register_buffer("positions", torch.from_numpy(positions.T.copy()))  # (2, N)
        self.proposal = nn.Conv1d(channels, 3, kernel_size=1)  # relevance logit, offset x, offset y
        # start from "every pixel votes for itself, all equally": the centroid of the feature map
        nn.init.zeros_(self.proposal.weight)
        nn.init.zeros_(self.proposal.bias)
        self.last_weights: Tensor | None = None

    def forward(self, features: Tensor) -> Tensor:
        """``(B, C, N)`` -> ``(B, 2)``."""
        if features.shape[-1] != self.positions.shape[1]:
            raise ValueError(f"features have {features.shape[-1]} pixels, the vote lattice has {self.positions.shape[1]}")
        # positions are degrees of several units: fp16/bf16 under autocast would round them to ~0.01 deg
        with torch.autocast(features.device.type, enabled=False):
            proposal = self.proposal(features.float())
            weights = torch.softmax(proposal[:, 0], dim=1)  # (B, N)
            votes = self.positions.unsqueeze(0) + proposal[:, 1:]  # (B, 2, N)
            self.last_weights = weights.detach()
            return torch.einsum("bn,bkn->bk", weights, votes)
