"""High-level features of an event: the inputs of the standard cut-and-count or boosted-decision-tree
analysis of boosted di-Higgs searches (two large-R jets, their masses, substructure and b-tags, the
di-jet system, and the event's activity).

=================================  =================================================================
``j1_*``, ``j2_*``                 leading / subleading large-R jet: pt, eta, mass, tau21, tau32,
                                   n_btag (b-tagged small-R jets inside it)
``mjj``                            invariant mass of the two leading large-R jets
``deta_jj``                        |eta_1 - eta_2|
``pt_balance``                     pt_2 / pt_1
``met``                            missing transverse momentum
``ht``                             scalar sum of the small-R jets' pt
``n_jets``, ``n_btag_jets``        small-R jets, and how many of them are b-tagged
``n_leptons``                      isolated electrons and muons
=================================  =================================================================

A missing second large-R jet gives zeros for its features (the generated files always have two).
"""

from __future__ import annotations

import awkward as ak
import numpy as np
import vector

vector.register_awkward()

__all__ = ["HIGH_LEVEL_FEATURES", "high_level_features"]

_JET_FIELDS = ("pt", "eta", "mass", "tau21", "tau32", "n_btag")
HIGH_LEVEL_FEATURES: tuple[str, ...] = (
    *(f"j1_{name}" for name in _JET_FIELDS), *(f"j2_{name}" for name in _JET_FIELDS),
    "mjj", "deta_jj", "pt_balance", "met", "ht", "n_jets", "n_btag_jets", "n_leptons",
)  # fmt: skip
_NEEDED = ("fatjets", "jets", "electrons", "muons", "met")


def high_level_features(events: ak.Array) -> np.ndarray:
    """``(events, len(HIGH_LEVEL_FEATURES))`` float64 table of the event records (generated or Delphes)."""
    missing = [name for name in _NEEDED if name not in events.fields]
    if missing:
        raise KeyError(
            f"high-level features need the fields {', '.join(_NEEDED)}; the events lack {', '.join(missing)}"
        )
    fat = ak.pad_none(events.fatjets, 2, axis=1, clip=True)
    columns = {f"j{k + 1}_{name}": ak.fill_none(fat[name][:, k], 0.0) for k in range(2) for name in _JET_FIELDS}
    momenta = ak.zip({"pt": fat.pt, "eta": fat.eta, "phi": fat.phi, "mass": fat.mass}, with_name="Momentum4D")
    columns["mjj"] = ak.fill_none((momenta[:, 0] + momenta[:, 1]).mass, 0.0)
    columns["deta_jj"] = ak.fill_none(abs(fat.eta[:, 0] - fat.eta[:, 1]), 0.0)
    columns["pt_balance"] = ak.fill_none(fat.pt[:, 1] / fat.pt[:, 0], 0.0)
    columns["met"] = events.met
    columns["ht"] = ak.sum(events.jets.pt, axis=1)
    columns["n_jets"] = ak.num(events.jets)
    columns["n_btag_jets"] = ak.sum(events.jets.btag, axis=1)
    columns["n_leptons"] = ak.num(events.electrons) + ak.num(events.muons)
    return np.stack([ak.to_numpy(columns[name]).astype(np.float64) for name in HIGH_LEVEL_FEATURES], axis=1)
