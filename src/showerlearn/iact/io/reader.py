"""Lazy readers of ctapipe (data model v7.x) and lstchain DL1 HDF5 files of any camera, one telescope type at a time.

Both formats are read with PyTables directly rather than with ctapipe's ``TableLoader``: ctapipe 0.28
(the newest on Python 3.11) cannot open files written by ctapipe 0.32, and the shared files use the
Blosc filter, which h5py cannot decode without an extra plugin package. Opening a file reads only the
small per-event columns (ids, truth, pointing, image parameters); images are read on demand, so a
file is never loaded whole.

A file may hold several telescope types; the images of one are read (``telescope_type``, the only one
by default). Every image is mapped by pixel position onto a *reference camera*: the one given (the
camera a DataModule's model was built for), or by default the file's own camera of that type, except
that LST cameras default to ``showerlearn.iact.geometry.lst_camera()`` so that LST images of every
production and of the built-in simulator share one pixel order and orientation. When the file's
camera is turned relative to the reference (the prod2 ``gamma_test`` LST camera is rotated by 90 deg),
the orthogonal transform between the two is kept per event (``camera_rotation``,
``camera_reflected``) so that targets can be expressed in the reference camera's orientation and
predictions turned back.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import astropy.units as u
import numpy as np
import tables

from showerlearn.iact.io.errors import IACTDataError, UnknownCameraError
from showerlearn.iact.io.kinds import HDF5, SIMTEL, file_kind
from showerlearn.iact.io.telescopes import TelescopeType, choose_telescope_type, group_telescopes
from showerlearn.iact.geometry import LST_EFFECTIVE_FOCAL_LENGTH, CameraMismatchError, lst_camera, match_pixels, read_camera_geometry

__all__ = [
    "DL1File",
    "TRUTH_COLUMNS",
    "default_reference",
    "is_lst_camera",
    "map_camera",
    "not_dl1_message",
    "open_dl1",
    "orthogonal_transform",
]

log = logging.getLogger(__name__)

TRUTH_COLUMNS = (
    "true_energy",
    "true_alt",
    "true_az",
    "true_core_x",
    "true_core_y",
    "true_shower_primary_id",
)
SUPPORTED_DATA_MODEL_MAJOR = 7

_CTAPIPE_IMAGES = "/dl1/event/telescope/images"
_CTAPIPE_PARAMETERS = "/dl1/event/telescope/parameters"
_CTAPIPE_SHOWER = "/simulation/event/subarray/shower"
_CTAPIPE_TRUE_IMAGES = "/simulation/event/telescope/images"
_CTAPIPE_POINTING = "/configuration/telescope/pointing"
_LSTCHAIN_IMAGES = "/dl1/event/telescope/image/LST_LSTCam"
_LSTCHAIN_PARAMETERS = "/dl1/event/telescope/parameters/LST_LSTCam"
_LAYOUT = "/configuration/instrument/subarray/layout"
_OPTICS = "/configuration/instrument/telescope/optics"
_CAMERAS = "/configuration/instrument/telescope/camera"
# dtype kinds of the columns read as numbers: integers and floats. Text would be parsed by astype(float)
# when it spells a number ('1.23') and fail deep inside with no column named when not ('n/a'); booleans
# would pass as 0/1 (a bool image becomes 0/1 p.e. and fails the intensity cut); objects are anything.
_NUMBERS = "iuf"
_FLAGS = "biuf"  # image_mask: booleans as ctapipe writes it, or 0/1 numbers
_EXPECTED = {_NUMBERS: "numbers", _FLAGS: "booleans or numbers"}
_KIND_NAMES = {"b": "booleans", "S": "text", "U": "text", "O": "objects", "V": "raw or compound records",
               "c": "complex numbers", "M": "dates", "m": "time spans"}
# the per-pixel columns, mapped onto the reference camera by a pixel permutation, and what they must hold
_PIXEL_COLUMNS = {"image": _NUMBERS, "peak_time": _NUMBERS, "image_mask": _FLAGS, "true_image": _NUMBERS}

# (output column, ctapipe column, lstchain column, unit); units are converted from the file's own
# CTAFIELD_i_UNIT attributes, and assumed to be these when a writer left them out.
_TRUTH_FIELDS = (
    ("true_energy", "true_energy", "mc_energy", "TeV"),
    ("true_alt", "true_alt", "mc_alt", "deg"),
    ("true_az", "true_az", "mc_az", "deg"),
    ("true_core_x", "true_core_x", "mc_core_x", "m"),
    ("true_core_y", "true_core_y", "mc_core_y", "m"),
)
#: the lstchain columns of the truth, in the order of :data:`_TRUTH_FIELDS`
_LSTCHAIN_TRUTH = tuple(column for _, _, column, _ in _TRUTH_FIELDS)
#: their units, as an error names them
_TRUTH_UNITS = f"({', '.join(unit for *_, unit in _TRUTH_FIELDS)})"
_PARAMETER_FIELDS = (
    ("intensity", "hillas_intensity", "intensity"),
    ("leakage", "leakage_intensity_width_2", "leakage_intensity_width_2"),
    ("n_islands", "morphology_n_islands", "n_islands"),
)


@dataclass
class _TelescopeTable:
    """One table of images (ctapipe: one telescope; lstchain: all LST telescopes)."""

    images: str
    true_images: str | None
    perm: np.ndarray
    true_rows: np.ndarray | None = None


def open_dl1(path: str | os.PathLike[str], telescope_type: str | None = None, reference: Any = None) -> DL1File:
    """Open a ctapipe or lstchain DL1 file (format detected from its layout); see :class:`DL1File`."""
    return DL1File(path, telescope_type=telescope_type, reference=reference)


def is_lst_camera(camera: Any) -> bool:
    """Whether a camera geometry is an LST camera (``LSTCam``, ``LSTcam``, ``RealLSTCam``...) by name."""
    return "lstcam" in str(getattr(camera, "name", "")).lower()


def default_reference(camera: Any) -> Any:
    """The reference camera for images of ``camera``: the shipped LST camera for LST cameras (one pixel
    order and orientation for every LST production and the simulator), else ``camera`` itself."""
    return lst_camera() if is_lst_camera(camera) else camera


def _camera_key(camera: Any) -> str:
    """A camera's name for comparisons: any case, without the ``Real`` of ``RealLSTCam``; ``""`` when unnamed."""
    name = str(getattr(camera, "name", "")).lower().removeprefix("real")
    return "" if name in ("", "unknown") else name


