"""Delphes ROOT trees, read with uproot into the event records of the generated files.

Delphes (arXiv:1307.6346) writes one TTree (``Delphes``) with one branch per object collection and one
sub-branch per field (``FatJet.PT``, ``FatJet.Tau``...). This reader takes

* ``FatJet``: PT, Eta, Phi, Mass, Tau (tau_1 ... tau_5; older Delphes versions: Tau1 ... Tau5), BTag, and
  NCharged + NNeutrals if present -> ``fatjets``, by decreasing pT (``n_constituents`` is -1 without them);
* the particle-flow branches, by default the CMS card's ``EFlowTrack`` (PT, Eta, Phi, Charge, PID),
  ``EFlowPhoton`` and ``EFlowNeutralHadron`` (ET, Eta, Phi, E); a merged branch of
  ``ParticleFlowCandidate`` objects (PT, Eta, Phi, E, Charge, PID), as some cards write under the name
  ``EFlow``, works too -> ``constituents`` of the leading large-R jets, with the derived features of
  :mod:`showerlearn.collider.kinematics`;
* ``Electron``, ``Muon``: PT, Eta, Phi, Charge -> ``electrons``, ``muons``;
* ``MissingET``: MET, Phi -> ``met``, ``met_phi``;
* ``Jet``, if present: PT, Eta, Phi, Mass, BTag (and Flavor, else -1) -> ``jets``; a fat jet's ``n_btag`` is
  then, as in the generated files, the number of b-tagged jets within ``radius`` of its axis (without them:
  the fat jet's own BTag flag, 0 or 1).

A fat jet's constituents are the particle-flow objects within ``radius`` of its axis, each given to the
nearest of the ``constituent_jets`` leading (hardest) fat jets: Delphes stores the constituent links as ROOT
references, which uproot does not resolve, and for anti-kT jets the cone around the axis is the jet except where
two jets overlap.

Every field is checked as it is read: present, of the expected shape, as long as the other fields of its
collection in every event, finite (an error names the file, the branch and the event), flags and charges whole
(Delphes writes integers; floats are taken when whole), lepton and jet pT and MET not negative, phi an
angle in radians. Fat jets and particle-flow objects with pT <= 0 (and objects with E <= 0) are dropped, with a
logged count: their logarithmic features would be infinite, and no detector records them.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import vector

from showerlearn.collider.io.checks import check_finite, check_same_counts, check_values, reading, unique_names
from showerlearn.collider.io.columnar import root_array
from showerlearn.collider.io.errors import ColliderDataError
from showerlearn.collider.kinematics import constituent_records, ratio_or_zero, tagged_jets_within
from showerlearn.collider.particles import CHARGED_HADRON, ELECTRON, MUON, NEUTRAL_HADRON, PHOTON

vector.register_awkward()
log = logging.getLogger(__name__)

__all__ = ["DEFAULT_EFLOW_BRANCHES", "MERGED_EFLOW_BRANCHES", "check_eflow_branches", "read_delphes"]

DEFAULT_EFLOW_BRANCHES = ("EFlowTrack", "EFlowPhoton", "EFlowNeutralHadron")
#: branches of every particle-flow object, tracks and towers merged (as some cards write them)
MERGED_EFLOW_BRANCHES = ("EFlow", "ParticleFlowCandidate")
_TOWER_CATEGORY = {"EFlowPhoton": PHOTON, "EFlowNeutralHadron": NEUTRAL_HADRON}
_TRACK_MASS = {11: 0.000511, 13: 0.10566}  # GeV (PDG); every other track: a charged pion
_PION_MASS = 0.13957
_N_TAU = 5


@dataclass(frozen=True)
class _Range:
    """The values a branch may hold: ``low`` to ``high``, said as ``expected`` in an error."""

    low: float
    high: float
    expected: str


_NON_NEGATIVE = _Range(0.0, np.inf, "a value >= 0")
# Delphes writes -pi to pi; any angle of one turn either way is the same to every feature (differences are wrapped),
# while degrees, read as radians, would be wrong angles (and nearly all of them beyond 2 pi)
_ANGLE = _Range(-2 * np.pi, 2 * np.pi, "an angle in radians (Delphes: -pi to pi), within -2 pi to 2 pi")


def check_eflow_branches(names: Sequence[str]) -> list[str]:
    """``names`` as a list of particle-flow branches that hold no object twice: a ``ValueError`` for none, a name
    given twice, or a merged branch (:data:`MERGED_EFLOW_BRANCHES`) given with others."""
    if not names:
        raise ValueError("eflow_branches names no particle-flow branch (the constituents come from them)")
    names = unique_names(names, "eflow_branches", "a branch read twice counts its objects twice as constituents")
    if (merged := [name for name in names if name in MERGED_EFLOW_BRANCHES]) and len(names) > 1:
        others = ", ".join(repr(name) for name in names if name != merged[0])
        raise ValueError(
            f"eflow_branches: {merged[0]!r} holds every particle-flow object (tracks and towers), which {others} "
            "hold too: each would count twice as a constituent; give the merged branch alone, or the split ones"
        )
    return names


def read_delphes(
    path: str | Path,
    tree: str = "Delphes",
    eflow_branches: tuple[str, ...] = DEFAULT_EFLOW_BRANCHES,
    radius: float = 0.8,
    constituent_jets: int = 2,
) -> ak.Array:
    """Event records (``fatjets``, ``constituents``, ``electrons``, ``muons``, ``met``, ``met_phi``, and
    ``jets`` when the tree has them) of a Delphes file. ``radius`` is the card's fat-jet radius (the CMS
    card's FatJet: 0.8); ``constituent_jets`` how many leading fat jets give constituents."""
    import uproot

    path = Path(path)
    eflow_branches = tuple(check_eflow_branches(eflow_branches))
    if not path.is_file():
        raise FileNotFoundError(f"no such Delphes file: {path}")
    try:
        file = uproot.open(path)
    except Exception as error:  # uproot raises several kinds for a file that is not ROOT
        raise ColliderDataError(path, f"not a ROOT file ({error})") from None
    with file:
        reader = _DelphesTree(path, file, tree)
        fatjets = reader.fatjets()
        objects = ak.concatenate([reader.eflow(name) for name in eflow_branches], axis=1)
        records: dict[str, Any] = {
            "fatjets": ak.with_name(fatjets, None),
            "constituents": constituent_records(
                fatjets, _cone_constituents(fatjets[:, :constituent_jets], objects, radius), constituent_jets
            ),
            "electrons": reader.leptons("Electron"),
            "muons": reader.leptons("Muon"),
            **reader.missing_et(),
        }
        if reader.has("Jet"):
            records["jets"] = reader.jets()
            # as the generator counts them: the b-tagged small-R jets inside the fat jet (the CMS card b-tags only
            # those, and FatJet.BTag is a 0/1 flag where two tagged subjets make a Higgs candidate)
            records["fatjets"] = ak.with_field(records["fatjets"], tagged_jets_within(fatjets, records["jets"], radius), "n_btag")
    return ak.zip(records, depth_limit=1)


