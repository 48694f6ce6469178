"""The two token streams of an event record (generated files, Delphes trees): jet constituents and
reconstructed objects, with the derived fields the networks read.

* :func:`constituent_tokens`: the constituents of the leading large-R jets as the files hold them,
  plus ``log_pt``, ``log_energy`` and one indicator per particle-flow category (``is_photon``...),
  which a linear token embedding reads better than a category code.
* :func:`object_tokens`: one token per reconstructed object, in a fixed order of kinds (missing pT,
  large-R jets, small-R jets, electrons, muons; by decreasing pT inside a kind, at most ``limits[kind]``
  of each), with the union of their fields: ``pt``, ``eta``, ``phi``, ``mass``, ``energy``, ``tau21``,
  ``tau32`` (large-R jets; 0 otherwise), ``btag`` (the b-tagged small-R jets inside a large-R jet, also for
  Delphes files with a ``Jet`` branch, else the large-R jet's own tag bit; a small-R jet's tag), ``charge`` (leptons),
  ``log_pt``, ``log_mass`` = log(1 + m / GeV), ``dphi_lead`` (phi relative to the leading large-R jet, which
  removes the event's irrelevant azimuth) and one indicator per kind (``is_met``, ``is_fatjet``...). The fixed
  order puts missing pT and the two selected large-R jets in the first slots of every generated event.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import awkward as ak
import numpy as np

from showerlearn.collider.particles import CATEGORY_NAMES

__all__ = [
    "CATEGORY_INDICATORS",
    "DEFAULT_CONSTITUENT_FEATURES",
    "DEFAULT_OBJECT_FEATURES",
    "OBJECT_KINDS",
    "OBJECT_INDICATORS",
    "constituent_tokens",
    "object_kinds",
    "object_tokens",
]

#: indicator fields of the particle-flow categories, in category-code order
CATEGORY_INDICATORS: tuple[str, ...] = tuple(f"is_{name}" for name in CATEGORY_NAMES)
#: kinds of reconstructed objects, in the order of the object stream
OBJECT_KINDS: tuple[str, ...] = ("met", "fatjets", "jets", "electrons", "muons")
#: indicator field of each kind
OBJECT_INDICATORS: dict[str, str] = {
    "met": "is_met", "fatjets": "is_fatjet", "jets": "is_jet", "electrons": "is_electron", "muons": "is_muon",
}  # fmt: skip

DEFAULT_CONSTITUENT_FEATURES: tuple[str, ...] = (
    "log_pt", "log_energy", "log_pt_rel", "log_energy_rel", "deta", "dphi", "dr", "charge", *CATEGORY_INDICATORS,
    "jet_index",
)  # fmt: skip
DEFAULT_OBJECT_FEATURES: tuple[str, ...] = (
    "log_pt", "eta", "dphi_lead", "log_mass", "tau21", "tau32", "btag", "charge", *OBJECT_INDICATORS.values(),
)  # fmt: skip

_OBJECT_FIELDS = ("pt", "eta", "phi", "mass", "energy", "tau21", "tau32", "btag", "charge")


def constituent_tokens(events: ak.Array) -> ak.Array:
    """The ``constituents`` of event records with ``log_pt``, ``log_energy`` and the category indicators added."""
    tokens = events.constituents
    fields = {name: tokens[name] for name in tokens.fields}
    fields["log_pt"] = np.log(tokens.pt)
    fields["log_energy"] = np.log(tokens.energy)
    for code, name in enumerate(CATEGORY_INDICATORS):
        fields[name] = ak.values_astype(tokens.category == code, np.float32)
    return ak.zip(fields)


def object_tokens(events: ak.Array, limits: Mapping[str, int]) -> ak.Array:
    """One list of object tokens per event (see the module docstring); ``limits``: the most objects of each
    kind (0 leaves a kind out; a kind the records lack is left out too, e.g. Delphes files without jets)."""
    unknown = sorted(set(limits) - set(OBJECT_KINDS))
    if unknown:
        raise ValueError(f"unknown object kinds {unknown}; known: {', '.join(OBJECT_KINDS)}")
    parts = [_kind_tokens(events, kind, limits[kind]) for kind in object_kinds(events.fields, limits)]
    if not parts:
        raise ValueError(f"no object kind left: limits {dict(limits)}, event fields {events.fields}")
    tokens = ak.concatenate(parts, axis=1)
    lead_phi = _leading_fatjet_phi(events)
    fields = {name: tokens[name] for name in tokens.fields}
    fields["log_pt"] = np.log(np.maximum(tokens.pt, 1e-3))  # missing pT can be ~0
    fields["log_mass"] = np.log1p(np.maximum(tokens.mass, 0.0))
    fields["dphi_lead"] = _wrap(tokens.phi - lead_phi)
    return ak.zip(fields)


def object_kinds(fields: Sequence[str], limits: Mapping[str, int]) -> tuple[str, ...]:
    """The kinds of objects in the object stream of records with these ``fields``: those ``limits`` keeps
    (above 0) that the records have, in the stream's order."""
    return tuple(kind for kind in OBJECT_KINDS if limits.get(kind, 0) > 0 and kind in fields)


