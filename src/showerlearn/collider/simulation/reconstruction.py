"""From particle flow to analysis objects: jets, N-subjettiness, b-tags, leptons, missing pT, the
selection, and the per-event record written to file.

One call handles a batch of events (:func:`reconstruct`). The event record (an awkward array) holds:

* event scalars: ``mjj`` (invariant mass of the two leading large-R jets), ``met``/``met_phi``;
* ``fatjets``: large-R jets (pt, eta, phi, mass, tau1, tau2, tau3, tau21, tau32, n_constituents,
  n_btag = b-tagged small-R jets within R of the axis);
* ``jets``: small-R jets (pt, eta, phi, mass, btag, flavour);
* ``electrons``, ``muons``: identified and isolated leptons (pt, eta, phi, charge);
* ``constituents``: the particle-flow constituents of the leading large-R jets, hardest jet first and
  by decreasing pT inside each jet (:data:`~showerlearn.collider.kinematics.CONSTITUENT_FIELDS`).
"""

from __future__ import annotations

from dataclasses import dataclass

import awkward as ak
import numpy as np
import vector

from showerlearn.collider.kinematics import (  # the fields: re-exported, the records' layout
    FATJET_FIELDS,
    JET_FIELDS,
    LEPTON_FIELDS,
    constituent_records,
    ratio_or_zero,
    tagged_jets_within,
)
from showerlearn.collider.particles import ELECTRON, MUON
from showerlearn.collider.simulation.card import BTagCard, LeptonCard
from showerlearn.collider.simulation.config import ColliderSimulationConfig
from showerlearn.collider.simulation.detector import EFlow
from showerlearn.collider.simulation.jets import cluster, nsubjettiness

vector.register_awkward()

__all__ = ["FATJET_FIELDS", "JET_FIELDS", "LEPTON_FIELDS", "Partons", "reconstruct"]


@dataclass(frozen=True)
class Partons:
    """b and c quarks of each event's generator record (``[event][quark]``), for jet flavours."""

    pid: ak.Array
    momenta: ak.Array  #: Momentum4D


def reconstruct(
    eflow: EFlow, partons: Partons, config: ColliderSimulationConfig, rng: np.random.Generator
) -> tuple[ak.Array, np.ndarray]:
    """``(records, selected)``: the records of the events that pass the selection, and the boolean mask of
    those events in the batch."""
    objects = _jagged(eflow)
    fat = cluster(objects, config.jets.fatjet_radius, config.jets.fatjet_pt_min)
    selected = _selection(fat.momenta, config)
    objects, fat_momenta, fat_index = objects[selected], fat.momenta[selected], fat.constituents[selected]
    in_acceptance = abs(fat_momenta.eta) < config.jets.eta_max
    fat_momenta, fat_index = fat_momenta[in_acceptance], fat_index[in_acceptance]
    jets = _small_jets(objects, partons.pid[selected], partons.momenta[selected], config, rng)
    constituents = _constituents_of(objects, fat_index)
    records = {
        "mjj": _dijet_mass(fat.momenta[selected]),
        **_missing_pt(objects),
        "fatjets": _fatjet_records(fat_momenta, constituents, jets, config.jets.fatjet_radius),
        "jets": jets,
        "electrons": _leptons(objects, ELECTRON, config.detector.electron, rng),
        "muons": _leptons(objects, MUON, config.detector.muon, rng),
        "constituents": constituent_records(fat_momenta, constituents, config.jets.constituent_jets),
    }
    return ak.zip(records, depth_limit=1), selected


# --- particle flow as jagged arrays --------------------------------------------------------------------
def _jagged(eflow: EFlow) -> ak.Array:
    counts = eflow.counts()
    momentum = eflow.momentum
    fields = {
        "px": momentum.px, "py": momentum.py, "pz": momentum.pz, "E": eflow.energy,
        "charge": eflow.charge, "category": eflow.category,
    }  # fmt: skip
    return ak.unflatten(ak.zip(fields, with_name="Momentum4D"), counts)


def _selection(fatjets: ak.Array, config: ColliderSimulationConfig) -> np.ndarray:
    selection, mass = config.selection, config.signal_mass
    leading = ak.pad_none(fatjets, 2, axis=1)[:, :2]
    passes = (
        (ak.fill_none(ak.min(leading.pt, axis=1), 0.0) > selection.fatjet_pt_min_fraction * mass)
        & (ak.fill_none(ak.max(abs(leading.eta), axis=1), np.inf) < selection.fatjet_eta_max)
        & (ak.num(fatjets) >= 2)
    )
    mjj = _dijet_mass(fatjets)
    low, high = selection.mass_window
    return ak.to_numpy(passes & (mjj > low * mass) & (mjj < high * mass))


def _dijet_mass(fatjets: ak.Array) -> np.ndarray:
    """Invariant mass of the two leading jets (0 with fewer than two)."""
    leading = ak.pad_none(fatjets, 2, axis=1)
    pair = leading[:, 0] + leading[:, 1]
    return ak.to_numpy(ak.fill_none(pair.mass, 0.0)).astype(np.float32)


