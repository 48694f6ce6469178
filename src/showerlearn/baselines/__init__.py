"""Classical scikit-learn estimators (fit/predict) that run through the same train/predict/evaluate
path as the networks, e.g. the Hillas + random-forest IACT baseline.

May import: showerlearn.geometry, showerlearn.data, showerlearn.registry, ctapipe, scikit-learn.
"""

from showerlearn.baselines.features import FEATURE_NAMES, LSTCHAIN_CLEANING, hillas_features
from showerlearn.baselines.hillas_rf import HillasRandomForest

__all__ = ["FEATURE_NAMES", "LSTCHAIN_CLEANING", "HillasRandomForest", "hillas_features"]