class _DelphesTree:
    """Field reads from one Delphes tree, each checked for presence, shape and finite values."""

    def __init__(self, path: Path, file: Any, tree: str) -> None:
        with reading(path, "the file's directory of objects"):  # a cut or damaged file fails here, in uproot
            trees = sorted({key.split(";")[0] for key, kind in file.classnames().items() if kind == "TTree"})
        if tree not in trees:
            raise ColliderDataError(path, f"no tree {tree!r}; the file has {', '.join(trees) or 'none'}")
        with reading(path, f"tree {tree!r}"):
            self.path, self.tree = path, file[tree]
            keys = self.tree.keys(recursive=True)
        # Delphes names the branches of fixed-size members with their size, FatJet.Tau[5]: known by the member's name
        self.branches = {re.sub(r"\[\d+\]$", "", key.rsplit("/", 1)[-1]): key for key in keys}
        #: per collection, the first branch read and its entries per event, which every other branch must match
        self._counts: dict[str, tuple[str, np.ndarray]] = {}

    def has(self, collection: str, field: str = "PT") -> bool:
        return f"{collection}.{field}" in self.branches

    def field(
        self, collection: str, field: str, per_object: int | None = None, values_in: _Range | None = None
    ) -> ak.Array:
        """``collection.field`` as ``[event][object]`` numbers (``[event][object][per_object]`` if given), each
        within ``values_in`` if given."""
        name = f"{collection}.{field}"
        if name not in self.branches:
            raise ColliderDataError(self.path, f"no branch {name!r} in the Delphes tree ({self._known(collection)})")
        values = root_array(self.path, self.tree[self.branches[name]], name)
        expected = 2 if per_object is None else 3
        if values.ndim != expected or (per_object is not None and ak.any(ak.num(values, axis=2) != per_object)):
            shape = "a list of numbers" if per_object is None else f"a list of {per_object} numbers per object"
            raise ColliderDataError(self.path, f"branch {name!r} is {values.type}; expected {shape} per event")
        counts = ak.to_numpy(ak.num(values, axis=1))
        check_same_counts(self.path, self._counts.setdefault(collection, (name, counts)), (name, counts))
        per_event = values if per_object is None else ak.flatten(values, axis=2)  # the numbers of each event
        flat = ak.to_numpy(ak.flatten(per_event))

        def entries() -> np.ndarray:  # of each event, computed to locate a bad value only
            return ak.to_numpy(ak.num(per_event))

        check_finite(self.path, f"branch {name!r}", flat, entries)
        if values_in is not None:
            bad = (flat < values_in.low) | (flat > values_in.high)
            check_values(self.path, f"branch {name!r}", flat, bad, values_in.expected, entries)
        return values

    def _known(self, collection: str) -> str:
        """The branches of ``collection`` where the file has it, else the file's collections, for an error."""
        fields = sorted(key for key in self.branches if key.startswith(f"{collection}."))
        if fields:
            return f"its {collection} branches: {', '.join(fields)}"
        known = sorted({key.split(".")[0] for key in self.branches if "." in key})  # not the _size counters
        return f"collections: {', '.join(known)}"

    def whole(self, collection: str, field: str) -> ak.Array:
        """``collection.field`` of whole numbers (flags, charges) as integers: Delphes writes them as integers, some
        conversions as floats, which are taken when every value is whole (a fraction is refused, not truncated)."""
        values = self.field(collection, field)
        flat = ak.to_numpy(ak.flatten(values))
        if flat.dtype.kind in "iub":
            return values
        check_values(self.path, f"branch '{collection}.{field}'", flat, flat != np.round(flat), "whole numbers",
                     lambda: ak.to_numpy(ak.num(values)))  # fmt: skip
        return ak.values_astype(values, np.int64)

    def physical(self, objects: ak.Array, what: str, energy: bool = False) -> ak.Array:
        """``objects`` without those of pT <= 0 (and energy <= 0 with ``energy``), logged with their count.

        Their log(pT) and log(pT / pT_jet) would be -inf or inf; a detector records no such object (Delphes'
        own thresholds drop a zero-energy tower), so they are dropped as non-physical rather than refused. NaN
        never reaches here: :meth:`field` refuses it."""
        keep = objects.pt > 0
        if energy:
            keep = keep & (objects.E > 0)
        dropped = int(ak.sum(~keep))
        if dropped:
            log.warning("%s: %d %s with pT <= 0%s dropped as non-physical", self.path, dropped, what,
                        " or E <= 0" if energy else "")  # fmt: skip
            return objects[keep]
        return objects

    def fatjets(self) -> ak.Array:
        """The fat jets by decreasing pT: Delphes writes them so, but a skimmed or converted tree may not, and the
        leading jets that give constituents must be those the object stream puts first."""
        jets = self.physical(self._fatjets(), "FatJet objects")
        return jets[ak.argsort(jets.pt, axis=1, ascending=False, stable=True)]

    def _fatjets(self) -> ak.Array:
        tau1, tau2, tau3 = self._taus()
        if self.has("FatJet", "NCharged") and self.has("FatJet", "NNeutrals"):
            n_constituents = self.field("FatJet", "NCharged") + self.field("FatJet", "NNeutrals")
        else:
            n_constituents = ak.ones_like(tau1, dtype=np.int64) * -1
        return ak.zip({
            "pt": self.field("FatJet", "PT"), "eta": self.field("FatJet", "Eta"), "phi": self.angle("FatJet"),
            # masses as written: TLorentzVector::M() gives -sqrt(-m^2) where pile-up subtraction (Delphes'
            # JetPileUpSubtractor) or rounding leaves m^2 < 0, so a negative mass is no sign of a damaged file
            "mass": self.field("FatJet", "Mass"), "tau1": tau1, "tau2": tau2, "tau3": tau3,
            "tau21": ratio_or_zero(tau2, tau1), "tau32": ratio_or_zero(tau3, tau2), "n_constituents": n_constituents,
            "n_btag": self.whole("FatJet", "BTag") & 1,  # a flag; replaced by the count of tagged jets where there are jets
        }, with_name="Momentum4D")  # fmt: skip

    def _taus(self) -> tuple[ak.Array, ak.Array, ak.Array]:
        """tau_1, tau_2, tau_3 of each fat jet: the branch FatJet.Tau[5], or older Delphes versions' Tau1, Tau2..."""
        if not self.has("FatJet", "Tau") and self.has("FatJet", "Tau1"):
            return self.field("FatJet", "Tau1"), self.field("FatJet", "Tau2"), self.field("FatJet", "Tau3")
        tau = self.field("FatJet", "Tau", per_object=_N_TAU)
        return tau[:, :, 0], tau[:, :, 1], tau[:, :, 2]

    def angle(self, collection: str) -> ak.Array:
        """``collection.Phi``, refused if not in radians (degrees would pass as numbers, and be read as radians)."""
        return self.field(collection, "Phi", values_in=_ANGLE)

    def eflow(self, name: str) -> ak.Array:
        """Particle-flow objects of one branch: tracks (PT) or towers (ET), with charge and category."""
        eta, phi = self.field(name, "Eta"), self.angle(name)
        if name in _TOWER_CATEGORY:
            pt, energy = self.field(name, "ET"), self.field(name, "E")
            charge, category = ak.zeros_like(pt, dtype=np.int8), ak.full_like(pt, _TOWER_CATEGORY[name], dtype=np.int8)
        else:
            pt, charge = self.field(name, "PT"), ak.values_astype(self.whole(name, "Charge"), np.int8)
            pid = abs(self.whole(name, "PID")) if self.has(name, "PID") else ak.zeros_like(pt, dtype=np.int64)
            category = _track_category(pid, charge)
            energy = self.field(name, "E") if self.has(name, "E") else _track_energy(pt, eta, pid)
        objects = ak.zip(
            {"pt": pt, "eta": eta, "phi": phi, "E": energy, "charge": charge, "category": category},
            with_name="Momentum4D",
        )
        return self.physical(objects, f"{name} objects", energy=True)

    def leptons(self, name: str) -> ak.Array:
        return ak.zip({
            "pt": self.field(name, "PT", values_in=_NON_NEGATIVE), "eta": self.field(name, "Eta"),
            "phi": self.angle(name), "charge": ak.values_astype(self.whole(name, "Charge"), np.int8),
        })  # fmt: skip

    def missing_et(self) -> dict[str, np.ndarray]:
        met, phi = self.field("MissingET", "MET", values_in=_NON_NEGATIVE), self.angle("MissingET")
        if ak.any(ak.num(met) != 1):
            raise ColliderDataError(self.path, "branch 'MissingET.MET' must hold one value per event")
        return {
            "met": ak.to_numpy(ak.flatten(met)).astype(np.float32),
            "met_phi": ak.to_numpy(ak.flatten(phi)).astype(np.float32),
        }

    def jets(self) -> ak.Array:
        pt = self.field("Jet", "PT", values_in=_NON_NEGATIVE)
        flavour = self.whole("Jet", "Flavor") if self.has("Jet", "Flavor") else ak.ones_like(pt, dtype=np.int64) * -1
        return ak.zip({
            "pt": pt, "eta": self.field("Jet", "Eta"), "phi": self.angle("Jet"),
            "mass": self.field("Jet", "Mass"),  # as written (see the fat jets')
            "btag": (self.whole("Jet", "BTag") & 1) == 1, "flavour": flavour,
        })  # fmt: skip