def map_camera(reference: Any, camera: Any, what: str) -> tuple[np.ndarray, float, bool]:
    """Pixel permutation from ``camera`` onto ``reference`` and the camera's orientation relative to it.

    Returns ``(perm, rotation_deg, reflected)``: ``image_on_reference = image[..., perm]``, and the
    reference positions are ``R(rotation) @ diag(1, -1 if reflected else 1)`` times the file's.

    Raises:
        UnknownCameraError: not the reference camera (``what`` names the file and telescope).
    """
    name = getattr(camera, "name", "?")
    # NectarCam has the same 1855-pixel lattice as LSTCam: positions alone cannot tell them apart
    if _camera_key(camera) and _camera_key(reference) and _camera_key(camera) != _camera_key(reference):
        raise UnknownCameraError(f"{what} has camera {name!r}; these data are read on camera {reference.name!r}")
    if camera.n_pixels != reference.n_pixels:
        raise UnknownCameraError(
            f"{what} has camera {name!r} with {camera.n_pixels} pixels; these data are read on camera "
            f"{reference.name!r} ({reference.n_pixels} pixels)"
        )
    try:
        perm = np.asarray(match_pixels(reference, camera), dtype=np.int64)
    except CameraMismatchError as error:
        raise UnknownCameraError(f"{what}: camera {name!r} does not match the {reference.name} pixel lattice: {error}") from error
    ref_xy = np.column_stack([reference.pix_x.to_value(u.m), reference.pix_y.to_value(u.m)])
    file_xy = np.column_stack([camera.pix_x.to_value(u.m), camera.pix_y.to_value(u.m)])[perm]
    transform = orthogonal_transform(ref_xy, file_xy)
    # with a reflection A = R(theta) @ diag(1, -1): the first column still gives theta
    rotation = float(np.rad2deg(np.arctan2(transform[1, 0], transform[0, 0])))
    return perm, rotation, bool(np.linalg.det(transform) < 0)


def orthogonal_transform(reference_xy: np.ndarray, other_xy: np.ndarray) -> np.ndarray:
    """The orthogonal 2x2 matrix ``A`` minimising ``|reference - A @ other|`` (Procrustes problem).

    ``reference_xy`` and ``other_xy`` are (n, 2) positions of the same pixels in two cameras; ``A``
    is a rotation, or a rotation times a reflection when the two cameras have opposite handedness.
    """
    u_, _, vt = np.linalg.svd(reference_xy.T @ other_xy)
    return u_ @ vt


def not_dl1_message(kind: str) -> str:
    """What to tell about a file of ``kind`` (:func:`~showerlearn.iact.io.kinds.file_kind`) given as DL1."""
    if kind == SIMTEL:
        return (
            "a sim_telarray file, not DL1 HDF5: give it to the iact DataModule ('files'), which calibrates "
            "it with ctapipe, or read it with showerlearn.iact.io.simtel.read_simtel"
        )
    return f"{kind}, not a DL1 HDF5 (ctapipe or lstchain) nor a sim_telarray file"


