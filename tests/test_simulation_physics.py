"""Statistical checks of the physics the simulated LST images must carry (docs/simulation.md).

Image parameters are computed with ctapipe (Hillas, timing, islands) on the cleaned noisy images,
so the checks go through the same analysis a real IACT pipeline applies. Thresholds leave room for
the statistical scatter of the fixed-seed samples.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from ctapipe.coordinates import TelescopeFrame
from ctapipe.image import hillas_parameters, number_of_islands, timing_parameters
from scipy.stats import spearmanr

from showerlearn.iact.simulation import IACTSimulationConfig, simulate_iact_arrays
from showerlearn.iact.simulation.camera import simulated_camera


def _parameters(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Hillas and timing parameters (telescope frame, deg) of the cleaned images; NaN if < 5 pixels."""
    camera = simulated_camera()
    geometry = camera.geometry.transform_to(TelescopeFrame())
    names = ("intensity", "x", "y", "psi", "length", "width", "slope", "islands")
    out = {name: np.full(len(arrays["image"]), np.nan) for name in names}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        events = zip(arrays["image"], arrays["image_mask"], arrays["peak_time"], strict=True)
        for i, (image, mask, peak_time) in enumerate(events):
            if mask.sum() < 5:
                continue
            hillas = hillas_parameters(geometry[mask], image[mask])
            timing = timing_parameters(geometry[mask], image[mask], peak_time[mask], hillas)
            out["intensity"][i] = hillas.intensity
            out["x"][i], out["y"][i] = hillas.fov_lon.to_value("deg"), hillas.fov_lat.to_value("deg")
            out["psi"][i] = hillas.psi.to_value("rad")
            out["length"][i], out["width"][i] = hillas.length.to_value("deg"), hillas.width.to_value("deg")
            out["slope"][i] = timing.slope.to_value("1/deg")
            out["islands"][i] = number_of_islands(camera.geometry, mask)[0]
    return out


@pytest.fixture(scope="module")
def gammas() -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    config = IACTSimulationConfig(proton_fraction=0.0, gamma_energy_min_tev=0.05, gamma_energy_max_tev=5.0)
    arrays = simulate_iact_arrays(config, seed=21, n_events=1500)
    return arrays, _parameters(arrays)


@pytest.fixture(scope="module")
def protons() -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    arrays = simulate_iact_arrays(IACTSimulationConfig(proton_fraction=1.0), seed=22, n_events=800)
    return arrays, _parameters(arrays)


def test_intensity_is_proportional_to_energy_at_fixed_impact(gammas) -> None:
    arrays, _ = gammas
    size = arrays["true_image"].sum(axis=1)
    inner = (arrays["true_impact_distance"] < 100) & (arrays["true_energy"] > 0.1)
    assert inner.sum() > 60
    slope = np.polyfit(np.log10(arrays["true_energy"][inner]), np.log10(size[inner]), 1)[0]
    assert 0.9 < slope < 1.1
    # a 100 GeV gamma inside the light pool gives a few hundred p.e. (LST: ~400 m^2 mirror)
    per_100_gev = np.median(size[inner] / (arrays["true_energy"][inner] / 0.1))
    assert 100 < per_100_gev < 600


def test_light_pool_is_flat_then_falls(gammas) -> None:
    arrays, _ = gammas
    impact = arrays["true_impact_distance"]
    bright = arrays["true_energy"] > 0.3  # above threshold everywhere: no trigger bias
    yield_per_tev = arrays["true_image"].sum(axis=1) / arrays["true_energy"]

    def median_yield(low: float, high: float) -> float:
        selected = bright & (impact >= low) & (impact < high)
        assert selected.sum() >= 15, (low, high)
        return float(np.median(yield_per_tev[selected]))

    centre, inner_edge, outside = median_yield(0, 60), median_yield(60, 110), median_yield(180, 260)
    assert 0.8 < inner_edge / centre < 1.3
    assert outside / centre < 0.6


def test_major_axis_points_to_the_source(gammas, protons) -> None:
    def alpha(params: dict[str, np.ndarray]) -> np.ndarray:
        selected = params["intensity"] > 200
        angle = params["psi"][selected] - np.arctan2(params["y"][selected], params["x"][selected])
        alpha = np.degrees(np.abs(np.arctan(np.tan(angle))))  # 0..90 deg, axis orientation is 180-deg ambiguous
        return alpha

    gamma_alpha, proton_alpha = alpha(gammas[1]), alpha(protons[1])
    assert gamma_alpha.size > 100 and proton_alpha.size > 50
    assert np.median(gamma_alpha) < 5.0
    assert np.median(proton_alpha) > 20.0  # diffuse protons: no preferred direction


