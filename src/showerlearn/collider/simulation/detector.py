"""A parametrised CMS-like detector, vectorised over a batch of events: tracking, calorimeters, particle flow.

The steps and their order are those of Delphes' CMS card (numbers and sources:
:mod:`showerlearn.collider.simulation.card`):

1. **tracking**: charged particles within the tracker are kept with the efficiency of their kind
   (charged hadron, electron, muon) and their pT is smeared log-normally with the kind's resolution;
2. **calorimeters**: every visible particle that reaches them (neutral, or charged above the looper
   pT) deposits its energy in one ECAL and one HCAL cell, split by the particle's ECAL fraction; the
   summed cell energy is smeared log-normally with the calorimeter resolution and dropped below the
   energy and significance thresholds;
3. **particle flow**: the tracks, plus what each cell holds beyond the energy of the tracks pointing
   into it (when that surplus passes the same thresholds, with the tracks' resolution added), as a
   massless photon (ECAL) or neutral hadron (HCAL) at a uniformly random point of the cell.

Inputs and outputs are flat arrays with an event index (:class:`Particles`, :class:`EFlow`), so one
call handles a whole batch with numpy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import vector

from showerlearn.collider.particles import CHARGED_HADRON, ELECTRON, MUON, NEUTRAL_HADRON, PHOTON
from showerlearn.collider.simulation.card import CalorimeterCard, DetectorCard, EtaPtTable, TrackResolution

__all__ = ["CalorimeterGrid", "Detector", "EFlow", "Particles", "lognormal"]

_ELECTRON_ID, _MUON_ID = 11, 13


@dataclass(frozen=True)
class Particles:
    """Visible final-state particles of a batch of events, flat and sorted by ``event``."""

    event: np.ndarray  #: event index in the batch (int64)
    pid: np.ndarray  #: PDG id (int32)
    charge: np.ndarray  #: electric charge [e]
    momentum: vector.MomentumNumpy4D  #: px, py, pz, E [GeV]
    n_events: int

    @classmethod
    def from_arrays(
        cls,
        event: np.ndarray,
        pid: np.ndarray,
        charge: np.ndarray,
        px: np.ndarray,
        py: np.ndarray,
        pz: np.ndarray,
        energy: np.ndarray,
        n_events: int,
    ) -> Particles:
        momentum = vector.array({"px": px, "py": py, "pz": pz, "E": energy})
        return cls(
            np.asarray(event, np.int64), np.asarray(pid, np.int32), np.asarray(charge, np.float64), momentum, n_events
        )


@dataclass(frozen=True)
class EFlow:
    """Particle-flow objects of a batch of events, flat and sorted by ``event``."""

    event: np.ndarray
    pt: np.ndarray
    eta: np.ndarray
    phi: np.ndarray
    energy: np.ndarray
    charge: np.ndarray  #: int8: +-1 for tracks, 0 for calorimeter objects
    category: np.ndarray  #: int8: :mod:`showerlearn.collider.particles` code
    n_events: int

    @property
    def momentum(self) -> vector.MomentumNumpy4D:
        return vector.array({"pt": self.pt, "eta": self.eta, "phi": self.phi, "E": self.energy})

    def counts(self) -> np.ndarray:
        return np.bincount(self.event, minlength=self.n_events)


def lognormal(mean: np.ndarray, sigma: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Log-normal draws with the given mean and standard deviation (Delphes' ``LogNormal``): positive,
    like an energy, and Gaussian for small ``sigma / mean``; zero where ``mean <= 0``."""
    mean = np.asarray(mean, dtype=np.float64)
    positive = mean > 0
    safe = np.where(positive, mean, 1.0)
    b = np.sqrt(np.log1p((np.asarray(sigma) / safe) ** 2))
    a = np.log(safe) - 0.5 * b**2
    return np.where(positive, np.exp(a + b * rng.standard_normal(mean.shape)), 0.0)


