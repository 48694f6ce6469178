"""IACT networks, one file each, registered by name (``gamma_physnet``).

May import: showerlearn.iact.nn, showerlearn.iact.geometry, showerlearn.registry, torch, numpy.
"""
