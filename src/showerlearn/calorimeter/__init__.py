"""The calorimeter family: crystal hits (E, theta, phi, t) of a CsI calorimeter grouped into one cluster per
gamma (CALIFA at R3B).

Same inside as every family, where it applies:

=================  ============================================================================
``geometry``       the CALIFA-like barrel + iPhos (2432 crystals) and the 10 x 10 toy grid
``kinematics``     Klein-Nishina sampling, rotations, Lorentz boost and Doppler correction
``simulation``     photon transport in CsI, detector response, background; ``simulate_calorimeter``
``io``             the HDF5 hit files (awkward arrays) and flat ROOT trees of CALIFA hits (uproot)
``baselines``      clustering methods: R3BRoot's window algorithm, agglomerative, the truth oracle (also as
                   the engine's estimators)
``data``           the ``calorimeter`` DataModule: padded hit sets, same-gamma targets, decoding to labels
``models``         learned clustering: pair MLP, pre-cluster merger, transformer, object condensation, slots
``evaluation``     efficiency, fake clusters, photopeak efficiency, resolution, ARI, spectra; the evaluator
``explain``        ``showerlearn explain``: the transformers' attention over the hits, against the true gammas
``family``         the :class:`~showerlearn.family.Family` object the core asks about calorimeter runs
``cli``            ``showerlearn simulate calorimeter`` and ``showerlearn convert calorimeter`` (ROOT trees to hit files)
=================  ============================================================================

May import: the core (showerlearn.*), numpy, pydantic, rich, typer; awkward inside the function that needs it (the
``calorimeter`` extra); never another family.
"""