def _track_category(pid: ak.Array, charge: ak.Array) -> ak.Array:
    """Electron, muon or charged hadron by PDG id; neutral entries of a merged branch: photon (22) or
    neutral hadron."""
    charged = ak.where(pid == 11, ELECTRON, ak.where(pid == 13, MUON, CHARGED_HADRON))
    return ak.values_astype(ak.where(charge != 0, charged, ak.where(pid == 22, PHOTON, NEUTRAL_HADRON)), np.int8)


def _track_energy(pt: ak.Array, eta: ak.Array, pid: ak.Array) -> ak.Array:
    mass = ak.where(pid == 11, _TRACK_MASS[11], ak.where(pid == 13, _TRACK_MASS[13], _PION_MASS))
    return np.sqrt((pt * np.cosh(eta)) ** 2 + mass**2)


def _cone_constituents(jets: ak.Array, objects: ak.Array, radius: float) -> ak.Array:
    """``[event][jet][object]``: the objects within ``radius`` of a jet axis, each with its nearest jet."""
    pairs = ak.cartesian({"jet": jets, "object": objects}, axis=1, nested=True)
    distance = pairs.jet.deltaR(pairs.object)
    nearest = ak.argmin(distance, axis=1, keepdims=True)
    is_nearest = ak.local_index(distance, axis=1) == nearest
    return pairs.object[ak.fill_none((distance < radius) & is_nearest, False)]
