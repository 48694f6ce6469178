"""Collider data for training: the token streams of an event (``streams``), the readers behind the
DataModule (``sources``), preprocessing fitted on the training split (jet alignment, pT ordering,
padding with a key padding mask, standardisation with saved parameters; ``preprocessing``), and the
``collider`` DataModule (``datamodule``, ``dataset``).

May import: showerlearn.collider.io, showerlearn.collider.simulation (the ``simulate`` source),
showerlearn.collider.particles, showerlearn.collider.kinematics, showerlearn.collider.baselines
(high-level features for estimators), showerlearn.collider.family, showerlearn.data, showerlearn.io,
showerlearn.registry, showerlearn.family, showerlearn.config.base (typed settings), awkward, torch, pydantic,
numpy.
"""

from showerlearn.collider.data.preprocessing import CATEGORICAL_FEATURES, JetAlignment, Padded, TokenPreprocessor, is_categorical

__all__ = ["CATEGORICAL_FEATURES", "JetAlignment", "Padded", "TokenPreprocessor", "is_categorical"]
