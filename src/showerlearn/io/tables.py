"""Column tables (predictions, features) in HDF5, written atomically, read back with their units.

A predictions file holds the per-event table under the key ``"predictions"`` (what
:func:`read_columns` reads by default, so every reader of per-event predictions works on any file) and
may hold per-element tables beside it (:func:`write_tables`): flat rows, one per hit say, whose
``event_index`` column gives the row of their event in the per-event table. :class:`TableStream` writes
the same layout chunk after chunk (tables of any length in constant memory), with attributes on the file
saying where its rows come from.

Units: every column whose unit the writer is told (``units``: table name -> column -> unit, each DataModule's
:meth:`~showerlearn.data.base.ShowerDataModule.column_units`) carries it as an attribute of its table's
dataset, ``<column>.unit``, an astropy unit string (``"TeV"``, ``"deg"``; ``""`` dimensionless), so that
h5py, pandas users and :func:`read_units` find it without knowing showerlearn. A reader that assumes units of
its own (an evaluator) gets its columns in them with :func:`convert_units`.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import astropy.units as u
import h5py
import numpy as np
from astropy.table import Table

from showerlearn.io.atomic import atomic_path

log = logging.getLogger(__name__)

PREDICTIONS_KEY = "predictions"
#: the column of a per-element table that names its event: a row of the per-event table
EVENT_INDEX = "event_index"
#: a classifier's per-class probability columns: ``score_<class>``; two classes give one ``score`` (of class 1)
CLASS_SCORE_PREFIX = "score_"


def score_columns(classes: Sequence[object]) -> list[str]:
    """The probability columns a classifier's predictions hold for ``classes`` (in class-index order)."""
    return ["score"] if len(classes) <= 2 else [f"{CLASS_SCORE_PREFIX}{name}" for name in classes]
# astropy stores each table's column metadata in a dataset of this suffix beside it
_META_SUFFIX = ".__table_column_meta__"
#: the attribute of a table's dataset that holds the unit of one of its columns
UNIT_ATTRIBUTE = "{column}.unit"

#: column units: table name -> column -> astropy unit string ("" dimensionless)
Units = Mapping[str, Mapping[str, str]]


def write_columns(
    path: str | Path, columns: Mapping[str, np.ndarray], key: str = PREDICTIONS_KEY, units: Mapping[str, str] | None = None,
    attributes: Mapping[str, Any] | None = None,
) -> Path:
    """Write equal-length 1-D columns as an HDF5 table (astropy format, readable by pandas/h5py), with the
    ``units`` of its columns (column -> astropy unit string) and file ``attributes`` (as :func:`write_tables`)."""
    return _write(path, {key: _table(path, key, columns)}, {key: units or {}}, attributes or {})


def write_tables(path: str | Path, tables: Mapping[str, Mapping[str, np.ndarray]], units: Units | None = None,
                 attributes: Mapping[str, Any] | None = None) -> Path:
    """Write named tables of equal-length 1-D columns into one HDF5 file, all or none (atomically), with
    the ``units`` of their columns (table -> column -> astropy unit string; columns not named have none) and the
    file ``attributes`` (numbers and text as they are, anything else as JSON text).

    The per-event table ``"predictions"`` is required; every other table is per element and needs an
    integer ``event_index`` column whose values are rows of the per-event table.
    """
    if PREDICTIONS_KEY not in tables:
        raise ValueError(f"{path}: no per-event table {PREDICTIONS_KEY!r} among the tables {sorted(tables)}")
    checked = {name: _table(path, name, columns) for name, columns in tables.items()}
    for name, table in checked.items():
        if name != PREDICTIONS_KEY:
            _check_event_index(path, name, table, len(checked[PREDICTIONS_KEY]))
    return _write(path, checked, units or {}, attributes or {})


def _write(path: str | Path, tables: Mapping[str, Table], units: Units, attributes: Mapping[str, Any]) -> Path:
    with atomic_path(path) as tmp:
        written = {}
        for number, (name, table) in enumerate(tables.items()):
            written[name] = _table_units(path, name, table.colnames, units)
            for column, unit in written[name].items():
                table[column].unit = unit or None  # astropy readers (Table.read) get them too
            table.write(tmp, path=name, format="hdf5", serialize_meta=True, compression=True, append=number > 0)
        with h5py.File(tmp, "a") as file:
            for name, table_units in written.items():
                _set_units(file[name], table_units)
            _set_attributes(file, attributes)
    return Path(path)


