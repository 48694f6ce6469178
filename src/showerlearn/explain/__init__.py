"""Generic explanation methods: Grad-CAM and HiResCAM of any output (``gradcam``), attention capture of
transformer layers (``attention``), statistics over seeds (``seeds``), reloading a trained run
(``loading``), the ``explain`` driver that runs them over events through the run family's
:class:`~showerlearn.explain.driver.ExplainAdapter` (``driver``), and the figures and criteria tables
of the ``showerlearn explain`` job (``report``), written whole or not at all (:mod:`showerlearn.io.staging`). The IACT adapter, camera projection and criteria live
in ``showerlearn.iact.explain``.

May import: showerlearn.metrics, showerlearn.viz, showerlearn.io, showerlearn.family, and showerlearn.engine,
showerlearn.config, showerlearn.data to reload a trained run, showerlearn.registry to find its network's class;
matplotlib, numpy, torch.
"""

