"""Pure metric functions on arrays: angular/energy resolution per bin, ROC/AUC, effective area,
seed aggregation, clustering quality.

May import: numpy, scipy, astropy.
"""