def _kind_tokens(events: ak.Array, kind: str, limit: int) -> ak.Array:
    """The tokens of one kind, hardest first, with every field of the stream (0 where the kind has none)."""
    if kind == "met":
        met = ak.to_numpy(events.met).astype(np.float64)
        phi = ak.to_numpy(events.met_phi).astype(np.float64)
        zeros = np.zeros_like(met)
        # one token per event, counted per event: a count of 1 alone fails on a file of no event
        objects = ak.unflatten(ak.zip({"pt": met, "eta": zeros, "phi": phi, "mass": zeros}), np.ones(len(met), np.int64))
    else:
        objects = events[kind]
        objects = objects[ak.argsort(objects.pt, axis=1, ascending=False, stable=True)][:, :limit]
    zero = ak.zeros_like(objects.pt, dtype=np.float64)
    mass = objects.mass if "mass" in objects.fields else zero  # leptons: massless
    fields = {
        "pt": objects.pt, "eta": objects.eta, "phi": objects.phi, "mass": mass,
        # a negative mass is ROOT's -sqrt(-m^2) (pile-up subtraction): m^2 < 0 is subtracted, as vector reads it
        "energy": np.sqrt(np.maximum((objects.pt * np.cosh(objects.eta)) ** 2 + np.sign(mass) * mass**2, 0.0)),
        "tau21": objects.tau21 if kind == "fatjets" else zero, "tau32": objects.tau32 if kind == "fatjets" else zero,
        "btag": _btag(objects, kind, zero), "charge": objects.charge if "charge" in objects.fields else zero,
    }  # fmt: skip
    fields = {name: ak.values_astype(fields[name], np.float64) for name in _OBJECT_FIELDS}
    for other, indicator in OBJECT_INDICATORS.items():
        fields[indicator] = zero + (1.0 if other == kind else 0.0)
    return ak.zip(fields)


def _btag(objects: ak.Array, kind: str, zero: ak.Array) -> ak.Array:
    if kind == "fatjets":
        return objects.n_btag
    if kind == "jets":
        return objects.btag
    return zero


def _leading_fatjet_phi(events: ak.Array) -> np.ndarray:
    """phi of each event's leading large-R jet; 0 where there is none (or no large-R jets at all)."""
    if "fatjets" not in events.fields:
        return np.zeros(len(events))
    leading = ak.argmax(events.fatjets.pt, axis=1, keepdims=True)
    return ak.to_numpy(ak.fill_none(ak.firsts(events.fatjets.phi[leading]), 0.0)).astype(np.float64)


def _wrap(angle: ak.Array) -> ak.Array:
    """An angle wrapped into [-pi, pi)."""
    return (angle + np.pi) % (2 * np.pi) - np.pi
