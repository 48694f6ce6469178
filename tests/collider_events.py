"""Small synthetic collider event files in the layout ``showerlearn simulate collider`` writes (seconds to
make, unlike Pythia), for the tests of the collider DataModule, models, evaluator and explanations.

Each event has the generator's fields. The classes differ in both streams, so a network can learn
from either, and overlap, so that no classifier is perfect: signal large-R jets mostly have two prongs
(two clusters of constituents 0.4 apart), a mass near 125 GeV and b-tags, background jets mostly one
core, a broad mass and rarely a b-tag.
"""

from __future__ import annotations

from pathlib import Path

import awkward as ak
import h5py
import numpy as np

from showerlearn.collider.io.events import ProcessSummary, write_metadata
from showerlearn.collider.io.h5columns import ColumnWriter

#: the processes of the files: (name, is signal, cross section [pb])
PROCESSES = (("signal", True, 0.01), ("qcd", False, 100.0), ("ttbar", False, 1.0))


def _constituents(rng: np.random.Generator, signal: bool, jet: int, pt_jet: float) -> dict[str, np.ndarray]:
    n = int(rng.integers(8, 20))
    share = rng.dirichlet(np.full(n, 0.7))
    two_prongs = rng.random() < (0.7 if signal else 0.15)
    prongs = np.where(rng.random(n) < 0.5, 0.2, -0.2) if two_prongs else np.zeros(n)
    deta = rng.normal(0.0, 0.05, n)
    dphi = prongs + rng.normal(0.0, 0.05, n)
    pt = share * pt_jet
    category = rng.integers(0, 5, n)
    return {
        "pt": pt, "eta": deta, "phi": dphi, "energy": pt * 1.1, "charge": np.where(category < 3, 1, 0),
        "category": category, "jet_index": np.full(n, jet), "log_pt_rel": np.log(share),
        "log_energy_rel": np.log(share), "deta": deta, "dphi": dphi, "dr": np.hypot(deta, dphi),
    }  # fmt: skip


def _leptons(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    return {"pt": rng.uniform(10, 50, n), "eta": rng.uniform(-1, 1, n), "phi": rng.uniform(-3, 3, n), "charge": np.ones(n, int)}


def synthetic_events(n_events: int, seed: int, shares: tuple[float, ...] = (0.5, 0.4, 0.1)) -> ak.Array:
    """Event records with the fields of the generated files; process codes drawn with ``shares``."""
    rng = np.random.default_rng(seed)
    process = rng.choice(len(PROCESSES), size=n_events, p=shares)
    events = []
    for code in process:
        signal = PROCESSES[code][1]
        pts = np.sort(rng.uniform(200.0, 400.0, 2))[::-1]
        mass = rng.normal(125.0, 25.0, 2) if signal else rng.uniform(20.0, 200.0, 2)
        tau21 = rng.uniform(0.2, 0.5, 2) if signal else rng.uniform(0.4, 0.9, 2)
        n_jets = int(rng.integers(2, 6))
        parts = [_constituents(rng, signal, jet, pts[jet]) for jet in range(2)]
        constituents = {key: np.concatenate([part[key] for part in parts]) for key in parts[0]}
        events.append({
            "process": code, "label": int(signal), "weight_pb": 0.0, "generator_weight": 1.0,
            "mjj": float(rng.uniform(500.0, 700.0)), "met": float(rng.exponential(20.0)), "met_phi": float(rng.uniform(-3, 3)),
            "fatjets": {
                "pt": pts, "eta": rng.uniform(-2, 2, 2), "phi": rng.uniform(-3, 3, 2), "mass": mass,
                "tau1": np.ones(2), "tau2": tau21, "tau3": tau21 * 0.5, "tau21": tau21, "tau32": np.full(2, 0.5),
                "n_constituents": np.array([len(parts[0]["pt"]), len(parts[1]["pt"])]),
                "n_btag": rng.integers(0, 3, 2) if signal else (rng.random(2) < 0.1).astype(int),
            },
            "jets": {
                "pt": np.sort(rng.uniform(20, 200, n_jets))[::-1], "eta": rng.uniform(-2.5, 2.5, n_jets),
                "phi": rng.uniform(-3, 3, n_jets), "mass": rng.uniform(2, 20, n_jets),
                "btag": rng.random(n_jets) < (0.4 if signal else 0.1), "flavour": np.zeros(n_jets, int),
            },
            "electrons": _leptons(rng, 0), "muons": _leptons(rng, int(rng.random() < 0.2)),
            "constituents": {key: np.asarray(values) for key, values in constituents.items()},
        })  # fmt: skip
    records = ak.Array([{k: ({f: list(v) for f, v in value.items()} if isinstance(value, dict) else value)
                         for k, value in event.items()} for event in events])  # fmt: skip
    for kind in ("fatjets", "jets", "electrons", "muons", "constituents"):
        records[kind] = ak.zip({field: records[kind][field] for field in records[kind].fields})
    weights = np.array([PROCESSES[code][2] / max(np.count_nonzero(process == code), 1) for code in process])
    return ak.with_field(records, weights, "weight_pb")


def write_event_file(
    path: Path, n_events: int, seed: int, shares: tuple[float, ...] = (0.5, 0.4, 0.1), only: str | None = None,
    config: dict | None = None,
) -> Path:
    """A generated-format event file of ``n_events`` synthetic events (weights add up to each process's
    cross section of :data:`PROCESSES`); ``only``: the events of that process, the only one the file lists
    (as ``simulate collider --process`` writes); ``config``: the generator settings the file states."""
    records = synthetic_events(n_events, seed, shares)
    processes = PROCESSES
    if only is not None:
        code = [name for name, _, _ in PROCESSES].index(only)
        records = records[ak.to_numpy(records.process) == code]
        records = ak.with_field(records, np.zeros(len(records), np.int16), "process")
        processes = (PROCESSES[code],)
    process = ak.to_numpy(records.process)
    summaries = [
        ProcessSummary(name, int(signal), [], int(np.count_nonzero(process == code)), int(np.count_nonzero(process == code)),
                       float(np.count_nonzero(process == code)), sigma, 0.0, sigma)
        for code, (name, signal, sigma) in enumerate(processes)
    ]  # fmt: skip
    with h5py.File(path, "w") as h5:
        ColumnWriter(h5, ("weight_pb", "generator_weight")).append(records)
        write_metadata(h5, summaries, config or {"synthetic": True}, seed, {"pythia": "none", "fastjet": "none"})
    return path

