"""Readers of the field's IACT files: ctapipe (0.28-0.32) and lstchain DL1 HDF5, sim_telarray through
ctapipe's event source, and their clear errors.

May import: showerlearn.iact.geometry, showerlearn.io, h5py, ctapipe.
"""
