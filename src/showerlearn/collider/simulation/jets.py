"""Jets with FastJet: anti-kT clustering of every event of a batch at once, and N-subjettiness.

Both use the ``fastjet`` package's awkward interface, which runs FastJet (and, for N-subjettiness,
fastjet-contrib's ``Nsubjettiness``) in C++ over many events per call:

* :func:`cluster` clusters each event's particle-flow objects (anti-kT, radius R, E-scheme) and
  returns the jets above a pT threshold, hardest first, with the indices of their constituents;
* :func:`nsubjettiness` gives tau_N (J. Thaler, K. Van Tilburg, JHEP 03 (2011) 015,
  arXiv:1011.2268) of each jet from its constituents:
  tau_N = sum_k pT_k min_j DeltaR(k, axis_j) / (R0 sum_k pT_k), beta = 1, with exclusive-kT axes
  (the N jets left when kT clustering of the constituents stops at N; DeltaR in rapidity and phi).
"""

from __future__ import annotations

from dataclasses import dataclass

import awkward as ak
import fastjet
import numpy as np
import vector

vector.register_awkward()

__all__ = ["JetCollection", "cluster", "nsubjettiness"]


@dataclass(frozen=True)
class JetCollection:
    """Jets of a batch of events, hardest first: four-momenta ``[event][jet]`` (``Momentum4D``) and the
    indices of each jet's constituents in its event's input list ``[event][jet][constituent]``."""

    momenta: ak.Array
    constituents: ak.Array


def four_momenta(px: ak.Array, py: ak.Array, pz: ak.Array, energy: ak.Array) -> ak.Array:
    """Jagged ``Momentum4D`` records from jagged components (the input form FastJet's interface takes)."""
    return ak.zip({"px": px, "py": py, "pz": pz, "E": energy}, with_name="Momentum4D")


def cluster(
    particles: ak.Array, radius: float, pt_min: float, algorithm: int = fastjet.antikt_algorithm
) -> JetCollection:
    """Inclusive jets of every event of ``particles`` (``[event][particle]`` with px, py, pz, E) above
    ``pt_min`` [GeV], sorted by decreasing pT."""
    sequence = fastjet.ClusterSequence(particles, fastjet.JetDefinition(algorithm, radius))
    jets = ak.with_name(sequence.inclusive_jets(min_pt=pt_min), "Momentum4D")
    index = sequence.constituent_index(min_pt=pt_min)
    order = ak.argsort(jets.pt, axis=1, ascending=False)
    return JetCollection(jets[order], index[order])


def nsubjettiness(constituents: ak.Array, radius: float, n_max: int = 3) -> np.ndarray:
    """``(n_jets, n_max)`` array of tau_1 ... tau_n_max of each jet of ``constituents``
    (``[jet][particle]`` four-momenta); 0 where a jet has no more than N constituents."""
    if len(constituents) == 0:
        return np.zeros((0, n_max))
    sequence = fastjet.ClusterSequence(constituents, fastjet.JetDefinition(fastjet.kt_algorithm, radius))
    taus = sequence.njettiness(
        measure_definition="NormalizedMeasure",
        axes_definition="KT_Axes",
        njets=list(range(1, n_max + 1)),
        beta=1.0,
        R0=radius,
    )
    return ak.to_numpy(taus).reshape(len(constituents), n_max)
