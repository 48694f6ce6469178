"""Explanations of the calorimeter networks through ``showerlearn explain``: the family's adapter (the hits of
an event as the detector's elements, the attention of the hit transformers and how much of it stays on the
hits of the same gamma; ``adapter``) and its figures (``figures``).

May import: showerlearn.explain, showerlearn.viz, showerlearn.calorimeter.data, showerlearn.calorimeter.geometry,
showerlearn.calorimeter.models (the hits' directions),
torch, matplotlib, numpy.
"""
