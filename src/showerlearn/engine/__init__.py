"""Experiment execution: run directories, seeding, environment capture, train / predict / evaluate /
sweep for Lightning models and scikit-learn estimators alike.

May import: every showerlearn layer below it.
"""
