"""Per-constituent features relative to the jet, shared by the generator and the Delphes reader.

For a constituent k of jet J (the paper's features, arXiv:2401.00452): log(pT_k / pT_J),
log(E_k / E_J), delta eta = eta_k - eta_J, delta phi = phi_k - phi_J wrapped into [-pi, pi), and
delta R = sqrt(delta eta^2 + delta phi^2).
"""

from __future__ import annotations

import awkward as ak
import numpy as np
import vector

vector.register_awkward()

__all__ = ["CONSTITUENT_FIELDS", "constituent_records"]

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
