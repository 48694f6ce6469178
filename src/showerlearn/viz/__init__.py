"""Detector-agnostic figures (curves with bands, ROC, score distributions, training curves) and the
self-contained HTML board comparing runs; family figures (camera displays) live in the family.

May import: showerlearn.metrics, showerlearn.io, showerlearn.config (to show configs), showerlearn.family
(the board asks each run's family how its metrics read), matplotlib, numpy, pydantic.
"""

