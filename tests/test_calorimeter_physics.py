"""Physics of the calorimeter simulation against independent references: NIST attenuation coefficients,
the Klein-Nishina formula, the Lorentz transformation, the Compton edge and escape peaks, energy
conservation, the configured resolution, and a naive one-electron-at-a-time bremsstrahlung loop."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from scipy import integrate

from showerlearn.calorimeter.geometry import califa, toy_grid
from showerlearn.calorimeter.kinematics import (
    ELECTRON_MASS_MEV,
    boost_to_lab,
    compton_edge,
    doppler_correct,
    sample_klein_nishina,
)
from showerlearn.calorimeter.simulation import CSI_DENSITY, CalorimeterSimulationConfig, mass_attenuation, simulate_chunk
from showerlearn.calorimeter.simulation.materials import attenuation_table
from showerlearn.calorimeter.simulation.toy import toy_deposits
from showerlearn.calorimeter.simulation.response import FWHM_PER_SIGMA
from showerlearn.calorimeter.simulation.transport import (
    CSI_CRITICAL_ENERGY_MEV,
    TransportSettings,
    _Photons,
    _slow_down,
    transport_photons,
)

#: mu/rho of CsI [cm^2/g], NIST X-ray mass attenuation tables (Hubbell & Seltzer, NISTIR 5632, table 4)
NIST_CSI = {0.1: 2.035, 0.15: 0.7290, 0.2: 0.3805, 0.3: 0.1818, 0.5: 0.09809, 0.6: 0.08373, 0.8: 0.06769,
            1.0: 0.05848, 1.5: 0.04644, 2.0: 0.04123, 3.0: 0.03721, 5.0: 0.03622, 8.0: 0.03838, 10.0: 0.04030,
            15.0: 0.04492, 20.0: 0.04867}


def _chunk(n: int, seed: int = 1, **settings: object) -> dict[str, np.ndarray]:
    config = CalorimeterSimulationConfig(**{"n_gammas": 1, "beta": 0.0, "chunk_size": n, **settings})
    return simulate_chunk(config, seed, 0, n)


@pytest.mark.parametrize(("energy", "mu"), [(0.5, 0.442), (1.0, 0.264), (5.0, 0.163)])
def test_linear_attenuation_of_csi_matches_the_issue_values(energy: float, mu: float) -> None:
    assert mass_attenuation(energy)["total"][0] * CSI_DENSITY == pytest.approx(mu, rel=0.03)


def test_mass_attenuation_matches_nist_from_100_kev_to_20_mev() -> None:
    energies = np.array(list(NIST_CSI))
    assert mass_attenuation(energies)["total"] == pytest.approx(np.array(list(NIST_CSI.values())), rel=0.03)


def test_pair_production_starts_at_threshold_and_grows() -> None:
    pair = mass_attenuation(np.array([1.0, 1.022, 2.0, 10.0, 50.0]))["pair"]
    assert pair[0] == pair[1] == 0.0 and (np.diff(pair[1:]) > 0).all()


def test_the_transport_table_has_no_pair_production_below_threshold() -> None:
    """Interpolating between the table's nodes on either side of 1.022 MeV must not open pair production below
    it (a pair there would make two 511 keV photons out of less energy)."""
    table = attenuation_table()
    below = np.linspace(1.0, 2 * ELECTRON_MASS_MEV - 1e-9, 200)
    assert not table.partials(below)[2].any()
    assert table.total(below) == pytest.approx(sum(table.partials(below)), rel=1e-12)
    assert table.partials(np.array([1.1]))[2][0] > 0


def test_transport_attenuates_an_unscattered_beam_as_exp_minus_mu_length() -> None:
    """Photons along the barrel's 160 mm crystals at 90 deg: the share that leaves with its full energy."""
    n, energy = 20_000, 5.0
    direction = np.tile([np.sin(np.radians(91.0)), 0.0, np.cos(np.radians(91.0))], (n, 1))
    _, escaped = transport_photons(califa(), attenuation_table(), direction, np.full(n, energy), np.random.default_rng(4))
    mu_per_cm = (mass_attenuation(energy)["total"][0] - mass_attenuation(energy)["coherent"][0]) * CSI_DENSITY
    expected = np.exp(-mu_per_cm * 16.0)
    observed = np.mean(escaped == energy)
    assert observed == pytest.approx(expected, abs=4 * np.sqrt(expected * (1 - expected) / n))


