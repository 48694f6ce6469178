"""Torch layers that work on pixel lattices: LatticeConv, LatticeMaxPool/AvgPool, Dual Attention,
and the lattice ResNet backbone. Input layout is (batch, channels, n_pixels).

May import: showerlearn.geometry, torch.
"""

from showerlearn.nn.backbone import LatticeResNet
from showerlearn.nn.lattice import LatticeAvgPool, LatticeBatchNorm, LatticeConv, LatticeMaxPool
from showerlearn.nn.attention import DualAttention

__all__ = ["DualAttention", "LatticeAvgPool", "LatticeBatchNorm", "LatticeConv", "LatticeMaxPool", "LatticeResNet"]
