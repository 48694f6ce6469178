"""Pure metric functions on arrays, detector-agnostic: resolutions per bin with bootstrap intervals,
ROC / AUC (binary and one-vs-rest), confusion matrices, aggregation over seeds.

May import: numpy, scipy, astropy.
"""

