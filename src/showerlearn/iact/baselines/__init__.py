"""The standard IACT analysis as scikit-learn estimators: Hillas parameters of cleaned images and
random forests for gammaness, energy and direction (disp), run through the same train / predict /
evaluate path as the networks.

May import: showerlearn.baselines, showerlearn.iact.particles, showerlearn.iact.geometry, showerlearn.iact.data,
showerlearn.registry, showerlearn.progress, ctapipe, scikit-learn, scipy, astropy, joblib, numpy.
"""


from showerlearn.iact.baselines.features import FEATURE_NAMES, LSTCHAIN_CLEANING, hillas_features
from showerlearn.iact.baselines.hillas_rf import HillasRandomForest

__all__ = ["FEATURE_NAMES", "LSTCHAIN_CLEANING", "HillasRandomForest", "hillas_features"]
