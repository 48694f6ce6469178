"""Evaluators: predictions table -> metrics.json + figures (generic binary and multi-class
classification), the curve record of metrics.json, aggregation over seeds. Family evaluators live in
the family (``showerlearn.iact.evaluation``).

May import: showerlearn.metrics, showerlearn.viz, showerlearn.io, showerlearn.registry, showerlearn.family
(the styles of a family's curves), numpy.
"""

