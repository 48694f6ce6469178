"""Cherenkov-telescope data: ctapipe/lstchain DL1 readers, the IACT dataset and DataModule.

May import: showerlearn.geometry, showerlearn.io, showerlearn.simulation, showerlearn.data.
"""
