"""Explanations of collider networks through ``showerlearn explain``: the family's adapter (token slots as
the detector's elements, per-head attention maps, Grad-CAM over tokens; ``adapter``), the statistics
over all explained events per class (mean attention maps, Grad-CAM jet images; ``summary``) and their
figures (``figures``).

May import: showerlearn.explain, showerlearn.viz, showerlearn.collider.data, torch, matplotlib, numpy.
"""
