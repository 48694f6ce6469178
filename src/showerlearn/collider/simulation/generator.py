"""One chunk of one process: Pythia 8 events through the detector, reconstructed and selected.

A chunk runs its own Pythia instance (``pythia8mc``), seeded from ``(seed, process, chunk index)``,
and draws events in batches (``Pythia.nextBatch``, which hands a batch over as awkward arrays) until
``size`` events pass the selection. The detector's random numbers come from a numpy generator seeded
the same way, so a chunk depends only on the config, the seed and its index. What the cross section
needs is counted alongside: the events generated up to the last one kept, the sum of their generator
weights, and Pythia's own estimate of the generated cross section.
"""

from __future__ import annotations

import math
import time
import zlib
from dataclasses import asdict, dataclass
from typing import Any

import awkward as ak
import numpy as np

from showerlearn.collider.simulation.capture import captured_stdout
from showerlearn.collider.simulation.config import ColliderSimulationConfig
from showerlearn.collider.simulation.detector import Detector, Particles
from showerlearn.collider.simulation.jets import four_momenta
from showerlearn.collider.simulation.reconstruction import Partons, reconstruct

__all__ = ["Chunk", "ChunkStats", "chunk_seeds", "generate_chunk", "pythia_generator", "reconstruct_batch"]

_MB_TO_PB = 1e9
_PYTHIA_SEED_MAX = 900_000_000  # Random:seed takes 0 ... 900,000,000
# keep Pythia's routine listings out of the captured output: only its warnings and errors remain
_QUIET = (
    "Next:numberCount = 0", "Next:numberShowEvent = 0", "Next:numberShowInfo = 0", "Next:numberShowProcess = 0",
    "Init:showChangedSettings = off", "Init:showChangedParticleData = off", "Init:showProcesses = off",
)  # fmt: skip
_BATCH_MIN, _BATCH_MAX, _FIRST_EFFICIENCY = 8, 400, 0.3


@dataclass(frozen=True)
class ChunkStats:
    """What a chunk contributes to its process's cross section and bookkeeping."""

    process: str
    index: int
    n_generated: int  #: Pythia events reconstructed, up to the last one kept
    n_selected: int
    sum_weights: float  #: sum of the generator weights of those n_generated events
    sigma_pb: float  #: Pythia's estimate of the generated cross section in this run
    sigma_error_pb: float
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Chunk:
    """Selected events (:mod:`~showerlearn.collider.simulation.reconstruction` records with their
    ``generator_weight``) and what they count for."""

    records: ak.Array
    stats: ChunkStats


def chunk_seeds(seed: int, process: str, index: int) -> tuple[int, np.random.SeedSequence]:
    """Pythia's seed and the detector's seed sequence of one chunk: both from ``(seed, process, index)``;
    the process enters by name so that adding a process leaves the others' events unchanged."""
    sequence = np.random.SeedSequence([seed, zlib.crc32(process.encode()), index])
    return int(sequence.generate_state(1)[0] % _PYTHIA_SEED_MAX) + 1, sequence


def pythia_generator(settings: list[str], seed: int, process: str) -> Any:
    """An initialised ``pythia8mc.Pythia`` with ``settings``; a setting Pythia does not know, or an
    initialisation that fails, raises ValueError with Pythia's own messages."""
    import pythia8mc

    with captured_stdout() as output:
        pythia = pythia8mc.Pythia("", False)
        everything = (*_QUIET, *settings, "Random:setSeed = on", f"Random:seed = {seed}")
        unknown = next((setting for setting in everything if not pythia.readString(setting)), None)
        initialised = unknown is None and pythia.init()
    if unknown is not None:
        raise ValueError(
            f"process {process!r}: Pythia does not accept the setting {unknown!r}: " + _messages(output.text)
        )
    if not initialised:
        raise ValueError(f"process {process!r}: Pythia could not initialise: " + _messages(output.text))
    return pythia


def _messages(text: str) -> str:
    lines = [
        line.strip()
        for line in text.splitlines()
        if "PYTHIA" in line and ("Error" in line or "Abort" in line or "Warning" in line)
    ]
    return "; ".join(lines) or "(no message)"


