"""Photon transport through the crystals, all photons of a chunk at once.

Every photon is a row of flat arrays; each loop iteration moves all of them by one flight:

1. a photon inside the empty sphere around the target (``r < r_min``) jumps to its surface;
2. it flies an exponential distance with the CsI attenuation at its energy; beyond the outermost crystal
   (``r > r_max``) it has escaped; where no crystal is at the new point, the flight was a *null collision*
   (Woodcock tracking: the material is CsI or nothing, so sampling with CsI's mu everywhere and ignoring
   the collisions that land in vacuum follows any geometry exactly);
3. a real interaction is photoelectric absorption, Compton scattering (Klein-Nishina angles on free
   electrons) or pair production, chosen by their cross sections.

Electrons and positrons deposit their kinetic energy in the crystal where they were made (CsI's electron
ranges, <= 1.5 cm at 10 MeV, are shorter than a crystal is wide); above ``brems_threshold_mev`` they first
radiate bremsstrahlung photons in a continuous-slowing-down picture (:func:`_slow_down`). A positron
annihilates where it was made, into two back-to-back 511 keV photons. Photons below ``photon_cut_mev`` are
absorbed where they are (mean free path < 0.2 mm at 50 keV).

Energy is conserved exactly: for each primary gamma, deposits + escaped = its energy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from showerlearn.calorimeter.geometry import CrystalGeometry
from showerlearn.calorimeter.kinematics import ELECTRON_MASS_MEV, isotropic_directions, rotate, sample_klein_nishina
from showerlearn.calorimeter.simulation.materials import AttenuationTable

__all__ = ["CSI_CRITICAL_ENERGY_MEV", "Deposits", "TransportSettings", "transport_photons"]

C_MM_PER_NS = 299.792458
#: critical energy of electrons in CsI (PDG, Atomic and Nuclear Properties of Materials: Cesium iodide),
#: where collision and radiative stopping powers are equal
CSI_CRITICAL_ENERGY_MEV = 11.17


@dataclass(frozen=True)
class TransportSettings:
    """Cuts of the transport [MeV]: photons below ``photon_cut`` are absorbed on the spot; electrons above
    ``brems_threshold`` radiate photons above ``brems_photon_cut``."""

    photon_cut: float = 0.05
    brems_threshold: float = 2.0
    brems_photon_cut: float = 0.1


@dataclass
class Deposits:
    """Energy deposits: per deposit the primary gamma (row of the chunk's gamma table), the crystal (row of the
    geometry's table), the energy [MeV] and the time [ns]."""

    gamma: np.ndarray
    crystal: np.ndarray
    energy: np.ndarray
    time: np.ndarray

    @classmethod
    def concatenate(cls, parts: list[Deposits]) -> Deposits:
        if not parts:
            return cls(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0), np.zeros(0))
        return cls(*(np.concatenate([getattr(p, name) for p in parts]) for name in ("gamma", "crystal", "energy", "time")))


@dataclass
class _Photons:
    gamma: np.ndarray
    position: np.ndarray
    direction: np.ndarray
    energy: np.ndarray
    time: np.ndarray

    def take(self, mask: np.ndarray) -> _Photons:
        return _Photons(self.gamma[mask], self.position[mask], self.direction[mask], self.energy[mask], self.time[mask])

    @classmethod
    def concatenate(cls, parts: list[_Photons]) -> _Photons:
        if not parts:
            return cls(np.zeros(0, np.int64), np.zeros((0, 3)), np.zeros((0, 3)), np.zeros(0), np.zeros(0))
        return cls(*(np.concatenate([getattr(p, name) for p in parts])
                     for name in ("gamma", "position", "direction", "energy", "time")))


