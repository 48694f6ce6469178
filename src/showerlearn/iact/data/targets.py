"""IACT targets (docs/architecture.md "IACT targets"): encoding, decoding, and how they turn with the camera.

Directions are offsets of the true source from the pointing in ctapipe's ``TelescopeFrame``
(``fov_lon``, ``fov_lat``, deg). In a camera with no frame rotation, camera ``x`` points along
``fov_lat`` and camera ``y`` along ``fov_lon`` (ctapipe ``camera_to_telescope``), so an orthogonal
2x2 map ``A`` acting on camera ``(x, y)`` acts on ``(fov_lat, fov_lon)`` the same way. Every function
here that takes ``A`` uses that camera order.

The impact point is what an image shows of it: a shower landing at ``r`` (relative to the telescope)
appears displaced from the source by ``(r . e_lat, r . e_lon) / h`` (``e_lon``, ``e_lat`` the sky basis
at the pointing, ``h`` the emission height). Its target is those two components, in metres, along camera
``x`` and ``y`` in the plane perpendicular to the pointing (:func:`impact_on_camera_axes`): the same for a
telescope at any azimuth, where ground axes (north, west) would turn with the azimuth, which no image
shows. ``A`` turns it as it turns the camera (:func:`turn_impact`); a prediction goes back to the ground
along the pointing direction, as ctapipe's ``project_to_ground`` does (:func:`impact_on_ground`). Networks
trained before this encoding (2026-12-06) predicted ground offsets turned by ``A``
(:data:`LEGACY_IMPACT_AXES`): :func:`decode_outputs` reads them so, and they hold at the azimuth trained at.
"""

from __future__ import annotations

from collections.abc import Mapping

import astropy.units as u
import numpy as np
from astropy.coordinates import AltAz, SkyCoord
from ctapipe.coordinates import TelescopeFrame

from showerlearn.iact.particles import GAMMA_CLASS, gammaness, particle_class

__all__ = [
    "IMPACT_AXES",
    "IMPACT_SCALE_M",
    "LEGACY_IMPACT_AXES",
    "camera_matrices",
    "COLUMN_UNITS",
    "META_COLUMNS",
    "decode_direction",
    "decode_outputs",
    "encode_direction",
    "encode_targets",
    "transform_direction",
    "impact_on_camera_axes",
    "impact_on_ground",
    "turn_impact",
]

IMPACT_SCALE_M = 100.0
#: the impact head's encoding (a run's fitted state ``impact_axes``, a Hillas + RF's ``impact_axes_``): on camera
#: axes in the plane perpendicular to the pointing; :data:`LEGACY_IMPACT_AXES`: ground offsets (runs before 2026-12-06)
IMPACT_AXES = "camera"
LEGACY_IMPACT_AXES = "ground"
# id, truth and pointing columns copied into the predictions (docs/architecture.md)
META_COLUMNS = (
    "obs_id",
    "event_id",
    "tel_id",
    "true_shower_primary_id",
    "true_energy",
    "true_alt",
    "true_az",
    "true_core_x",
    "true_core_y",
    "pointing_alt",
    "pointing_az",
)
#: unit of every prediction column (docs/architecture.md), astropy strings ("" dimensionless), written with
#: the predictions; the intensity is a count of photoelectrons, dimensionless as in ctapipe
COLUMN_UNITS = {
    "obs_id": "", "event_id": "", "tel_id": "", "true_shower_primary_id": "",
    "true_energy": "TeV", "true_alt": "deg", "true_az": "deg", "true_core_x": "m", "true_core_y": "m",
    "pointing_alt": "deg", "pointing_az": "deg",
    "gammaness": "", "reco_energy": "TeV", "reco_alt": "deg", "reco_az": "deg", "reco_core_x": "m", "reco_core_y": "m",
    "hillas_valid": "", "hillas_intensity": "",
}


def camera_matrices(rotation_deg: np.ndarray, reflected: np.ndarray) -> np.ndarray:
    """Per-event (n, 2, 2) maps ``R(rotation) @ diag(1, -1 if reflected else 1)`` on camera (x, y)."""
    theta = np.deg2rad(np.asarray(rotation_deg, dtype=np.float64))
    c, s = np.cos(theta), np.sin(theta)
    flip = np.where(np.asarray(reflected, dtype=bool), -1.0, 1.0)
    return np.stack([np.stack([c, -s * flip], -1), np.stack([s, c * flip], -1)], -2)


def _altitude(alt_deg: np.ndarray) -> u.Quantity:
    # zenith pointings stored as float32 radians read back as 90.0000025 deg, which astropy rejects
    return np.clip(np.asarray(alt_deg, dtype=np.float64), -90.0, 90.0) * u.deg


