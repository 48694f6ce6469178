"""showerlearn.metrics against the field's libraries (pyirf, ctaplot) on the same inputs.

Each library's conventions are matched explicitly (see docs/metrics.md): pyirf bins ``[lo, hi)`` and
takes linear-interpolated quantiles of theta and |dE/E| at 0.6827; ctaplot bins the angular resolution
``(lo, hi]`` and the energy resolution ``(lo, hi)`` in reconstructed energy, interpolates the
percentile of theta^2, and returns 0 (we return NaN) for empty bins.
"""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest
from astropy.table import QTable

from showerlearn.metrics import classification as cls
from showerlearn.metrics import resolution as res
from showerlearn.iact.evaluation.irf import SimulatedEvents, effective_area_per_energy

pyirf = pytest.importorskip("pyirf", reason="pyirf is not installed (pip install pyirf): no cross-check")
ctaplot_ana = pytest.importorskip(
    "ctaplot.ana", reason="ctaplot is not installed (pip install ctaplot): no cross-check"
)

from pyirf.benchmarks import angular_resolution as pyirf_angular_resolution  # noqa: E402
from pyirf.benchmarks import energy_bias_resolution  # noqa: E402
from pyirf.benchmarks.energy_bias_resolution import energy_resolution_absolute_68  # noqa: E402
from pyirf.irf import effective_area_per_energy as pyirf_effective_area  # noqa: E402
from pyirf.simulations import SimulatedEventsInfo  # noqa: E402
from pyirf.utils import calculate_theta  # noqa: E402

EDGES = np.geomspace(0.01, 100.0, 13)


def make_events(n: int, seed: int = 0, energy_range: tuple[float, float] = (0.02, 50.0)) -> dict[str, np.ndarray]:
    """Gamma events with log-uniform energies, 25 % energy smearing and ~0.3 deg direction errors."""
    rng = np.random.default_rng(seed)
    true_energy = 10 ** rng.uniform(*np.log10(energy_range), n)
    true_alt = rng.uniform(50, 85, n)
    true_az = rng.uniform(0, 360, n)
    return {
        "true_energy": true_energy,
        "reco_energy": true_energy * np.exp(0.25 * rng.normal(size=n) + 0.05),
        "true_alt": true_alt,
        "true_az": true_az,
        "reco_alt": true_alt + 0.3 * rng.normal(size=n),
        "reco_az": true_az + 0.3 * rng.normal(size=n) / np.cos(np.deg2rad(true_alt)),
    }


def pyirf_table(events: dict[str, np.ndarray]) -> QTable:
    table = QTable(
        {
            "true_energy": events["true_energy"] * u.TeV,
            "reco_energy": events["reco_energy"] * u.TeV,
            "reco_alt": events["reco_alt"] * u.deg,
            "reco_az": events["reco_az"] * u.deg,
        }
    )
    table["theta"] = calculate_theta(table, events["true_az"] * u.deg, events["true_alt"] * u.deg)
    return table


# random inputs, then the edge cases of the acceptance criteria: no event, one event, events in a few
# bins only (the others empty), events outside every bin
EVENT_SETS = {
    "random": make_events(3000),
    "empty": make_events(0),
    "single": make_events(1, seed=3),
    "two_bins_only": make_events(40, seed=4, energy_range=(0.2, 0.9)),
    "outside_bins": make_events(30, seed=5, energy_range=(150.0, 300.0)),
}


@pytest.mark.parametrize("name", EVENT_SETS)
@pytest.mark.parametrize("energy_type", ["true", "reco"])
def test_angular_resolution_matches_pyirf(name: str, energy_type: str) -> None:
    events = EVENT_SETS[name]
    expected = pyirf_angular_resolution(pyirf_table(events), EDGES * u.TeV, energy_type=energy_type)
    curve = res.angular_resolution_per_bin(
        events["true_alt"],
        events["true_az"],
        events["reco_alt"],
        events["reco_az"],
        events[f"{energy_type}_energy"],
        EDGES,
        n_bootstrap=20,
    )
    np.testing.assert_allclose(curve.value, expected["angular_resolution_68"].to_value(u.deg), rtol=1e-12)
    np.testing.assert_array_equal(curve.n_events, expected["n_events"])