def _set_attributes(file: h5py.File, attributes: Mapping[str, Any]) -> None:
    """File attributes: numbers and text as they are, booleans as 0 or 1 (h5py writes them as an enum type that
    PyTables, which pandas and ctapipe users read with, warns of on every read), anything else as JSON text."""
    for key, value in attributes.items():
        if isinstance(value, (bool, np.bool_)):
            file.attrs[key] = np.uint8(value)
        else:
            file.attrs[key] = value if isinstance(value, (str, int, float)) else json.dumps(value)


def _table_units(path: str | Path, table: str, columns: Sequence[str], units: Units) -> dict[str, str]:
    """The units ``units`` gives the ``columns`` of ``table``, each checked as an astropy unit string; a
    per-element table's ``event_index`` (a row number, this module's column) is dimensionless."""
    given = dict(units.get(table, {}))
    if table != PREDICTIONS_KEY:
        given.setdefault(EVENT_INDEX, "")
    found = {}
    for column in columns:
        if column in given:
            try:
                found[column] = u.Unit(given[column]).to_string()
            except ValueError as error:
                raise ValueError(f"{path}: column {table}.{column}: {given[column]!r} is not an astropy unit ({error})") from None
    return found


def _set_units(dataset: h5py.Dataset, units: Mapping[str, str]) -> None:
    for column, unit in units.items():
        dataset.attrs[UNIT_ATTRIBUTE.format(column=column)] = unit


def read_units(path: str | Path, key: str = PREDICTIONS_KEY) -> dict[str, str]:
    """The units of table ``key``'s columns (column -> astropy unit string, ``""`` dimensionless); columns
    written without a unit are absent."""
    prefix, suffix = UNIT_ATTRIBUTE.split("{column}")
    try:
        with h5py.File(path, "r") as file:
            if key not in file:
                raise ValueError(f"{path}: no table {key!r}")
            attributes = dict(file[key].attrs)
    except OSError as error:
        raise ValueError(f"{path}: not a readable HDF5 file ({error})") from None
    return {
        # other writers (PyTables) store fixed-length byte strings
        name[len(prefix) : len(name) - len(suffix)]: value.decode() if isinstance(value, bytes) else str(value)
        for name, value in attributes.items()
        if name.startswith(prefix) and name.endswith(suffix)
    }


def convert_units(
    path: str | Path, tables: Mapping[str, Mapping[str, np.ndarray]], expected: Units
) -> dict[str, dict[str, np.ndarray]]:
    """The ``tables`` read from ``path`` with every column whose unit ``expected`` names (table -> column ->
    astropy unit string) converted to it from the unit the file stores (:func:`read_units`): a file written by
    another tool, or converted by hand, may hold energies in GeV where its reader assumes TeV.

    A column without a stored unit, with a dimensionless one (``""``) or that ``expected`` does not name is
    taken as it is (as it was before files carried units).

    Raises:
        ValueError: a stored unit that is not an astropy unit, or that is not convertible to the expected one.
    """
    converted = {}
    for name, columns in tables.items():
        stored, wanted = read_units(path, name), expected.get(name, {})
        converted[name] = {
            column: _in_unit(path, f"{name}.{column}", values, stored.get(column, ""), wanted.get(column))
            for column, values in columns.items()
        }
    return converted


def _in_unit(path: str | Path, column: str, values: np.ndarray, stored: str, expected: str | None) -> np.ndarray:
    if not stored or expected is None or stored == expected:  # no unit said, or none assumed, or the same one
        return values
    try:
        # through a Quantity, not a scale factor: a logarithmic unit (dex(TeV), mag) converts by exponentiating
        converted = (np.asarray(values, dtype=float) * u.Unit(stored)).to_value(expected)
    except (ValueError, TypeError) as error:  # an unparsable unit and UnitConversionError are ValueErrors
        raise ValueError(
            f"{path}: column {column} is stored in {stored!r}, which is not convertible to the expected {expected!r} "
            f"({error})"
        ) from None
    log.info("%s: column %s converted from %s to %s", path, column, stored, expected)
    return converted


def _table(path: str | Path, name: str, columns: Mapping[str, np.ndarray]) -> Table:
    if not name or "/" in name or name.endswith(_META_SUFFIX):
        raise ValueError(f"{path}: {name!r} is not a valid table name")
    lengths = {column: len(values) for column, values in columns.items()}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"columns of {path} differ in length: {lengths}")
    return Table({column: np.asarray(values) for column, values in columns.items()})


