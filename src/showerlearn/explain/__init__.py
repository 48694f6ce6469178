"""Explanations: Grad-CAM per task projected onto the camera, attention maps, statistics over seeds
and quantitative criteria.

May import: showerlearn.geometry, showerlearn.nn, showerlearn.models, showerlearn.metrics,
showerlearn.viz, and showerlearn.engine / config / data to reload a trained run.
"""