@pytest.mark.parametrize("name", EVENT_SETS)
@pytest.mark.parametrize("energy_type", ["true", "reco"])
def test_energy_resolution_and_bias_match_pyirf(name: str, energy_type: str) -> None:
    events = EVENT_SETS[name]
    expected = energy_bias_resolution(
        pyirf_table(events), EDGES * u.TeV, energy_type=energy_type, resolution_function=energy_resolution_absolute_68
    )
    energy = events[f"{energy_type}_energy"]
    resolution = res.energy_resolution_per_bin(
        events["true_energy"], events["reco_energy"], energy, EDGES, n_bootstrap=20
    )
    bias = res.energy_bias_per_bin(events["true_energy"], events["reco_energy"], energy, EDGES, n_bootstrap=20)
    np.testing.assert_allclose(resolution.value, np.asarray(expected["resolution"]), rtol=1e-12)
    np.testing.assert_allclose(bias.value, np.asarray(expected["bias"]), rtol=1e-12)
    np.testing.assert_array_equal(resolution.n_events, expected["n_events"])


def test_angular_separation_matches_ctaplot_and_haversine() -> None:
    events = make_events(2000, seed=7)
    theta = res.angular_separation(events["true_alt"], events["true_az"], events["reco_alt"], events["reco_az"])
    ctaplot_theta = ctaplot_ana.angular_separation_altaz(
        events["true_alt"] * u.deg, events["true_az"] * u.deg, events["reco_alt"] * u.deg, events["reco_az"] * u.deg
    ).to_value(u.deg)
    # ctaplot uses arccos of the dot product: good to ~1e-6 deg only (sqrt of double precision)
    np.testing.assert_allclose(theta, ctaplot_theta, rtol=0, atol=2e-6)
    lat1, lon1, lat2, lon2 = np.deg2rad([events["true_alt"], events["true_az"], events["reco_alt"], events["reco_az"]])
    haversine = 2 * np.arcsin(
        np.sqrt(np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2)
    )
    np.testing.assert_allclose(theta, np.rad2deg(haversine), rtol=1e-10)
    # quantities in radians are converted, not taken as degrees
    in_rad = res.angular_separation(
        *(np.deg2rad(events[k]) * u.rad for k in ("true_alt", "true_az", "reco_alt", "reco_az"))
    )
    np.testing.assert_allclose(in_rad, theta, rtol=1e-12)


def test_angular_resolution_matches_ctaplot_where_interpolation_is_exact() -> None:
    """ctaplot interpolates the theta^2 percentile: with 26 events per bin the 68 % point is the 18th
    order statistic exactly, so both conventions must give the same radius."""
    rng = np.random.default_rng(11)
    edges = np.geomspace(0.1, 10.0, 5)
    true_energy = np.concatenate(
        [np.exp(rng.uniform(np.log(lo), np.log(hi), 26)) for lo, hi in zip(edges[:-1], edges[1:])]
    )
    n = true_energy.size
    true_alt, true_az = rng.uniform(50, 80, n), rng.uniform(0, 360, n)
    reco_alt, reco_az = true_alt + rng.normal(0, 1.0, n), true_az + rng.normal(0, 1.0, n)
    _, expected = ctaplot_ana.angular_resolution_per_energy(
        true_alt * u.deg,
        reco_alt * u.deg,
        true_az * u.deg,
        reco_az * u.deg,
        true_energy * u.TeV,
        percentile=68.0,
        bins=edges * u.TeV,
    )
    curve = res.angular_resolution_per_bin(
        true_alt, true_az, reco_alt, reco_az, true_energy, edges, fraction=0.68, n_bootstrap=0
    )
    np.testing.assert_allclose(curve.value, expected[:, 0].to_value(u.deg), rtol=1e-7)


@pytest.mark.parametrize("name", ["random", "two_bins_only", "single"])
def test_energy_resolution_in_reco_energy_matches_ctaplot(name: str) -> None:
    events = EVENT_SETS[name]
    _, expected = ctaplot_ana.energy_resolution_per_energy(
        events["true_energy"] * u.TeV,
        events["reco_energy"] * u.TeV,
        percentile=100 * res.ONE_SIGMA_CONTAINMENT,
        bins=EDGES * u.TeV,
    )
    curve = res.energy_resolution_per_bin(
        events["true_energy"], events["reco_energy"], events["reco_energy"], EDGES, n_bootstrap=0
    )
    filled = curve.n_events > 0
    np.testing.assert_allclose(curve.value[filled], expected[filled, 0], rtol=1e-12)
    assert np.all(np.isnan(curve.value[~filled])) and np.all(expected[~filled, 0] == 0)  # ctaplot: 0 when empty


@pytest.mark.parametrize("name", ["random", "two_bins_only"])
def test_energy_bias_matches_ctaplot(name: str) -> None:
    events = EVENT_SETS[name]
    _, expected = ctaplot_ana.bias_per_energy(
        events["true_energy"],
        events["reco_energy"],
        events["true_energy"] * u.TeV,
        relative_scaling_method="s1",
        energy_bins=EDGES * u.TeV,
    )
    curve = res.energy_bias_per_bin(
        events["true_energy"], events["reco_energy"], events["true_energy"], EDGES, n_bootstrap=0
    )
    filled = curve.n_events > 0
    np.testing.assert_allclose(curve.value[filled], expected[filled], rtol=1e-12)


