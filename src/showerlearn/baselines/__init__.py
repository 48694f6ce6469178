"""Detector-agnostic classical estimators (scikit-learn) on flat feature tables, run through the same
train / predict / evaluate path as the networks. ``base`` makes them scikit-learn classifiers that also
take the engine's targets per head; families keep their own baselines on it (the IACT Hillas + random
forests live in ``showerlearn.iact.baselines``).

May import: showerlearn.registry, showerlearn.config (its error messages), numpy, scikit-learn.
"""
