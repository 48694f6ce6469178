"""Explanations: Grad-CAM per task projected onto the camera, attention maps, statistics over seeds\nand quantitative criteria.

May import: showerlearn.geometry, showerlearn.nn, showerlearn.models, torch.
"""
