"""Whole networks, one readable file each, registered by name in showerlearn.registry.MODELS (timm style).

May import: showerlearn.nn, showerlearn.geometry, showerlearn.registry, torch.
"""
