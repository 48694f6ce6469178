"""The parametrised detector against the numbers of its card (Delphes' CMS card), particle by particle,
on large vectorised samples without Pythia; N-subjettiness against a hand-computed case."""

from __future__ import annotations

import awkward as ak
import numpy as np
import pytest
import vector
from scipy import stats

from showerlearn.collider.particles import CHARGED_HADRON, ELECTRON, NEUTRAL_HADRON, PHOTON
from showerlearn.collider.simulation import ColliderSimulationConfig, Detector, DetectorCard, Particles
from showerlearn.collider.simulation.detector import lognormal
from showerlearn.collider.simulation.jets import cluster, four_momenta, nsubjettiness
from showerlearn.collider.simulation.reconstruction import Partons, _flavour, _jagged, _leptons, _missing_pt

CARD = DetectorCard()
N = 20_000


def _single(
    pid: int, pt: float, eta: float, phi: float = 0.3, n: int = N, charge: float = 0.0, mass: float = 0.0
) -> Particles:
    """``n`` events holding one particle each."""
    p = vector.array({"pt": np.full(n, pt), "eta": np.full(n, eta), "phi": np.full(n, phi), "mass": np.full(n, mass)})
    return Particles.from_arrays(np.arange(n), np.full(n, pid), np.full(n, charge), p.px, p.py, p.pz, p.E, n)


def _binomial_ok(k: int, n: int, p: float, sigmas: float = 5.0) -> bool:
    return abs(k / n - p) < sigmas * np.sqrt(p * (1 - p) / n) + 1e-12


def test_lognormal_has_the_requested_mean_and_spread() -> None:
    rng = np.random.default_rng(1)
    draws = lognormal(np.full(200_000, 40.0), np.full(200_000, 6.0), rng)
    assert draws.min() > 0
    assert draws.mean() == pytest.approx(40.0, rel=3e-3) and draws.std() == pytest.approx(6.0, rel=1e-2)
    assert np.all(lognormal(np.zeros(3), np.ones(3), rng) == 0.0)


def test_looper_threshold_from_field_and_radius() -> None:
    assert CARD.looper_pt == pytest.approx(0.3 * 3.8 * 1.29 / 2)


@pytest.mark.parametrize(
    ("pid", "pt", "eta", "efficiency", "a", "b"),
    [
        (211, 50.0, 0.3, 0.95, 0.01, 1.5e-4),  # charged hadron, barrel
        (211, 0.5, 2.0, 0.60, 0.025, 5.5e-4),  # charged hadron, endcap, soft
        (11, 200.0, 1.0, 0.99, 0.05, 1.7e-3),  # electron above 100 GeV
        (13, 30.0, 2.2, 0.98, 0.025, 3.5e-4),  # muon, endcap
    ],
)
def test_tracking_efficiency_and_pt_resolution_follow_the_card(
    pid: int, pt: float, eta: float, efficiency: float, a: float, b: float
) -> None:
    charge = -1.0 if pid in (11, 13) else 1.0
    tracks = Detector(CARD).tracks(_single(pid, pt, eta, charge=charge), np.random.default_rng(2))
    assert _binomial_ok(len(tracks.index), N, efficiency)
    ratio = tracks.momentum.pt / pt
    assert ratio.mean() == pytest.approx(1.0, abs=5 * np.hypot(a, b * pt) / np.sqrt(len(ratio)))
    assert ratio.std() == pytest.approx(np.hypot(a, b * pt), rel=0.03)


def test_no_track_beyond_the_tracker_or_for_neutrals() -> None:
    detector, rng = Detector(CARD), np.random.default_rng(3)
    assert len(detector.tracks(_single(211, 50.0, 2.7, charge=1.0), rng).index) == 0
    assert len(detector.tracks(_single(22, 50.0, 0.0), rng).index) == 0


def _cell_sigma(card_calo: object, grid: object, eta: float, phi: float, energy: float) -> float:
    cell = grid.cell(np.array([eta]), np.array([phi]))
    low, high, _, _ = grid.bounds(cell)
    return float(card_calo.sigma(np.abs(0.5 * (low + high)), np.array([energy]))[0])