class CalorimeterGrid:
    """The (eta, phi) cells of one calorimeter: rows of equal eta width per segment, ``n_phi`` cells each."""

    def __init__(self, card: CalorimeterCard) -> None:
        positive = [0.0]
        row_phi: list[int] = []
        for segment in card.segments:
            n_rows = max(1, round((segment.eta_max - positive[-1]) / segment.eta_width))
            positive += list(np.linspace(positive[-1], segment.eta_max, n_rows + 1)[1:])
            row_phi += [segment.n_phi] * n_rows
        self.eta_edges = np.concatenate([-np.array(positive[:0:-1]), positive])
        self.n_phi = np.concatenate([row_phi[::-1], row_phi]).astype(np.int64)
        self.row_offset = np.concatenate([[0], np.cumsum(self.n_phi)[:-1]])
        self.n_cells = int(self.n_phi.sum())
        self.eta_max = card.eta_max

    def cell(self, eta: np.ndarray, phi: np.ndarray) -> np.ndarray:
        """Cell index of each direction (directions must lie within ``eta_max``)."""
        row = np.clip(np.searchsorted(self.eta_edges, eta, side="right") - 1, 0, len(self.n_phi) - 1)
        n_phi = self.n_phi[row]
        column = np.minimum(((np.mod(phi + np.pi, 2 * np.pi)) / (2 * np.pi) * n_phi).astype(np.int64), n_phi - 1)
        return self.row_offset[row] + column

    def bounds(self, cell: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``(eta_low, eta_high, phi_low, phi_high)`` of each cell."""
        row = np.searchsorted(self.row_offset, cell, side="right") - 1
        width = 2 * np.pi / self.n_phi[row]
        phi_low = -np.pi + (cell - self.row_offset[row]) * width
        return self.eta_edges[row], self.eta_edges[row + 1], phi_low, phi_low + width


@dataclass(frozen=True)
class _Tracks:
    """The tracked particles: their indices in :class:`Particles`, smeared momenta and category."""

    index: np.ndarray
    momentum: vector.MomentumNumpy4D
    relative_resolution: np.ndarray
    category: np.ndarray


class Detector:
    """The detector of a :class:`DetectorCard`; :meth:`reconstruct` turns particles into particle flow."""

    def __init__(self, card: DetectorCard) -> None:
        self.card = card
        self.ecal_grid = CalorimeterGrid(card.ecal)
        self.hcal_grid = CalorimeterGrid(card.hcal)

    def reconstruct(self, particles: Particles, rng: np.random.Generator) -> EFlow:
        """Tracks, photons and neutral hadrons of every event, sorted by event."""
        tracks = self.tracks(particles, rng)
        track_energy = np.zeros(len(particles.event))
        track_variance = np.zeros(len(particles.event))
        track_energy[tracks.index] = tracks.momentum.E
        track_variance[tracks.index] = (tracks.momentum.E * tracks.relative_resolution) ** 2
        ecal_fraction = self.ecal_fraction(particles.pid)
        deposit = self._reaches_calorimeter(particles)
        parts = [self._track_flow(particles, tracks)]
        for grid, card, fraction, category in (
            (self.ecal_grid, self.card.ecal, ecal_fraction, PHOTON),
            (
                self.hcal_grid,
                self.card.hcal,
                np.where(self._calorimetric(particles.pid), 1.0 - ecal_fraction, 0.0),
                NEUTRAL_HADRON,
            ),
        ):
            parts.append(
                self.calorimeter(grid, card, particles, fraction * deposit, track_energy, track_variance, category, rng)
            )
        return _concatenate(parts, particles.n_events)

    # --- tracking ------------------------------------------------------------------------------------
    def tracks(self, particles: Particles, rng: np.random.Generator) -> _Tracks:
        """Tracked charged particles with smeared pT (direction and mass kept, energy recomputed)."""
        momentum, apid = particles.momentum, np.abs(particles.pid)
        abs_eta, pt = np.abs(momentum.eta), momentum.pt
        kinds = (
            (apid == _ELECTRON_ID, self.card.electron_tracking, self.card.electron_resolution, ELECTRON),
            (apid == _MUON_ID, self.card.muon_tracking, self.card.muon_resolution, MUON),
        )
        hadron = (particles.charge != 0) & (apid != _ELECTRON_ID) & (apid != _MUON_ID)
        efficiency = np.zeros(len(pt))
        resolution = np.zeros(len(pt))
        category = np.zeros(len(pt), dtype=np.int8)
        for is_kind, table, smearing, code in (
            (hadron, self.card.hadron_tracking, self.card.hadron_resolution, CHARGED_HADRON),
            *kinds,
        ):
            efficiency, resolution = _fill(is_kind, table, smearing, abs_eta, pt, efficiency, resolution)
            category[is_kind] = code
        tracked = np.flatnonzero((particles.charge != 0) & (rng.random(len(pt)) < efficiency))
        smeared_pt = lognormal(pt[tracked], resolution[tracked] * pt[tracked], rng)
        mass = momentum.mass[tracked]
        smeared = vector.array(
            {"pt": smeared_pt, "eta": momentum.eta[tracked], "phi": momentum.phi[tracked], "mass": np.nan_to_num(mass)}
        )
        return _Tracks(tracked, smeared, resolution[tracked], category[tracked])

    def _track_flow(self, particles: Particles, tracks: _Tracks) -> EFlow:
        m = tracks.momentum
        return EFlow(
            particles.event[tracks.index],
            m.pt,
            m.eta,
            m.phi,
            m.E,
            np.sign(particles.charge[tracks.index]).astype(np.int8),
            tracks.category,
            particles.n_events,
        )

    # --- calorimeters --------------------------------------------------------------------------------
    def ecal_fraction(self, pid: np.ndarray) -> np.ndarray:
        """Fraction of each particle's energy deposited in the ECAL (the card's ECal EnergyFraction)."""
        apid = np.abs(pid)
        fraction = np.zeros(len(pid))
        for code, value in self.card.ecal_fractions.items():
            fraction[apid == code] = value
        return fraction

    @staticmethod
    def _calorimetric(pid: np.ndarray) -> np.ndarray:
        """Particles that deposit energy at all (muons pass through; invisible ones never reach here)."""
        return np.abs(pid) != _MUON_ID

    def _reaches_calorimeter(self, particles: Particles) -> np.ndarray:
        momentum = particles.momentum
        curls_up = (particles.charge != 0) & (momentum.pt < self.card.looper_pt)
        return (~curls_up & self._calorimetric(particles.pid)).astype(np.float64)

    def calorimeter(
        self,
        grid: CalorimeterGrid,
        card: CalorimeterCard,
        particles: Particles,
        fraction: np.ndarray,
        track_energy: np.ndarray,
        track_variance: np.ndarray,
        category: int,
        rng: np.random.Generator,
    ) -> EFlow:
        """Neutral particle-flow objects of one calorimeter: smeared cell energy beyond the tracks'."""
        momentum = particles.momentum
        hit = np.flatnonzero((fraction > 0) & (np.abs(momentum.eta) <= grid.eta_max))
        key = particles.event[hit] * grid.n_cells + grid.cell(momentum.eta[hit], momentum.phi[hit])
        cells, inverse = np.unique(key, return_inverse=True)
        share = fraction[hit]
        deposited = np.bincount(inverse, weights=share * momentum.E[hit])
        tracked = np.bincount(inverse, weights=share * track_energy[hit])
        tracked_variance = np.bincount(inverse, weights=share**2 * track_variance[hit])
        event, cell = cells // grid.n_cells, cells % grid.n_cells
        eta_low, eta_high, phi_low, phi_high = grid.bounds(cell)
        sigma = card.sigma(np.abs(0.5 * (eta_low + eta_high)), deposited)
        measured = lognormal(deposited, sigma, rng)
        measured = np.where((measured < card.energy_min) | (measured < card.significance_min * sigma), 0.0, measured)
        neutral = np.maximum(measured - tracked, 0.0)
        keep = (neutral > card.energy_min) & (neutral > card.significance_min * np.sqrt(sigma**2 + tracked_variance))
        eta = rng.uniform(eta_low, eta_high)  # the card's SmearTowerCenter
        phi = rng.uniform(phi_low, phi_high)
        n = int(keep.sum())
        return EFlow(
            event[keep],
            neutral[keep] / np.cosh(eta[keep]),
            eta[keep],
            phi[keep],
            neutral[keep],
            np.zeros(n, np.int8),
            np.full(n, category, np.int8),
            particles.n_events,
        )


def _fill(
    is_kind: np.ndarray,
    table: EtaPtTable,
    smearing: TrackResolution,
    abs_eta: np.ndarray,
    pt: np.ndarray,
    efficiency: np.ndarray,
    resolution: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    efficiency = np.where(is_kind, table(abs_eta, pt), efficiency)
    resolution = np.where(is_kind, smearing.relative(abs_eta, pt), resolution)
    return efficiency, resolution


def _concatenate(parts: list[EFlow], n_events: int) -> EFlow:
    event = np.concatenate([p.event for p in parts])
    order = np.argsort(event, kind="stable")
    fields = {
        name: np.concatenate([getattr(p, name) for p in parts])[order]
        for name in ("event", "pt", "eta", "phi", "energy", "charge", "category")
    }
    return EFlow(**fields, n_events=n_events)
