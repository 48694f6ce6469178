"""The collider family: LHC events as two token streams, jet constituents and reconstructed objects.

Same inside as every family:

=================  ============================================================================
``particles``      particle-flow categories of jet constituents
``kinematics``     constituent features relative to their jet (log pT/pT_jet, delta eta...)
``simulation``     Pythia 8 + a CMS-like detector + FastJet, written as columnar HDF5
``io``             readers: the generated files, NumPy ``.npz`` per class, weaver-style columnar
                   ROOT / parquet / HDF5, Delphes ROOT trees
``data``           the ``collider`` DataModule: two token streams from every reader, preprocessing
                   fitted on the training split (jet alignment, ordering, padding, standardisation)
``nn``             masked self- and cross-attention blocks, pairwise features, pooling, heads
``models``         the multi-scale cross-attention transformer and its comparisons, by name
``baselines``      boosted decision trees on high-level features (the standard analysis)
``evaluation``     the ``collider`` evaluator: ROC, AUC, rejection at fixed signal efficiency,
                   significance at a luminosity
``explain``        the explanation adapter: attention maps per head and Grad-CAM jet images, per class
``family``         the :class:`~showerlearn.family.Family` object the core asks about collider runs
``cli``            ``showerlearn simulate collider``
=================  ============================================================================

May import: the core (showerlearn.*), awkward, numpy, pydantic, rich, typer, vector; never another family.
"""
