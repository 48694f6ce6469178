"""Figures of the IACT family: camera displays on the true pixel layout (ctapipe's CameraDisplay), and quick looks
at prediction files (``showerlearn plot iact``).

May import: showerlearn.viz, showerlearn.metrics, showerlearn.iact.geometry, showerlearn.iact.particles, matplotlib,
ctapipe, numpy.
"""