@pytest.mark.parametrize(
    ("pid", "energy", "eta", "calorimeter", "category"),
    [(22, 50.0, 0.3, "ecal", PHOTON), (2112, 100.0, 1.0, "hcal", NEUTRAL_HADRON)],
)
def test_calorimeter_energy_resolution_follows_the_card(
    pid: int, energy: float, eta: float, calorimeter: str, category: int
) -> None:
    detector = Detector(CARD)
    mass = 0.93957 if pid == 2112 else 0.0
    pt = np.sqrt(energy**2 - mass**2) / np.cosh(eta)
    flow = detector.reconstruct(_single(pid, pt, eta, mass=mass), np.random.default_rng(4))
    assert np.all(flow.category == category) and len(flow.event) == pytest.approx(N, rel=1e-3)
    card_calo, grid = getattr(CARD, calorimeter), getattr(detector, f"{calorimeter}_grid")
    expected = _cell_sigma(card_calo, grid, eta, 0.3, energy)
    if calorimeter == "ecal":  # (1 + 0.64 eta^2) sqrt((0.008 E)^2 + 0.11^2 E + 0.40^2) at the cell centre
        assert expected == pytest.approx(
            (1 + 0.64 * eta**2) * np.sqrt((0.008 * energy) ** 2 + 0.11**2 * energy + 0.4**2), rel=0.01
        )
    else:  # sqrt((0.05 E)^2 + 1.5^2 E)
        assert expected == pytest.approx(np.sqrt((0.05 * energy) ** 2 + 1.5**2 * energy), rel=1e-9)
    assert flow.energy.mean() == pytest.approx(energy, abs=5 * expected / np.sqrt(N))
    assert flow.energy.std() == pytest.approx(expected, rel=0.03)


def test_deposits_of_one_cell_merge_and_of_separate_cells_do_not() -> None:
    detector, width = Detector(CARD), 2 * np.pi / 360
    centre = 0.5 * width  # phi of a cell centre at eta ~ 0.0087 (row just above 0)
    p = vector.array(
        {
            "pt": np.array([20.0, 30.0, 25.0]),
            "eta": np.full(3, 0.0087),
            "phi": np.array([centre - 0.2 * width, centre + 0.2 * width, centre + 3 * width]),
            "mass": np.zeros(3),
        }
    )
    particles = Particles.from_arrays(np.zeros(3), np.full(3, 22), np.zeros(3), p.px, p.py, p.pz, p.E, 1)
    flow = detector.reconstruct(particles, np.random.default_rng(5))
    assert len(flow.event) == 2
    low, high, phi_low, phi_high = detector.ecal_grid.bounds(detector.ecal_grid.cell(flow.eta, flow.phi))
    assert np.all((flow.eta >= low) & (flow.eta <= high) & (flow.phi >= phi_low) & (flow.phi <= phi_high))
    assert sorted(np.round(flow.energy / 10)) == [3.0, 5.0]  # 25 GeV alone, 20 + 30 GeV merged


def _lognormal_above(mean: float, sigma: float, threshold: float) -> float:
    b = np.sqrt(np.log1p((sigma / mean) ** 2))
    return float(stats.norm.sf((np.log(threshold) - np.log(mean) + 0.5 * b**2) / b))


def test_energy_thresholds_and_loopers() -> None:
    """A 0.3 GeV photon is kept only when measured above EnergyMin (0.5 GeV) and 2 sigma (0.81 GeV here)."""
    detector, rng = Detector(CARD), np.random.default_rng(6)
    sigma = _cell_sigma(CARD.ecal, detector.ecal_grid, 0.0087, 0.3, 0.3)
    kept = len(detector.reconstruct(_single(22, 0.3, 0.0087, n=N), rng).event)
    assert _binomial_ok(kept, N, _lognormal_above(0.3, sigma, max(0.5, 2 * sigma)))
    looper = detector.reconstruct(_single(211, 0.6, 0.0, n=4000, charge=1.0, mass=0.13957), rng)
    assert np.all(looper.category == CHARGED_HADRON)  # its track at most: it never reaches the calorimeter
    assert _binomial_ok(len(looper.event), 4000, 0.70)


