"""benchmarks/calorimeter_far_hits.py: the back-scatter energy against Compton's formula with the scattering
angle taken from the geometry, and the attribution on a hand-made event."""

from __future__ import annotations

import sys
from pathlib import Path

import awkward as ak
import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from calorimeter_far_hits import ELECTRON_MEV, analyse, compton_energy  # noqa: E402  (benchmarks/ is not a package)


@pytest.mark.parametrize("opening", [0.6, 1.5, 2.4, np.pi])
@pytest.mark.parametrize("total", [0.8, 3.0, 12.0])
def test_back_scatter_energy_follows_compton_with_the_geometric_angle(total: float, opening: float) -> None:
    first = np.array([0.0, 0.0, 1.0])  # the crystal hit first, on the unit sphere
    second = np.array([np.sin(opening), 0.0, np.cos(opening)])  # the crystal the photon reaches
    outgoing = (second - first) / np.linalg.norm(second - first)
    cos_scatter = first @ outgoing  # the photon arrived along `first` (from the target)
    expected = total / (1.0 + total / ELECTRON_MEV * (1.0 - cos_scatter))
    np.testing.assert_allclose(compton_energy(np.array(total), np.array(opening)), expected, rtol=1e-12)


def _event(energies: list[float], thetas: list[float], owners: list[int], gamma_thetas: list[float]) -> tuple[ak.Array, ak.Array]:
    """One event as the hit-file readers give it: a list of hit records and a list of gamma records."""
    records = zip(energies, thetas, owners, strict=True)
    hits = ak.Array([[{"energy": e, "theta": t, "phi": 0.0, "true_gamma": g} for e, t, g in records]])
    gammas = ak.Array([[{"theta": t, "phi": 0.0} for t in gamma_thetas]])
    return hits, gammas


def test_a_back_scattered_hit_goes_to_the_gamma_whose_kinematics_it_fits() -> None:
    """Two gammas 1 rad apart; a soft hit 2 rad from gamma 0 with exactly the energy back-scattering from gamma 0's
    cluster gives, and an annihilation photon of gamma 1, which is counted apart."""
    deposit, opening = 4.0, 2.0
    soft = float(compton_energy(np.array(deposit), np.array(opening)))
    for _ in range(50):  # E' of a gamma of deposit + E': the fixed point
        soft = float(compton_energy(np.array(deposit + soft), np.array(opening)))
    hits, gammas = _event([deposit, 3.0, soft, ELECTRON_MEV], [0.5, 1.5, 0.5 + opening, 1.5 - 1.4], [0, 1, 0, 1], [0.5, 1.5])
    counts = analyse(hits, gammas, resolution_fwhm_662=0.077)
    assert counts["far"] == 2 and counts["annihilation"] == 1 and counts["compton"] == 1
    assert counts["right"] == 1 and counts["own_within_2_sigma"] == 1 and counts["chance"] == pytest.approx(0.5)