def generate_chunk(config: ColliderSimulationConfig, process: str, index: int, size: int, seed: int) -> Chunk:
    """``size`` selected events of ``process`` (chunk ``index`` of the run with ``seed``)."""
    start = time.perf_counter()
    pythia_seed, sequence = chunk_seeds(seed, process, index)
    pythia = pythia_generator(config.pythia_settings(process), pythia_seed, process)
    detector, rng = Detector(config.detector), np.random.default_rng(sequence)
    kept: list[ak.Array] = []
    n_generated, n_selected, sum_weights = 0, 0, 0.0
    while n_selected < size:
        _check_efficiency(config, process, n_generated, n_selected, size)
        # half an event over what was generated while none passed: batches grow until one does
        efficiency = min(1.0, max(n_selected, 0.5) / n_generated) if n_generated else _FIRST_EFFICIENCY
        wanted = min(max(math.ceil(1.2 * (size - n_selected) / efficiency), _BATCH_MIN), _BATCH_MAX)
        with captured_stdout():  # Pythia's per-event warnings, FastJet's banner
            batch = pythia.nextBatch(wanted)
            records, selected, weights = reconstruct_batch(batch, pythia.particleData, detector, config, rng)
        used = _events_used(selected, size - n_selected)
        kept.append(records[: size - n_selected])
        n_generated += used
        n_selected += min(int(selected.sum()), size - n_selected)
        sum_weights += float(weights[:used].sum())
    info = pythia.infoPython()
    sigma, error = config.processes[process].cross_section_pb, 0.0
    if sigma is None:
        sigma, error = info.sigmaGen() * _MB_TO_PB, info.sigmaErr() * _MB_TO_PB
    stats = ChunkStats(process, index, n_generated, n_selected, sum_weights, sigma, error, time.perf_counter() - start)
    return Chunk(ak.concatenate(kept), stats)


def _check_efficiency(
    config: ColliderSimulationConfig, process: str, n_generated: int, n_selected: int, size: int
) -> None:
    if n_generated > config.max_tries_per_event * size:
        raise ValueError(
            f"process {process!r}: only {n_selected} of {n_generated} generated events pass the selection "
            f"(two large-R jets with pT > {config.selection.fatjet_pt_min_fraction:g} x {config.signal_mass:g} GeV, "
            f"di-jet mass in {config.selection.mass_window} x the mass): loosen the selection or the process's "
            "Pythia cuts, or raise max_tries_per_event"
        )


def _events_used(selected: np.ndarray, needed: int) -> int:
    """Events of a batch consumed to collect ``needed`` selected ones (all of it when it has fewer)."""
    positions = np.flatnonzero(selected)
    return int(positions[needed - 1]) + 1 if len(positions) >= needed else len(selected)


def reconstruct_batch(
    batch: ak.Array, particle_data: Any, detector: Detector, config: ColliderSimulationConfig, rng: np.random.Generator
) -> tuple[ak.Array, np.ndarray, np.ndarray]:
    particles, partons = _particles(batch, particle_data)
    eflow = detector.reconstruct(particles, rng)
    records, selected = reconstruct(eflow, partons, config, rng)
    weights = _generator_weights(batch)
    return ak.with_field(records, weights[selected], "generator_weight"), selected, weights


def _generator_weights(batch: ak.Array) -> np.ndarray:
    """Each event's nominal weight (1 for Pythia's default unweighted events)."""
    weights = batch.info.weights
    return ak.to_numpy(ak.fill_none(ak.firsts(weights), 1.0)).astype(np.float64)


def _particles(batch: ak.Array, particle_data: Any) -> tuple[Particles, Partons]:
    """Visible final-state particles (flat) and the b and c quarks (per event) of a Pythia batch."""
    record = batch.prt
    final = record[record.status > 0]
    pid = ak.to_numpy(ak.flatten(final.id))
    codes, inverse = np.unique(pid, return_inverse=True)
    visible = np.array([particle_data.isVisible(int(code)) for code in codes], dtype=bool)[inverse]
    charge = np.array([particle_data.charge(int(code)) for code in codes])[inverse]
    counts = ak.to_numpy(ak.num(final))
    event = np.repeat(np.arange(len(counts)), counts)
    momentum = {key: ak.to_numpy(ak.flatten(final.p[key]))[visible] for key in ("px", "py", "pz", "e")}
    particles = Particles.from_arrays(
        event[visible],
        pid[visible],
        charge[visible],
        momentum["px"],
        momentum["py"],
        momentum["pz"],
        momentum["e"],
        len(counts),
    )
    quarks = record[(abs(record.id) == 4) | (abs(record.id) == 5)]
    partons = Partons(quarks.id, four_momenta(quarks.p.px, quarks.p.py, quarks.p.pz, quarks.p.e))
    return particles, partons
