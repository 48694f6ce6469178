"""benchmarks/calorimeter_far_hits.py: the scattered photon's energy against Compton's formula with angles known
analytically, and the attribution on a hand-made event."""

from __future__ import annotations

import sys
from pathlib import Path

import awkward as ak
import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from calorimeter_far_hits import analyse, scattered_energy  # noqa: E402  (benchmarks/ is not a package)

from showerlearn.calorimeter.kinematics import ELECTRON_MASS_MEV


def _compton(total: float, one_minus_cos: float) -> float:
    return total / (1.0 + total / ELECTRON_MASS_MEV * one_minus_cos)


@pytest.mark.parametrize("opening", [0.6, 1.5, 2.4, np.pi])
@pytest.mark.parametrize("total", [0.8, 3.0, 12.0])
def test_between_two_points_of_a_sphere_the_photon_turns_by_a_right_angle_and_half_the_opening(total: float, opening: float) -> None:
    first, second = 350.0 * np.array([0.0, 0.0, 1.0]), 350.0 * np.array([np.sin(opening), 0.0, np.cos(opening)])
    expected = _compton(total, 1.0 + np.sin(opening / 2.0))  # 1 - cos(90 deg + alpha / 2)
    np.testing.assert_allclose(scattered_energy(np.array(total), first, second), expected, rtol=1e-12)


def test_straight_back_and_sideways_at_other_radii() -> None:
    first = np.array([0.0, 0.0, 300.0])
    np.testing.assert_allclose(scattered_energy(np.array(5.0), first, np.array([0.0, 0.0, -450.0])), _compton(5.0, 2.0))
    np.testing.assert_allclose(scattered_energy(np.array(5.0), first, np.array([420.0, 0.0, 300.0])), _compton(5.0, 1.0))


def _event(energies: list[float], crystals: list[int], owners: list[int], gamma_thetas: list[float],
           centres: dict[int, np.ndarray]) -> tuple[ak.Array, ak.Array]:
    """One event as the hit-file readers give it: a list of hit records and a list of gamma records."""
    theta = {c: float(np.arccos(p[2] / np.linalg.norm(p))) for c, p in centres.items()}
    records = zip(energies, crystals, owners, strict=True)
    hits = ak.Array([[{"energy": e, "crystal_id": c, "theta": theta[c], "phi": 0.0, "true_gamma": g} for e, c, g in records]])
    gammas = ak.Array([[{"theta": t, "phi": 0.0} for t in gamma_thetas]])
    return hits, gammas


def test_a_scattered_hit_goes_to_the_gamma_whose_kinematics_it_fits() -> None:
    """Two gammas 1 rad apart; a soft hit 2 rad from gamma 0 with exactly the energy a photon scattered from
    gamma 0's crystal has, an annihilation photon (counted apart) and a far hit of a gamma without other hits."""
    polar = {0: 0.5, 1: 1.5, 2: 2.5, 3: 0.1, 4: 2.9}
    radii = [320, 400, 360, 450, 380]  # mm: not one sphere
    centres = {c: r * np.array([np.sin(t), 0.0, np.cos(t)]) for (c, t), r in zip(polar.items(), radii, strict=True)}
    deposit = 4.0
    soft = 0.3
    for _ in range(60):  # E' of a gamma of deposit + E': the fixed point
        soft = float(scattered_energy(np.array(deposit + soft), centres[0], centres[2]))
    hits, gammas = _event([deposit, 3.0, soft, ELECTRON_MASS_MEV, 0.2], [0, 1, 2, 3, 4], [0, 1, 0, 1, 2], [0.5, 1.5, 1.0],
                          centres)  # fmt: skip
    counts = analyse(hits, gammas, centres, resolution_fwhm_662=0.077)
    assert counts["far"] == 3 and counts["annihilation"] == 1 and counts["alone"] == 1 and counts["compton"] == 1
    assert counts["right"] == 1 and counts["own_within_2_sigma"] == 1 and counts["chance"] == pytest.approx(0.5)
