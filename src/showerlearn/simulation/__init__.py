"""Event simulators that write the field's own file formats (IACT: ctapipe DL1 HDF5).

May import: showerlearn.geometry, showerlearn.io, ctapipe, astropy.
"""
