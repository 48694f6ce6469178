"""IACT evaluation: IRF metrics (effective area, migration), CTA requirement curves, and the ``iact``
evaluator (predictions -> resolutions per energy bin, ROC, figures).

May import: showerlearn.iact.particles, showerlearn.iact.io (the simulated production of files), showerlearn.evaluation, showerlearn.metrics, showerlearn.viz, showerlearn.io,
showerlearn.iact.viz, showerlearn.iact.family (its board style: metric labels), showerlearn.iact.data.targets
(the units of the prediction columns, into which a baseline file is converted), showerlearn.registry, astropy,
ctapipe, matplotlib, numpy.
"""
