"""The calorimeter's HDF5 hit files: one row per hit, an event index, streamed in chunks.

Layout (format ``showerlearn-calorimeter-hits``, version 1; energies in MeV, times in ns, angles in rad):

=================  =============================================================================
``/events``        ``hit_start``, ``n_hits``, ``gamma_start``, ``n_gammas``, ``beta`` per event; optional
                   ``event_id``, the event's own number (measured data: the ROOT tree's; else its row)
``/hits``          ``crystal_id``, ``energy``, ``time``, ``theta``, ``phi``, ``saturated`` and the truth
                   ``true_energy`` (before smearing), ``true_gamma`` (gamma index within the event that
                   left most of the hit's energy, -1 background), ``true_fraction`` (its share)
``/contributions`` ``hit`` (global hit row), ``gamma`` (-1 background), ``energy``: every source of a hit
``/gammas``        ``energy_rest``, ``energy_lab``, ``theta``, ``phi`` (lab), ``deposited``, ``escaped``
``/geometry``      the crystal table (``crystal_id``, ``theta``, ``phi``, extents, ``r_front``, ``length``)
=================  =============================================================================

The root attributes hold the format, its version, the geometry's name, the seed and the simulation config
(JSON). A writer appends chunk by chunk to resizable datasets and renames the file into place only when it
is complete; readers stream events as awkward arrays of records (``ak.Array``, one list of hits per event).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from showerlearn.calorimeter.geometry import GEOMETRIES, CrystalGeometry, geometry_by_name, wrap_phi
from showerlearn.calorimeter.io.checks import repeated_crystals
from showerlearn.calorimeter.io.errors import CalorimeterFileError
from showerlearn.io import atomic_path, hdf5_open_problem

__all__ = [
    "FORMAT", "HIT_FIELDS", "UNITS", "HitFileWriter", "MeasuredHitWriter", "geometry_name", "has_gammas", "iter_events", "n_events",
    "simulation_settings",
    "read_event_columns", "read_events", "read_gammas", "write_measured_hits",
]

FORMAT = "showerlearn-calorimeter-hits"
VERSION = 1
#: dataset -> (chunk key, dtype)
_COLUMNS: dict[str, dict[str, tuple[str, str]]] = {
    "hits": {
        "crystal_id": ("crystal_id", "i4"), "energy": ("energy", "f4"), "time": ("time", "f4"),
        "theta": ("theta", "f4"), "phi": ("phi", "f4"), "saturated": ("saturated", "?"),
        "true_energy": ("true_energy", "f4"), "true_gamma": ("true_gamma", "i2"), "true_fraction": ("true_fraction", "f4"),
    },
    "contributions": {"hit": ("contribution_hit", "i8"), "gamma": ("contribution_gamma", "i2"),
                      "energy": ("contribution_energy", "f4")},
    "gammas": {"energy_rest": ("gamma_energy_rest", "f4"), "energy_lab": ("gamma_energy_lab", "f4"),
               "theta": ("gamma_theta", "f4"), "phi": ("gamma_phi", "f4"), "deposited": ("gamma_deposited", "f4"),
               "escaped": ("gamma_escaped", "f4")},
    "events": {"hit_start": ("", "i8"), "n_hits": ("n_hits", "i4"), "gamma_start": ("", "i8"),
               "n_gammas": ("n_gammas", "i4"), "beta": ("beta", "f4")},
}
#: the units of the columns, stored as the ``units`` attribute: a file declaring others is refused, not read as these
UNITS = {"energy": "MeV", "time": "ns", "angle": "rad", "length": "mm"}
#: the per-hit fields a reader returns (with the truth when present)
HIT_FIELDS = ("crystal_id", "energy", "time", "theta", "phi")
_REQUIRED = {"events": ("hit_start", "n_hits"), "hits": HIT_FIELDS}
#: the event columns of a measured file (no gammas) -> dtype
_MEASURED_EVENTS = {"hit_start": "i8", "n_hits": _COLUMNS["events"]["n_hits"][1], "event_id": "i8",
                    "beta": _COLUMNS["events"]["beta"][1]}


#: rows per HDF5 chunk; the writer gathers appended chunks until it can write at least this many hits at once,
#: so that compressed HDF5 chunks are not rewritten for every small append
_ROWS_PER_CHUNK = 1 << 16


class _BufferedWriter:
    """A writer whose rows wait in memory until a compressed HDF5 chunk fills (``_flush``), and whose file appears
    only when its block ends without an error: then the last rows are written, else the temporary file goes."""

    _stack: ExitStack

    def _flush(self) -> None:
        raise NotImplementedError

    def __exit__(self, *exc_info: object) -> None:
        if exc_info[0] is not None:
            self._stack.__exit__(*exc_info)
            return
        try:
            self._flush()
        except BaseException as error:  # a full disk or Ctrl-C while writing the last rows: remove the temporary file
            self._stack.__exit__(type(error), error, error.__traceback__)
            raise
        self._stack.__exit__(None, None, None)


class HitFileWriter(_BufferedWriter):
    """Append simulated chunks (:func:`showerlearn.calorimeter.simulation.events.simulate_chunk`) to a hit file.

    Use as a context manager; the file appears at ``path`` only when the block ends without an error.
    ``overwrite=False``: a file at ``path`` is never replaced, even one created while this one was written
    (:class:`FileExistsError` then).
    """

    def __init__(self, path: str | Path, geometry: CrystalGeometry, attributes: Mapping[str, Any],
                 compression: str | None = "gzip", overwrite: bool = True) -> None:
        self.path, self._overwrite = Path(path), overwrite
        self._geometry, self._attributes = geometry, dict(attributes)
        self._compression = None if compression in (None, "none") else compression
        self._stack = ExitStack()
        self._counts = {"hits": 0, "contributions": 0, "gammas": 0, "events": 0}
        self._pending: dict[str, list[np.ndarray]] = {}
        self._pending_hits = 0

    def __enter__(self) -> HitFileWriter:
        tmp = self._stack.enter_context(atomic_path(self.path, overwrite=self._overwrite))
        self._file = self._stack.enter_context(h5py.File(tmp, "w"))
        _write_header(self._file, self._geometry, self._attributes)
        for group, columns in _COLUMNS.items():
            for name, (_, dtype) in columns.items():
                _growing(self._file, f"{group}/{name}", dtype, self._compression)
        return self

    def append(self, chunk: Mapping[str, np.ndarray]) -> None:
        """Append one chunk; its event, hit and gamma rows are local to it and become global when written."""
        for key, value in chunk.items():
            self._pending.setdefault(key, []).append(np.asarray(value))
        self._pending_hits += len(chunk["energy"])
        if self._pending_hits >= _ROWS_PER_CHUNK:
            self._flush()

    def _flush(self) -> None:
        if not self._pending:
            return
        counts = {key: [len(part) for part in parts] for key, parts in self._pending.items()}
        # hit rows of the contributions are local to their chunk: shift each by the hits before it
        hit_offsets = np.repeat(np.r_[0, np.cumsum(counts["energy"])[:-1]], counts["contribution_hit"])
        values = {key: np.concatenate(parts) for key, parts in self._pending.items()}
        values["contribution_hit"] = values["contribution_hit"] + hit_offsets + self._counts["hits"]
        events = {"hit_start": self._counts["hits"] + np.r_[0, np.cumsum(values["n_hits"])[:-1]],
                  "gamma_start": self._counts["gammas"] + np.r_[0, np.cumsum(values["n_gammas"])[:-1]]}
        for group, columns in _COLUMNS.items():
            for name, (key, _) in columns.items():
                data = events[name] if not key else values[key]
                _append_rows(self._file[f"{group}/{name}"], data)
            self._counts[group] += len(data)
        self._file.attrs["n_events"] = self._counts["events"]
        self._pending, self._pending_hits = {}, 0


class MeasuredHitWriter(_BufferedWriter):
    """Append measured hits (awkward arrays of hit lists with the fields :data:`HIT_FIELDS`, as
    :class:`~showerlearn.calorimeter.io.root.RootHitReader` gives them chunk by chunk) to a hit file without truth,
    which ``showerlearn predict`` reads. Use as a context manager; the file appears at ``path`` only when the block
    ends without an error. ``overwrite=False``: an existing file is never replaced (:class:`FileExistsError`).

    ``beta``: whether the events carry the fragments' velocity v/c (then every :meth:`append` gives it), written so
    that predictions correct the cluster energies for the Doppler shift. ``event_ids``: whether they carry their own
    numbers (the tree's event branch), which predictions keep to join other detectors' data; else the rows are."""

    def __init__(self, path: str | Path, geometry: CrystalGeometry, attributes: Mapping[str, Any] | None = None,
                 overwrite: bool = False, beta: bool = False, event_ids: bool = False) -> None:
        self.path, self._overwrite, self._geometry, self._attributes = Path(path), overwrite, geometry, dict(attributes or {})
        self._events = ["hit_start", "n_hits"] + ["event_id"] * event_ids + ["beta"] * beta
        self._stack = ExitStack()
        self.n_events = self.n_hits = 0
        # appended columns gathered until a compressed HDF5 chunk fills (as HitFileWriter's), not rewritten per append
        self._pending: dict[str, list[np.ndarray]] = {}
        self._pending_hits = self._pending_events = 0

    def __enter__(self) -> MeasuredHitWriter:
        tmp = self._stack.enter_context(atomic_path(self.path, overwrite=self._overwrite))
        self._file = self._stack.enter_context(h5py.File(tmp, "w"))
        _write_header(self._file, self._geometry, self._attributes)
        self._file.attrs["n_events"] = 0
        for name in self._events:
            _growing(self._file, f"events/{name}", _MEASURED_EVENTS[name], "gzip")
        for name in HIT_FIELDS:
            _growing(self._file, f"hits/{name}", _COLUMNS["hits"][name][1], "gzip")
        return self

    def append(self, events: Any, beta: float | np.ndarray | None = None, event_ids: np.ndarray | None = None) -> None:
        """Append the hit lists ``events``, with their velocity (one for all, or one per event) and their numbers
        where the writer was opened with them."""
        import awkward as ak

        n_hits = ak.to_numpy(ak.num(events, axis=1)).astype(np.int64)
        columns = {"events/hit_start": self.n_hits + np.cumsum(n_hits) - n_hits, "events/n_hits": n_hits}
        for name, given in (("event_id", event_ids), ("beta", beta)):
            if (given is None) == (name in self._events):
                raise ValueError(f"{name}: " + ("the writer was opened with it, give it for every chunk" if given is None
                                                else "the writer was opened without it"))
        if event_ids is not None:
            if len(event_ids) != len(n_hits):
                raise ValueError(f"{len(event_ids)} event numbers for {len(n_hits)} events")
            columns["events/event_id"] = np.asarray(event_ids, dtype=np.int64)
        if beta is not None:
            columns["events/beta"] = self._velocities(beta, len(n_hits))
        for name in HIT_FIELDS:
            columns[f"hits/{name}"] = ak.to_numpy(ak.flatten(events[name], axis=1))
        for name, values in columns.items():
            self._pending.setdefault(name, []).append(values)
        self.n_events += len(n_hits)
        self.n_hits += int(n_hits.sum())
        self._pending_hits += int(n_hits.sum())
        self._pending_events += len(n_hits)
        if max(self._pending_hits, self._pending_events) >= _ROWS_PER_CHUNK:  # (events without hits pile up too)
            self._flush()

    def _flush(self) -> None:
        for name, parts in self._pending.items():
            _append_rows(self._file[name], np.concatenate(parts))
        self._file.attrs["n_events"] = self.n_events
        self._pending, self._pending_hits, self._pending_events = {}, 0, 0

    def _velocities(self, beta: float | np.ndarray, n_events: int) -> np.ndarray:
        beta = np.asarray(beta, dtype=np.float64)
        if beta.ndim and beta.shape != (n_events,):
            raise ValueError(f"{len(beta)} velocities (beta) for {n_events} events")
        # checked as stored (float32): 0.99999999 would be written as 1, which the reader refuses
        stored = np.broadcast_to(beta, (n_events,)).astype(_MEASURED_EVENTS["beta"])
        low, high, expected = BETA_RANGE
        outside = np.flatnonzero(~(np.isfinite(stored) & (stored >= low) & (stored <= high)))
        if len(outside):
            raise ValueError(f"beta is {float(stored[outside[0]])} at event {self.n_events + outside[0]}; expected {expected}")
        return stored


def write_measured_hits(events: Any, path: str | Path, geometry: CrystalGeometry, attributes: Mapping[str, Any] | None = None,
                        overwrite: bool = False, beta: float | np.ndarray | None = None,
                        event_ids: np.ndarray | None = None) -> int:
    """Write measured hits, all at once, as :class:`MeasuredHitWriter` does chunk by chunk. Returns the events
    written."""
    with MeasuredHitWriter(path, geometry, attributes, overwrite, beta is not None, event_ids is not None) as writer:
        writer.append(events, beta, event_ids)
    return writer.n_events


def _write_header(file: h5py.File, geometry: CrystalGeometry, attributes: Mapping[str, Any]) -> None:
    """The format, its version, the units, the geometry's name and table, and ``attributes`` (JSON unless a number
    or a text)."""
    file.attrs.update({"format": FORMAT, "version": VERSION, "geometry": geometry.name, "units": json.dumps(UNITS)})
    for key, value in attributes.items():
        file.attrs[key] = value if isinstance(value, (int, float, str)) else json.dumps(value)
    for key, value in geometry.table().items():
        file.create_dataset(f"geometry/{key}", data=value)


def _growing(file: h5py.File, name: str, dtype: str, compression: str | None) -> None:
    """An empty dataset that :func:`_append_rows` extends."""
    file.create_dataset(name, shape=(0,), maxshape=(None,), dtype=dtype, chunks=(_ROWS_PER_CHUNK,), compression=compression)


def _append_rows(dataset: h5py.Dataset, values: np.ndarray) -> None:
    start = len(dataset)
    dataset.resize((start + len(values),))
    dataset[start:] = values


# ---------------------------------------------------------------------------------------------------
# reading
# ---------------------------------------------------------------------------------------------------
#: integer datasets (a count, a row or an index is no fraction) -> what they hold, for the error
_INTEGERS = {
    "events/event_id": "event numbers",
    "events/hit_start": "row numbers", "events/n_hits": "row counts", "events/gamma_start": "row numbers",
    "events/n_gammas": "row counts", "hits/true_gamma": "gamma indices, -1 for background",
}
#: float32 rounding: pi stored as float32 is above numpy's pi, and a crystal at the pole or the seam must load
_ANGLE_SLACK = 1e-6
#: per-hit column -> (lowest, highest, what a valid file holds there); NaN and infinities are refused in each.
#: Azimuths: the writer's (-pi, pi] (ROOT's TVector3::Phi), or [0, 2 pi) as other tools write them.
_HIT_RANGES = {
    "energy": (0.0, np.inf, "a deposited energy >= 0 MeV"),
    "time": (-np.inf, np.inf, "a finite time in ns"),
    "theta": (-_ANGLE_SLACK, np.pi + _ANGLE_SLACK, "a polar angle in [0, pi] rad"),
    "phi": (-np.pi - _ANGLE_SLACK, 2 * np.pi + _ANGLE_SLACK, "an azimuth in [-pi, pi] or [0, 2 pi] rad"),
}
#: the hits' truth, where a file has it (a rounding's worth above 1 for a share summed in float32)
_TRUTH_RANGES = {
    "true_energy": (0.0, np.inf, "a true deposited energy >= 0 MeV"),
    "true_fraction": (0.0, 1.0 + 1e-6, "the share of the hit's energy from its gamma, in [0, 1]"),
}
#: float rounding of an energy computed as a difference [MeV]
_ENERGY_ROUNDING = 1e-6
#: the true gammas' columns -> (lowest, highest, what a valid file holds there); NaN and infinities are refused in each
_GAMMA_RANGES = {
    "energy_rest": (0.0, np.inf, "an emitted energy >= 0 MeV"),
    "energy_lab": (0.0, np.inf, "an emitted energy >= 0 MeV"),
    "theta": _HIT_RANGES["theta"],
    "phi": _HIT_RANGES["phi"],
    # energies computed as differences: a rounding's worth below 0 (files the toy wrote before it clipped them)
    "deposited": (-_ENERGY_ROUNDING, np.inf, "a deposited energy >= 0 MeV"),
    "escaped": (-_ENERGY_ROUNDING, np.inf, "an escaped energy >= 0 MeV"),
}
#: the fragment's velocity v/c: at 1 its Doppler shift is infinite (the range a file's ``/events/beta`` holds)
BETA_RANGE = (0.0, np.nextafter(1.0, 0.0), "a velocity v/c in [0, 1)")


def n_events(path: str | Path) -> int:
    """Events in a hit file."""
    with _open(path) as file:
        return len(file["events"]["n_hits"])


def read_events(path: str | Path, start: int = 0, stop: int | None = None, truth: bool = True) -> Any:
    """Events ``start..stop`` as an awkward array of hit lists (fields :data:`HIT_FIELDS`, plus ``true_energy``,
    ``true_gamma``, ``true_fraction``, ``saturated`` when ``truth``)."""
    with _open(path) as file:
        return _events(file, path, start, stop, truth)


def iter_events(path: str | Path, chunk_events: int = 10_000, truth: bool = True) -> Iterator[Any]:
    """Stream the events of a hit file, ``chunk_events`` at a time, as :func:`read_events` arrays.

    Each chunk's event index is checked against the event before it: a file is accepted or refused whatever
    the chunk size."""
    if chunk_events < 1:
        raise ValueError(f"chunk_events must be >= 1, got {chunk_events}")
    with _open(path) as file:
        total = len(file["events"]["n_hits"])
        for start in range(0, total, chunk_events):
            yield _events(file, path, start, min(start + chunk_events, total), truth)


def read_gammas(path: str | Path, start: int = 0, stop: int | None = None) -> Any:
    """The true gammas of events ``start..stop`` as an awkward array of gamma lists (fields of ``/gammas``)."""
    import awkward as ak

    with _open(path) as file:
        events = _event_rows(file, path, start, stop, ("gamma_start", "n_gammas"))
        first, last = _row_range(events["gamma_start"], events["n_gammas"])
        columns = {name: _column(file, path, "gammas", name, first, last) for name in _COLUMNS["gammas"]}
        for name, values in columns.items():
            _refuse_outside(path, f"/gammas/{name}", values, _GAMMA_RANGES[name], "gamma row", first)
        return ak.unflatten(ak.zip(columns), events["n_gammas"])


def read_event_columns(path: str | Path, start: int = 0, stop: int | None = None) -> dict[str, np.ndarray]:
    """Per-event columns of events ``start..stop``: ``n_hits``, ``n_gammas`` and ``beta`` (the fragment's velocity).

    A file without truth (measured data) has no gammas: ``n_gammas`` is 0 and ``beta`` NaN."""
    with _open(path) as file:
        return _event_columns(file, path, start, stop)


def read_event_chunk(
    path: str | Path, start: int = 0, stop: int | None = None, truth: bool = True
) -> tuple[Any, dict[str, np.ndarray]]:
    """:func:`read_events` and :func:`read_event_columns` of events ``start..stop`` at once: the file opened once,
    and ``/events/n_gammas`` read once (the check of the hits' ``true_gamma`` uses the column read)."""
    with _open(path) as file:
        columns = _event_columns(file, path, start, stop)
        counted = columns["n_gammas"] if "events/n_gammas" in file else None
        return _events(file, path, start, stop, truth, counted), columns


def geometry_name(path: str | Path) -> str | None:
    """The geometry a hit file's crystal ids refer to: its ``geometry`` attribute, or else the known geometry whose
    crystals (ids and centres) its ``/geometry`` table holds; None if neither says."""
    with _open(path) as file:
        if (name := _text_attribute(file, "geometry")) is not None or "geometry/crystal_id" not in file:
            return name
        table = _geometry_table(file, path, _CENTRE)
    return next((name for name, geometry in GEOMETRIES.items() if _same_crystals(table, geometry().table())), None)


#: what places a crystal: its id and the angles of its centre
_CENTRE = ("crystal_id", "theta", "phi")


def _same_crystals(table: Mapping[str, np.ndarray], known: Mapping[str, np.ndarray]) -> bool:
    """Whether a crystal table holds the crystals of ``known``: the same ids with the same centres."""
    if any(key not in table or np.shape(table[key]) != known[key].shape for key in _CENTRE):
        return False
    order, known_order = np.argsort(table["crystal_id"]), np.argsort(known["crystal_id"])
    if not np.array_equal(table["crystal_id"][order], known["crystal_id"][known_order]):
        return False
    theta = table["theta"][order] - known["theta"][known_order]
    phi = wrap_phi(table["phi"][order] - known["phi"][known_order])  # a table in [0, 2 pi) holds the same crystals
    return bool(np.all(np.abs(theta) <= _ANGLE_SLACK) and np.all(np.abs(phi) <= _ANGLE_SLACK))


def simulation_settings(path: str | Path) -> dict[str, Any]:
    """The simulation settings a simulated hit file records (its ``config`` attribute, JSON); empty for a file
    without them (measured data, another writer) or with settings that do not read as an object."""
    with _open(path) as file:
        text = _text_attribute(file, "config")
    try:
        settings = json.loads(text) if text is not None else {}
    except json.JSONDecodeError:
        return {}
    return settings if isinstance(settings, dict) else {}


def recorded_resolution(path: str | Path) -> float | None:
    """The crystal resolution (FWHM at 662 keV) a simulated hit file records in its settings; None for a file
    that records none (measured data, another writer) or cannot be read as a hit file."""
    try:
        found = simulation_settings(path).get("resolution_fwhm_662")
    except (OSError, ValueError, CalorimeterFileError):
        return None
    return float(found) if isinstance(found, int | float) and not isinstance(found, bool) else None


def has_gammas(path: str | Path) -> bool:
    """Whether a hit file holds the true gammas (simulated files do, measured data do not)."""
    with _open(path) as file:
        return all(key in file for key in ("events/gamma_start", "events/n_gammas", "gammas"))


#: the first bytes of a ROOT file
_ROOT_MAGIC = b"root"


def _open(path: str | Path) -> h5py.File:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such hit file: {path}" + (" (it is a folder)" if path.is_dir() else ""))
    try:
        file = h5py.File(path, "r")
    except OSError as error:
        with path.open("rb") as raw:
            if raw.read(len(_ROOT_MAGIC)) == _ROOT_MAGIC:
                raise CalorimeterFileError(path, "a ROOT file, not a hit file: convert its tree of crystal hits with "
                                                 "`showerlearn convert calorimeter FILE -o HITS.h5`") from None
        raise CalorimeterFileError(path, hdf5_open_problem(path, error)) from None
    try:
        _check_header(file, path)
    except BaseException:
        file.close()
        raise
    return file


def _check_header(file: h5py.File, path: Path) -> None:
    """The format, a version this reader knows and the datasets every hit file has."""
    found = _text_attribute(file, "format")
    if found != FORMAT:
        raise CalorimeterFileError(path, f"not a {FORMAT} file (attribute 'format' is {found!r})")
    version = _version(file, path)
    if version > VERSION:
        raise CalorimeterFileError(path, f"format version {version} is newer than this reader's ({VERSION}): update showerlearn")
    if version < 1:
        raise CalorimeterFileError(path, f"format version {version} does not exist: versions start at 1 (this reader's "
                                         f"is {VERSION})")
    for group, names in _REQUIRED.items():
        for name in names:
            # a group in a dataset's place would pass for one of no rows (len of a group counts its members)
            if (found := file.get(f"{group}/{name}")) is None:
                raise CalorimeterFileError(path, f"missing dataset /{group}/{name}")
            if not isinstance(found, h5py.Dataset):
                raise CalorimeterFileError(path, f"/{group}/{name} is a {type(found).__name__}, expected a dataset")
    _check_units(file, path)
    _check_lengths(file, path)


def _check_units(file: h5py.File, path: Path) -> None:
    """The ``units`` attribute, where a file has one, declares the format's units (a file in keV or degrees would
    otherwise be read as MeV and radians)."""
    text = _text_attribute(file, "units")
    if text is None:
        return
    try:
        declared = json.loads(text)
    except json.JSONDecodeError:
        declared = None
    if not isinstance(declared, dict) or any(declared.get(key, unit) != unit for key, unit in UNITS.items()):
        raise CalorimeterFileError(path, f"attribute 'units' is {text!r}; expected {json.dumps(UNITS)}: convert the "
                                         "columns to these units (and the attribute with them)")


def _check_lengths(file: h5py.File, path: Path) -> None:
    """The format's columns of each table, where a file has them, one value per row of it: rows beyond a shorter
    column would belong to no event. Other datasets a file may add are not the format's, and not checked."""
    for group, columns in _COLUMNS.items():
        lengths = {name: file[f"{group}/{name}"].shape for name in columns
                   if isinstance(file.get(f"{group}/{name}"), h5py.Dataset)}
        if len({shape[:1] for shape in lengths.values()}) > 1:
            shown = ", ".join(f"{name} {shape[0] if shape else 'scalar'}" for name, shape in lengths.items())
            raise CalorimeterFileError(path, f"the columns of /{group} differ in length ({shown}); expected one value "
                                             "per row in each")


def _version(file: h5py.File, path: Path) -> int:
    """The root attribute ``version`` (files without one are version 1): a whole number, as text or a number."""
    value = file.attrs.get("version", VERSION)
    if isinstance(value, bytes):  # a fixed-length string, as C++ writers store them
        value = value.decode(errors="replace")
    try:
        number = float(value) if np.ndim(value) == 0 else np.nan
    except (TypeError, ValueError):
        number = np.nan
    if not (np.isfinite(number) and float(number).is_integer()):
        shown = repr(value) if isinstance(value, str) else str(value)
        raise CalorimeterFileError(path, f"attribute 'version' is {shown}, expected the format version, a whole number "
                                         f"(this reader's is {VERSION})")
    return int(number)


def _text_attribute(file: h5py.File, name: str) -> str | None:
    """A root attribute as text; h5py reads fixed-length strings (as C++ writers store them) as bytes."""
    value = file.attrs.get(name)
    return value.decode(errors="replace") if isinstance(value, bytes) else None if value is None else str(value)


def _event_columns(file: h5py.File, path: str | Path, start: int, stop: int | None) -> dict[str, np.ndarray]:
    events = _event_rows(file, path, start, stop, ("hit_start", "n_hits"))
    stop = start + len(events["n_hits"])
    columns = {"n_hits": events["n_hits"]}
    for name, missing in (("n_gammas", 0), ("beta", np.nan)):
        present = f"events/{name}" in file
        columns[name] = _column(file, path, "events", name, start, stop) if present else np.full(stop - start, missing)
    if "events/beta" in file:  # NaN only where the file has no beta at all: a NaN in it is a broken file
        _refuse_outside(path, "/events/beta", columns["beta"], BETA_RANGE, "event", start)
    columns["event_id"] = np.arange(start, stop)
    if "events/event_id" in file:  # the events' own numbers (measured data), else their rows
        numbers = _column(file, path, "events", "event_id", start, stop)
        if len(numbers) != stop - start:
            raise CalorimeterFileError(path, f"/events/event_id has {len(file['events/event_id'])} values for "
                                             f"{len(file['events/n_hits'])} events; expected one per event")
        columns["event_id"] = numbers.astype(np.int64)
    return columns


def _events(
    file: h5py.File, path: str | Path, start: int, stop: int | None, truth: bool, n_gammas: np.ndarray | None = None
) -> Any:
    """The hits of events ``start..stop``; ``n_gammas``: the events' ``/events/n_gammas`` when read already (else
    read here, if the hits' truth needs it and the file has it)."""
    import awkward as ak

    events = _event_rows(file, path, start, stop, ("hit_start", "n_hits"))
    first, last = _row_range(events["hit_start"], events["n_hits"])
    names = list(HIT_FIELDS)
    if truth:
        names += [name for name in ("true_energy", "true_gamma", "true_fraction", "saturated") if f"hits/{name}" in file]
    columns = {name: _column(file, path, "hits", name, first, last) for name in names}
    for name, bounds in (*_HIT_RANGES.items(), *((key, _TRUTH_RANGES[key]) for key in _TRUTH_RANGES if key in columns)):
        _refuse_outside(path, f"/hits/{name}", columns[name], bounds, "hit row", first)
    columns["crystal_id"] = _whole_ids(path, columns["crystal_id"], first)
    _check_crystals(file, path, columns, first)
    _refuse(path, "/hits/crystal_id", columns["crystal_id"], repeated_crystals(columns["crystal_id"], events["n_hits"]),
            "hit row", first, "each crystal at most once per event, as a crystal is read out (merged or concatenated data?)")
    # one convention for every method, the networks' inputs included: azimuths of [0, 2 pi) files into (-pi, pi]
    # (within float32's rounding of pi, where both conventions meet, a value is kept as written)
    phi = columns["phi"]
    columns["phi"] = np.where(phi > np.pi + _ANGLE_SLACK, phi - 2 * np.pi, phi).astype(phi.dtype)
    if "saturated" in columns:  # a flag: C++ writers may store it as 0/1 integers, which read as booleans
        flags = columns["saturated"]
        _refuse(path, "/hits/saturated", flags, (flags != 0) & (flags != 1), "hit row", first, "a flag, 0 or 1")
        columns["saturated"] = flags.astype(bool)
    if "true_gamma" in columns:
        if n_gammas is None and "events/n_gammas" in file:
            n_gammas = _column(file, path, "events", "n_gammas", start, start + len(events["n_hits"]))
        _check_true_gamma(path, columns["true_gamma"], events["n_hits"], n_gammas, start, first)
    return ak.unflatten(ak.zip(columns), events["n_hits"])


def _refuse(path: str | Path, key: str, values: np.ndarray, bad: np.ndarray, row_name: str, first: int, expected: str) -> None:
    """A :class:`CalorimeterFileError` at the first ``bad`` value (rows counted from ``first``): the key, the row,
    the value found and what a valid file holds there."""
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise CalorimeterFileError(path, f"{key} is {values[row]} at {row_name} {first + row}; expected {expected}")


def _refuse_outside(path: str | Path, key: str, values: np.ndarray, bounds: tuple[float, float, str], row_name: str,
                    first: int) -> None:
    """:func:`_refuse` the values outside ``bounds`` (lowest, highest, what is expected), NaN and infinities."""
    low, high, expected = bounds
    inside = np.isfinite(values) & (values >= low) & (values <= high)
    _refuse(path, key, values, ~inside, row_name, first, expected)


def _whole_ids(path: str | Path, ids: np.ndarray, first: int, key: str = "/hits/crystal_id", row_name: str = "hit row") -> np.ndarray:
    """Crystal ids as integers: a float column (as some writers store them) must hold whole numbers."""
    if ids.dtype.kind in "iu":
        return ids
    whole = np.zeros(len(ids), bool) if ids.dtype.kind == "b" else np.isfinite(ids) & (np.round(ids) == ids)
    _refuse(path, key, ids, ~whole, row_name, first, "a crystal id, a whole number")
    return ids.astype(np.int64)


def _check_crystals(file: h5py.File, path: str | Path, columns: Mapping[str, np.ndarray], first: int) -> None:
    """Every hit's crystal in the file's own geometry table, or else in the geometry its ``geometry`` attribute
    names (when this version knows it): a crystal that does not exist has no position. Where that table gives the
    crystals' extents, every hit's angles within its crystal's: the sphere window places a hit by its crystal, the
    other methods by its angles, so angles of another numbering would give each method other positions."""
    table, where = _crystal_table(file, path)
    if table is None:
        return
    ids, known = columns["crystal_id"], table["crystal_id"]
    unknown = ~np.isin(ids, known)
    if unknown.any():
        row = int(np.flatnonzero(unknown)[0])
        raise CalorimeterFileError(path, f"/hits/crystal_id {ids[row]} at hit row {first + row} is not in {where} "
                                         f"({len(known)} crystals, ids {known.min()}..{known.max()})")
    if all(key in table for key in _EXTENTS):
        _check_angles(path, columns, table, where, first)


#: a crystal table's angular extents [rad]
_EXTENTS = ("theta_min", "theta_max", "phi_min", "phi_max")


def _check_angles(path: str | Path, columns: Mapping[str, np.ndarray], table: Mapping[str, np.ndarray], where: str,
                  first: int) -> None:
    """Each hit's theta and phi within its crystal's extent in ``table`` (azimuths compared across the +-pi edge)."""
    order = np.argsort(table["crystal_id"])
    crystal = order[np.searchsorted(table["crystal_id"], columns["crystal_id"], sorter=order)]
    theta_min, theta_max = table["theta_min"][crystal], table["theta_max"][crystal]
    theta = columns["theta"]
    outside = (theta < theta_min - _ANGLE_SLACK) | (theta > theta_max + _ANGLE_SLACK)
    width = np.mod(table["phi_max"] - table["phi_min"], 2 * np.pi)[crystal]
    # a crystal all around the beam: its extent spans 2 pi, which the modulo (and float32 rounding) puts near 0
    width = np.where((width > _ANGLE_SLACK) & (width < 2 * np.pi - _ANGLE_SLACK), width, 2 * np.pi)
    off_centre = wrap_phi(columns["phi"] - (table["phi_min"][crystal] + width / 2))
    outside |= np.abs(off_centre) > width / 2 + _ANGLE_SLACK
    if outside.any():
        row = int(np.flatnonzero(outside)[0])
        k = crystal[row]
        raise CalorimeterFileError(
            path, f"the hit at row {first + row} has theta {theta[row]:.4f}, phi {columns['phi'][row]:.4f} rad, outside "
                  f"its crystal {columns['crystal_id'][row]} in {where} (theta {table['theta_min'][k]:.4f}.."
                  f"{table['theta_max'][k]:.4f}, phi {table['phi_min'][k]:.4f}..{table['phi_max'][k]:.4f}): angles and "
                  "crystal ids of different calorimeters or numberings?")


def _crystal_table(file: h5py.File, path: str | Path) -> tuple[dict[str, np.ndarray] | None, str]:
    """The crystals a file's hits may name (their ids, and their extents where known) and where they come from;
    None when nothing says."""
    if "geometry/crystal_id" in file:
        return _geometry_table(file, path, ("crystal_id", *_EXTENTS)), "the file's /geometry"
    name = _text_attribute(file, "geometry")
    try:
        geometry = geometry_by_name(name) if name is not None else None
    except ValueError:  # a calorimeter this version does not know: nothing to check the ids against
        return None, ""
    return (None, "") if geometry is None else (geometry.table(), f"the geometry {name!r} the file names")


def _geometry_table(file: h5py.File, path: str | Path, keys: tuple[str, ...]) -> dict[str, np.ndarray]:
    """The columns ``keys`` (``crystal_id`` first) of a file's ``/geometry`` crystal table that it has: one value per
    crystal in each, whole crystal ids and finite angles (a NaN extent would let every hit pass as inside)."""
    n = len(file["geometry/crystal_id"])  # of a group, its members: _column refuses it
    ids = _column(file, path, "geometry", "crystal_id", 0, n)
    table = {"crystal_id": _whole_ids(path, ids, 0, "/geometry/crystal_id", "crystal row")}
    for key in keys[1:]:
        if f"geometry/{key}" not in file:
            continue
        dataset = file[f"geometry/{key}"]
        if isinstance(dataset, h5py.Dataset) and dataset.ndim == 1 and len(dataset) != n:
            raise CalorimeterFileError(path, f"/geometry/{key} has {len(dataset)} values for the {n} crystals of "
                                             "/geometry/crystal_id; expected one per crystal")
        values = _column(file, path, "geometry", key, 0, n)
        _refuse(path, f"/geometry/{key}", values, ~np.isfinite(values), "crystal row", 0, "a finite angle [rad]")
        table[key] = values
    return table


def _check_true_gamma(path: str | Path, true_gamma: np.ndarray, n_hits: np.ndarray, n_gammas: np.ndarray | None,
                      start: int, first: int) -> None:
    """Each hit's gamma is -1 (background) or one of its event's gammas (``n_gammas``: None when the file does not
    count them)."""
    counted = n_gammas is not None
    limit = np.repeat(n_gammas, n_hits) if counted else np.iinfo(np.int64).max
    bad = (true_gamma < -1) | (true_gamma >= limit)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        event = start + int(np.searchsorted(np.cumsum(n_hits), row, side="right"))
        held = f" (event {event} has {limit[row]})" if counted else ""
        raise CalorimeterFileError(path, f"/hits/true_gamma is {true_gamma[row]} at hit row {first + row}; expected -1 "
                                         f"(background) or the index of one of its event's gammas{held}")


def _event_rows(file: h5py.File, path: str | Path, start: int, stop: int | None, names: tuple[str, str]) -> dict[str, np.ndarray]:
    total = len(file["events"]["n_hits"])
    stop = total if stop is None else stop
    if not 0 <= start <= stop <= total:
        raise IndexError(f"{path}: events {start}..{stop} out of range (the file has {total})")
    # the event before the range too: the range must start where that one ends, so that a file read in parts
    # is checked as when read whole
    before = min(start, 1)
    rows = {name: _column(file, path, "events", name, start - before, stop) for name in names}
    _check_index(path, rows[names[0]], rows[names[1]], names, start - before)
    _check_covered(file, path, rows[names[0]], rows[names[1]], names, start == 0, stop == total)
    return {name: values[before:] for name, values in rows.items()}


#: the table an event index points into, by its first-row column, and a column of it every file has
_INDEXED = {"hit_start": ("hits", "crystal_id"), "gamma_start": ("gammas", "energy_rest")}


def _check_covered(file: h5py.File, path: str | Path, starts: np.ndarray, counts: np.ndarray, names: tuple[str, str],
                   first: bool, last: bool) -> None:
    """The first event starts at row 0 and the last ends at the table's end: rows before or after would belong
    to no event (a shifted or cut index). ``first``/``last``: whether ``starts`` holds the first/last event."""
    start_key, (table, column) = f"/events/{names[0]}", _INDEXED[names[0]]
    if first and len(starts) and starts[0] != 0:
        raise CalorimeterFileError(path, f"{start_key} is {starts[0]} at event 0; expected 0: the first event starts at "
                                         f"the first row of /{table}")
    dataset = file.get(f"{table}/{column}")
    rows = len(dataset) if isinstance(dataset, h5py.Dataset) and dataset.ndim == 1 else 0
    end = int(starts[-1] + counts[-1]) if len(starts) else 0
    if last and end < rows:
        raise CalorimeterFileError(path, f"the event index ends at row {end} of /{table}, which has {rows} rows; "
                                         "expected every row in an event (is the index cut short?)")


def _check_index(path: str | Path, starts: np.ndarray, counts: np.ndarray, names: tuple[str, str], first: int) -> None:
    """Events ``first..`` of an event index: counts and first rows >= 0, each event's rows right after the previous
    event's (the writer's layout; two events sharing rows would each claim the other's hits)."""
    start_key, count_key = (f"/events/{name}" for name in names)
    _refuse(path, count_key, counts, counts < 0, "event", first, "a row count >= 0")
    _refuse(path, start_key, starts, starts < 0, "event", first, "a row number >= 0")
    ends = starts[:-1] + counts[:-1]
    gap = np.flatnonzero(starts[1:] != ends)
    if len(gap):
        row = int(gap[0])
        raise CalorimeterFileError(path, f"{start_key} is {starts[row + 1]} at event {first + row + 1}; expected {ends[row]}, "
                                         f"where event {first + row} ends ({names[0]} + {names[1]}): the event index must "
                                         "describe consecutive rows")


def _row_range(starts: np.ndarray, counts: np.ndarray) -> tuple[int, int]:
    if not len(starts):
        return 0, 0
    return int(starts[0]), int(starts[-1] + counts[-1])


def _column(file: h5py.File, path: str | Path, group: str, name: str, first: int, last: int) -> np.ndarray:
    key = f"{group}/{name}"
    if key not in file:
        raise CalorimeterFileError(path, f"missing dataset /{key}")
    dataset = file[key]
    if not isinstance(dataset, h5py.Dataset):
        raise CalorimeterFileError(path, f"/{key} is a {type(dataset).__name__}, expected a dataset")
    if key in _INTEGERS and dataset.dtype.kind not in "iu":
        raise CalorimeterFileError(path, f"/{key} holds {dataset.dtype} values, expected integers ({_INTEGERS[key]})")
    if dataset.dtype.kind not in "biuf":  # text or compound values: no arithmetic, no NaN check
        raise CalorimeterFileError(path, f"/{key} holds {dataset.dtype} values, expected numbers")
    if dataset.ndim != 1:
        raise CalorimeterFileError(path, f"/{key} has shape {dataset.shape}, expected one value per row")
    if last > len(dataset):
        raise CalorimeterFileError(path, f"/{key} has {len(dataset)} rows but the event index needs {last} (truncated?)")
    try:
        return dataset[first:last]
    except OSError as error:  # a chunk cut off by a truncated write
        raise CalorimeterFileError(path, f"cannot read /{key} rows {first}..{last} (truncated or corrupt?): {error}") from None
