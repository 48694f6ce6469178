"""Fast parametric simulation of single-LST events (gammas and protons) with full truth.

Each shower is a point in a 3-D geometry (direction, impact point on the ground, depth of shower
maximum in an isothermal atmosphere) from which the image follows:

* **Light pool** - photon density flat to ~120 m impact with a small rim hump, falling exponentially
  beyond (Hillas 1985, ICRC 3, 445; de Naurois & Mazin 2015, C. R. Physique 16, 610, Fig. 3), about
  100 photons/m^2 per TeV; p.e. = density x mirror area (386.73 m^2, LST-1) x efficiency (~0.07-0.1)
  so a 100 GeV gamma at 100 m gives a few hundred p.e. Intensity is proportional to energy at fixed
  impact, with log-normal shower-to-shower fluctuations shrinking with energy.
* **Geometry** - the image centroid is the direction of the shower maximum seen from the telescope,
  the major axis is the image of the shower axis and therefore points to the source position, and
  the centroid-source distance (disp) is ~ impact / distance-to-maximum (Hillas 1985; Lessard et al.
  2001, Astropart. Phys. 15, 1). Depth of maximum: Heitler model X_max = X0 ln(E/E_c) for gammas
  (X0 = 36.7 g/cm^2, E_c = 83 MeV; Matthews 2005, Astropart. Phys. 22, 387), earlier and more
  fluctuating for protons.
* **Shape** - length = projected longitudinal extent (~ impact x extent / distance^2) growing with
  log E; width = lateral spread / distance (+ PSF) growing slowly with log E; gamma widths
  ~0.05-0.1 deg, lengths ~0.2-0.5 deg (Hillas 1985; CTA-LST Project, ApJ 956:80, 2023). The longitudinal
  profile is a skew-normal (tail away from the source: the deep part of the shower projects farther
  from it), the same model as ``ctapipe.image.toymodel.SkewedGaussian``.
* **Protons** - wider, longer core component, up to four displaced and tilted electromagnetic
  sub-showers (pi0 cascades with transverse momentum), occasional muon rings/arcs (ring model of
  ``ctapipe.image.toymodel.RingGaussian`` with impact-dependent azimuthal profile; Vacanti et al.
  1994, Astropart. Phys. 2, 1), steeper spectrum, ~40 % of a gamma's light (Aharonian et al. 2008,
  Rep. Prog. Phys. 71, 096901).
* **Timing** - peak time linear along the major axis, gradient growing with impact and vanishing at
  ~70 m (Aliu et al. 2009, Astropart. Phys. 30, 293 (MAGIC timing); ApJ 956:80), time jitter
  ~1/sqrt(n_pe); noise-only pixels peak anywhere in the readout window.
* **Camera** - Poisson photon statistics, PMT excess noise, Poisson night-sky background
  (~0.25 p.e./ns/pixel, pedestal subtracted) and Gaussian electronic noise; light falling outside
  the 1855 pixels is lost (truncation at the camera edge); an event is kept (triggers) if a 7-pixel
  patch of its true image holds at least ``trigger_threshold_pe`` p.e. (the LST trigger sums
  neighbouring pixels).

Vectorised numpy over events x pixels. The random stream of chunk ``i`` is seeded from
``(seed, i)``, so the output depends only on the config and the seed.
"""

from __future__ import annotations

import math
from typing import Literal

import numexpr
import numpy as np
from astropy.coordinates.matrix_utilities import rotation_matrix
from scipy.special import ndtr

from showerlearn.iact.particles import PRIMARY_IDS
from showerlearn.iact.simulation.camera import SimulatedCamera, batched_tailcuts, max_patch_sum, simulated_camera
from showerlearn.iact.simulation.config import IACTSimulationConfig

__all__ = [
    "altaz_to_telescope",
    "chunk_sizes",
    "simulate_chunk",
    "simulate_iact_arrays",
    "skewed_gaussian_density",
    "telescope_to_altaz",
]

Particle = Literal["gamma", "proton"]

_X_SEA_LEVEL = 1030.0  # vertical atmospheric depth at sea level [g/cm^2]
_X0_RADIATION = 36.7  # radiation length in air [g/cm^2]
_E_CRITICAL_TEV = 83e-6  # critical energy of electrons in air [TeV] (Heitler model)
_MIN_DISTANCE_TO_MAX_M = 1000.0  # keep the shower maximum above the telescope
_N_SUBSHOWER_SLOTS = 4
_PRESELECTION_FRACTION = 0.7
_RENDER_BLOCK = 256  # events rendered at once: bounds memory to ~10 arrays of 256 x 1855 floats

