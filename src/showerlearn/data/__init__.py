"""Readers of real file formats, torch datasets, selection cuts, transforms, augmentations and the
Lightning DataModules registered in ``showerlearn.registry.DATAMODULES``.

May import: showerlearn.geometry, showerlearn.io, showerlearn.simulation, showerlearn.registry.
"""