def test_particle_flow_subtracts_the_track_energy_from_its_cell() -> None:
    """A 50 GeV pion: tracked (95 %) it leaves a neutral hadron only when the HCAL fluctuates more than
    2 sigma above the track; untracked (5 %) all its energy is a neutral hadron."""
    pt, eta, mass = 50.0, 0.3, 0.13957
    flow = Detector(CARD).reconstruct(_single(211, pt, eta, charge=1.0, mass=mass), np.random.default_rng(7))
    energy = np.hypot(pt * np.cosh(eta), mass)
    sigma = float(CARD.hcal.sigma(np.array([0.3]), np.array([energy]))[0])
    track_sigma = energy * np.hypot(0.01, 1.5e-4 * pt)
    tail = _lognormal_above(
        energy, sigma, energy + 2 * np.hypot(sigma, track_sigma)
    )  # P(E_meas - E_track > 2 sigma_total)
    expected = 0.95 * tail + 0.05
    assert tail == pytest.approx(0.035, abs=0.01)
    neutral = int(np.sum(flow.category == NEUTRAL_HADRON))
    assert abs(neutral / N - expected) < 0.01  # the track's own smearing widens the tail slightly


def test_ecal_fractions_split_long_lived_neutrals() -> None:
    fraction = Detector(CARD).ecal_fraction(np.array([22, 11, -11, 130, 310, 3122, 2112, 13]))
    assert fraction.tolist() == [1.0, 1.0, 1.0, 0.0, 0.3, 0.3, 0.0, 0.0]


def test_missing_pt_balances_an_invisible_particle() -> None:
    # a 100 GeV photon against a neutrino: the neutrino is not a particle the detector sees
    p = vector.array({"pt": np.full(N, 100.0), "eta": np.zeros(N), "phi": np.zeros(N), "mass": np.zeros(N)})
    particles = Particles.from_arrays(np.arange(N), np.full(N, 22), np.zeros(N), p.px, p.py, p.pz, p.E, N)
    missing = _missing_pt(_jagged(Detector(CARD).reconstruct(particles, np.random.default_rng(8))))
    assert np.median(missing["met"]) == pytest.approx(100.0, rel=0.02)
    assert np.all(np.abs(np.abs(missing["met_phi"]) - np.pi) < 2 * np.pi / 360)  # within one ECAL cell


def _eflow_events(objects: list[dict[str, float]], n: int) -> ak.Array:
    """``n`` events holding the same particle-flow objects."""
    fields = {key: [[o[key] for o in objects]] * n for key in ("pt", "eta", "phi", "E", "charge", "category")}
    return ak.zip({k: ak.Array(v) for k, v in fields.items()}, with_name="Momentum4D")


def test_electron_identification_and_isolation() -> None:
    electron = {"pt": 50.0, "eta": 0.2, "phi": 0.0, "E": 51.0, "charge": -1, "category": ELECTRON}
    rng = np.random.default_rng(9)
    found = ak.sum(ak.num(_leptons(_eflow_events([electron], 4000), ELECTRON, CARD.electron, rng)))
    assert _binomial_ok(int(found), 4000, 0.95)
    nearby = {"pt": 7.0, "eta": 0.4, "phi": 0.1, "E": 7.6, "charge": 0, "category": PHOTON}  # 7 > 0.12 x 50 inside 0.5
    assert ak.sum(ak.num(_leptons(_eflow_events([electron, nearby], 200), ELECTRON, CARD.electron, rng))) == 0


def test_muon_efficiency_falls_above_one_tev_as_in_the_card() -> None:
    assert CARD.muon.efficiency_of(
        np.array([1.0, 1.0, 2.0, 2.45]), np.array([500.0, 3000.0, 50.0, 50.0])
    ).tolist() == pytest.approx([0.95, 0.95 * np.exp(0.5 - 3000 * 5e-4), 0.95, 0.0])


def test_btag_probabilities_and_flavour_association() -> None:
    pt = np.array([100.0, 100.0, 100.0])
    assert CARD.btag.probability(np.array([5, 4, 0]), pt).tolist() == pytest.approx(
        [0.85 * np.tanh(0.25) * 25 / 7.3, 0.25 * np.tanh(1.8) / 1.13, 0.01 + 0.0038]
    )
    jets = ak.zip(
        {
            "pt": [[100.0, 100.0, 100.0]],
            "eta": [[0.0, 1.0, -1.0]],
            "phi": [[0.0, 1.0, 2.0]],
            "mass": [[10.0, 10.0, 10.0]],
        },
        with_name="Momentum4D",
    )
    quark_fields = {
        "pt": [[30.0, 30.0, 30.0]],
        "eta": [[0.3, 1.1, -1.0]],
        "phi": [[0.0, 1.1, 2.7]],
        "mass": [[4.7, 1.5, 4.7]],
    }
    quarks = ak.zip(quark_fields, with_name="Momentum4D")
    flavour = _flavour(jets, ak.Array([[5, -4, 5]]), quarks, CARD.btag)  # b at 0.3, c at 0.14, b at 0.7 (too far)
    assert flavour.tolist() == [[5, 4, 0]]
    assert isinstance(Partons(ak.Array([[5]]), quarks), Partons)


