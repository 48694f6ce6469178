"""IACT explanations: Grad-CAM maps projected onto the camera pixels through the lattice pooling
hierarchy (``gradcam``, ``projection``), Dual Attention maps (``attention``), criteria against the true
Cherenkov signal (``criteria``), the adapter through which the generic ``explain`` driver reads DL1
events and draws camera figures (``adapter``), and the acceptance measure on well-reconstructed gammas
(``signal``).

May import: showerlearn.explain, showerlearn.engine (run directories), showerlearn.metrics,
showerlearn.viz, showerlearn.iact.geometry, showerlearn.iact.nn, showerlearn.iact.data,
showerlearn.iact.particles, showerlearn.iact.viz, matplotlib, numpy, torch.
"""