def _classifier_inputs(n: int, seed: int, gamma_fraction: float = 0.5) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = (rng.random(n) < gamma_fraction).astype(int)
    # rounded scores make ties, which AUC and ROC implementations must treat alike
    scores = np.round(np.clip(rng.normal(0.35 + 0.3 * labels, 0.2), 0, 1), 2)
    energy = 10 ** rng.uniform(-1.5, 1.5, n)
    return labels, scores, energy


@pytest.mark.parametrize("seed", [0, 1])
def test_auc_per_energy_matches_ctaplot(seed: int) -> None:
    labels, scores, energy = _classifier_inputs(4000, seed)
    edges = np.geomspace(0.03, 30.0, 7)
    primary = np.where(labels == 1, 0, 101)
    _, expected = ctaplot_ana.roc_auc_per_energy(
        primary, scores, energy * u.TeV, energy_bins=edges * u.TeV, gamma_label=0
    )
    values, _ = cls.auc_per_energy_bin(labels, scores, energy, edges, background="all")
    np.testing.assert_allclose(values, expected, rtol=1e-12)


def test_auc_per_energy_one_class_matches_ctaplot_nan() -> None:
    labels, scores, energy = _classifier_inputs(300, 2, gamma_fraction=1.0)  # gammas only
    edges = np.geomspace(0.03, 30.0, 4)
    _, expected = ctaplot_ana.roc_auc_per_energy(
        np.zeros_like(labels), scores, energy * u.TeV, energy_bins=edges * u.TeV
    )
    values, _ = cls.auc_per_energy_bin(labels, scores, energy, edges, background="all")
    assert np.all(np.isnan(expected)) and np.all(np.isnan(values))


SIM = {
    "n_showers": 2_000_000,
    "energy_min": 0.005,
    "energy_max": 500.0,
    "max_impact": 700.0,
    "viewcone_min": 0.0,
    "viewcone_max": 0.0,
}


@pytest.mark.filterwarnings("ignore:invalid value encountered in divide:RuntimeWarning")  # pyirf: 0/0 outside the range
@pytest.mark.parametrize("spectral_index", [-2.0, -2.7])
@pytest.mark.parametrize("n_selected", [5000, 1, 0])
def test_effective_area_matches_pyirf(spectral_index: float, n_selected: int) -> None:
    rng = np.random.default_rng(0)
    selected = 10 ** rng.uniform(-2.5, 3, n_selected)  # also below/above the simulated range and the bins
    edges = np.geomspace(0.001, 1000.0, 16)  # first and last bins partly outside the simulated range
    info = SimulatedEventsInfo(
        n_showers=SIM["n_showers"],
        energy_min=SIM["energy_min"] * u.TeV,
        energy_max=SIM["energy_max"] * u.TeV,
        max_impact=SIM["max_impact"] * u.m,
        spectral_index=spectral_index,
        viewcone_min=SIM["viewcone_min"] * u.deg,
        viewcone_max=SIM["viewcone_max"] * u.deg,
    )
    expected = pyirf_effective_area(QTable({"true_energy": selected * u.TeV}), info, edges * u.TeV).to_value(u.m**2)
    area = effective_area_per_energy(selected, edges, SimulatedEvents(spectral_index=spectral_index, **SIM))
    inside = np.isfinite(expected)  # pyirf: NaN (0/0) in bins with no simulated shower, as ours
    np.testing.assert_array_equal(inside, np.isfinite(area))
    np.testing.assert_allclose(area[inside], expected[inside], rtol=1e-10)


@pytest.mark.parametrize("spectral_index", [-1.0, -2.0])
def test_effective_area_matches_ctaplot(spectral_index: float) -> None:
    """ctaplot has no clipping to the simulated range but handles index -1 (pyirf divides by zero)."""
    rng = np.random.default_rng(1)
    edges = np.geomspace(0.01, 100.0, 9)
    selected = 10 ** rng.uniform(-2, 2, 3000)
    _, expected = ctaplot_ana.effective_area_per_energy_power_law(
        0.01 * u.TeV,
        100.0 * u.TeV,
        100_000,
        spectral_index,
        selected * u.TeV,
        np.pi * (500.0 * u.m) ** 2,
        bins=edges * u.TeV,
    )
    simulated = SimulatedEvents(
        n_showers=100_000, energy_min=0.01, energy_max=100.0, spectral_index=spectral_index, max_impact=500.0
    )
    np.testing.assert_allclose(
        effective_area_per_energy(selected, edges, simulated), expected.to_value(u.m**2), rtol=1e-10
    )