#: per-event arrays returned by :func:`simulate_iact_arrays` (pixel arrays have shape (n, n_pixels))
EVENT_COLUMNS = (
    "event_id", "true_shower_primary_id", "true_energy", "true_alt", "true_az", "true_core_x", "true_core_y",
    "true_h_first_int", "true_x_max", "true_impact_distance", "pointing_alt", "pointing_az",
    "source_fov_lon", "source_fov_lat", "image", "peak_time", "image_mask", "true_image", "signal_mask",
)


# ---------------------------------------------------------------------------------------------------
# coordinates
# ---------------------------------------------------------------------------------------------------
def _altaz_matrix(pointing_alt_deg: float, pointing_az_deg: float) -> np.ndarray:
    """AltAz cartesian -> TelescopeFrame cartesian: the rotation ctapipe's ``altaz_to_telescope`` uses."""
    return np.asarray(rotation_matrix(-pointing_alt_deg, "y") @ rotation_matrix(pointing_az_deg, "z"))


def _unit_vectors(lon_deg: np.ndarray, lat_deg: np.ndarray) -> np.ndarray:
    lon, lat = np.radians(lon_deg), np.radians(lat_deg)
    return np.stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)])


def _angles(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lon = np.degrees(np.arctan2(vectors[1], vectors[0]))
    lat = np.degrees(np.arcsin(np.clip(vectors[2] / np.linalg.norm(vectors, axis=0), -1.0, 1.0)))
    return lon, lat


def telescope_to_altaz(
    fov_lon: np.ndarray, fov_lat: np.ndarray, pointing_alt: float, pointing_az: float
) -> tuple[np.ndarray, np.ndarray]:
    """(fov_lon, fov_lat) in ctapipe's TelescopeFrame [deg] -> (alt, az) [deg], vectorised."""
    vectors = _altaz_matrix(pointing_alt, pointing_az).T @ _unit_vectors(fov_lon, fov_lat)
    az, alt = _angles(vectors)
    return alt, np.mod(az, 360.0)


def altaz_to_telescope(
    alt: np.ndarray, az: np.ndarray, pointing_alt: float, pointing_az: float
) -> tuple[np.ndarray, np.ndarray]:
    """(alt, az) [deg] -> (fov_lon, fov_lat) in ctapipe's TelescopeFrame [deg], vectorised."""
    return _angles(_altaz_matrix(pointing_alt, pointing_az) @ _unit_vectors(az, alt))


def _ground_vectors(alt: np.ndarray, az: np.ndarray) -> np.ndarray:
    """Unit vectors towards (alt, az) in ctapipe's GroundFrame (x north, y west, z up), shape (3, n)."""
    altaz = _unit_vectors(az, alt)
    altaz[1] *= -1.0  # astropy's AltAz cartesian has y towards east
    return altaz


def _ground_to_altaz(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    flipped = vectors * np.array([[1.0], [-1.0], [1.0]])
    az, alt = _angles(flipped)
    return alt, np.mod(az, 360.0)


# ---------------------------------------------------------------------------------------------------
# image models
# ---------------------------------------------------------------------------------------------------
def skewed_gaussian_density(
    lon: np.ndarray, lat: np.ndarray, cog_lon: np.ndarray, cog_lat: np.ndarray,
    psi: np.ndarray, length: np.ndarray, width: np.ndarray, skewness: np.ndarray,
) -> np.ndarray:
    """2-D density [1/deg^2] of ``ctapipe.image.toymodel.SkewedGaussian`` for many events at once.

    ``lon``/``lat``: pixel positions (n_pixels,); the other arguments: one value per event (n,);
    ``psi`` [rad] is the direction of positive skew. Mean ``cog``, standard deviations ``length``
    (along ``psi``) and ``width``. Returns (n, n_pixels), float32.
    """
    ones = np.ones(cog_lon.size)
    return _skewed_gaussian_pe(lon, lat, np.ones(lon.size), cog_lon, cog_lat, psi, length, width, skewness, ones)


def _skewed_gaussian_pe(
    lon: np.ndarray, lat: np.ndarray, area: np.ndarray, cog_lon: np.ndarray, cog_lat: np.ndarray,
    psi: np.ndarray, length: np.ndarray, width: np.ndarray, skewness: np.ndarray, intensity: np.ndarray,
) -> np.ndarray:
    """Expected p.e. per pixel (density x pixel ``area`` x ``intensity``), float32 (n, n_pixels).

    One float32 numexpr pass over events x pixels (the costly part of the whole simulation); the
    skew factor is evaluated only where the expectation exceeds 1e-9 p.e.
    """
    # skew-normal parameters from (mean 0, std length, skewness): method of moments, as in ctapipe
    skew23 = np.abs(skewness) ** (2.0 / 3.0)
    delta = np.sign(skewness) * np.sqrt(np.pi / 2 * skew23 / (skew23 + (0.5 * (4 - np.pi)) ** (2.0 / 3.0)))
    alpha = delta / np.sqrt(1 - delta**2)
    scale = length / np.sqrt(1 - 2 * delta**2 / np.pi)
    loc = -scale * delta * np.sqrt(2 / np.pi)
    skewed = np.any(skewness)
    # 2 phi(z) Phi(alpha z) / scale x transverse Gaussian; Phi(0) = 1/2 folded in when unskewed
    amplitude = intensity / (np.pi * scale * width) * (1.0 if skewed else 0.5)
    f4 = np.float32
    variables = {
        "x": lon[None, :].astype(f4), "y": lat[None, :].astype(f4), "area": area[None, :].astype(f4),
        "cx": cog_lon[:, None].astype(f4), "cy": cog_lat[:, None].astype(f4),
        "c": np.cos(psi)[:, None].astype(f4), "s": np.sin(psi)[:, None].astype(f4),
        "loc": loc[:, None].astype(f4), "scale": scale[:, None].astype(f4), "w": width[:, None].astype(f4),
        "amp": amplitude[:, None].astype(f4), "half": f4(-0.5),
    }
    expected = numexpr.evaluate(
        "amp * area * exp(half * ((((x - cx) * c + (y - cy) * s - loc) / scale)**2"
        " + (((y - cy) * c - (x - cx) * s) / w)**2))",
        local_dict=variables,
    )
    if skewed:
        rows, pixels = np.nonzero(expected > 1e-9)
        dx, dy = lon[pixels] - cog_lon[rows], lat[pixels] - cog_lat[rows]
        longitudinal = dx * np.cos(psi[rows]) + dy * np.sin(psi[rows])
        expected[rows, pixels] *= ndtr(alpha[rows] * (longitudinal - loc[rows]) / scale[rows])
    return expected


def _ring_azimuth_profile(phi: np.ndarray, rho: np.ndarray) -> np.ndarray:
    """Light per azimuth of a muon ring for impact ``rho`` (in mirror radii): the mirror chord length.

    Same profile as ``ctapipe.image.toymodel.RingGaussian`` (unnormalised); ``rho`` (n, 1) or (n,).
    """
    inner = 1.0 - rho**2 * np.sin(phi) ** 2
    root = np.sqrt(np.clip(inner, 0.0, None))
    inside = np.where(rho < 1.0, root + rho * np.cos(phi), 2.0 * root * (np.cos(phi) > 0))
    return np.where(inner >= 0, inside, 0.0)


def _ring_coverage(rho: np.ndarray) -> np.ndarray:
    """Azimuth-integrated ring profile relative to a central impact (1 for rho = 0, < 1 for arcs)."""
    grid = np.linspace(-np.pi, np.pi, 721)[None, :]
    return np.trapezoid(_ring_azimuth_profile(grid, rho[:, None]), grid, axis=1) / (2 * np.pi)


def _ring_density(
    lon: np.ndarray, lat: np.ndarray, centre_lon: np.ndarray, centre_lat: np.ndarray,
    radius: np.ndarray, sigma: float, rho: np.ndarray, phi0: np.ndarray,
) -> np.ndarray:
    """Normalised 2-D density [1/deg^2] of muon rings: Gaussian in radius x azimuthal chord profile."""
    dx = lon[None, :] - centre_lon[:, None]
    dy = lat[None, :] - centre_lat[:, None]
    r = np.hypot(dx, dy)
    phi = np.arctan2(dy, dx) - phi0[:, None]
    norm = 2 * np.pi * _ring_coverage(rho)[:, None]
    radial = np.exp(-0.5 * ((r - radius[:, None]) / sigma) ** 2) / (math.sqrt(2 * math.pi) * sigma)
    return radial * _ring_azimuth_profile(phi, rho[:, None]) / (norm * np.maximum(r, 1e-6))


# ---------------------------------------------------------------------------------------------------
# showers
# ---------------------------------------------------------------------------------------------------
def _power_law(rng: np.random.Generator, index: float, low: float, high: float, size: int) -> np.ndarray:
    g = index + 1.0
    u = rng.random(size)
    return (low**g + u * (high**g - low**g)) ** (1.0 / g)


def _cone(rng: np.random.Generator, radius_deg: float, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Directions isotropic within ``radius_deg`` of the pointing, as (fov_lon, fov_lat) [deg]."""
    cos_theta = 1.0 - rng.random(size) * (1.0 - math.cos(math.radians(radius_deg)))
    theta = np.arccos(cos_theta)
    phi = rng.uniform(0, 2 * np.pi, size)
    vectors = np.stack([cos_theta, np.sin(theta) * np.cos(phi), np.sin(theta) * np.sin(phi)])
    return _angles(vectors)


def _depth_to_height(depth: np.ndarray, cos_zenith: np.ndarray, scale_height: float) -> np.ndarray:
    """Height a.s.l. [m] where a slant depth [g/cm^2] along the shower axis is reached."""
    return scale_height * np.log(_X_SEA_LEVEL * cos_zenith / depth)


def _draw_showers(
    rng: np.random.Generator, config: IACTSimulationConfig, particle: Particle, size: int
) -> dict[str, np.ndarray]:
    """Thrown showers that can trigger: truth plus the image parameters their geometry implies.

    ``size`` showers are thrown; those whose total light is below the pre-trigger level (the light
    in any trigger patch cannot exceed it) are dropped before their geometry is computed.
    ``thrown_index`` gives each returned shower's position among the thrown ones.
    """
    c = config
    is_gamma = particle == "gamma"
    energy = _power_law(
        rng,
        c.gamma_spectral_index if is_gamma else c.proton_spectral_index,
        c.gamma_energy_min_tev if is_gamma else c.proton_energy_min_tev,
        c.gamma_energy_max_tev if is_gamma else c.proton_energy_max_tev,
        size,
    )
    radius = (c.gamma_scatter_radius_m if is_gamma else c.proton_scatter_radius_m) * np.sqrt(rng.random(size))

    # light: flat pool with a rim hump, exponential fall-off outside, proportional to energy
    r_pool = c.light_pool_radius_m
    pool = 1.0 + c.light_pool_hump * np.exp(-(((radius - r_pool) / (0.25 * r_pool)) ** 2))
    pool *= np.exp(-np.clip(radius - r_pool, 0.0, None) / c.light_pool_falloff_m)
    sigma_light = c.light_yield_fluctuation * (energy / 0.1) ** c.light_yield_fluctuation_index
    fluctuation = np.exp(sigma_light * rng.standard_normal(size) - 0.5 * sigma_light**2)
    yield_ = 1.0 if is_gamma else c.proton_light_yield
    intensity = (
        c.photon_density_per_tev * energy * pool * c.mirror_area_m2 * c.photon_detection_efficiency
        * yield_ * fluctuation
    )
    thrown_index = np.flatnonzero(intensity >= _PRESELECTION_FRACTION * c.trigger_threshold_pe)
    energy, radius, intensity = energy[thrown_index], radius[thrown_index], intensity[thrown_index]
    size = thrown_index.size

    if is_gamma and c.gamma_source == "point":
        src_lon, src_lat = np.zeros(size), np.full(size, c.point_source_offset_deg)
    else:
        src_lon, src_lat = _cone(rng, c.gamma_view_cone_deg if is_gamma else c.proton_view_cone_deg, size)
    alt, az = telescope_to_altaz(src_lon, src_lat, c.pointing_alt_deg, c.pointing_az_deg)
    axis = _ground_vectors(alt, az)  # from the ground towards the source

    # impact point uniform in a disc in the shower plane, then moved along the axis to the ground
    e1 = np.cross(axis.T, [0.0, 0.0, 1.0]).T
    e1 /= np.linalg.norm(e1, axis=0)
    e2 = np.cross(axis.T, e1.T).T
    angle = rng.uniform(0, 2 * np.pi, size)
    impact_vector = radius * (np.cos(angle) * e1 + np.sin(angle) * e2)
    core = impact_vector - axis * (impact_vector[2] / axis[2])

    # longitudinal development: first interaction, then shower maximum (Heitler model)
    cos_zenith = axis[2]
    xmax_heitler = _X0_RADIATION * np.log(energy / _E_CRITICAL_TEV)
    if is_gamma:
        mean_free_path = 9.0 / 7.0 * _X0_RADIATION  # pair-production length
        x_first = rng.exponential(mean_free_path, size)
        x_max = x_first + xmax_heitler - mean_free_path + rng.normal(0, c.gamma_xmax_sigma_gcm2, size)
    else:
        mean_free_path = c.proton_interaction_length_gcm2
        x_first = rng.exponential(mean_free_path, size)
        x_max = (
            x_first + xmax_heitler + c.proton_xmax_shift_gcm2 - mean_free_path
            + rng.normal(0, c.proton_xmax_sigma_gcm2, size)
        )
    ground_depth = _X_SEA_LEVEL * np.exp(-c.observation_level_m / c.atmosphere_scale_height_m) / cos_zenith
    x_max = np.clip(x_max, x_first + 1.0, None)
    h_first = _depth_to_height(np.maximum(x_first, 1e-3), cos_zenith, c.atmosphere_scale_height_m)
    h_max = _depth_to_height(np.minimum(x_max, ground_depth), cos_zenith, c.atmosphere_scale_height_m)
    distance_along_axis = np.maximum((h_max - c.observation_level_m) / cos_zenith, _MIN_DISTANCE_TO_MAX_M)
    shower_max = core + distance_along_axis * axis
    distance = np.linalg.norm(shower_max, axis=0)
    cog_alt, cog_az = _ground_to_altaz(shower_max)
    cog_lon, cog_lat = altaz_to_telescope(cog_alt, cog_az, c.pointing_alt_deg, c.pointing_az_deg)
    # major axis: from the source towards the centroid (random when the two coincide)
    d_lon, d_lat = cog_lon - src_lon, cog_lat - src_lat
    psi = np.where(np.hypot(d_lon, d_lat) > 1e-6, np.arctan2(d_lat, d_lon), rng.uniform(-np.pi, np.pi, size))
    log_e = np.log10(energy / 0.1)

    # shape: width from the lateral spread, length from the projected longitudinal extent
    lateral = c.lateral_spread_m * np.maximum(1.0 + c.lateral_spread_log_slope * log_e, 0.3)
    extent = c.longitudinal_extent_m * np.maximum(1.0 + c.longitudinal_extent_log_slope * log_e, 0.3)
    if not is_gamma:
        lateral = lateral * c.proton_width_factor
        extent = extent * c.proton_length_factor
    width0 = np.hypot(np.degrees(lateral / distance), c.psf_sigma_deg)
    length0 = np.hypot(np.degrees(radius * extent / distance**2), width0)
    width = width0 * np.exp(c.shape_fluctuation * rng.standard_normal(size))
    length = np.maximum(length0 * np.exp(c.shape_fluctuation * rng.standard_normal(size)), width)

    gradient_scatter = c.time_gradient_scatter * (1.0 if is_gamma else 3.0)
    time_gradient = c.time_gradient_per_impact * (radius - c.time_gradient_zero_impact_m)
    time_gradient = time_gradient + rng.normal(0, gradient_scatter, size)
    time_centre = 0.5 * c.readout_window_ns + rng.normal(0, 1.0, size)

    showers = {
        "true_energy": energy, "true_alt": alt, "true_az": az,
        "true_core_x": core[0], "true_core_y": core[1],
        "true_h_first_int": h_first, "true_x_max": x_max, "true_impact_distance": radius,
        "source_fov_lon": src_lon, "source_fov_lat": src_lat,
        "cog_lon": cog_lon, "cog_lat": cog_lat, "psi": psi, "length": length, "width": width,
        "intensity": intensity, "time_gradient": time_gradient, "time_centre": time_centre,
        "distance": distance, "thrown_index": thrown_index,
    }
    return showers


def _draw_subshowers(
    rng: np.random.Generator, c: IACTSimulationConfig, showers: dict[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """Electromagnetic sub-showers of protons: displaced, tilted ellipses sharing the light."""
    size = showers["psi"].size
    slots = (size, _N_SUBSHOWER_SLOTS)
    n_sub = np.minimum(rng.poisson(c.proton_subshower_mean, size), _N_SUBSHOWER_SLOTS)
    sub_total = np.where(
        n_sub > 0, np.clip(c.proton_subshower_light_fraction * rng.uniform(0.5, 1.5, size), 0, 0.9), 0.0
    )
    raw = rng.exponential(1.0, slots) * (np.arange(_N_SUBSHOWER_SLOTS) < n_sub[:, None])
    sub_fraction = raw / np.maximum(raw.sum(axis=1, keepdims=True), 1e-12) * sub_total[:, None]
    psi = showers["psi"][:, None]
    along = rng.normal(0, 1, slots) * showers["length"][:, None]
    across = rng.normal(0, c.proton_subshower_offset_deg, slots)
    sub_energy = np.maximum(showers["true_energy"][:, None] * sub_fraction, 1e-4)
    sub_lateral = c.lateral_spread_m * np.maximum(1.0 + c.lateral_spread_log_slope * np.log10(sub_energy / 0.1), 0.3)
    sub_width = np.hypot(np.degrees(sub_lateral / showers["distance"][:, None]), c.psf_sigma_deg)
    sub_length = np.maximum(0.6 * showers["length"][:, None] * np.exp(0.3 * rng.standard_normal(slots)), sub_width)
    return {
        "n_sub": n_sub,
        "sub_fraction": sub_fraction,
        "sub_lon": showers["cog_lon"][:, None] + along * np.cos(psi) - across * np.sin(psi),
        "sub_lat": showers["cog_lat"][:, None] + along * np.sin(psi) + across * np.cos(psi),
        "sub_psi": psi + np.radians(rng.normal(0, c.proton_subshower_tilt_deg, slots)),
        "sub_width": sub_width,
        "sub_length": sub_length,
        "sub_time_offset": rng.normal(0, 1.5, slots),
    }


def _muon_rings(
    rng: np.random.Generator, c: IACTSimulationConfig, showers: dict[str, np.ndarray], camera: SimulatedCamera
) -> tuple[np.ndarray, np.ndarray]:
    """Expected p.e. of muon rings/arcs added to a fraction ``muon_ring_probability`` of triggered protons.

    Rings are added after the trigger so that the knob is the fraction of proton images with a ring
    (a local muon hitting the mirror), not a population of muon-only triggers. Returns the expected
    image (n, n_pixels) and the arrival time of the ring light (n,).
    """
    size = showers["psi"].size
    has_muon = rng.random(size) < c.muon_ring_probability
    rows = np.flatnonzero(has_muon)
    expected = np.zeros((size, camera.n_pixels))
    # muons fly close to the primary direction; radius = Cherenkov angle of a 5-50 GeV muon
    centre_lon = showers["source_fov_lon"][rows] + rng.normal(0, 1.0, rows.size)
    centre_lat = showers["source_fov_lat"][rows] + rng.normal(0, 1.0, rows.size)
    radius = rng.uniform(0.8, 1.2, rows.size)
    rho = rng.uniform(0.0, 1.5, rows.size)  # impact on the mirror in mirror radii: > 1 gives arcs
    phi0 = rng.uniform(-np.pi, np.pi, rows.size)
    time = showers["time_centre"][rows] + rng.normal(0, 1.0, rows.size)
    if rows.size:
        intensity = c.muon_ring_pe * radius / 1.2 * _ring_coverage(rho)
        density = _ring_density(
            camera.fov_lon, camera.fov_lat, centre_lon, centre_lat, radius, c.muon_ring_width_deg, rho, phi0
        )
        expected[rows] = density * intensity[:, None] * camera.pix_area[None, :]
    ring_time = np.zeros(size)
    ring_time[rows] = time
    return expected, ring_time


def _preselect(showers: dict[str, np.ndarray], camera: SimulatedCamera, config: IACTSimulationConfig) -> np.ndarray:
    """Cheap analytic pre-trigger: only showers that might reach the threshold are rendered.

    Bounds the light in the brightest trigger patch by the sum over the image components (core and
    sub-showers, as if their peaks coincided) of light x containment x patch share, and keeps showers
    above 70 % of the threshold; deliberately loose (containment overestimated by half a length, patch
    share x2). Tested: the brightest rejected showers trigger in < 1 % of cases.
    """
    is_proton = "n_sub" in showers
    core = 1.0 - showers["sub_fraction"].sum(axis=1) if is_proton else 1.0
    bound = _patch_light(
        camera, showers["intensity"] * core, showers["cog_lon"], showers["cog_lat"], showers["length"], showers["width"]
    )
    if is_proton:
        for slot in range(_N_SUBSHOWER_SLOTS):
            bound += _patch_light(
                camera, showers["intensity"] * showers["sub_fraction"][:, slot], showers["sub_lon"][:, slot],
                showers["sub_lat"][:, slot], showers["sub_length"][:, slot], showers["sub_width"][:, slot],
            )
    return np.flatnonzero(bound >= _PRESELECTION_FRACTION * config.trigger_threshold_pe)


def _patch_light(
    camera: SimulatedCamera, light: np.ndarray, cog_lon: np.ndarray, cog_lat: np.ndarray, length: np.ndarray,
    width: np.ndarray,
) -> np.ndarray:
    """Overestimate of the p.e. of one Gaussian image component in the brightest 7-pixel patch."""
    reach = camera.radius_deg - np.hypot(cog_lon, cog_lat)
    containment = ndtr(reach / length + 0.5)
    share = np.minimum(1.0, 2.0 * 7.0 * camera.pix_area.mean() / (2 * np.pi * length * width))
    return light * containment * share


# ---------------------------------------------------------------------------------------------------
# rendering
# ---------------------------------------------------------------------------------------------------
def _render(
    showers: dict[str, np.ndarray], camera: SimulatedCamera, config: IACTSimulationConfig
) -> tuple[np.ndarray, np.ndarray | None]:
    """Expected p.e. per pixel of the shower light (n, n_pixels); for protons also the light-weighted
    sum of the sub-shower time offsets (their light follows the main time field shifted by a few ns)."""
    lon, lat, area = camera.fov_lon, camera.fov_lat, camera.pix_area
    is_proton = "n_sub" in showers
    core_fraction = 1.0 - showers["sub_fraction"].sum(axis=1) if is_proton else 1.0
    skew = np.full(showers["psi"].shape, config.image_skewness)
    expected = _skewed_gaussian_pe(
        lon, lat, area, showers["cog_lon"], showers["cog_lat"], showers["psi"], showers["length"], showers["width"],
        skew, showers["intensity"] * core_fraction,
    )
    if not is_proton:
        return expected, None
    offsets = np.zeros_like(expected)
    for slot in range(_N_SUBSHOWER_SLOTS):
        rows = np.flatnonzero(showers["n_sub"] > slot)
        if rows.size == 0:
            continue
        sub = _skewed_gaussian_pe(
            lon, lat, area, showers["sub_lon"][rows, slot], showers["sub_lat"][rows, slot],
            showers["sub_psi"][rows, slot], showers["sub_length"][rows, slot], showers["sub_width"][rows, slot],
            np.zeros(rows.size), showers["intensity"][rows] * showers["sub_fraction"][rows, slot],
        )
        expected[rows] += sub
        offsets[rows] += sub * showers["sub_time_offset"][rows, slot][:, None]
    return expected, offsets


def _signal_time(
    showers: dict[str, np.ndarray], camera: SimulatedCamera, rows: np.ndarray, pixels: np.ndarray
) -> np.ndarray:
    """Main time field [ns] at (event row, pixel) pairs: linear along the major axis, zero point at the
    centroid, gradient positive away from the source."""
    longitudinal = (camera.fov_lon[pixels] - showers["cog_lon"][rows]) * np.cos(showers["psi"][rows]) + (
        camera.fov_lat[pixels] - showers["cog_lat"][rows]
    ) * np.sin(showers["psi"][rows])
    return showers["time_centre"][rows] + showers["time_gradient"][rows] * longitudinal


def _camera_response(
    rng: np.random.Generator, true_image: np.ndarray, lit: tuple[np.ndarray, np.ndarray],
    signal_time: np.ndarray, camera: SimulatedCamera, config: IACTSimulationConfig,
) -> dict[str, np.ndarray]:
    """Noisy calibrated image [p.e.], peak time [ns] and masks; ``signal_time`` at the ``lit`` pixels."""
    c = config
    nsb_mean = c.nsb_rate_pe_per_ns * c.integration_window_ns
    n_pe = true_image + rng.poisson(nsb_mean, true_image.shape)
    variables = {
        "n": n_pe, "nsb": nsb_mean, "spe2": c.single_pe_resolution**2, "el2": c.electronic_noise_pe**2,
        "g": rng.standard_normal(true_image.shape, dtype=np.float32),
    }
    image = numexpr.evaluate("n - nsb + sqrt(n * spe2 + el2) * g", local_dict=variables).astype(np.float32)

    # noise-only pixels peak anywhere in the window; signal pixels at the signal time +- jitter
    peak_time = rng.random(true_image.shape, dtype=np.float32) * np.float32(c.readout_window_ns)
    jitter = c.time_resolution_1pe_ns / np.sqrt(true_image[lit])
    peak_time[lit] = np.clip(signal_time + jitter * rng.standard_normal(jitter.size), 0.0, c.readout_window_ns)

    signal_mask = true_image >= c.signal_mask_min_pe
    if c.image_mask == "tailcuts":
        image_mask = batched_tailcuts(
            image, camera.neighbors, c.picture_threshold_pe, c.boundary_threshold_pe, c.min_picture_neighbors
        )
    else:
        image_mask = signal_mask
    return {
        "image": image, "peak_time": peak_time, "image_mask": image_mask,
        "true_image": true_image.astype(np.int32), "signal_mask": signal_mask,
    }


#: a trigger efficiency below 1 in this many showers ends the simulation with an error instead of running for ever
MAX_THROWN_PER_EVENT = 100_000


def _simulate_triggered(
    rng: np.random.Generator, config: IACTSimulationConfig, camera: SimulatedCamera, particle: Particle,
    n_events: int,
) -> tuple[dict[str, np.ndarray], int]:
    """Throw showers until ``n_events`` trigger; returns their arrays and the number thrown."""
    is_proton = particle == "proton"
    parts: list[dict[str, np.ndarray]] = []
    n_triggered = n_thrown = 0
    efficiency = 0.05  # first guess of triggered / thrown; refined after every batch
    while n_triggered < n_events:
        batch = int(min(max(64, 1.2 * (n_events - n_triggered) / efficiency), 200_000))
        showers = _draw_showers(rng, config, particle, batch)
        if is_proton:
            showers.update(_draw_subshowers(rng, config, showers))
        candidates = _preselect(showers, camera, config)
        used = batch  # showers thrown in this batch (fewer if the last needed event is inside it)
        for start in range(0, candidates.size, _RENDER_BLOCK):
            rows = candidates[start : start + _RENDER_BLOCK]
            block = {key: value[rows] for key, value in showers.items()}
            expected, offsets = _render(block, camera, config)
            true_image = rng.poisson(expected)
            keep = np.flatnonzero(max_patch_sum(true_image, camera.patches) >= config.trigger_threshold_pe)
            keep = keep[: n_events - n_triggered]
            if keep.size:
                parts.append(_finish(rng, config, camera, block, keep, expected, offsets, true_image))
                n_triggered += keep.size
            if n_triggered == n_events:
                used = int(block["thrown_index"][keep[-1]]) + 1
                break
        n_thrown += used
        efficiency = max(n_triggered, 1) / n_thrown
        if n_triggered < n_events and n_thrown >= MAX_THROWN_PER_EVENT * n_events:
            raise ValueError(
                f"{particle}: {n_triggered} of {n_events} showers triggered in {n_thrown:,} thrown, fewer than 1 in "
                f"{MAX_THROWN_PER_EVENT:,}: the camera hardly sees these showers (lower trigger_threshold_pe, or raise "
                "the energy range)"
            )
    merged = {key: np.concatenate([part[key] for part in parts]) for key in parts[0]}
    merged["true_shower_primary_id"] = np.full(n_events, PRIMARY_IDS[particle], dtype=np.int64)
    return merged, n_thrown


def _finish(
    rng: np.random.Generator, config: IACTSimulationConfig, camera: SimulatedCamera,
    block: dict[str, np.ndarray], keep: np.ndarray, expected: np.ndarray, offsets: np.ndarray | None,
    true_image: np.ndarray,
) -> dict[str, np.ndarray]:
    """Truth, muon rings, signal times and camera response of the triggered events ``keep`` of a block."""
    kept = {key: value[keep] for key, value in block.items()}
    expected, true_image = expected[keep], true_image[keep]
    lit = np.nonzero(true_image > 0)
    if offsets is None:
        signal_time = _signal_time(kept, camera, *lit)
    else:
        ring, ring_time = _muon_rings(rng, config, kept, camera)
        true_image = true_image + rng.poisson(ring)
        lit = np.nonzero(true_image > 0)
        shower = expected[lit]
        weight = shower + ring[lit]
        # light-weighted time: shower light on the time field (+ sub-shower offsets), ring light at once
        numerator = shower * _signal_time(kept, camera, *lit) + offsets[keep][lit] + ring[lit] * ring_time[lit[0]]
        signal_time = np.divide(numerator, weight, out=_signal_time(kept, camera, *lit), where=weight > 0)
    part = {key: kept[key] for key in _TRUTH_KEYS}
    part.update(_camera_response(rng, true_image, lit, signal_time, camera, config))
    return part


_TRUTH_KEYS = (
    "true_energy", "true_alt", "true_az", "true_core_x", "true_core_y", "true_h_first_int", "true_x_max",
    "true_impact_distance", "source_fov_lon", "source_fov_lat",
)


def chunk_sizes(n_events: int, chunk_size: int) -> list[int]:
    """Sizes of the deterministic chunks ``n_events`` is simulated in."""
    full, rest = divmod(n_events, chunk_size)
    return [chunk_size] * full + ([rest] if rest else [])


def simulate_chunk(
    config: IACTSimulationConfig, seed: int, chunk_index: int, n_events: int
) -> tuple[dict[str, np.ndarray], dict[str, int]]:
    """Simulate chunk ``chunk_index`` (its own RNG stream from ``(seed, chunk_index)``).

    Returns the per-event arrays (without ``event_id``) and the number of showers thrown per particle.
    """
    rng = np.random.default_rng([seed, chunk_index])
    camera = simulated_camera()
    is_proton = rng.random(n_events) < config.proton_fraction
    out: dict[str, np.ndarray] = {}
    thrown = {"gamma": 0, "proton": 0}
    particle: Particle
    for particle, rows in (("gamma", np.flatnonzero(~is_proton)), ("proton", np.flatnonzero(is_proton))):
        if rows.size == 0:
            continue
        arrays, thrown[particle] = _simulate_triggered(rng, config, camera, particle, rows.size)
        for key, value in arrays.items():
            if key not in out:
                out[key] = np.zeros((n_events, *value.shape[1:]), dtype=value.dtype)
            out[key][rows] = value
    out["pointing_alt"] = np.full(n_events, config.pointing_alt_deg)
    out["pointing_az"] = np.full(n_events, config.pointing_az_deg)
    return out, thrown


def simulate_iact_arrays(config: IACTSimulationConfig, seed: int, n_events: int) -> dict[str, np.ndarray]:
    """Simulate ``n_events`` triggered events in memory (same events as the file ``simulate_iact`` writes).

    Returns one array per column of :data:`EVENT_COLUMNS`: truth (``true_*`` in TeV, deg, m, g/cm^2;
    ``true_shower_primary_id`` 0 gamma / 101 proton), pointing and true source position in the
    telescope frame [deg], and per pixel ``image`` (f4, p.e.), ``peak_time`` (f4, ns), ``image_mask``
    (cleaning), ``true_image`` (i4, noise-free p.e.) and ``signal_mask`` (true image >= threshold).
    """
    if n_events < 1:
        raise ValueError(f"n_events must be >= 1, got {n_events}")
    sizes = chunk_sizes(n_events, config.chunk_size)
    parts = [simulate_chunk(config, seed, index, size)[0] for index, size in enumerate(sizes)]
    arrays = {key: np.concatenate([part[key] for part in parts]) for key in parts[0]}
    arrays["event_id"] = np.arange(1, n_events + 1, dtype=np.int64)
    return {key: arrays[key] for key in EVENT_COLUMNS}