def transport_photons(
    geometry: CrystalGeometry, table: AttenuationTable, direction: np.ndarray, energy: np.ndarray,
    rng: np.random.Generator, settings: TransportSettings = TransportSettings(),
) -> tuple[Deposits, np.ndarray]:
    """Follow primary photons emitted at the target at t = 0 with unit ``direction`` (n, 3) and ``energy`` [MeV].

    Returns the deposits (``gamma`` = index of the primary) and the energy that escaped, per primary.
    """
    n = len(energy)
    photons = _Photons(np.arange(n), np.zeros((n, 3)), np.asarray(direction, float), np.asarray(energy, float), np.zeros(n))
    escaped = np.zeros(n)
    deposits: list[Deposits] = []
    r_min, r_max = geometry.r_min * (1 - 1e-9), geometry.r_max
    while len(photons.energy):
        _leave_cavity(photons, r_min)
        distance = rng.exponential(size=len(photons.energy)) / table.total(photons.energy)
        photons.position += distance[:, None] * photons.direction
        photons.time += distance / C_MM_PER_NS
        out = np.einsum("ij,ij->i", photons.position, photons.position) > r_max * r_max
        escaped += np.bincount(photons.gamma[out], photons.energy[out], minlength=n)
        photons = photons.take(~out)
        crystal = geometry.locate(photons.position)
        real = crystal >= 0
        if not real.any():
            continue
        staying, created = _interact(photons.take(real), crystal[real], table, rng, settings, deposits)
        photons = _Photons.concatenate([photons.take(~real), staying, created])
    return Deposits.concatenate(deposits), escaped


def _leave_cavity(photons: _Photons, r_min: float) -> None:
    """Move photons inside the crystal-free sphere of radius ``r_min`` to where they leave it (in place)."""
    r2 = np.einsum("ij,ij->i", photons.position, photons.position)
    inside = r2 < r_min * r_min
    if not inside.any():
        return
    position, direction = photons.position[inside], photons.direction[inside]
    b = np.einsum("ij,ij->i", position, direction)
    step = -b + np.sqrt(np.maximum(b * b - (r2[inside] - r_min * r_min), 0.0))
    photons.position[inside] = position + step[:, None] * direction
    photons.time[inside] += step / C_MM_PER_NS


def _interact(
    photons: _Photons, crystal: np.ndarray, table: AttenuationTable, rng: np.random.Generator,
    settings: TransportSettings, deposits: list[Deposits],
) -> tuple[_Photons, _Photons]:
    """Real interactions at the photons' positions, in ``crystal``; returns (photons that go on, new photons)."""
    photo, compton, pair = table.partials(photons.energy)
    u = rng.random(len(photons.energy)) * (photo + compton + pair)
    is_photo = u < photo
    is_pair = u >= photo + compton
    is_compton = ~is_photo & ~is_pair
    _deposit(deposits, photons.take(is_photo), crystal[is_photo], photons.energy[is_photo])

    scattered, electrons_c = _compton(photons.take(is_compton), rng)
    absorbed = scattered.energy < settings.photon_cut
    crystal_c = crystal[is_compton]
    _deposit(deposits, scattered.take(absorbed), crystal_c[absorbed], scattered.energy[absorbed])

    annihilation, electrons_p = _pair(photons.take(is_pair), rng)
    crystal_p = crystal[is_pair]
    lepton_crystal = np.concatenate([crystal_c, crystal_p, crystal_p])
    brems = _slow_down(_Photons.concatenate([electrons_c, electrons_p]), lepton_crystal, rng, settings, deposits)
    return scattered.take(~absorbed), _Photons.concatenate([annihilation, brems])


def _deposit(deposits: list[Deposits], where: _Photons, crystal: np.ndarray, energy: np.ndarray) -> None:
    some = energy > 0
    if some.any():
        deposits.append(Deposits(where.gamma[some], crystal[some], energy[some], where.time[some]))