class DL1File:
    """A DL1 file read lazily; one event is one telescope image.

    Attributes:
        path: the file.
        format: ``"ctapipe"`` or ``"lstchain"``.
        telescope_type: the type whose images are read (ctapipe's name, e.g. ``"SST_ASTRI_CHEC"``).
        n_events: number of images (all telescopes of that type).
        camera: the file's own camera geometry (of its first telescope); ``cameras`` per tel_id.
        reference: the camera the images are mapped onto (``read`` gives its pixel order).
        focal_length: effective focal length of the first telescope (equivalent when absent).
        has_truth: the file holds simulation truth for its events.
        truth_problems: what is wrong with that truth (true energies not finite and positive), one line per
            telescope at fault: training and evaluation refuse such a file, prediction warns.
        has_true_image: the file holds true photo-electron images.
        other_images: images of the file's other telescope types, not read, per type name (those with any).
        columns: per-event scalar columns (ids, truth, pointing, telescope position, camera
            orientation and, when the file has a parameters table, ``intensity``, ``leakage``,
            ``n_islands``), all loaded at open time because they are small.
    """

    def __init__(self, path: str | os.PathLike[str], telescope_type: str | None = None, reference: Any = None) -> None:
        """
        Args:
            path: the file.
            telescope_type: the telescope type to read, by ctapipe's type name (``"LST_LST_LSTCam"``) or
                camera name (``"LSTCam"``), any case; None: the file's only type.
            reference: the camera (ctapipe ``CameraGeometry``) to map the images onto; None: the
                file's own camera of that type (:func:`default_reference`).

        Raises:
            IACTDataError: no such file, not an HDF5 file (the message says what it is), not DL1, no or
                an ambiguous telescope type, truncated or corrupt tables, per-pixel columns not as wide as
                the camera, no (or an empty) subarray layout, a telescope without a layout row, layout indices
                out of range, no focal length for a camera other than LST's, pointing rows of one observation
                that disagree, a column read as numbers that holds text, booleans or objects.
            UnknownCameraError: a telescope's camera does not match ``reference``.
        """
        self.path = Path(path)
        if not self.path.is_file():
            raise IACTDataError(f"{self.path}: no such file")
        kind = file_kind(self.path)
        if kind != HDF5:
            raise IACTDataError(f"{self.path}: {not_dl1_message(kind)}")
        self._wanted_type = telescope_type
        self.reference = reference
        self.truth_problems: list[str] = []
        self._h5: tables.File | None = None
        self._pid = os.getpid()
        self._open()
        try:
            self._load()
        except Exception:
            self.close()
            raise

    def _open(self) -> tables.File:
        """The HDF5 handle of this process, (re)opened on demand: after :meth:`close`, unpickling, or
        a fork into a DataLoader worker (HDF5 handles must not be shared between processes)."""
        if self._h5 is not None and self._pid == os.getpid() and self._h5.isopen:
            return self._h5
        try:
            self._h5 = tables.open_file(self.path, "r")
        except Exception as error:  # PyTables raises several types for a damaged file
            raise IACTDataError(
                f"{self.path}: cannot open as HDF5 (truncated or corrupt file?): {error}"
            ) from error
        self._pid = os.getpid()
        return self._h5

    # ------------------------------------------------------------------ opening
    def _load(self) -> None:
        if _LSTCHAIN_IMAGES in self._open():
            self.format = "lstchain"
        elif _CTAPIPE_IMAGES in self._open():
            self.format = "ctapipe"
            self._check_data_model_version()
        else:
            raise IACTDataError(
                f"{self.path}: not a DL1 file with images: expected {_CTAPIPE_IMAGES}/tel_NNN "
                f"(ctapipe, written with --write-images) or {_LSTCHAIN_IMAGES} (lstchain); {self._holds()}"
            )
        self._require_layout()
        self.cameras: dict[int, Any] = {}
        self._mapped: dict[tuple[str, int], tuple[Any, np.ndarray, float, bool]] = {}
        self._tables: list[_TelescopeTable] = []
        parts = self._load_lstchain() if self.format == "lstchain" else self._load_ctapipe()
        self.columns: dict[str, np.ndarray] = {
            key: np.concatenate([part[key] for part in parts]) for key in parts[0]
        }
        self._table_index = np.concatenate([np.full(len(p["obs_id"]), t) for t, p in enumerate(parts)])
        self._row = np.concatenate([np.arange(len(p["obs_id"])) for p in parts])
        self.n_events = len(self._row)
        self.has_true_image = all(t.true_images is not None for t in self._tables) and self.n_events > 0
        first_tel = int(self.columns["tel_id"][0]) if self.n_events else next(iter(self.cameras), 1)
        self.camera = self.cameras[first_tel] if self.cameras else self.reference
        self.focal_length = self._focal_length(first_tel)

    def _require_layout(self) -> None:
        """Refuse a file without its subarray layout: ctapipe and lstchain always write one, and without it the
        telescopes' types, cameras and ground positions are unknown (impact targets and reconstructed impacts
        are relative to the telescope position; (0, 0) instead would put them off by the telescope's distance)."""
        layout = self._optional_table(_LAYOUT)
        if layout is None or not layout.nrows:
            raise IACTDataError(
                f"{self.path}: {'no' if layout is None else 'an empty'} subarray layout {_LAYOUT}: the telescopes' "
                "types, cameras and positions are unknown (impacts are reconstructed relative to the telescope "
                "position); expected the layout every ctapipe and lstchain DL1 file holds"
            )

    def _holds(self) -> str:
        """What an HDF5 file without DL1 images holds, for the error message."""
        if _CTAPIPE_PARAMETERS in self._open():
            return "this DL1 file has image parameters but no images (ctapipe-process without --write-images)"
        nodes = sorted(self._open().root._v_children)
        if not nodes:
            return "this HDF5 file is empty"
        return f"this HDF5 file's top-level nodes are {nodes[:8] + ['...'] if len(nodes) > 8 else nodes}"

    def _check_data_model_version(self) -> None:
        attrs = self._open().root._v_attrs
        if "CTA PRODUCT DATA MODEL VERSION" not in attrs:  # the project's simulator and other writers
            return
        version = attrs["CTA PRODUCT DATA MODEL VERSION"]
        text = version.decode() if isinstance(version, bytes) else str(version)
        major = text.lstrip("v").split(".")[0]
        if not major.isdigit() or int(major) != SUPPORTED_DATA_MODEL_MAJOR:
            raise IACTDataError(
                f"{self.path}: ctapipe data model {text} is not supported; expected "
                f"v{SUPPORTED_DATA_MODEL_MAJOR}.x (written by ctapipe 0.28 to 0.32)"
            )

    def _load_ctapipe(self) -> list[dict[str, np.ndarray]]:
        shower = self._optional_table(_CTAPIPE_SHOWER)
        self.has_truth = shower is not None
        showers = self._showers(shower) if shower is not None else None  # read (and checked) once for every telescope
        parts = []
        nodes = sorted(self._open().get_node(_CTAPIPE_IMAGES)._f_list_nodes("Table"), key=lambda n: n._v_name)
        if not nodes:
            raise IACTDataError(f"{self.path}: {_CTAPIPE_IMAGES} holds no telescope table")
        types = self._telescope_types([_tel_id_from_name(node._v_name, self.path) for node in nodes])
        chosen = choose_telescope_type(types, self._wanted_type, str(self.path))
        self.telescope_type = chosen.name
        self.other_images = _other_images(nodes, types, chosen, self.path)
        for node in nodes:
            tel_id = _tel_id_from_name(node._v_name, self.path)
            if tel_id not in chosen.tel_ids:
                continue
            ids = self._read_columns(node, ("obs_id", "event_id", "tel_id"))
            n = len(ids["obs_id"])
            keys = np.stack([ids["obs_id"], ids["event_id"]], axis=1).astype(np.int64)
            part: dict[str, np.ndarray] = {
                "obs_id": ids["obs_id"].astype(np.int64),
                "event_id": ids["event_id"].astype(np.int64),
                "tel_id": np.full(n, tel_id, dtype=np.int64),
            }
            part.update(self._truth_ctapipe(showers, keys))
            if self.has_truth:
                self._check_truth(part, _CTAPIPE_SHOWER, lstchain=False)
            part.update(self._pointing_ctapipe(tel_id, ids["obs_id"]))
            part.update(self._parameters(f"{_CTAPIPE_PARAMETERS}/{node._v_name}", keys, ctapipe=True))
            perm = self._add_camera(tel_id, part, n, geometry_tel_id=tel_id)
            self._check_pixel_columns(node, tel_id)
            true_path = f"{_CTAPIPE_TRUE_IMAGES}/{node._v_name}"
            table = _TelescopeTable(node._v_pathname, None, perm)
            if true_path in self._open() and "true_image" in self._open().get_node(true_path).colnames:
                true_node = self._open().get_node(true_path)
                true_keys = self._read_columns(true_node, ("obs_id", "event_id"))
                rows = _match_keys(keys, np.stack([true_keys["obs_id"], true_keys["event_id"]], axis=1))
                if np.all(rows >= 0):
                    self._check_pixel_columns(true_node, tel_id)
                    table.true_images, table.true_rows = true_path, rows
            self._tables.append(table)
            parts.append(part)
        return parts

    def _telescope_types(self, tel_ids: Sequence[int]) -> dict[str, TelescopeType]:
        """The telescope types of ``tel_ids``, from the subarray layout (``unknown`` for a telescope it has no row for)."""
        described = {tel_id: ("unknown", "unknown") for tel_id in tel_ids}
        node = self._open().get_node(_LAYOUT)
        tel_column = self._read_columns(node, ("tel_id",))["tel_id"]  # checked to hold numbers
        layout = node.read()
        names = layout.dtype.names
        for tel_id, row in zip(tel_column.astype(np.int64).tolist(), layout, strict=True):
            if tel_id in described:
                camera = _text(row["camera_name"]) if "camera_name" in names else "unknown"
                described[tel_id] = (_text(row["tel_description"]) if "tel_description" in names else camera, camera)
        return group_telescopes(described)

    def _load_lstchain(self) -> list[dict[str, np.ndarray]]:
        node = self._open().get_node(_LSTCHAIN_IMAGES)
        ids = self._read_columns(node, ("obs_id", "event_id", "tel_id"))
        n = len(ids["obs_id"])
        keys = np.stack([ids["obs_id"], ids["event_id"], ids["tel_id"]], axis=1).astype(np.int64)
        part: dict[str, np.ndarray] = {k: ids[k].astype(np.int64) for k in ("obs_id", "event_id", "tel_id")}
        if _LSTCHAIN_PARAMETERS not in self._open():
            raise IACTDataError(f"{self.path}: lstchain file without {_LSTCHAIN_PARAMETERS}")
        params = self._open().get_node(_LSTCHAIN_PARAMETERS)
        rows = _match_keys(keys, self._keys(params, ("obs_id", "event_id", "tel_id")))
        if np.any(rows < 0):
            raise IACTDataError(f"{self.path}: {np.sum(rows < 0)} images have no row in {_LSTCHAIN_PARAMETERS}")
        self.has_truth = "mc_energy" in params.colnames
        if self.has_truth:
            table = {out: self._quantity(params, column, unit) for out, _, column, unit in _TRUTH_FIELDS}
            self._refuse_disagreeing_rows(
                _LSTCHAIN_PARAMETERS, self._read_columns(params, ("obs_id", "event_id", "tel_id")),
                np.stack(list(table.values()), axis=1), f"({', '.join(_LSTCHAIN_TRUTH)})", _TRUTH_UNITS,
                "one row per image")
            for out, values in table.items():
                part[out] = values[rows]
            part["true_shower_primary_id"] = self._read_columns(params, ("mc_type",))["mc_type"][rows].astype(np.int64)
            self._check_truth(part, _LSTCHAIN_PARAMETERS, lstchain=True)
        else:
            part.update(_no_truth(n))
        part["pointing_alt"] = self._quantity(params, "alt_tel", "deg")[rows]
        part["pointing_az"] = self._quantity(params, "az_tel", "deg")[rows]
        for out, _, column in _PARAMETER_FIELDS:
            part[out] = self._read_columns(params, (column,))[column][rows].astype(np.float64)
        tel_ids = np.unique(part["tel_id"])
        if len(tel_ids) > 1:  # lstchain files hold one telescope; several would need several cameras
            raise IACTDataError(f"{self.path}: lstchain file with several telescopes {tel_ids.tolist()}")
        tel_id = int(tel_ids[0]) if n else 1
        # lstchain writes LST images only (its table is named after the type)
        lst = group_telescopes({tel_id: ("LST_LST_LSTCam", "LSTCam")})
        self.telescope_type = choose_telescope_type(lst, self._wanted_type, str(self.path)).name
        self.other_images = {}
        self._warn_missing_pointing(part, tel_id, self.pointing_source(tel_id))
        perm = self._add_camera(tel_id, part, n, geometry_tel_id=None)
        self._check_pixel_columns(node, tel_id)
        self._tables.append(_TelescopeTable(_LSTCHAIN_IMAGES, None, perm))
        return [part]

    def _add_camera(self, tel_id: int, part: dict[str, np.ndarray], n: int, geometry_tel_id: int | None) -> np.ndarray:
        """Read the telescope's camera (``geometry_tel_id=None``: the file's only camera), map it onto
        the reference, and add the position/orientation columns."""
        key = self._camera_index(tel_id)
        if key not in self._mapped:  # telescopes of one type share a camera table: map it once
            try:
                camera = read_camera_geometry(self.path, tel_id=geometry_tel_id)
            except Exception as error:
                raise IACTDataError(f"{self.path}: cannot read the camera geometry of telescope {tel_id}: {error}") from error
            if self.reference is None:  # the first telescope read fixes it
                self.reference = default_reference(camera)
            self._mapped[key] = (camera, *map_camera(self.reference, camera, f"{self.path}: telescope {tel_id}"))
        camera, perm, rotation, reflected = self._mapped[key]
        self.cameras[tel_id] = camera
        part["camera_rotation"] = np.full(n, rotation)
        part["camera_reflected"] = np.full(n, reflected)
        part.update(self._telescope_position(tel_id, n))
        return perm

    def _camera_index(self, tel_id: int) -> tuple[str, int]:
        """Which camera table a telescope uses (its layout ``camera_index``; the tel_id without one, or
        when the file keeps its cameras elsewhere than in ``geometry_N`` tables)."""
        cameras = self._optional_table(_CAMERAS)
        names = [] if cameras is None else cameras._v_children
        geometries = [int(match[1]) for name in names if (match := re.fullmatch(r"geometry_(\d+)", name))]
        index = self._layout_index(tel_id, "camera_index", f"{_CAMERAS}/geometry_N", geometries) if geometries else None
        return ("tel_id", tel_id) if index is None else ("camera_index", index)

    def _telescope_position(self, tel_id: int, n: int) -> dict[str, np.ndarray]:
        """Telescope ``tel_id``'s ground position [m] for its ``n`` images, from its layout row.

        Raises:
            IACTDataError: no layout row for it (a default would silently shift its impacts).
        """
        row = self._layout_row(tel_id)
        if row is None:
            raise IACTDataError(
                f"{self.path}: {_LAYOUT} has no row for telescope {tel_id}: its position, and so the impacts of its "
                "images, are unknown; expected a row per telescope with images"
            )
        layout = self._open().get_node(_LAYOUT)
        position = {axis: float(self._quantity(layout, f"pos_{axis}", "m")[row]) for axis in "xyz"}
        if not all(np.isfinite(value) for value in position.values()):
            raise IACTDataError(f"{self.path}: {_LAYOUT} gives telescope {tel_id} the position {list(position.values())} m; "
                                "expected finite pos_x, pos_y, pos_z (its images' impacts are measured from it)")
        return {f"tel_pos_{axis}": np.full(n, value) for axis, value in position.items()}

    def _focal_length(self, tel_id: int) -> u.Quantity:
        """Telescope ``tel_id``'s effective focal length (else its equivalent one) from the optics table.

        Raises:
            IACTDataError: none there for a camera other than LST's: only LST's is known (the focal lengths of
                other cameras are far from it, and the focal length turns pixel positions into angles).
        """
        optics = self._optional_table(_OPTICS)
        if optics is not None:
            index = self._layout_index(tel_id, "optics_index", _OPTICS, range(optics.nrows))
            index = 0 if index is None else index  # without a layout entry: the file's first optics
            for column in ("effective_focal_length", "equivalent_focal_length"):
                if column in optics.colnames and index < optics.nrows:
                    value = self._quantity(optics, column, "m")[index]
                    if np.isfinite(value) and value > 0:
                        return value * u.m
        if is_lst_camera(self.camera):
            return LST_EFFECTIVE_FOCAL_LENGTH
        found = "no such table" if optics is None else "no finite, positive effective_focal_length nor equivalent_focal_length"
        raise IACTDataError(
            f"{self.path}: the focal length of telescope {tel_id} (camera {getattr(self.camera, 'name', '?')!r}) is "
            f"unknown: {_OPTICS}: {found}; expected the optics table ctapipe writes (only LST cameras fall back to "
            f"LST's {LST_EFFECTIVE_FOCAL_LENGTH:.2f})"
        )

    def _layout_row(self, tel_id: int) -> int | None:
        """Telescope ``tel_id``'s row in the subarray layout (:meth:`_require_layout`); None without a row for it."""
        layout = self._open().get_node(_LAYOUT)
        rows = np.nonzero(self._read_columns(layout, ("tel_id",))["tel_id"] == tel_id)[0]
        return int(rows[0]) if len(rows) else None

    def _layout_index(self, tel_id: int, column: str, target: str, valid: Sequence[int]) -> int | None:
        """Telescope ``tel_id``'s ``column`` of the layout, an index into ``target`` whose ``valid`` indices
        are given; None when the layout has no row for the telescope or no such column.

        Raises:
            IACTDataError: an index ``target`` does not have (a damaged or inconsistent instrument description).
        """
        row = self._layout_row(tel_id)
        layout = self._open().get_node(_LAYOUT)
        if row is None or column not in layout.colnames:
            return None
        index = int(self._read_columns(layout, (column,))[column][row])
        if index not in valid:
            raise IACTDataError(
                f"{self.path}: {_LAYOUT} gives telescope {tel_id} {column}={index}, out of range for {target} "
                f"(valid: {sorted(valid)})"
            )
        return index

    def _showers(self, shower: Any) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """The simulated showers' keys ``(n, 2)`` (obs_id, event_id) and truth columns, refused when two rows of
        one event disagree (matching by key would take the last)."""
        table = {out: self._quantity(shower, column, unit) for out, column, _, unit in _TRUTH_FIELDS}
        ids = self._read_columns(shower, ("obs_id", "event_id"))
        self._refuse_disagreeing_rows(shower._v_pathname, ids, np.stack(list(table.values()), axis=1),
                                      f"({', '.join(table)})", _TRUTH_UNITS, "one simulated shower per event")
        table["true_shower_primary_id"] = self._read_columns(shower, ("true_shower_primary_id",))["true_shower_primary_id"]
        return np.stack([ids["obs_id"], ids["event_id"]], axis=1).astype(np.int64), table

    def _truth_ctapipe(self, showers: tuple[np.ndarray, dict[str, np.ndarray]] | None, keys: np.ndarray) -> dict[str, np.ndarray]:
        """The truth of the images of ``keys`` (obs_id, event_id) from the file's ``showers`` (:meth:`_showers`)."""
        if showers is None:
            return _no_truth(len(keys))
        shower_keys, table = showers
        rows = _match_keys(keys, shower_keys)
        if np.any(rows < 0):
            missing = keys[rows < 0][0]
            raise IACTDataError(
                f"{self.path}: {np.sum(rows < 0)} images have no row in {_CTAPIPE_SHOWER} "
                f"(first: obs_id={missing[0]}, event_id={missing[1]})"
            )
        truth = {out: values[rows] for out, values in table.items()}
        truth["true_shower_primary_id"] = truth["true_shower_primary_id"].astype(np.int64)
        return truth

    def pointing_source(self, tel_id: int) -> str:
        """Where this file holds the pointing of telescope ``tel_id``: a table (ctapipe) or columns (lstchain)."""
        if self.format == "lstchain":
            return f"{_LSTCHAIN_PARAMETERS} columns alt_tel, az_tel"
        return f"{_CTAPIPE_POINTING}/tel_{tel_id:03d}"

    def _pointing_ctapipe(self, tel_id: int, obs_id: np.ndarray) -> dict[str, np.ndarray]:
        path = self.pointing_source(tel_id)
        pointing = {"pointing_alt": np.full(len(obs_id), np.nan), "pointing_az": np.full(len(obs_id), np.nan)}
        if path in self._open():
            node = self._open().get_node(path)
            table_obs_id = self._read_columns(node, ("obs_id",))["obs_id"].astype(np.int64)
            alt_az = np.stack([self._quantity(node, f"telescope_pointing_{name}", "deg") for name in ("altitude", "azimuth")], 1)
            self._check_one_pointing(path, table_obs_id, alt_az)
            rows = _match_keys(obs_id[:, None].astype(np.int64), table_obs_id[:, None])
            found = rows >= 0
            pointing["pointing_alt"][found] = alt_az[rows[found], 0]
            pointing["pointing_az"][found] = alt_az[rows[found], 1]
        self._warn_missing_pointing(pointing, tel_id, path)
        return pointing

    def _check_one_pointing(self, path: str, obs_id: np.ndarray, alt_az: np.ndarray) -> None:
        """Refuse rows of pointing table ``path`` for one obs_id that disagree (``alt_az``: (n, 2) [deg]): the
        match by obs_id would silently take the last. Identical repeats (a file merged twice) are harmless."""
        self._refuse_disagreeing_rows(path, {"obs_id": obs_id}, alt_az, "(alt, az)", "deg", "one pointing per observation")

    def _refuse_disagreeing_rows(self, path: str, keys: dict[str, np.ndarray], values: np.ndarray, what: str, unit: str,
                                 expected: str) -> None:
        """Refuse rows of table ``path`` with the same ``keys`` (name -> column) whose ``values`` ((n, k) numbers)
        differ: matching by key silently takes the last of them. Identical repeats (a file merged twice) are
        harmless."""
        key_columns = np.stack([np.asarray(column, np.int64) for column in keys.values()], axis=1)
        order = np.lexsort(key_columns.T[::-1])
        ids, sorted_values = key_columns[order], values[order]
        same = (sorted_values[1:] == sorted_values[:-1]) | (np.isnan(sorted_values[1:]) & np.isnan(sorted_values[:-1]))
        # equality is transitive: a group of one key disagrees only if two neighbours in it do
        differ = (ids[1:] == ids[:-1]).all(axis=1) & ~same.all(axis=1)
        if differ.any():
            i = int(np.argmax(differ))
            named = " ".join(f"{name}={value}" for name, value in zip(keys, ids[i].tolist(), strict=True))
            raise IACTDataError(
                f"{self.path}: {path} has rows for {named} that disagree: {what} = {sorted_values[i].tolist()} "
                f"and {sorted_values[i + 1].tolist()} {unit}; expected {expected}"
            )

    def _warn_missing_pointing(self, part: dict[str, np.ndarray], tel_id: int, source: str) -> None:
        """Warn of images without a finite pointing (``source``: where it was looked for): without it no direction
        is reconstructed nor trained (targets.py masks them); energies and classes still work."""
        missing = int((~(np.isfinite(part["pointing_alt"]) & np.isfinite(part["pointing_az"]))).sum())
        if missing:
            log.warning("%s: no telescope pointing for %d of %d images of telescope %d (%s): their directions are "
                        "neither trained nor reconstructed", self.path, missing, len(part["pointing_alt"]), tel_id, source)

    def _check_truth(self, part: dict[str, np.ndarray], table: str, lstchain: bool) -> None:
        """Note true values that are not finite (energies: not positive) in :attr:`truth_problems` (``table``: where
        they come from): training and evaluation refuse the file (the energy target is their logarithm, and a
        silently masked event would change what is trained and evaluated, a direction or impact left out of its
        loss and resolution; the calorimeter and collider readers refuse bad truth alike), prediction, which needs
        no truth, only warns."""
        for out, ctapipe_column, lstchain_column, unit in _TRUTH_FIELDS:
            values = part[out]
            energy = out == "true_energy"
            bad = ~(np.isfinite(values) & (values > 0)) if energy else ~np.isfinite(values)
            if bad.any():
                first = int(np.argmax(bad))
                self.truth_problems.append(
                    f"{self.path}: {table} column {lstchain_column if lstchain else ctapipe_column} is {values[first]} "
                    f"{unit} for obs_id={part['obs_id'][first]} event_id={part['event_id'][first]} "
                    f"tel_id={part['tel_id'][first]} ({int(bad.sum())} of {len(values)} images of this telescope); "
                    f"expected a finite{', positive simulated energy' if energy else ' simulated value'}"
                )

    def _check_pixel_columns(self, node: Any, tel_id: int) -> None:
        """The per-pixel columns of ``node`` hold numbers (``image_mask``: flags), one value per pixel of telescope
        ``tel_id``'s camera: the pixel permutation would fail on a narrower column and silently cut a wider one.
        Checked here, at open, rather than in :meth:`read`: once per table instead of once per batch."""
        camera = self.cameras[tel_id]
        for name in (name for name in _PIXEL_COLUMNS if name in node.colnames):
            self._check_numeric(node, name, _PIXEL_COLUMNS[name])
            shape = tuple(int(size) for size in node.coldescrs[name].shape)
            if shape != (camera.n_pixels,):
                raise IACTDataError(
                    f"{self.path}: table {node._v_pathname} column {name!r} holds {shape[-1] if shape else 1} values "
                    f"per image (shape {shape}); expected {camera.n_pixels}, one per pixel of the camera "
                    f"{getattr(camera, 'name', '?')!r} of telescope {tel_id}"
                )

    def _parameters(self, path: str, keys: np.ndarray, ctapipe: bool) -> dict[str, np.ndarray]:
        if path not in self._open():
            return {}
        node = self._open().get_node(path)
        rows = _match_keys(keys, self._keys(node, ("obs_id", "event_id")))
        if np.any(rows < 0):
            return {}
        out = {}
        for name, ctapipe_column, lstchain_column in _PARAMETER_FIELDS:
            column = ctapipe_column if ctapipe else lstchain_column
            if column in node.colnames:
                out[name] = self._read_columns(node, (column,))[column][rows].astype(np.float64)
        return out

    # ------------------------------------------------------------------ helpers
    def _optional_table(self, path: str) -> Any:
        return self._open().get_node(path) if path in self._open() else None

    def _read_columns(self, node: Any, names: Sequence[str]) -> dict[str, np.ndarray]:
        """Columns ``names`` of table ``node``, each of which the reader uses as numbers (ids, truth, pointing,
        parameters, layout indices and positions): every column read by number goes through here."""
        missing = [name for name in names if name not in node.colnames]
        if missing:
            raise IACTDataError(f"{self.path}: table {node._v_pathname} lacks column(s) {missing}")
        for name in names:
            self._check_numeric(node, name)
        try:
            return {name: node.col(name) for name in names}
        except Exception as error:
            raise IACTDataError(f"{self.path}: cannot read {node._v_pathname} (truncated or corrupt?): {error}") from error

    def _check_numeric(self, node: Any, name: str, kinds: str = _NUMBERS) -> None:
        """Refuse column ``name`` of table ``node`` unless its dtype is of ``kinds`` (see :data:`_NUMBERS`).

        From the stored dtype alone, before reading: no per-value loop, and a column of text is refused even
        when every value happens to spell a number.
        """
        dtype = node.coldtypes[name].base  # base: a per-pixel column's dtype is (scalar dtype, (n_pixels,))
        if dtype.kind not in kinds:
            raise IACTDataError(
                f"{self.path}: table {node._v_pathname} column {name!r} holds {dtype} values "
                f"({_KIND_NAMES.get(dtype.kind, dtype.kind)}), expected {_EXPECTED[kinds]}"
            )

    def _keys(self, node: Any, names: Sequence[str]) -> np.ndarray:
        columns = self._read_columns(node, names)
        return np.stack([columns[name] for name in names], axis=1).astype(np.int64)

    def _quantity(self, node: Any, name: str, unit: str) -> np.ndarray:
        """Column ``name`` as float64 in ``unit``, converted from the unit the file states."""
        values = self._read_columns(node, (name,))[name].astype(np.float64)
        attr = f"CTAFIELD_{node.colnames.index(name)}_UNIT"
        stated = str(node.attrs[attr]) if attr in node.attrs._v_attrnames else ""
        if stated and stated != unit:
            try:
                values = (values * u.Unit(stated)).to_value(unit)
            except (u.UnitsError, ValueError) as error:  # ValueError: a unit astropy cannot parse
                raise IACTDataError(f"{self.path}: column {node._v_pathname}/{name} is in {stated!r}, expected {unit} (or a "
                                    "unit that converts to it)") from error
        return values

    # ------------------------------------------------------------------ reading
    def _indices(self, indices: int | slice | Sequence[int] | np.ndarray) -> np.ndarray:
        if isinstance(indices, slice):
            return np.arange(self.n_events)[indices]
        idx = np.atleast_1d(np.asarray(indices, dtype=np.int64))
        if np.any((idx < -self.n_events) | (idx >= self.n_events)):
            raise IndexError(f"{self.path}: event index out of range 0..{self.n_events - 1}")
        return idx % max(self.n_events, 1)

    def read(self, indices: int | slice | Sequence[int] | np.ndarray) -> dict[str, np.ndarray]:
        """Events ``indices``: ``image``, ``peak_time`` (n, 1855) in the reference pixel order,
        ``image_mask`` and ``true_image`` when the file has them, and every column of ``columns``."""
        idx = self._indices(indices)
        out = {key: values[idx] for key, values in self.columns.items()}
        n_pixels = self.reference.n_pixels
        fields = {"image": np.float32, "peak_time": np.float32, "image_mask": bool}
        arrays = {name: np.zeros((len(idx), n_pixels), dtype=dtype) for name, dtype in fields.items()}
        has_mask = True
        true_image = np.zeros((len(idx), n_pixels), dtype=np.float32) if self.has_true_image else None
        for t, table in enumerate(self._tables):
            where = np.nonzero(self._table_index[idx] == t)[0]
            if not len(where):
                continue
            rows = self._row[idx[where]]
            data = self._read_rows(table.images, rows)
            for name in fields:
                if name in data.dtype.names:
                    arrays[name][where] = data[name][:, table.perm]
                elif name == "image_mask":
                    has_mask = False
                else:
                    raise IACTDataError(f"{self.path}: table {table.images} lacks column {name!r}")
            if true_image is not None:
                true_data = self._read_rows(table.true_images, table.true_rows[rows])
                true_image[where] = true_data["true_image"][:, table.perm]
        for name in ("image", "peak_time"):
            bad = ~np.isfinite(arrays[name])
            if bad.any():
                first = int(np.nonzero(bad.any(axis=1))[0][0])
                raise IACTDataError(
                    f"{self.path}: {name} of obs_id={out['obs_id'][first]} event_id={out['event_id'][first]} "
                    f"tel_id={out['tel_id'][first]} has {int(bad[first].sum())} NaN/inf pixel(s); "
                    "expected finite values (broken pixels must be set to 0 upstream)"
                )
        out.update({name: arrays[name] for name in ("image", "peak_time")})
        if has_mask:
            out["image_mask"] = arrays["image_mask"]
        if true_image is not None:
            out["true_image"] = true_image
        return out

    def _read_rows(self, path: str, rows: np.ndarray) -> np.ndarray:
        order = np.argsort(rows, kind="stable")
        try:
            data = self._open().get_node(path).read_coordinates(rows[order])
        except Exception as error:
            raise IACTDataError(f"{self.path}: cannot read rows of {path} (truncated or corrupt?): {error}") from error
        result = np.empty_like(data)
        result[order] = data
        return result

    def close(self) -> None:
        """Close the HDF5 handle (metadata stays; a later :meth:`read` reopens the file)."""
        if self._h5 is not None and self._pid == os.getpid() and self._h5.isopen:
            self._h5.close()
        self._h5 = None

    def __del__(self) -> None:
        if getattr(self, "_h5", None) is not None:
            self.close()

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_h5"] = None  # a handle cannot be pickled; the receiving process reopens the file
        return state

    def __enter__(self) -> DL1File:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __len__(self) -> int:
        return self.n_events

    def __repr__(self) -> str:
        return f"DL1File({str(self.path)!r}, format={self.format!r}, n_events={self.n_events}, has_truth={self.has_truth})"


