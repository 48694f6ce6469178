"""Experiment execution: run directories, seeding, environment capture, train / predict / evaluate /
sweep for Lightning models and scikit-learn estimators alike.

May import: showerlearn.config, showerlearn.data, showerlearn.evaluation, showerlearn.family, showerlearn.io, showerlearn.progress,
showerlearn.registry, showerlearn.tasks, lightning, torch, numpy, rich, PyYAML, scikit-learn and skops (fitted
estimators loaded without pickle); onnx and onnxruntime (the ``export`` extra, imported only
to export and load ONNX models).
"""