@pytest.mark.parametrize("energy", [0.662, 5.0])
def test_klein_nishina_angles_follow_the_differential_cross_section(energy: float) -> None:
    rng = np.random.default_rng(2)
    epsilon, cos_theta = sample_klein_nishina(np.full(100_000, energy), rng)
    k = energy / ELECTRON_MASS_MEV
    assert epsilon == pytest.approx(1 / (1 + k * (1 - cos_theta)))  # Compton's formula
    # the reference: d sigma / d cos = pi r_e^2 P^2 (P + 1/P - sin^2), P = E'/E (Klein & Nishina 1929)
    grid = np.linspace(-1, 1, 20_001)
    ratio = 1 / (1 + k * (1 - grid))
    density = ratio**2 * (ratio + 1 / ratio - (1 - grid**2))
    cdf = integrate.cumulative_trapezoid(density, grid, initial=0.0)
    cdf /= cdf[-1]
    sampled = np.searchsorted(np.sort(cos_theta), grid) / len(cos_theta)
    assert np.max(np.abs(sampled - cdf)) < 0.008  # KS distance; 1.63/sqrt(n) = 0.005 at 99 %


def test_boost_matches_the_lorentz_transformation_and_doppler_correction_inverts_it() -> None:
    rng = np.random.default_rng(3)
    beta, energy, cos_rest = 0.7, rng.uniform(0.1, 30, 1000), rng.uniform(-1, 1, 1000)
    gamma = 1 / np.sqrt(1 - beta**2)
    # boost the four-momentum (E, p_x, 0, p_z) along +z
    p_x, p_z = energy * np.sqrt(1 - cos_rest**2), energy * cos_rest
    lab_energy, lab_pz = gamma * (energy + beta * p_z), gamma * (p_z + beta * energy)
    energy_lab, cos_lab = boost_to_lab(energy, cos_rest, beta)
    assert energy_lab == pytest.approx(lab_energy) and cos_lab == pytest.approx(lab_pz / np.hypot(p_x, lab_pz))
    assert doppler_correct(energy_lab, np.arccos(cos_lab), beta) == pytest.approx(energy)


def test_energy_is_conserved_for_every_gamma_and_every_event() -> None:
    chunk = _chunk(500, n_gammas=3, beta=0.7, energy_min_mev=0.1, energy_max_mev=30.0, resolution_fwhm_662=0.0,
                   crystal_threshold_mev=0.0, saturation_mev=1e6)
    assert chunk["gamma_deposited"] + chunk["gamma_escaped"] == pytest.approx(chunk["gamma_energy_lab"], abs=1e-9)
    per_event_hits = np.bincount(chunk["hit_event"], chunk["true_energy"], minlength=500)
    per_event_gammas = np.bincount(chunk["gamma_event"], chunk["gamma_deposited"], minlength=500)
    assert per_event_hits == pytest.approx(per_event_gammas, abs=1e-9)
    assert chunk["energy"] == pytest.approx(chunk["true_energy"])  # no smearing configured


def test_a_662_kev_source_has_its_photopeak_and_compton_edge_in_place() -> None:
    chunk = _chunk(20_000, energy_lines_mev=[0.662], resolution_fwhm_662=0.0, crystal_threshold_mev=0.0)
    energy = chunk["true_energy"]
    assert np.mean(np.isclose(energy, 0.662)) > 0.25  # the photopeak: whole gamma in one crystal
    counts, edges = np.histogram(energy[energy < 0.64], bins=np.arange(0.30, 0.645, 0.01))
    steepest_drop = edges[1:-1][np.argmin(np.diff(counts))]
    assert steepest_drop == pytest.approx(compton_edge(0.662), abs=0.01)


def test_a_6_mev_source_has_single_and_double_escape_peaks() -> None:
    energy = _chunk(4000, seed=2, energy_lines_mev=[6.0], resolution_fwhm_662=0.0, crystal_threshold_mev=0.0)["true_energy"]
    for peak in (6.0, 6.0 - ELECTRON_MASS_MEV, 6.0 - 2 * ELECTRON_MASS_MEV):
        on_peak = np.sum(np.abs(energy - peak) < 0.002)
        continuum = np.sum((np.abs(energy - peak) > 0.02) & (np.abs(energy - peak) < 0.06)) / 20  # per 4 keV
        assert on_peak > 100 and on_peak > 10 * max(continuum, 1.0), peak


