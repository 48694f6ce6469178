"""Camera displays on the true pixel layout (ctapipe's CameraDisplay).

May import: showerlearn.viz, showerlearn.iact.geometry, matplotlib, ctapipe, numpy.
"""
