"""Torch layers that work on pixel lattices: LatticeConv, LatticeMaxPool/AvgPool, Dual Attention,
the lattice ResNet backbone, position voting, and image moments (Hillas parameters as a layer).
Input layout is (batch, channels, n_pixels).

May import: showerlearn.geometry, torch.
"""

from showerlearn.nn.backbone import LatticeResNet
from showerlearn.nn.lattice import LatticeAvgPool, LatticeBatchNorm, LatticeConv, LatticeMaxPool
from showerlearn.nn.attention import DualAttention
from showerlearn.nn.moments import MOMENT_FEATURES, ImageMoments
from showerlearn.nn.vote import LatticeVote

__all__ = [
    "MOMENT_FEATURES",
    "DualAttention",
    "ImageMoments",
    "LatticeAvgPool",
    "LatticeBatchNorm",
    "LatticeConv",
    "LatticeMaxPool",
    "LatticeResNet",
    "LatticeVote",
]
