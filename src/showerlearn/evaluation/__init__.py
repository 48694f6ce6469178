"""Evaluators: predictions table -> metrics.json + figures; aggregation over seeds.

May import: showerlearn.metrics, showerlearn.viz, showerlearn.io, showerlearn.registry.
"""
