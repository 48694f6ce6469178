"""Pure metric functions on arrays, detector-agnostic: resolutions per bin with bootstrap intervals,
ROC / AUC (binary and one-vs-rest), confusion matrices, binomial intervals of efficiencies, aggregation over
seeds.

May import: numpy, scipy, astropy, scikit-learn.
"""

