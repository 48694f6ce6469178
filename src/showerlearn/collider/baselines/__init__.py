"""The standard collider analysis as a scikit-learn estimator: boosted decision trees on high-level
features (large-R jet masses, N-subjettiness, b-tags, di-jet kinematics, event activity).

May import: showerlearn.baselines, showerlearn.collider.io, showerlearn.registry, awkward, vector,
numpy, scikit-learn.
"""

from showerlearn.collider.baselines.bdt import HighLevelBDT
from showerlearn.collider.baselines.features import HIGH_LEVEL_FEATURES, high_level_features

__all__ = ["HIGH_LEVEL_FEATURES", "HighLevelBDT", "high_level_features"]
