"""Evaluation of collider event classifiers: background rejection at fixed signal efficiencies, expected
yields and the discovery significance at a luminosity (``metrics``), and the ``collider`` evaluator
that adds them to the core's classification metrics (``evaluator``); score distributions of prediction files per
process (``predictions``, ``showerlearn plot collider``).

May import: showerlearn.evaluation, showerlearn.metrics, showerlearn.viz, showerlearn.registry, matplotlib, numpy.
"""
