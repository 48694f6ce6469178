"""Collider data for training: preprocessing of the token streams fitted on the training split (jet
alignment, pT ordering, padding with a key padding mask, standardisation with saved parameters).

May import: showerlearn.collider.io, showerlearn.collider.particles, showerlearn.collider.kinematics,
showerlearn.data, showerlearn.io, showerlearn.registry, awkward.
"""

from showerlearn.collider.data.preprocessing import CATEGORICAL_FEATURES, JetAlignment, Padded, TokenPreprocessor

__all__ = ["CATEGORICAL_FEATURES", "JetAlignment", "Padded", "TokenPreprocessor"]
