"""Jet quantities shared by the generator and the Delphes reader: per-constituent features relative to the
jet, the b-tagged jets inside a large-R jet, N-subjettiness ratios; and the fields of the event records'
collections, which the generator writes and the event-file reader requires.

For a constituent k of jet J (the paper's features, arXiv:2401.00452): log(pT_k / pT_J),
log(E_k / E_J), delta eta = eta_k - eta_J, delta phi = phi_k - phi_J wrapped into [-pi, pi), and
delta R = sqrt(delta eta^2 + delta phi^2).
"""

from __future__ import annotations

import awkward as ak
import numpy as np
import vector

vector.register_awkward()

__all__ = [
    "CONSTITUENT_FIELDS", "FATJET_FIELDS", "JET_FIELDS", "LEPTON_FIELDS", "constituent_records", "ratio_or_zero",
    "tagged_jets_within",
]  # fmt: skip

#: the fields of the event records' collections (the generated files' layout): large-R jets, small-R jets,
#: electrons and muons
FATJET_FIELDS = ("pt", "eta", "phi", "mass", "tau1", "tau2", "tau3", "tau21", "tau32", "n_constituents", "n_btag")
JET_FIELDS = ("pt", "eta", "phi", "mass", "btag", "flavour")
LEPTON_FIELDS = ("pt", "eta", "phi", "charge")

#: per constituent: kinematics, particle-flow category and charge, its jet, and the derived features
CONSTITUENT_FIELDS = (
    "pt", "eta", "phi", "energy", "charge", "category", "jet_index",
    "log_pt_rel", "log_energy_rel", "deta", "dphi", "dr",
)  # fmt: skip


def constituent_records(jets: ak.Array, constituents: ak.Array, n_jets: int) -> ak.Array:
    """The constituents of the ``n_jets`` leading ``jets`` (``[event][jet]`` Momentum4D) in one list per
    event, jet by jet and by decreasing pT inside a jet. ``constituents`` is ``[event][jet][constituent]``
    Momentum4D records that also carry ``charge`` and ``category``."""
    jets, constituents = jets[:, :n_jets], constituents[:, :n_jets]
    constituents = constituents[ak.argsort(constituents.pt, axis=2, ascending=False)]
    jet = ak.broadcast_arrays(jets[:, :, None], constituents.pt)[0]
    jet_index = ak.broadcast_arrays(ak.local_index(jets, axis=1)[:, :, None], constituents.pt)[0]
    deta = constituents.eta - jet.eta
    dphi = constituents.deltaphi(jet)
    records = ak.zip({
        "pt": constituents.pt, "eta": constituents.eta, "phi": constituents.phi, "energy": constituents.E,
        "charge": constituents.charge, "category": constituents.category, "jet_index": ak.values_astype(jet_index, np.int8),
        "log_pt_rel": np.log(constituents.pt / jet.pt), "log_energy_rel": np.log(constituents.E / jet.E),
        "deta": deta, "dphi": dphi, "dr": np.hypot(deta, dphi),
    })  # fmt: skip
    return ak.flatten(records, axis=2)


def tagged_jets_within(fatjets: ak.Array, jets: ak.Array, radius: float) -> ak.Array:
    """``[event][fat jet]``: how many b-tagged small-R jets (``jets.btag``) lie within ``radius`` of each fat jet's
    axis, the large-R jet's b-tag count (a Higgs boson to b b~ gives two)."""
    tagged = jets[jets.btag]
    pairs = ak.cartesian({"fat": _momenta(fatjets), "jet": _momenta(tagged)}, axis=1, nested=True)
    return ak.sum(pairs.fat.deltaR(pairs.jet) < radius, axis=2)


def ratio_or_zero(numerator: ak.Array, denominator: ak.Array) -> ak.Array:
    """``numerator / denominator``, 0 where the denominator is not positive (tau21 of a one-particle jet)."""
    return ak.where(denominator > 0, numerator / ak.where(denominator > 0, denominator, 1.0), 0.0)


def _momenta(objects: ak.Array) -> ak.Array:
    return ak.zip({"pt": objects.pt, "eta": objects.eta, "phi": objects.phi, "mass": objects.mass}, with_name="Momentum4D")
