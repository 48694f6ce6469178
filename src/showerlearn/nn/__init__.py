"""Torch layers that work on pixel lattices: LatticeConv, LatticeMaxPool/AvgPool, Dual Attention,
the lattice ResNet backbone, and position voting. Input layout is (batch, channels, n_pixels).

May import: showerlearn.geometry, torch.
"""

from showerlearn.nn.backbone import LatticeResNet
from showerlearn.nn.lattice import LatticeAvgPool, LatticeBatchNorm, LatticeConv, LatticeMaxPool
from showerlearn.nn.attention import DualAttention
from showerlearn.nn.vote import LatticeVote

__all__ = ["DualAttention", "LatticeAvgPool", "LatticeBatchNorm", "LatticeConv", "LatticeMaxPool", "LatticeResNet", "LatticeVote"]
