"""Classical scikit-learn estimators (fit/predict) that run through the same train/predict/evaluate\npath as the networks, e.g. the Hillas + random-forest IACT baseline.

May import: showerlearn.geometry, showerlearn.data, showerlearn.registry, ctapipe, scikit-learn.
"""
