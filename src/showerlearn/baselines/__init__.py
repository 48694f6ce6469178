"""Detector-agnostic classical estimators (scikit-learn) on flat feature tables, run through the same
train / predict / evaluate path as the networks. Families keep their own baselines (the IACT Hillas +
random forests live in ``showerlearn.iact.baselines``).

May import: showerlearn.registry, numpy, scikit-learn.
"""