def _check_event_index(path: str | Path, name: str, table: Table, n_events: int) -> None:
    if EVENT_INDEX not in table.colnames:
        raise ValueError(f"{path}: per-element table {name!r} has no {EVENT_INDEX!r} column")
    index = np.asarray(table[EVENT_INDEX])
    if not np.issubdtype(index.dtype, np.integer):
        raise ValueError(f"{path}: {name}.{EVENT_INDEX} must hold integers, got {index.dtype}")
    if index.size and (index.min() < 0 or index.max() >= n_events):
        raise ValueError(
            f"{path}: {name}.{EVENT_INDEX} must lie in [0, {n_events}) (rows of the per-event table), "
            f"got values from {index.min()} to {index.max()}"
        )


class TableStream:
    """Write named tables, as :func:`write_tables` does, in chunks: each :meth:`append` adds rows to every table
    it names, so that tables of any length take the memory of one chunk.

    Rows go to ``partial`` (a file beside ``path``) while the stream is open; leaving the ``with`` block
    without an error renames it to ``path``, so ``path`` is always complete; an error removes it, and the
    folders the stream made for it that are still empty (an input refused leaves nothing behind). A reader of
    a half-written stream (after a kill) finds only ``partial``, which a new stream of that name replaces.
    ``partial`` must be this writer's own (:mod:`showerlearn.engine.predict` names it after its process): the
    stream replaces whatever file has that name on entry and renames whatever has it on exit, so two writers
    sharing one would remove and rename each other's rows.

    The per-event table's columns and their types are fixed by its first chunk. A per-element table's
    ``event_index`` counts rows of its chunk's per-event table; the stream shifts it by the per-event rows
    written before, so that in the file it is the row of the event in the whole per-event table.
    """

    #: rows of one compressed HDF5 chunk
    chunk_rows = 1 << 14

    def __init__(self, path: str | Path, partial: str | Path) -> None:
        self.path, self.partial = Path(path), Path(partial)
        self._units: Units = {}
        self._file: h5py.File | None = None
        self._made: list[Path] = []  # the folders this stream made, deepest first

    def __enter__(self) -> TableStream:
        folder = self.path.parent
        self._made = [path for path in (folder, *folder.parents) if not path.exists()]
        folder.mkdir(parents=True, exist_ok=True)
        self.partial.unlink(missing_ok=True)
        self._file = h5py.File(self.partial, "w")
        return self

    def __exit__(self, error_type: type[BaseException] | None, *_: object) -> None:
        assert self._file is not None
        self._file.close()
        if error_type is None:
            os.replace(self.partial, self.path)
            return
        self.partial.unlink(missing_ok=True)
        for folder in self._made:
            try:
                folder.rmdir()
            except OSError:  # another file came into it meanwhile (another process's output): kept, with those above
                break

    def rows(self, name: str = PREDICTIONS_KEY) -> int:
        """Rows written so far to table ``name``."""
        return len(self._file[name]) if name in self._open() else 0

    def dtype(self, name: str = PREDICTIONS_KEY) -> np.dtype | None:
        """The column types of table ``name`` (a structured dtype), None before its first chunk."""
        return self._file[name].dtype if name in self._open() else None

    def append(self, tables: Mapping[str, Mapping[str, np.ndarray]]) -> None:
        """Add one chunk: table name -> columns, the per-event table ``"predictions"`` among them."""
        if PREDICTIONS_KEY not in tables:
            raise ValueError(f"{self.path}: a chunk without the per-event table {PREDICTIONS_KEY!r}: {sorted(tables)}")
        n_events, offset = len(next(iter(tables[PREDICTIONS_KEY].values()), [])), self.rows()
        for name, columns in tables.items():
            table = _table(self.path, name, columns)
            if name != PREDICTIONS_KEY:
                _check_event_index(self.path, name, table, n_events)
                table[EVENT_INDEX] = np.asarray(table[EVENT_INDEX]) + offset
            self._add_rows(name, table.as_array())

    def set_units(self, units: Units) -> None:
        """The units of the tables' columns (table -> column -> astropy unit string): set on the tables written
        so far and on those still to come. A DataModule may know its columns only once it has read a file."""
        self._units = units
        file = self._open()
        for name in file:
            _set_units(file[name], _table_units(self.path, name, file[name].dtype.names, units))

    def set_attributes(self, attributes: Mapping[str, Any]) -> None:
        """File attributes, as :func:`write_tables` writes them."""
        _set_attributes(self._open(), attributes)

    def _add_rows(self, name: str, rows: np.ndarray) -> None:
        file = self._open()
        if any(rows.dtype[k].kind == "U" for k in range(len(rows.dtype))):
            raise ValueError(f"{self.path}: table {name!r} has text columns; a streamed table holds numbers only")
        if name not in file:
            dataset = file.create_dataset(
                name, shape=(0,), maxshape=(None,), dtype=rows.dtype, chunks=(self.chunk_rows,), compression="gzip"
            )
            _set_units(dataset, _table_units(self.path, name, rows.dtype.names, self._units))
        dataset = file[name]
        if dataset.dtype != rows.dtype:
            raise ValueError(
                f"{self.path}: table {name!r} got columns {_describe_dtype(rows.dtype)} after {_describe_dtype(dataset.dtype)}: "
                "every chunk must have the same columns"
            )
        start = len(dataset)
        dataset.resize((start + len(rows),))
        dataset[start:] = rows

    def _open(self) -> h5py.File:
        if self._file is None:
            raise RuntimeError(f"{self.path}: the table stream is not open (use it in a with block)")
        return self._file