def _momenta(particles: list[tuple[float, float, float]]) -> dict[str, float]:
    pt, eta, phi = (np.array(v) for v in zip(*particles, strict=True))
    return {"px": pt * np.cos(phi), "py": pt * np.sin(phi), "pz": pt * np.sinh(eta), "E": pt * np.cosh(eta)}


def test_nsubjettiness_with_exclusive_kt_axes_matches_a_hand_computed_jet() -> None:
    """Three massless particles A (100 GeV, y=0, phi=0), B (50 GeV, y=0.3, phi=0), C (10 GeV, y=0, phi=0.2).

    tau1: one axis, the jet (E-scheme sum of all three). tau2: kT first merges A and C (the smallest
    min(pT^2) dR^2: 100 x 0.04 < 2500 x 0.09 and 100 x 0.13), so the axes are A+C and B, and
    tau2 = (100 dR(A, AC) + 10 dR(C, AC)) / (R0 x 160) with the axis of A+C at phi = atan(10 sin 0.2 / (100 + 10 cos 0.2)).
    """
    parts = _momenta([(100.0, 0.0, 0.0), (50.0, 0.3, 0.0), (10.0, 0.0, 0.2)])
    jet = four_momenta(*(ak.Array([parts[k].tolist()]) for k in ("px", "py", "pz", "E")))
    taus = nsubjettiness(jet, radius=1.0)
    total = vector.obj(px=parts["px"].sum(), py=parts["py"].sum(), pz=parts["pz"].sum(), E=parts["E"].sum())
    rapidities = np.array([0.0, 0.3, 0.0])
    phis = np.array([0.0, 0.0, 0.2])
    pts = np.array([100.0, 50.0, 10.0])
    tau1 = np.sum(pts * np.hypot(rapidities - total.rapidity, phis - total.phi)) / 160.0
    phi_ac = np.arctan2(10 * np.sin(0.2), 100 + 10 * np.cos(0.2))
    tau2 = (100 * phi_ac + 10 * (0.2 - phi_ac)) / 160.0
    assert taus[0].tolist() == pytest.approx([tau1, tau2, 0.0], rel=1e-6)


def test_anti_kt_jets_come_hardest_first_with_their_constituents() -> None:
    parts = _momenta([(30.0, 0.0, 0.0), (200.0, 1.5, 2.0), (20.0, 0.2, 0.1), (5.0, 1.6, 2.1)])
    particles = four_momenta(*(ak.Array([parts[k].tolist()]) for k in ("px", "py", "pz", "E")))
    jets = cluster(particles, radius=0.5, pt_min=10.0)
    assert ak.to_list(jets.momenta.pt[0]) == pytest.approx([205.0, 50.0], rel=1e-2)
    assert [sorted(c) for c in ak.to_list(jets.constituents[0])] == [[1, 3], [0, 2]]


def test_config_rejects_unknown_placeholders_and_bad_fractions() -> None:
    with pytest.raises(ValueError, match=r"unknown placeholder \{mas\}"):
        ColliderSimulationConfig.model_validate({"processes": {"s": {"settings": ["35:m0 = {mas}"], "fraction": 1.0}}})
    with pytest.raises(ValueError, match="add up to 1"):
        ColliderSimulationConfig.model_validate({"processes": {"s": {"settings": [], "fraction": 0.4}}})
    settings = ColliderSimulationConfig().at_mass(800.0).pythia_settings("qcd")
    assert (
        "PhaseSpace:mHatMin = 480" in settings
        and "PhaseSpace:pTHatMin = 150" in settings
        and settings[0] == "Beams:eCM = 14000"
    )
