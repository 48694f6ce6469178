"""Torch layers that work on pixel lattices: LatticeConv, LatticeMaxPool/AvgPool, Dual Attention,
the lattice ResNet backbone, position voting, and image moments (Hillas parameters as a layer); the
placement of several images in one dense grid (``packing``). Input layout is (batch, channels, n_pixels).

May import: showerlearn.iact.geometry, numpy, scipy, torch.
"""

from showerlearn.iact.nn.backbone import LatticeResNet
from showerlearn.iact.nn.lattice import LatticeAvgPool, LatticeBatchNorm, LatticeConv, LatticeMaxPool
from showerlearn.iact.nn.attention import DualAttention
from showerlearn.iact.nn.moments import CLEANING_MASK, MOMENT_FEATURES, ImageMoments
from showerlearn.iact.nn.vote import LatticeVote

__all__ = [
    "CLEANING_MASK",
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
