"""The Cherenkov-telescope (IACT) family: camera images on their pixel lattice.

Same inside as every family:

=================  ============================================================================
``particles``      the gamma/proton convention: primary ids, class indices, gammaness, ROC labels
``geometry``       pixel lattices (hexagonal, square with gaps), camera loading, frames, mappers
``nn``             layers on the lattice: LatticeConv, pools, Dual Attention, ResNet, moments
``simulation``     the LST shower simulator writing ctapipe DL1 HDF5
``io``             readers of ctapipe / lstchain DL1 and sim_telarray files
``data``           dataset, cuts, cleaning, transforms, augmentations, targets, the DataModule
``models``         gamma-PhysNet (with Dual Attention and physics heads)
``baselines``      Hillas parameters + random forests (the standard analysis)
``pretrained``     the network the CPU benchmark trained, shipped with its provenance
``evaluation``     IRF metrics, CTA requirement curves, the ``iact`` evaluator
``explain``        camera projection of maps, criteria against the true signal, the explain adapter
``viz``            camera displays
``family``         the :class:`~showerlearn.family.Family` object the core asks about IACT runs
``cli``            ``showerlearn simulate iact``
=================  ============================================================================

May import: the core (showerlearn.*), numpy, pydantic, rich, typer; never another family.
"""
