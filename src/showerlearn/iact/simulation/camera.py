"""The simulated camera: LST pixel positions on the sky, the optics written to files, batched cleaning.

The simulator renders images in the telescope frame (``fov_lon``/``fov_lat`` in deg). Pixel
positions come from ctapipe's own CameraFrame -> TelescopeFrame transformation with the focal length
written into the file's optics table, so any ctapipe reader maps the pixels back to the same sky
offsets. The simulator has no comatic aberration, hence its effective focal length *is* the
equivalent one (28 m): every ctapipe ``focal_length_choice`` then gives the same sky coordinates.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import astropy.units as u
import numpy as np
import scipy.sparse
from ctapipe.coordinates import CameraFrame, TelescopeFrame
from ctapipe.instrument import CameraGeometry, OpticsDescription, ReflectorShape, SizeType

from showerlearn.iact.geometry import LST_EQUIVALENT_FOCAL_LENGTH, lst_camera

__all__ = ["SimulatedCamera", "batched_tailcuts", "lst_optics", "max_patch_sum", "simulated_camera"]

LST_MIRROR_AREA = 386.73 * u.m**2  # ctapipe-io-lst OPTICS (LST-1)


def lst_optics() -> OpticsDescription:
    """LST optics as ctapipe-io-lst describes LST-1, but with effective = equivalent focal length."""
    return OpticsDescription(
        name="LST",
        size_type=SizeType.LST,
        n_mirrors=1,
        n_mirror_tiles=198,
        reflector_shape=ReflectorShape.PARABOLIC,
        equivalent_focal_length=LST_EQUIVALENT_FOCAL_LENGTH,
        effective_focal_length=LST_EQUIVALENT_FOCAL_LENGTH,
        mirror_area=LST_MIRROR_AREA,
    )


@dataclass(frozen=True)
class SimulatedCamera:
    """Pixel arrays of the camera in the telescope frame, ready for vectorised rendering."""

    geometry: CameraGeometry  # in the CameraFrame (metres), as written to the file
    fov_lon: np.ndarray  # pixel centres [deg], shape (n_pixels,)
    fov_lat: np.ndarray
    pix_area: np.ndarray  # solid angle of each pixel [deg^2]
    neighbors: scipy.sparse.csr_matrix  # (n_pixels, n_pixels) 0/1 float32 adjacency
    patches: scipy.sparse.csr_matrix  # adjacency + identity: sums over a pixel and its neighbours
    radius_deg: float  # distance of the outermost pixel centre from the camera centre

    @property
    def n_pixels(self) -> int:
        return self.fov_lon.size


@functools.lru_cache(maxsize=1)
def simulated_camera() -> SimulatedCamera:
    """The LST camera (``showerlearn.iact.geometry.lst_camera``) seen through the 28 m LST optics."""
    geometry = lst_camera()
    geometry.frame = CameraFrame(focal_length=lst_optics().effective_focal_length)
    on_sky = geometry.transform_to(TelescopeFrame())
    fov_lon = on_sky.pix_x.to_value(u.deg)
    fov_lat = on_sky.pix_y.to_value(u.deg)
    neighbors = geometry.neighbor_matrix_sparse.astype(np.float32).tocsr()
    return SimulatedCamera(
        geometry=geometry,
        fov_lon=fov_lon,
        fov_lat=fov_lat,
        pix_area=on_sky.pix_area.to_value(u.deg**2),
        neighbors=neighbors,
        patches=(neighbors + scipy.sparse.identity(neighbors.shape[0], dtype=np.float32, format="csr")).tocsr(),
        radius_deg=float(np.hypot(fov_lon, fov_lat).max()),
    )


def batched_tailcuts(
    images: np.ndarray,
    neighbors: scipy.sparse.csr_matrix,
    picture_threshold: float,
    boundary_threshold: float,
    min_picture_neighbors: int,
) -> np.ndarray:
    """``ctapipe.image.tailcuts_clean`` (keep_isolated_pixels=False) for a batch of images at once.

    Same logic as ctapipe, with the neighbour sums done as one sparse product over the whole batch
    (``images``: (n_events, n_pixels)); returns the boolean masks.
    """

    def neighbor_count(mask: np.ndarray) -> np.ndarray:
        return (neighbors @ mask.T.astype(np.float32)).T

    above_picture = images >= picture_threshold
    if min_picture_neighbors > 0:
        in_picture = above_picture & (neighbor_count(above_picture) >= min_picture_neighbors)
    else:
        in_picture = above_picture
    above_boundary = images >= boundary_threshold
    with_picture_neighbors = neighbor_count(in_picture) > 0
    with_boundary_neighbors = neighbor_count(above_boundary) > 0
    return (above_boundary & with_picture_neighbors) | (in_picture & with_boundary_neighbors)


def max_patch_sum(images: np.ndarray, patches: scipy.sparse.csr_matrix) -> np.ndarray:
    """Brightest sum over a pixel and its neighbours (7 pixels in a hexagonal camera), per image.

    A simple stand-in for the LST trigger, which sums the analog signals of neighbouring pixels.
    """
    return (patches @ images.T.astype(np.float32)).max(axis=0)