def encode_direction(
    true_alt: np.ndarray, true_az: np.ndarray, pointing_alt: np.ndarray, pointing_az: np.ndarray
) -> np.ndarray:
    """(n, 2) ``(fov_lon, fov_lat)`` [deg] of the true source in the telescope frame."""
    pointing = AltAz(alt=_altitude(pointing_alt), az=np.asarray(pointing_az) * u.deg)
    source = SkyCoord(alt=_altitude(true_alt), az=np.asarray(true_az) * u.deg, frame=AltAz())
    offset = source.transform_to(TelescopeFrame(telescope_pointing=pointing))
    return np.stack([offset.fov_lon.to_value(u.deg), offset.fov_lat.to_value(u.deg)], axis=1)


def decode_direction(
    fov: np.ndarray, pointing_alt: np.ndarray, pointing_az: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``(alt, az)`` [deg] of telescope-frame offsets ``fov`` (n, 2) = (fov_lon, fov_lat) [deg]."""
    pointing = AltAz(alt=_altitude(pointing_alt), az=np.asarray(pointing_az) * u.deg)
    coord = SkyCoord(
        fov_lon=fov[:, 0] * u.deg, fov_lat=fov[:, 1] * u.deg, frame=TelescopeFrame(telescope_pointing=pointing)
    ).transform_to(AltAz())
    return coord.alt.to_value(u.deg), coord.az.wrap_at(360 * u.deg).to_value(u.deg)


def transform_direction(matrices: np.ndarray, fov: np.ndarray) -> np.ndarray:
    """Turn (n, 2) ``(fov_lon, fov_lat)`` [deg] by camera maps (n, 2, 2) or (2, 2), exactly on the sphere.

    The offset is a unit vector ``(x, y, z) = (cos lat cos lon, cos lat sin lon, sin lat)`` with the
    pointing along ``x``; the map acts on ``(z, y)`` (camera x, camera y) and leaves ``x`` unchanged.
    """
    lon, lat = np.deg2rad(fov[:, 0]), np.deg2rad(fov[:, 1])
    x = np.cos(lat) * np.cos(lon)
    camera = np.stack([np.sin(lat), np.cos(lat) * np.sin(lon)], axis=-1)
    turned = np.einsum("...ij,...j->...i", matrices, camera)
    new_lat = np.arcsin(np.clip(turned[:, 0], -1.0, 1.0))
    new_lon = np.arctan2(turned[:, 1], x)
    return np.rad2deg(np.stack([new_lon, new_lat], axis=1))


def _pointing_basis(pointing_alt: np.ndarray, pointing_az: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(e_lat, e_lon, direction)`` at the pointings [deg], each (n, 3) in (north, east, up) coordinates: the sky
    basis along camera x and y, and the pointing direction."""
    alt, az = np.deg2rad(pointing_alt), np.deg2rad(pointing_az)
    e_lon = np.stack([-np.sin(az), np.cos(az), np.zeros_like(az)], axis=-1)
    e_lat = np.stack([-np.sin(alt) * np.cos(az), -np.sin(alt) * np.sin(az), np.cos(alt)], axis=-1)
    direction = np.stack([np.cos(alt) * np.cos(az), np.cos(alt) * np.sin(az), np.sin(alt)], axis=-1)
    return e_lat, e_lon, direction


def impact_on_camera_axes(offset: np.ndarray, pointing_alt: np.ndarray, pointing_az: np.ndarray) -> np.ndarray:
    """(n, 2) impact points relative to their telescope, ``core - telescope`` [m] on the ground (ctapipe
    GroundFrame: x north, y west), as their components [m] along camera x and y (``fov_lat``, ``fov_lon``) in
    the plane perpendicular to the pointing: what the image shows of them, at any azimuth."""
    e_lat, e_lon, _ = _pointing_basis(pointing_alt, pointing_az)
    r = np.stack([offset[:, 0], -offset[:, 1], np.zeros(len(offset))], axis=-1)
    return np.stack([np.sum(r * e_lat, -1), np.sum(r * e_lon, -1)], axis=-1)


def impact_on_ground(components: np.ndarray, pointing_alt: np.ndarray, pointing_az: np.ndarray) -> np.ndarray:
    """The inverse of :func:`impact_on_camera_axes`: the point of the plane perpendicular to the pointing slid
    along the pointing direction to the ground, as ``core - telescope`` [m] in GroundFrame axes."""
    e_lat, e_lon, direction = _pointing_basis(pointing_alt, pointing_az)
    tilted = components[:, 0:1] * e_lat + components[:, 1:2] * e_lon
    ground = tilted - (tilted[:, 2] / direction[:, 2])[:, None] * direction
    return np.stack([ground[:, 0], -ground[:, 1]], axis=1)


def turn_impact(matrices: np.ndarray, components: np.ndarray) -> np.ndarray:
    """(n, 2) impacts on camera axes turned by camera maps (n, 2, 2) or (2, 2), as the image turns."""
    return np.einsum("...ij,...j->...i", matrices, components)


def encode_targets(columns: Mapping[str, np.ndarray]) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Encoded targets and loss masks (heads ``particle``, ``energy``, ``direction``, ``impact``) of
    per-event ``columns`` (DL1File columns). Regression targets are masked to gammas with finite truth;
    masked entries are 0 so that no NaN reaches a loss."""
    primary = np.asarray(columns["true_shower_primary_id"])
    has_truth = (primary >= 0) & np.isfinite(columns["true_energy"])
    particle = particle_class(primary)
    gamma = has_truth & (particle == GAMMA_CLASS)
    matrices = camera_matrices(columns["camera_rotation"], columns["camera_reflected"])
    with np.errstate(invalid="ignore", divide="ignore"):
        energy = np.log10(columns["true_energy"])
    direction = transform_direction(
        matrices, encode_direction(columns["true_alt"], columns["true_az"], columns["pointing_alt"], columns["pointing_az"])
    )
    # relative to the telescope: an image shows where the core is from its telescope, not where the telescope is
    offset = np.stack([columns["true_core_x"] - columns["tel_pos_x"], columns["true_core_y"] - columns["tel_pos_y"]], axis=1)
    impact = turn_impact(matrices, impact_on_camera_axes(offset, columns["pointing_alt"], columns["pointing_az"])) / IMPACT_SCALE_M
    masks = {
        "particle": has_truth,
        "energy": gamma & np.isfinite(energy),
        "direction": gamma & np.all(np.isfinite(direction), axis=1),
        "impact": gamma & np.all(np.isfinite(impact), axis=1),
    }
    targets = {
        "particle": np.where(has_truth, particle, 0).astype(np.int64),
        "energy": np.where(masks["energy"], energy, 0.0).astype(np.float32),
        "direction": np.where(masks["direction"][:, None], direction, 0.0).astype(np.float32),
        "impact": np.where(masks["impact"][:, None], impact, 0.0).astype(np.float32),
    }
    return targets, masks


#: extra per-event outputs copied unchanged into the prediction columns (Hillas + RF diagnostics), and their types
PASSTHROUGH_OUTPUTS: dict[str, type] = {"hillas_valid": np.bool_, "hillas_intensity": np.float32}


def decode_outputs(outputs: Mapping[str, np.ndarray], meta: Mapping[str, np.ndarray],
                   impact_axes: str = IMPACT_AXES) -> dict[str, np.ndarray]:
    """IACT prediction columns (docs/architecture.md) from encoded outputs and the carried ``meta``.

    Heads a model lacks give NaN columns. Directions and impacts are turned back from the reference
    camera's orientation to the file's (``camera_rotation``, ``camera_reflected`` in ``meta``).
    ``impact_axes``: the encoding of the impact output, :data:`IMPACT_AXES` or :data:`LEGACY_IMPACT_AXES`.
    """
    n = len(meta["event_id"])
    columns: dict[str, np.ndarray] = {name: np.asarray(meta[name]) for name in META_COLUMNS if name in meta}
    if "hillas_intensity" in meta:
        columns["hillas_intensity"] = np.asarray(meta["hillas_intensity"])
    for name in PASSTHROUGH_OUTPUTS:  # per-event diagnostics a predictor computes itself win over meta
        if name in outputs:
            columns[name] = np.asarray(outputs[name])
    nan = np.full(n, np.nan)
    columns["gammaness"] = nan.copy()
    if "particle" in outputs:
        columns["gammaness"] = gammaness(outputs["particle"])
    columns["reco_energy"] = 10.0 ** np.asarray(outputs["energy"], dtype=np.float64).reshape(n) if "energy" in outputs else nan.copy()
    inverse = np.swapaxes(camera_matrices(meta["camera_rotation"], meta["camera_reflected"]), -1, -2)
    pointing_alt, pointing_az = np.asarray(meta["pointing_alt"]), np.asarray(meta["pointing_az"])
    if "direction" in outputs:
        fov = transform_direction(inverse, np.asarray(outputs["direction"], dtype=np.float64).reshape(n, 2))
        columns["reco_alt"], columns["reco_az"] = decode_direction(fov, pointing_alt, pointing_az)
    else:
        columns["reco_alt"], columns["reco_az"] = nan.copy(), nan.copy()
    if "impact" in outputs:
        telescope = np.stack([np.asarray(meta["tel_pos_x"]), np.asarray(meta["tel_pos_y"])], axis=1)
        components = np.asarray(outputs["impact"], dtype=np.float64).reshape(n, 2) * IMPACT_SCALE_M
        if impact_axes == LEGACY_IMPACT_AXES:  # a ground offset of the turned components: back to the components
            components = impact_on_camera_axes(components, pointing_alt, pointing_az)
        core = impact_on_ground(turn_impact(inverse, components), pointing_alt, pointing_az) + telescope
        columns["reco_core_x"], columns["reco_core_y"] = core[:, 0], core[:, 1]
    else:
        columns["reco_core_x"], columns["reco_core_y"] = nan.copy(), nan.copy()
    return columns