def test_the_662_kev_peak_width_is_the_configured_resolution() -> None:
    chunk = _chunk(6000, seed=5, energy_lines_mev=[0.662], resolution_fwhm_662=0.077)
    peak = np.isclose(chunk["true_energy"], 0.662)  # the whole gamma in one crystal
    width = np.std(chunk["energy"][peak] / 0.662, ddof=1) * FWHM_PER_SIGMA
    assert peak.sum() > 1500
    assert width == pytest.approx(0.077, rel=4 / np.sqrt(2 * peak.sum()))


def _naive_slow_down(energy: float, rng: np.random.Generator, settings: TransportSettings, step: float = 0.002) -> float:
    """The bremsstrahlung model one electron at a time, in small collision-loss steps; returns radiated energy."""
    radiated = 0.0
    while energy > settings.brems_threshold:
        if rng.random() < np.log(energy / settings.brems_photon_cut) / CSI_CRITICAL_ENERGY_MEV * step:
            photon = settings.brems_photon_cut * (energy / settings.brems_photon_cut) ** rng.random()
            radiated += photon
            energy -= photon
        energy -= step
    return radiated


def test_bremsstrahlung_matches_a_naive_loop_and_the_csda_yield() -> None:
    settings, energy, n = TransportSettings(), 20.0, 4000
    rng = np.random.default_rng(6)
    electrons = _Photons(np.arange(n), np.zeros((n, 3)), np.tile([0, 0, 1.0], (n, 1)), np.full(n, energy), np.zeros(n))
    deposits: list = []
    photons = _slow_down(electrons, np.zeros(n, np.int64), rng, settings, deposits)
    deposited = sum(part.energy.sum() for part in deposits)
    assert deposited + photons.energy.sum() == pytest.approx(n * energy)
    vectorised = photons.energy.sum() / (n * energy)
    naive = np.mean([_naive_slow_down(energy, rng, settings, step=0.005) for _ in range(400)]) / energy
    assert vectorised == pytest.approx(naive, abs=0.04)
    # CSDA radiation yield 1 - (E_c/T) ln(1 + T/E_c) (Rossi; E_c of CsI from the PDG): the model's scale
    csda = 1 - CSI_CRITICAL_ENERGY_MEV / energy * np.log(1 + energy / CSI_CRITICAL_ENERGY_MEV)
    assert vectorised == pytest.approx(csda, rel=0.15)


def test_chunks_are_deterministic_per_seed() -> None:
    config = CalorimeterSimulationConfig(n_gammas=2, background_hits_mean=1.0)
    first, again, other = (simulate_chunk(config, seed, 0, 200) for seed in (7, 7, 8))
    assert all(np.array_equal(first[key], again[key]) for key in first)
    assert not np.array_equal(first["energy"], other["energy"][: len(first["energy"])])


def test_background_hits_are_poisson_above_threshold_and_spread_in_time() -> None:
    chunk = _chunk(2000, geometry="toy_grid", n_gammas=1, energy_lines_mev=[0.3], background_hits_mean=2.0,
                   readout_window_ns=(-500.0, 1500.0), crystal_threshold_mev=0.05)
    background = chunk["true_gamma"] < 0
    per_event = np.bincount(chunk["hit_event"][background], minlength=2000)
    assert per_event.mean() == pytest.approx(2.0, rel=0.08)  # rare coincidences with the toy's hits merge
    # Poisson: variance equal to the mean, e^-2 of the events without any
    assert per_event.var() / per_event.mean() == pytest.approx(1.0, abs=0.1)
    assert np.mean(per_event == 0) == pytest.approx(np.exp(-2.0), abs=0.025)
    times = chunk["time"][background]
    assert times.min() > -510 and times.max() < 1510
    # uniform over the readout window (time resolution aside)
    assert stats.kstest(times, stats.uniform(loc=-500.0, scale=2000.0).cdf).pvalue > 0.001


