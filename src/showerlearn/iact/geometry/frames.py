"""Camera frame (metres on the focal plane) <-> ctapipe's TelescopeFrame (deg from the pointing).

The direction targets of the IACT tasks are TelescopeFrame offsets (``fov_lon``, ``fov_lat``); the
Hillas + RF baseline turns its reconstructed source position into them, and lattice models that vote
for the source position (``direction_head="vote"``) need the pixels in the same frame.
"""

from __future__ import annotations

import astropy.units as u
import numpy as np
from astropy.coordinates import SkyCoord
from ctapipe.coordinates import CameraFrame, TelescopeFrame
from ctapipe.instrument import CameraGeometry

from showerlearn.iact.geometry.lattice import Lattice

__all__ = ["CameraGeometry", "FocalLength", "camera_to_fov", "fov_to_camera", "lattice_to_fov"]

#: type of a focal length: an astropy length (a bare number is read as metres), exported so that models
#: can annotate it without importing astropy
FocalLength = u.Quantity


def camera_to_fov(x: np.ndarray, y: np.ndarray, focal_length: u.Quantity) -> np.ndarray:
    """Camera-frame positions (m) -> ``(n, 2)`` (fov_lon, fov_lat) in deg of ctapipe's TelescopeFrame."""
    coords = SkyCoord(x=np.asarray(x) * u.m, y=np.asarray(y) * u.m, frame=CameraFrame(focal_length=focal_length))
    telescope = coords.transform_to(TelescopeFrame())
    return np.column_stack([telescope.fov_lon.to_value(u.deg), telescope.fov_lat.to_value(u.deg)])


def fov_to_camera(fov: np.ndarray, focal_length: u.Quantity) -> tuple[np.ndarray, np.ndarray]:
    """Inverse of :func:`camera_to_fov`: ``(n, 2)`` (fov_lon, fov_lat) deg -> camera x, y in m."""
    fov = np.asarray(fov, dtype=np.float64)
    coords = SkyCoord(fov_lon=fov[:, 0] * u.deg, fov_lat=fov[:, 1] * u.deg, frame=TelescopeFrame())
    camera = coords.transform_to(CameraFrame(focal_length=focal_length))
    return camera.x.to_value(u.m), camera.y.to_value(u.m)


def lattice_to_fov(lattice: Lattice, camera: CameraGeometry, focal_length: u.Quantity) -> np.ndarray:
    """``(n, 2)`` (fov_lon, fov_lat) in deg of the pixels of ``lattice``, whose positions are in the unit
    of ``camera`` (a lattice built from it, or a coarser level of one)."""
    unit = camera.pix_x.unit
    return camera_to_fov((lattice.x * unit).to_value(u.m), (lattice.y * unit).to_value(u.m), u.Quantity(focal_length, u.m))