def _compton(photons: _Photons, rng: np.random.Generator) -> tuple[_Photons, _Photons]:
    """Scattered photons and Compton electrons (as '_Photons' rows: energy = kinetic energy, electron direction)."""
    epsilon, cos_theta = sample_klein_nishina(photons.energy, rng)
    new_direction = rotate(photons.direction, cos_theta, rng.uniform(0.0, 2 * np.pi, len(epsilon)))
    scattered_energy = epsilon * photons.energy
    electron_energy = photons.energy - scattered_energy
    momentum = photons.energy[:, None] * photons.direction - scattered_energy[:, None] * new_direction
    norm = np.linalg.norm(momentum, axis=1, keepdims=True)
    electron_direction = np.divide(momentum, norm, out=photons.direction.copy(), where=norm > 0)
    scattered = _Photons(photons.gamma, photons.position, new_direction, scattered_energy, photons.time)
    electrons = _Photons(photons.gamma, photons.position, electron_direction, electron_energy, photons.time)
    return scattered, electrons


def _pair(photons: _Photons, rng: np.random.Generator) -> tuple[_Photons, _Photons]:
    """Two annihilation photons per pair (back to back, isotropic) and the electron and positron (kinetic
    energy shared uniformly, both along the photon)."""
    kinetic = photons.energy - 2 * ELECTRON_MASS_MEV
    share = rng.random(len(kinetic)) * kinetic
    leptons = _Photons(
        np.concatenate([photons.gamma, photons.gamma]), np.concatenate([photons.position, photons.position]),
        np.concatenate([photons.direction, photons.direction]), np.concatenate([share, kinetic - share]),
        np.concatenate([photons.time, photons.time]),
    )
    direction = isotropic_directions(len(kinetic), rng)
    annihilation = _Photons(
        np.concatenate([photons.gamma, photons.gamma]), np.concatenate([photons.position, photons.position]),
        np.concatenate([direction, -direction]), np.full(2 * len(kinetic), ELECTRON_MASS_MEV),
        np.concatenate([photons.time, photons.time]),
    )
    return annihilation, leptons


def _slow_down(
    electrons: _Photons, crystal: np.ndarray, rng: np.random.Generator, settings: TransportSettings,
    deposits: list[Deposits],
) -> _Photons:
    """Deposit the electrons' kinetic energy in ``crystal``; those above ``brems_threshold`` radiate on the way.

    Continuous slowing down with the bremsstrahlung spectrum dN/(dx dk) = 1/(X0 k) (its radiative stopping
    power is T/X0) and a constant collision stopping power E_c/X0 (E_c: critical energy): per MeV lost to
    collisions an electron of kinetic energy T emits ln(T/k_cut)/E_c photons above k_cut, drawn from 1/k
    between k_cut and T. Its mean radiated fraction is the CSDA yield 1 - (E_c/T) ln(1 + T/E_c). The photons
    leave along the electron's direction (bremsstrahlung of MeV electrons is peaked within m_e/T of it).
    Returns the bremsstrahlung photons.
    """
    radiated: list[_Photons] = []
    k_cut = settings.brems_photon_cut
    while len(electrons.energy):
        # below k_cut an electron has no photon above the cut to give (and ln(T / k_cut) would be negative)
        radiating = electrons.energy > max(settings.brems_threshold, k_cut)
        _deposit(deposits, electrons.take(~radiating), crystal[~radiating], electrons.energy[~radiating])
        electrons, crystal = electrons.take(radiating), crystal[radiating]
        if not len(electrons.energy):
            break
        rate = np.log(electrons.energy / k_cut) / CSI_CRITICAL_ENERGY_MEV  # photons per MeV of collision loss
        collision = np.minimum(rng.exponential(size=len(rate)) / rate, electrons.energy)
        _deposit(deposits, electrons, crystal, collision)
        remaining = electrons.energy - collision
        emits = remaining > k_cut
        photon_energy = k_cut * (remaining[emits] / k_cut) ** rng.random(int(emits.sum()))
        emitters = electrons.take(emits)
        radiated.append(_Photons(emitters.gamma, emitters.position, emitters.direction, photon_energy, emitters.time))
        remaining[emits] -= photon_energy
        electrons.energy = remaining
        # the rest of an electron below the photon cut goes in the next pass's deposit (not radiating)
    return _Photons.concatenate(radiated)
