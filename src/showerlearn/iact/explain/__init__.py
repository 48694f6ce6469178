"""IACT explanations: maps projected onto the camera pixels through the lattice pooling hierarchy,
Dual Attention maps, criteria against the true Cherenkov signal, and the adapter through which the
generic ``explain`` driver reads DL1 events and draws camera figures.

May import: showerlearn.explain, showerlearn.metrics, showerlearn.viz, showerlearn.iact.geometry,
showerlearn.iact.nn, showerlearn.iact.data, showerlearn.iact.viz.
"""