def _describe_dtype(dtype: np.dtype) -> str:
    return "[" + ", ".join(f"{name}: {dtype[name]}" for name in dtype.names) + "]"


def read_attributes(path: str | Path) -> dict[str, Any]:
    """The attributes of an HDF5 file (what :meth:`TableStream.set_attributes` wrote), as Python values.

    Raises:
        ValueError: ``path`` is not a readable HDF5 file.
    """
    try:
        with h5py.File(path, "r") as file:
            return {key: value.item() if isinstance(value, np.generic) else value for key, value in file.attrs.items()}
    except OSError as error:
        raise ValueError(f"{path}: not a readable HDF5 file ({error})") from None


def read_columns(path: str | Path, key: str = PREDICTIONS_KEY) -> dict[str, np.ndarray]:
    """Read a table written by :func:`write_columns` back into a dict of numpy arrays."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no predictions file {path}")
    try:
        table = Table.read(path, path=key, format="hdf5")
    except (OSError, KeyError, ValueError) as error:
        raise ValueError(f"{path}: cannot read table {key!r} ({error})") from None
    return {name: np.asarray(table[name]) for name in table.colnames}


def table_names(path: str | Path) -> list[str]:
    """The tables of a file written by :func:`write_tables` (or :func:`write_columns`).

    Raises:
        FileNotFoundError: no file at ``path``.
        ValueError: ``path`` is not a readable HDF5 file.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no predictions file {path}")
    try:
        with h5py.File(path, "r") as file:
            return [name for name in file if not name.endswith(_META_SUFFIX)]
    except OSError as error:
        raise ValueError(f"{path}: not a readable HDF5 file ({error})") from None


def read_tables(path: str | Path) -> dict[str, dict[str, np.ndarray]]:
    """Every table of a file written by :func:`write_tables`: table name -> columns, ``"predictions"`` first."""
    names = table_names(path)
    if PREDICTIONS_KEY not in names:
        raise ValueError(f"{path}: no per-event table {PREDICTIONS_KEY!r}, only {names}")
    names.sort(key=lambda name: name != PREDICTIONS_KEY)
    return {name: read_columns(path, name) for name in names}


def as_tables(
    decoded: Mapping[str, np.ndarray] | Mapping[str, Mapping[str, np.ndarray]],
) -> dict[str, dict[str, np.ndarray]]:
    """What ``DataModule.decode_predictions`` returns -> named tables: per-event columns alone become
    the ``"predictions"`` table; a mapping of tables must hold that one."""
    if not any(isinstance(value, Mapping) for value in decoded.values()):
        return {PREDICTIONS_KEY: dict(decoded)}
    if not all(isinstance(value, Mapping) for value in decoded.values()) or PREDICTIONS_KEY not in decoded:
        raise ValueError(
            f"decoded predictions must be columns (name -> array) or tables (name -> columns, with the per-event "
            f"table under {PREDICTIONS_KEY!r}), got entries {sorted(decoded)}"
        )
    return {name: dict(columns) for name, columns in decoded.items()}
