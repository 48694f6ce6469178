"""Dual Attention on a pixel lattice: channel squeeze-and-excitation times a spatial map that only amplifies.

The block of gamma-PhysNet-DA (Jacquemont et al., VISAPP 2021), after "Shape-attentive U-Net"
(Sun et al. 2020, arXiv:2001.07645) as implemented in GammaLearn::

    channel(x)  = sigmoid(W2 relu(W1 mean_pixels(x)))                 (B, C)   squeeze-and-excitation
    spatial(x)  = 1 + sigmoid(conv1x1(relu(bn(conv1x1(x)))))          (B, N)   C -> C/2 -> 1 channels
    out         = x * channel(x)[:, :, None] * spatial(x)[:, None, :]

The spatial factor lies in [1, 2]: the spatial path can only amplify pixels, never suppress them, so a
badly initialised or saturated map cannot cut the signal. Pointwise (1x1) convolutions need no neighbour
table, so the block works on any lattice; the lattice is kept to check inputs and to let explanations
project the maps back onto the camera.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import Tensor, nn

if TYPE_CHECKING:
    from showerlearn.iact.geometry import Lattice

__all__ = ["DualAttention"]


class DualAttention(nn.Module):
    """Dual (channel x spatial) attention for features of layout ``(batch, channels, n_pixels)``.

    Parameters
    ----------
    channels
        Number of feature channels ``C``.
    lattice
        The lattice the features live on (``n_pixels`` must match the input's last axis).
    ratio
        Squeeze-and-excitation reduction: the hidden layer has ``max(1, C // ratio)`` units.

    Attributes
    ----------
    last_spatial_map : Tensor | None
        The spatial factor of the latest forward pass, shape ``(B, N)``, values in [1, 2], detached from
        the graph (for explanation: which pixels the network amplified). ``None`` before the first call.
    """

    def __init__(self, channels: int, lattice: Lattice, ratio: int = 16) -> None:
        super().__init__()
        if channels < 1 or ratio < 1:
            raise ValueError(f"DualAttention needs channels >= 1 and ratio >= 1, got {channels} and {ratio}")
        self.lattice = lattice
        self.n_pixels = lattice.n_pixels  # an int: forward reads no numpy (torch.compile guards on it)
        self.channels = channels
        hidden = max(1, channels // ratio)
        self.squeeze = nn.Linear(channels, hidden)
        self.excite = nn.Linear(hidden, channels)
        compressed = max(1, channels // 2)
        self.spatial = nn.Sequential(
            nn.Conv1d(channels, compressed, kernel_size=1, bias=False),
            nn.BatchNorm1d(compressed),
            nn.ReLU(inplace=True),
            nn.Conv1d(compressed, 1, kernel_size=1),
        )
        self.last_spatial_map: Tensor | None = None

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != 3 or x.shape[1] != self.channels or x.shape[2] != self.n_pixels:
            raise ValueError(
                f"DualAttention expects (batch, {self.channels}, {self.n_pixels}), got {tuple(x.shape)}"
            )
        channel = torch.sigmoid(self.excite(torch.relu(self.squeeze(x.mean(dim=2)))))
        spatial = 1.0 + torch.sigmoid(self.spatial(x).squeeze(1))
        self.last_spatial_map = spatial.detach()
        return x * channel.unsqueeze(2) * spatial.unsqueeze(1)

    def extra_repr(self) -> str:
        return f"channels={self.channels}, n_pixels={self.lattice.n_pixels}, hidden={self.squeeze.out_features}"
