"""Torch layers that work on pixel lattices: LatticeConv, LatticeMaxPool/AvgPool, Dual Attention,\nand the lattice ResNet backbone. Input layout is (batch, channels, n_pixels).

May import: showerlearn.geometry, torch.
"""
