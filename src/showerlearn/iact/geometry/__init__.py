"""Pixel lattices of Cherenkov cameras (hexagonal, square-with-gaps, any rotation): camera loading
from ctapipe/lstchain files and FITS, neighbour tables, the pooling hierarchy and image mappers.

May import: showerlearn.io, numpy, scipy, astropy, ctapipe, tables.
"""

from showerlearn.iact.geometry import mappers
from showerlearn.iact.geometry.camera import (
    LST_EFFECTIVE_FOCAL_LENGTH,
    LST_EQUIVALENT_FOCAL_LENGTH,
    CameraMismatchError,
    GeometryFileError,
    lst_camera,
    match_pixels,
    read_camera_geometry,
)
from showerlearn.iact.geometry.frames import CameraGeometry, FocalLength, camera_to_fov, fov_to_camera, lattice_to_fov
from showerlearn.iact.geometry.lattice import Downsampling, Lattice, LatticeError, upsample_to_pixels

__all__ = [
    "CameraGeometry",
    "FocalLength",
    "LST_EFFECTIVE_FOCAL_LENGTH",
    "LST_EQUIVALENT_FOCAL_LENGTH",
    "CameraMismatchError",
    "Downsampling",
    "GeometryFileError",
    "Lattice",
    "LatticeError",
    "camera_to_fov",
    "fov_to_camera",
    "lattice_to_fov",
    "lst_camera",
    "mappers",
    "match_pixels",
    "read_camera_geometry",
    "upsample_to_pixels",
]