@pytest.mark.parametrize("spread", [0.2, 1.0])
def test_the_toy_gives_each_cell_the_gaussian_integral_over_it(spread: float) -> None:
    """Against a sampled Gaussian binned into the cells; a narrow spread (a fifth of a cell) never deposits more
    than the gamma's energy."""
    config = CalorimeterSimulationConfig(geometry="toy_grid", n_gammas=1, energy_lines_mev=[1.0], beta=0.0,
                                         toy_spread_cells=spread)  # fmt: skip
    geometry = toy_grid()
    gammas, deposits = toy_deposits(config, geometry, np.zeros(1, np.int64), np.random.default_rng(3))
    rng = np.random.default_rng(4)
    centre = np.array([(gammas["theta"][0] - geometry.table()["theta_min"].min()), (gammas["phi"][0] - geometry.table()["phi_min"].min())])
    centre /= geometry.table()["theta_max"][0] - geometry.table()["theta_min"][0]  # back to cell units
    points = np.floor(rng.normal(centre, spread, (400_000, 2))).astype(int)
    inside = ((points >= 0) & (points < 10)).all(axis=1)
    sampled = np.bincount(points[inside, 0] * 10 + points[inside, 1], minlength=100) / len(points)
    cells = np.zeros(100)
    cells[deposits["crystal"]] = deposits["energy"]
    np.testing.assert_allclose(cells, sampled, atol=0.004)
    assert cells.sum() <= 1.0 + 1e-12 and gammas["escaped"][0] == pytest.approx(1.0 - cells.sum(), abs=1e-12)


def test_settings_are_validated_with_clear_messages() -> None:
    with pytest.raises(ValueError, match="reach .* MeV in the lab"):
        CalorimeterSimulationConfig(energy_max_mev=60.0, beta=0.9)
    with pytest.raises(ValueError, match="below energy_min_mev"):
        CalorimeterSimulationConfig(energy_min_mev=5.0, energy_max_mev=1.0)
    with pytest.raises(ValueError, match="n_gammas_min"):
        CalorimeterSimulationConfig(n_gammas=2, n_gammas_min=3)
    with pytest.raises(ValueError, match=r"brems_photon_cut_mev \(0.05\) must not exceed brems_threshold_mev \(0.0\)"):
        CalorimeterSimulationConfig(brems_threshold_mev=0.0, brems_photon_cut_mev=0.05)
    with pytest.raises(ValueError, match=r"crystal_threshold_mev \(50.0\) must be below saturation_mev \(30.0\)"):
        CalorimeterSimulationConfig(crystal_threshold_mev=50.0)  # an empty file, else
    with pytest.raises(ValueError, match=r"background_energy_mev \(1e\+308\) exceeds saturation_mev"):
        CalorimeterSimulationConfig(background_hits_mean=2.0, background_energy_mev=1e308)  # infinite energies, else
    assert CalorimeterSimulationConfig(background_energy_mev=40.0).background_hits_mean == 0  # no background: unused


def test_settings_the_chosen_geometry_or_energies_never_read_are_refused_when_changed() -> None:
    """Accepted, they were recorded in the file's config (beta 0.6 for a toy whose events say 0) and changed
    nothing; their defaults pass, and the toy is not held to a boost it never makes."""
    with pytest.raises(ValueError, match=r"beta has no effect: the toy_grid geometry neither boosts \(its events' beta "
                                         r"is 0\) nor transports its gammas; leave it at the default"):
        CalorimeterSimulationConfig(geometry="toy_grid", beta=0.6)
    with pytest.raises(ValueError, match="photon_cut_mev, brems_threshold_mev have no effect: the toy_grid geometry"):
        CalorimeterSimulationConfig(geometry="toy_grid", photon_cut_mev=0.2, brems_threshold_mev=3.0)
    with pytest.raises(ValueError, match="toy_spread_cells has no effect: it shapes the toy_grid geometry's clusters, not califa's"):
        CalorimeterSimulationConfig(toy_spread_cells=2.0)
    with pytest.raises(ValueError, match="energy_max_mev, energy_spectrum have no effect: with energy_lines_mev set"):
        CalorimeterSimulationConfig(energy_lines_mev=[1.0], energy_spectrum="log_uniform", energy_max_mev=0.5)
    # defaults (and the toy's own beta of 0) pass; 90 MeV at the default beta 0.7 is no 214 MeV lab gamma for the toy
    assert CalorimeterSimulationConfig(geometry="toy_grid", beta=0.0, energy_max_mev=90.0, toy_spread_cells=2.0).beta == 0
    assert CalorimeterSimulationConfig(energy_lines_mev=[1.0], beta=0.5).energy_spectrum == "uniform"
    with pytest.raises(ValueError, match="reach 214 MeV in the lab"):
        CalorimeterSimulationConfig(energy_max_mev=90.0)
