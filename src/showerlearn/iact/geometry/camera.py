"""Camera geometries: the shipped LST camera, readers of ctapipe/lstchain DL1 HDF5 and FITS tables,
and matching of pixels between files by position (other pixel order, rotated camera).

The HDF5 geometry tables are read with PyTables (which decodes the blosc compression ctapipe writes)
rather than ctapipe's readers because ctapipe 0.28 cannot read the table version 2.1 written by
ctapipe >= 0.29; the columns and metadata (``CAM_ID``,
``PIX_TYPE``, ``PIX_ROT``, ``CAM_ROT``, units in ``CTAFIELD_<i>_UNIT``) are the same in 2.0 and 2.1.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import astropy.units as u
import numpy as np
import tables
from astropy.table import Table
from ctapipe.instrument import CameraGeometry, PixelShape
from scipy.spatial import cKDTree

from showerlearn.iact.geometry.lattice import Lattice, LatticeError

__all__ = [
    "LST_EFFECTIVE_FOCAL_LENGTH",
    "LST_EQUIVALENT_FOCAL_LENGTH",
    "CameraMismatchError",
    "GeometryFileError",
    "lst_camera",
    "match_pixels",
    "read_camera_geometry",
]

LST_EQUIVALENT_FOCAL_LENGTH = 28.0 * u.m
LST_EFFECTIVE_FOCAL_LENGTH = 29.30565 * u.m

# Generated once from ctapipe-io-lst 0.31.1 (resources/LSTCam.camgeom.fits.gz, BSD-3), with
# ``ctapipe_io_lst.load_camera_geometry().to_table().write(..., format="ascii.ecsv")``: text, so the
# package needs neither ctapipe-io-lst nor a download (CameraGeometry.from_name) at run time.
_LST_RESOURCE = "resources/LSTCam.camgeom.ecsv"
_INSTRUMENT_CAMERA = "/configuration/instrument/telescope/camera"
_LAYOUT = "/configuration/instrument/subarray/layout"


class GeometryFileError(ValueError):
    """A file that holds no (readable, unambiguous) camera geometry."""


class CameraMismatchError(ValueError):
    """Two geometries that are not the same camera up to pixel order and rotation."""


def lst_camera() -> CameraGeometry:
    """The real LST camera (LSTCam, 1855 hexagonal pixels) shipped with showerlearn."""
    with resources.as_file(resources.files("showerlearn.iact.geometry") / _LST_RESOURCE) as path:
        return _geometry_from_table(Table.read(path, format="ascii.ecsv"), str(path))


def read_camera_geometry(path: str | Path, tel_id: int | None = None) -> CameraGeometry:
    """Read a camera geometry from a ctapipe (0.28-0.32) or lstchain DL1 HDF5 file or a ``*.camgeom.fits(.gz)``.

    Args:
        path: the file.
        tel_id: telescope whose camera to read (HDF5 files with a subarray layout). ``None``: the file
            must hold a single camera type.

    Raises:
        FileNotFoundError: no such file.
        GeometryFileError: not a supported format, no geometry table, or ``tel_id`` missing/ambiguous.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"camera geometry file not found: {path}")
    name = path.name.lower()
    if name.endswith((".fits", ".fits.gz", ".fit", ".fit.gz")):
        try:
            table = Table.read(path, hdu=1)
        except Exception as error:  # astropy raises many types for corrupt FITS
            raise GeometryFileError(f"{path}: cannot read a FITS camera geometry table ({error})") from error
        return _geometry_from_table(table, str(path))
    if tables.is_hdf5_file(str(path)):
        with tables.open_file(str(path), "r") as h5:
            keys = _geometry_keys(h5, tel_id, path)
            geometries = [_geometry_from_table(_h5_table(h5.get_node(key), path), f"{path}:{key}") for key in keys]
        # telescopes of one type may carry separate but identical camera tables (prod6 files)
        first = geometries[0]
        for key, other in zip(keys[1:], geometries[1:], strict=True):
            if other.n_pixels != first.n_pixels or not (
                np.allclose(other.pix_x, first.pix_x) and np.allclose(other.pix_y, first.pix_y)
            ):
                raise GeometryFileError(f"{path}: telescopes have different cameras ({keys[0]}, {key}); pass tel_id")
        return first
    raise GeometryFileError(f"{path}: not a camera geometry file (expected DL1 HDF5 or *.camgeom.fits[.gz])")


def _geometry_keys(h5: tables.File, tel_id: int | None, path: Path) -> list[str]:
    """Keys of the geometry table of ``tel_id`` (or of all telescopes' tables when it is None)."""
    if _INSTRUMENT_CAMERA in h5:
        names = sorted(k for k in h5.get_node(_INSTRUMENT_CAMERA)._v_children if k.startswith("geometry_"))
        if names:
            if _LAYOUT in h5:
                layout = h5.get_node(_LAYOUT).read()
                camera_of = dict(zip(layout["tel_id"].tolist(), layout["camera_index"].tolist(), strict=True))
                if tel_id is not None:
                    if tel_id not in camera_of:
                        raise GeometryFileError(f"{path}: no telescope {tel_id} in {_LAYOUT} (have {sorted(camera_of)})")
                    return [f"{_INSTRUMENT_CAMERA}/geometry_{camera_of[tel_id]}"]
                return [f"{_INSTRUMENT_CAMERA}/geometry_{index}" for index in sorted(set(camera_of.values()))]
            if tel_id is None:
                return [f"{_INSTRUMENT_CAMERA}/{name}" for name in names]
    # older lstchain/ctapipe layouts (e.g. /instrument/telescope/camera/LSTCam): any geometry table
    found = [
        node._v_pathname
        for node in h5.walk_nodes("/", classname="Table")
        if {"pix_x", "pix_y"} <= set(node.colnames)
    ]
    if len(found) == 1:
        return found
    if not found:
        raise GeometryFileError(f"{path}: no camera geometry table (a table with pix_x, pix_y columns) in this HDF5 file")
    raise GeometryFileError(f"{path}: several camera geometry tables {found}; pass tel_id")


