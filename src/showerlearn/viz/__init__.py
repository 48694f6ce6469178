"""Figures (resolution curves, ROC, camera displays on the true pixel layout) and the self-contained
HTML board comparing runs.

May import: showerlearn.geometry, showerlearn.metrics, showerlearn.io, showerlearn.config (to show configs),
matplotlib.
"""
