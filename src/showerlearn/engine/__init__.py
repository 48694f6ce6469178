"""Experiment execution: run directories, seeding, environment capture, train / predict / evaluate /
sweep for Lightning models and scikit-learn estimators alike.

May import: every showerlearn layer below it; onnx and onnxruntime (the ``export`` extra, imported only
to export and load ONNX models).
"""