def _h5_table(node: tables.Table, path: Path) -> Table:
    """A PyTables HDF5 table as an astropy Table with units and metadata (any table version)."""
    attrs = {k: _decode(node.attrs[k]) for k in node.attrs._v_attrnamesuser}
    data = node.read()
    table = Table()
    for i, column in enumerate(data.dtype.names):
        unit = attrs.get(f"CTAFIELD_{i}_UNIT")
        table[column] = data[column] * u.Unit(unit) if unit else data[column]
    if "pix_x" in table.colnames and table["pix_x"].unit is None:
        # astropy-written HDF5 tables keep units in their own serialized metadata
        table = Table.read(path, path=node._v_pathname)
    table.meta.update({k: v for k, v in attrs.items() if k.isupper() and not k.startswith(("FIELD_", "CTAFIELD_"))})
    return table


def _decode(value: Any) -> Any:
    if isinstance(value, bytes | np.bytes_):
        return value.decode()
    if isinstance(value, np.generic):
        return value.item()
    return value


def _geometry_from_table(table: Table, source: str) -> CameraGeometry:
    """Build a CameraGeometry from a camera table of any version (columns pix_id, pix_x, pix_y, pix_area)."""
    missing = {"pix_x", "pix_y"} - set(table.colnames)
    if missing:
        raise GeometryFileError(f"{source}: camera table lacks columns {sorted(missing)} (have {table.colnames})")
    meta: Mapping[str, Any] = table.meta
    pix_x, pix_y = u.Quantity(table["pix_x"]), u.Quantity(table["pix_y"])
    if pix_x.unit == u.dimensionless_unscaled:
        raise GeometryFileError(f"{source}: pix_x/pix_y have no length unit")
    n = len(table)
    pix_id = np.asarray(table["pix_id"]) if "pix_id" in table.colnames else np.arange(n)
    pix_type = str(meta.get("PIX_TYPE", ""))
    try:
        shape = PixelShape.from_string(pix_type)
    except (ValueError, KeyError):
        shape = PixelShape.HEXAGON if Lattice.from_positions(pix_x.value, pix_y.value).kind == "hex" else PixelShape.SQUARE
    if "pix_area" in table.colnames:
        pix_area = u.Quantity(table["pix_area"])
        if pix_area.unit == u.dimensionless_unscaled:
            pix_area = pix_area.value * pix_x.unit**2
    else:
        pix_area = None
    return CameraGeometry(
        name=str(meta.get("CAM_ID", "unknown")),
        pix_id=pix_id,
        pix_x=pix_x,
        pix_y=pix_y,
        pix_area=pix_area,
        pix_type=shape,
        pix_rotation=float(meta.get("PIX_ROT", 0.0)) * u.deg,
        cam_rotation=float(meta.get("CAM_ROT", 0.0)) * u.deg,
    )


def match_pixels(reference: CameraGeometry, other: CameraGeometry, tolerance: float = 0.1) -> np.ndarray:
    """Permutation mapping images of ``other`` onto the pixels of ``reference``.

    ``image_on_reference = image_in_other[..., perm]``. The cameras may differ by pixel order and by a
    rotation: multiples of 90 deg are tried first, then the rotations that align the two lattices.
    A pixel matches when it is within ``tolerance`` pixel spacings of its counterpart.

    Raises:
        CameraMismatchError: different pixel counts or no rotation brings every pixel onto one.
    """
    if reference.n_pixels != other.n_pixels:
        raise CameraMismatchError(
            f"cameras differ: {reference.name} has {reference.n_pixels} pixels, {other.name} has {other.n_pixels}"
        )
    ref_xy = np.column_stack([reference.pix_x.to_value(u.m), reference.pix_y.to_value(u.m)])
    other_xy = np.column_stack([other.pix_x.to_value(u.m), other.pix_y.to_value(u.m)])
    try:
        ref_lattice, other_lattice = Lattice.from_positions(*ref_xy.T), Lattice.from_positions(*other_xy.T)
    except LatticeError as error:
        raise CameraMismatchError(f"cannot match pixels: {error}") from error
    spacing = ref_lattice.spacing
    fold = 6 if ref_lattice.kind == "hex" else 4
    lattice_turn = other_lattice.rotation - ref_lattice.rotation
    candidates = [90.0 * k for k in range(4)] + [lattice_turn + 360.0 / fold * k for k in range(fold)]
    tree = cKDTree(ref_xy)
    best = math.inf
    for angle in candidates:
        c, s = math.cos(math.radians(-angle)), math.sin(math.radians(-angle))
        turned = other_xy @ np.array([[c, s], [-s, c]])
        distance, ref_index = tree.query(turned)
        best = min(best, float(distance.max()) / spacing)
        if distance.max() < tolerance * spacing and len(np.unique(ref_index)) == len(ref_index):
            perm = np.empty(len(ref_index), dtype=np.int64)
            perm[ref_index] = np.arange(len(ref_index))
            return perm
    raise CameraMismatchError(
        f"cameras {reference.name} and {other.name} do not match: after the best rotation a pixel is still "
        f"{best:.2f} pixel spacings from any reference pixel"
    )
