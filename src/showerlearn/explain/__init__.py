"""Generic explanation methods: Grad-CAM and HiResCAM of any output, attention capture of transformer
layers, statistics over seeds, reloading a trained run, and the ``explain`` driver that runs them over
events through the family's adapter (the IACT adapter, camera projection and criteria live in
``showerlearn.iact.explain``).

May import: showerlearn.metrics, showerlearn.viz, showerlearn.io, showerlearn.family, and
showerlearn.engine / config / data to reload a trained run.
"""