def _tel_id_from_name(name: str, path: Path) -> int:
    if not (name.startswith("tel_") and name[4:].isdigit()):
        raise IACTDataError(f"{path}: unexpected table {_CTAPIPE_IMAGES}/{name}; expected tel_NNN")
    return int(name[4:])


def _other_images(nodes: Sequence[Any], types: dict[str, TelescopeType], chosen: TelescopeType, path: Path) -> dict[str, int]:
    """Images per telescope type other than ``chosen`` in the image tables ``nodes`` (from their row counts: no
    data read), those with any: what is not read, to be reported rather than passed over without a word."""
    rows = {_tel_id_from_name(node._v_name, path): node.nrows for node in nodes}
    counts = {name: sum(rows[tel_id] for tel_id in group.tel_ids) for name, group in types.items() if name != chosen.name}
    return {name: count for name, count in counts.items() if count}


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes | np.bytes_) else str(value)


def _no_truth(n: int) -> dict[str, np.ndarray]:
    truth = {out: np.full(n, np.nan) for out, *_ in _TRUTH_FIELDS}
    truth["true_shower_primary_id"] = np.full(n, -1, dtype=np.int64)
    return truth


def _match_keys(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """For each row of ``left`` (n, k) the index of the equal row in ``right`` (m, k), or -1."""
    # before reshaping: (0, -1) has no inferable width (a telescope or a table without rows)
    if not len(left) or not len(right):
        return np.full(len(left), -1, dtype=np.int64)
    left = np.asarray(left, dtype=np.int64).reshape(len(left), -1)
    right = np.asarray(right, dtype=np.int64).reshape(len(right), -1)
    _, inverse = np.unique(np.concatenate([left, right]), axis=0, return_inverse=True)
    inverse = inverse.ravel()
    lookup = np.full(inverse.max() + 1, -1, dtype=np.int64)
    lookup[inverse[len(left):]] = np.arange(len(right))
    return lookup[inverse[: len(left)]]
