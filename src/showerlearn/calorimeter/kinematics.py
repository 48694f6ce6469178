"""Photon kinematics shared by the simulation and the evaluation: Klein-Nishina sampling, rotations,
isotropic directions, the Lorentz boost of a gamma emitted in flight and its Doppler correction.

Energies in MeV, angles in radians, the beam (and the emitting fragment) along +z.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "ELECTRON_MASS_MEV",
    "boost_to_lab",
    "compton_edge",
    "doppler_correct",
    "isotropic_directions",
    "rotate",
    "sample_klein_nishina",
]

#: electron rest energy, CODATA 2018 [MeV]
ELECTRON_MASS_MEV = 0.51099895


def compton_edge(energy: np.ndarray | float) -> np.ndarray | float:
    """Largest energy a Compton electron takes from a photon of ``energy``: E * 2E / (m_e c^2 + 2E)."""
    return energy * 2 * energy / (ELECTRON_MASS_MEV + 2 * energy)


def sample_klein_nishina(energy: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Sample Compton scatterings on free electrons at rest from the Klein-Nishina cross section.

    Returns ``(epsilon, cos_theta)``: the scattered photon keeps ``epsilon * energy``. The method of
    Butcher & Messel (Nucl. Phys. 20 (1960) 15), as in Geant4's G4KleinNishinaCompton: sample epsilon from
    the sum of 1/epsilon and epsilon terms, accept with the remaining factor; vectorised, redrawing only the
    rejected entries.
    """
    k = np.asarray(energy, dtype=float) / ELECTRON_MASS_MEV
    epsilon = np.empty_like(k)
    one_minus_cos = np.empty_like(k)
    todo = np.arange(len(k))
    while len(todo):
        kk = k[todo]
        eps0 = 1.0 / (1.0 + 2.0 * kk)
        eps0_sq = eps0 * eps0
        alpha1 = -np.log(eps0)
        alpha2 = alpha1 + 0.5 * (1.0 - eps0_sq)
        u = rng.random((3, len(todo)))
        first = alpha1 > alpha2 * u[0]
        eps = np.where(first, np.exp(-alpha1 * u[1]), np.sqrt(eps0_sq + (1.0 - eps0_sq) * u[1]))
        omc = (1.0 - eps) / (eps * kk)
        sin2 = omc * (2.0 - omc)
        accept = 1.0 - eps * sin2 / (1.0 + eps * eps) >= u[2]
        epsilon[todo[accept]] = eps[accept]
        one_minus_cos[todo[accept]] = omc[accept]
        todo = todo[~accept]
    return epsilon, 1.0 - one_minus_cos


def isotropic_directions(n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` unit vectors (n, 3) uniform on the sphere."""
    cos_theta = rng.uniform(-1.0, 1.0, n)
    phi = rng.uniform(0.0, 2 * np.pi, n)
    sin_theta = np.sqrt(1.0 - cos_theta**2)
    return np.stack([sin_theta * np.cos(phi), sin_theta * np.sin(phi), cos_theta], axis=1)


def rotate(direction: np.ndarray, cos_theta: np.ndarray, phi: np.ndarray) -> np.ndarray:
    """Unit vectors at polar angle ``arccos(cos_theta)`` and azimuth ``phi`` around each ``direction`` (n, 3)."""
    sin_theta = np.sqrt(np.clip(1.0 - cos_theta**2, 0.0, None))
    # an orthonormal frame around each direction: e1 perpendicular to it, e2 = direction x e1
    helper = np.zeros_like(direction)
    along_x = np.abs(direction[:, 0]) < 0.9
    helper[along_x, 0] = 1.0
    helper[~along_x, 1] = 1.0
    e1 = np.cross(direction, helper)
    e1 /= np.linalg.norm(e1, axis=1, keepdims=True)
    e2 = np.cross(direction, e1)
    return (
        cos_theta[:, None] * direction
        + (sin_theta * np.cos(phi))[:, None] * e1
        + (sin_theta * np.sin(phi))[:, None] * e2
    )


def boost_to_lab(energy_rest: np.ndarray, cos_theta_rest: np.ndarray, beta: float) -> tuple[np.ndarray, np.ndarray]:
    """Lab energy and lab cos(theta) of photons emitted with ``energy_rest`` at ``cos_theta_rest`` in the frame
    of a source moving with velocity ``beta`` along +z (Lorentz transformation of the photon four-momentum)."""
    gamma = 1.0 / np.sqrt(1.0 - beta**2)
    energy_lab = gamma * energy_rest * (1.0 + beta * cos_theta_rest)
    cos_theta_lab = (cos_theta_rest + beta) / (1.0 + beta * cos_theta_rest)
    return energy_lab, cos_theta_lab


def doppler_correct(energy_lab: np.ndarray, theta_lab: np.ndarray, beta: float | np.ndarray) -> np.ndarray:
    """Energy in the emitter's frame of a photon seen with ``energy_lab`` at polar angle ``theta_lab``:
    E0 = E_lab * gamma * (1 - beta cos(theta_lab)), the inverse of :func:`boost_to_lab`."""
    beta = np.asarray(beta, dtype=float)
    gamma = 1.0 / np.sqrt(1.0 - beta**2)
    return np.asarray(energy_lab) * gamma * (1.0 - beta * np.cos(theta_lab))