def _missing_pt(objects: ak.Array) -> dict[str, np.ndarray]:
    """Missing transverse momentum: minus the vector sum of every particle-flow object (Delphes' MissingET)."""
    px, py = -ak.to_numpy(ak.sum(objects.px, axis=1)), -ak.to_numpy(ak.sum(objects.py, axis=1))
    return {"met": np.hypot(px, py).astype(np.float32), "met_phi": np.arctan2(py, px).astype(np.float32)}


# --- jets -----------------------------------------------------------------------------------------------
def _constituents_of(objects: ak.Array, index: ak.Array) -> ak.Array:
    """``[event][jet][constituent]`` particle-flow objects from per-event constituent indices."""
    counts = ak.to_numpy(ak.num(objects))
    offsets = np.cumsum(counts) - counts  # where each event starts in the flat list
    global_index = index + offsets  # awkward broadcasts a flat array over the first dimension
    flat = ak.flatten(objects)[ak.flatten(global_index, axis=None)]
    per_jet = ak.unflatten(flat, ak.flatten(ak.num(index, axis=2)))
    return ak.unflatten(per_jet, ak.num(index, axis=1))


def _small_jets(
    objects: ak.Array,
    parton_pid: ak.Array,
    partons: ak.Array,
    config: ColliderSimulationConfig,
    rng: np.random.Generator,
) -> ak.Array:
    found = cluster(objects, config.jets.jet_radius, config.jets.jet_pt_min).momenta
    found = found[abs(found.eta) < config.jets.eta_max]
    flavour = _flavour(found, parton_pid, partons, config.detector.btag)
    probability = config.detector.btag.probability(ak.to_numpy(ak.flatten(flavour)), ak.to_numpy(ak.flatten(found.pt)))
    btag = ak.unflatten(rng.random(len(probability)) < probability, ak.num(found))
    return ak.zip({
        "pt": found.pt, "eta": found.eta, "phi": found.phi, "mass": _mass(found), "btag": btag, "flavour": flavour,
    })  # fmt: skip


def _flavour(jets: ak.Array, parton_pid: ak.Array, partons: ak.Array, card: BTagCard) -> ak.Array:
    """5 with a b quark within the matching radius, else 4 with a c quark, else 0 (Delphes' flavour)."""
    usable = (partons.pt > card.parton_pt_min) & (abs(partons.eta) < card.parton_eta_max)
    pid, partons = parton_pid[usable], partons[usable]
    pairs = ak.cartesian({"jet": jets, "quark": partons}, axis=1, nested=True)
    near = pairs.jet.deltaR(pairs.quark) < card.association_dr
    quark = abs(ak.broadcast_arrays(pid[:, None, :], near)[0])
    has = {code: ak.any(near & (quark == code), axis=2) for code in (5, 4)}
    return ak.values_astype(ak.where(has[5], 5, ak.where(has[4], 4, 0)), np.int8)


def _fatjet_records(momenta: ak.Array, constituents: ak.Array, jets: ak.Array, radius: float) -> ak.Array:
    counts = ak.num(momenta)
    taus = nsubjettiness(ak.flatten(constituents, axis=1), radius)
    tau1, tau2, tau3 = (ak.unflatten(taus[:, k].astype(np.float32), counts) for k in range(3))
    n_btag = tagged_jets_within(momenta, jets, radius)
    return ak.zip({
        "pt": momenta.pt, "eta": momenta.eta, "phi": momenta.phi, "mass": _mass(momenta),
        "tau1": tau1, "tau2": tau2, "tau3": tau3, "tau21": ratio_or_zero(tau2, tau1), "tau32": ratio_or_zero(tau3, tau2),
        "n_constituents": ak.num(constituents, axis=2), "n_btag": n_btag,
    })  # fmt: skip


def _mass(momenta: ak.Array) -> ak.Array:
    # a jet of massless collinear objects can come out with a tiny negative m^2
    return ak.nan_to_num(momenta.mass, nan=0.0)


# --- leptons --------------------------------------------------------------------------------------------
def _leptons(objects: ak.Array, category: int, card: LeptonCard, rng: np.random.Generator) -> ak.Array:
    """Tracks of the category, identified with the card's efficiency and isolated: the pT of the other
    particle-flow objects (above ``isolation_pt_min``) within ``isolation_dr``, over the lepton's pT,
    below ``isolation_ratio_max``."""
    candidates = objects[objects.category == category]
    efficiency = card.efficiency_of(
        ak.to_numpy(abs(ak.flatten(candidates.eta))), ak.to_numpy(ak.flatten(candidates.pt))
    )
    identified = ak.unflatten(rng.random(len(efficiency)) < efficiency, ak.num(candidates))
    candidates = candidates[identified]
    others = objects[objects.pt > card.isolation_pt_min]
    pairs = ak.cartesian({"lepton": candidates, "other": others}, axis=1, nested=True)
    distance = pairs.lepton.deltaR(pairs.other)
    in_cone = (distance < card.isolation_dr) & (distance > 0.0)  # the lepton itself is at distance 0
    cone_pt = ak.sum(ak.where(in_cone, pairs.other.pt, 0.0), axis=2)
    isolated = candidates[cone_pt < card.isolation_ratio_max * candidates.pt]
    return ak.zip({"pt": isolated.pt, "eta": isolated.eta, "phi": isolated.phi, "charge": isolated.charge})
