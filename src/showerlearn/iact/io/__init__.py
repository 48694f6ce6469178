"""Readers of the field's IACT files: ctapipe (0.28-0.32) and lstchain DL1 HDF5 of any camera, one
telescope type at a time; sim_telarray files calibrated through ctapipe's event source into DL1; what
kind of file a path holds; and their clear errors.

May import: showerlearn.iact.geometry, showerlearn.io, showerlearn.config.base (typed settings), h5py, tables,
pydantic, ctapipe, eventio, astropy, numpy, traitlets (ctapipe's configuration); zstandard inside the functions
that read zstd-compressed sim_telarray files (installed with eventio, the ``simtel`` extra).
"""