def test_disp_grows_with_impact_distance(gammas) -> None:
    arrays, params = gammas
    selected = params["intensity"] > 100
    disp = np.hypot(params["x"], params["y"])[selected]  # point source at the camera centre
    impact = arrays["true_impact_distance"][selected]
    assert spearmanr(disp, impact).correlation > 0.8
    # disp ~ impact / distance to the shower maximum (a few to ~15 km)
    distance_km = np.median(impact / np.radians(disp)) / 1e3
    assert 4 < distance_km < 15


def test_length_and_width_grow_with_energy(gammas) -> None:
    arrays, params = gammas
    band = (arrays["true_impact_distance"] > 80) & (arrays["true_impact_distance"] < 160) & np.isfinite(params["width"])
    energy = arrays["true_energy"]
    bins = [(0.05, 0.15), (0.3, 1.0), (1.0, 5.0)]
    widths, lengths = [], []
    for low, high in bins:
        selected = band & (energy >= low) & (energy < high)
        assert selected.sum() >= 15, (low, high)
        widths.append(np.median(params["width"][selected]))
        lengths.append(np.median(params["length"][selected]))
    assert widths[0] < widths[1] < widths[2]
    assert lengths[0] < lengths[1] < lengths[2]
    # Hillas 1985 / LST: gamma widths ~0.05-0.1 deg, lengths ~0.1-0.5 deg around 100 GeV - 1 TeV
    assert 0.03 < widths[0] < 0.1 and 0.08 < lengths[0] < 0.4


def test_protons_are_wider_and_more_irregular_at_equal_intensity(gammas, protons) -> None:
    for low, high in ((100, 300), (300, 1000)):
        gamma = (gammas[1]["intensity"] >= low) & (gammas[1]["intensity"] < high)
        proton = (protons[1]["intensity"] >= low) & (protons[1]["intensity"] < high)
        assert gamma.sum() >= 15 and proton.sum() >= 10, (low, high)
        assert np.median(protons[1]["width"][proton]) > 1.1 * np.median(gammas[1]["width"][gamma]), (low, high)
    bright_gamma, bright_proton = gammas[1]["intensity"] > 300, protons[1]["intensity"] > 300
    assert protons[1]["islands"][bright_proton].mean() > gammas[1]["islands"][bright_gamma].mean() + 0.1


def test_time_gradient_grows_with_impact(gammas) -> None:
    arrays, params = gammas
    # orient the slope away from the source (camera centre): psi is only defined modulo 180 deg
    away = np.cos(params["psi"] - np.arctan2(params["y"], params["x"])) >= 0
    slope = np.where(away, params["slope"], -params["slope"])
    selected = (params["intensity"] > 100) & (np.hypot(params["x"], params["y"]) > 0.2)
    impact = arrays["true_impact_distance"]
    assert spearmanr(slope[selected], impact[selected]).correlation > 0.5
    near = np.median(slope[selected & (impact < 80)])
    far = np.median(slope[selected & (impact > 180)])
    assert far > near + 4.0  # ns/deg


def test_noise_pixels_have_the_configured_statistics(gammas) -> None:
    arrays, _ = gammas
    config = IACTSimulationConfig()
    noise = arrays["image"][arrays["true_image"] == 0]
    nsb = config.nsb_rate_pe_per_ns * config.integration_window_ns
    expected_std = np.sqrt(nsb * (1 + config.single_pe_resolution**2) + config.electronic_noise_pe**2)
    assert abs(noise.mean()) < 0.02
    assert noise.std() == pytest.approx(expected_std, rel=0.03)
    # Poisson NSB: skewed to the bright side, unlike Gaussian noise
    assert np.mean(noise**3) > 0


def test_light_outside_the_camera_is_lost() -> None:
    config = IACTSimulationConfig(proton_fraction=0.0, gamma_source="diffuse", gamma_view_cone_deg=3.0,
                                  gamma_energy_min_tev=0.3, gamma_energy_max_tev=3.0, gamma_scatter_radius_m=100.0)
    arrays = simulate_iact_arrays(config, seed=23, n_events=500)
    offset = np.hypot(arrays["source_fov_lon"], arrays["source_fov_lat"])
    yield_per_tev = arrays["true_image"].sum(axis=1) / arrays["true_energy"]
    central, edge = offset < 1.0, offset > 2.3
    assert central.sum() > 30 and edge.sum() > 30
    assert np.median(yield_per_tev[edge]) < 0.8 * np.median(yield_per_tev[central])
    # diffuse sources are spread over the whole view cone
    assert offset.max() <= 3.0 + 1e-9
