"""Columnar files with jagged branches, read the way weaver-core reads them (JetClass, top tagging).

A weaver-core data config declares which branches hold one list per event (the tokens: ``part_px``,
``part_deta``...), which hold one value per event (``jet_pt``...) and which hold the labels (one class
index, or one-hot branches such as JetClass's ``label_QCD``, ``label_Hbb``...). :class:`ColumnarSource`
is that declaration, and :func:`read_columnar` reads it from

* ROOT files (``.root``) through uproot: a TTree's branches, by name;
* parquet files (``.parquet``, ``.pq``) through awkward (pyarrow): columns, by name;
* HDF5 files (``.h5``, ``.hdf5``) in the layout of :mod:`showerlearn.collider.io.h5columns`, by key
  (``constituents/pt``, ``events/mjj``), as the generated event files are written.

Every problem names the file and the branch: a missing tree or branch (with the close matches), a branch
of the wrong shape, token branches whose lengths differ in an event, NaN or infinite values.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import awkward as ak
import h5py
import numpy as np
from pydantic import Field

from showerlearn.collider.io.checks import check_finite, check_same_counts, reading
from showerlearn.collider.io.errors import ColliderDataError
from showerlearn.collider.io.h5columns import read_h5_column
from showerlearn.config.base import SettingsModel
from showerlearn.io.errors import hdf5_open_problem

__all__ = ["ColumnarEvents", "ColumnarSource", "read_columnar"]


class ColumnarSource(SettingsModel):
    """Which branches of a columnar file to read, and what each holds."""


    tokens: list[str] = Field(
        min_length=1, description="Branches with one list per event, one entry per token (the token features)."
    )
    scalars: list[str] = Field(default_factory=list, description="Branches with one value per event.")
    labels: list[str] = Field(
        default_factory=list,
        description="One branch of class indices, or one-hot branches (class i = the i-th branch); none: no labels.",
    )
    tree: str | None = Field(None, description="ROOT only: the TTree (default: the file's only tree).")


@dataclass(frozen=True)
class ColumnarEvents:
    """What :func:`read_columnar` read: tokens as records ``[event][token]``, scalars, class labels."""

    tokens: ak.Array
    scalars: dict[str, np.ndarray]
    labels: np.ndarray | None


def read_columnar(path: str | Path, source: ColumnarSource, labels_required: bool = True) -> ColumnarEvents:
    """Read the branches ``source`` declares from a ROOT, parquet or HDF5 file.

    ``labels_required=False`` (new data to predict): a file without the label branches is read unlabelled."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {path}")
    names = [*source.tokens, *source.scalars, *source.labels]
    optional = set() if labels_required else set(source.labels)
    columns = _reader(path)(path, names, source.tree, optional)
    absent = [name for name in source.labels if name not in columns]
    if absent and len(absent) < len(source.labels):
        raise ColliderDataError(path, f"has some of the label branches but not {', '.join(map(repr, absent))}")
    if absent:
        source = source.model_copy(update={"labels": []})
    lengths = {name: len(column) for name, column in columns.items()}
    if len(set(lengths.values())) > 1:
        raise ColliderDataError(path, f"the branches have different numbers of events: {lengths}")
    tokens = {name: _jagged(path, name, columns[name]) for name in source.tokens}
    _same_counts(path, tokens)
    scalars = {name: _flat(path, name, columns[name]) for name in [*source.scalars, *source.labels]}
    return ColumnarEvents(
        ak.zip(tokens), {name: scalars[name] for name in source.scalars}, _labels(path, source.labels, scalars)
    )


def _reader(path: Path) -> Callable[[Path, list[str], str | None, set[str]], dict[str, ak.Array | np.ndarray]]:
    """The reader of the file's format: ``reader(path, names, tree, optional)`` gives the columns ``names``, an
    error for a missing one unless it is ``optional``."""
    suffix = path.suffix.lower()
    readers = {".root": _read_root, ".parquet": _read_parquet, ".pq": _read_parquet, ".h5": _read_h5, ".hdf5": _read_h5}
    if suffix not in readers:
        raise ColliderDataError(
            path, f"unknown columnar format {suffix!r}; expected one of {', '.join(sorted(readers))}"
        )
    return readers[suffix]


def _present(path: Path, names: list[str], available: list[str], optional: set[str], what: str) -> list[str]:
    """``names`` without the optional ones the file lacks; an error (with close matches) for a missing required one."""
    for name in names:
        if name not in available and name not in optional:
            close = difflib.get_close_matches(name, available, n=3, cutoff=0.5)
            hint = f" (did you mean {' or '.join(map(repr, close))}?)" if close else ""
            raise ColliderDataError(
                path, f"no {what} {name!r}{hint}; the file has {len(available)}: {', '.join(available[:40])}"
            )
    return [name for name in names if name in available]


def _read_root(path: Path, names: list[str], tree_name: str | None, optional: set[str]) -> dict[str, ak.Array | np.ndarray]:
    import uproot

    try:
        file = uproot.open(path)
    except Exception as error:  # uproot raises several kinds for a file that is not ROOT
        raise ColliderDataError(path, f"not a ROOT file ({error})") from None
    with file:
        with reading(path, "the file's directory of objects"):  # a cut or damaged file fails here, in uproot
            kinds = {key.split(";")[0]: kind for key, kind in file.classnames().items()}
        trees = sorted(name for name, kind in kinds.items() if kind == "TTree")
        rntuples = sorted(name for name, kind in kinds.items() if kind == "ROOT::RNTuple")
        if not trees and rntuples:
            raise ColliderDataError(path, f"holds the RNTuple {', '.join(map(repr, rntuples))} and no TTree: only TTrees are "
                                          "read (uproot writes an RNTuple unless asked for a TTree, e.g. with file.mktree)")
        if tree_name is None and len(trees) != 1:
            raise ColliderDataError(path, f"holds {len(trees)} trees ({', '.join(trees) or 'none'}): name one (tree)")
        tree_name = tree_name or trees[0]
        if tree_name not in trees:
            raise ColliderDataError(path, f"no tree {tree_name!r}; the file has {', '.join(trees) or 'none'}")
        with reading(path, f"tree {tree_name!r}"):
            tree = file[tree_name]
            full = {key.rsplit("/", 1)[-1]: key for key in tree.keys(recursive=True)}
        names = _present(path, names, list(full), optional, f"branch in tree {tree_name!r}:")
        return {name: root_array(path, tree[full[name]], name) for name in names}


def root_array(path: Path, branch: Any, name: str) -> ak.Array:
    """A ROOT branch as an awkward array; an error naming the file and the branch for an object branch uproot
    cannot turn into numbers, or a basket that does not decompress (zlib.error...)."""
    with reading(path, f"branch {name!r}", "an object branch, or a damaged or cut-short file?"):
        return branch.array(library="ak")


def _read_parquet(path: Path, names: list[str], _tree: str | None, optional: set[str]) -> dict[str, ak.Array | np.ndarray]:
    try:
        metadata = ak.metadata_from_parquet(path)
    except Exception as error:  # pyarrow raises its own kinds for a file that is not parquet
        raise ColliderDataError(path, f"not a parquet file ({error})") from None
    names = _present(path, names, list(metadata["form"].fields), optional, "column")
    try:
        table = ak.from_parquet(path, columns=names)
    except Exception as error:  # pyarrow's kinds for a damaged page; find the column to name it
        if isinstance(error, MemoryError):
            raise
        for name in names:  # the error path only: one read per column
            with reading(path, f"column {name!r}"):
                ak.from_parquet(path, columns=[name])
        raise ColliderDataError(path, f"the columns {', '.join(names)} cannot be read ({error})") from None
    return {name: table[name] for name in names}


def _read_h5(path: Path, names: list[str], _tree: str | None, optional: set[str]) -> dict[str, ak.Array | np.ndarray]:
    try:
        file = h5py.File(path, "r")
    except OSError as error:
        raise ColliderDataError(path, hdf5_open_problem(path, error)) from None
    with file:
        return {name: read_h5_column(file, name, path) for name in names if name not in optional or name in file}


def _jagged(path: Path, name: str, column: ak.Array | np.ndarray) -> ak.Array:
    array = _without_options(path, name, column)
    if array.ndim == 2 and isinstance(array.type.content, ak.types.RegularType):
        raise ColliderDataError(
            path, f"branch {name!r} holds the same number of values ({array.type.content.size}) in every event: a "
            "fixed-size (zero-padded) array, whose padding would count as tokens; columnar sources need one "
            "variable-length list per event (zero-padded arrays: the npz source)"
        )
    if array.ndim != 2 or not _numeric(array):
        raise ColliderDataError(
            path, f"branch {name!r} is {array.type}; expected one list of numbers per event (tokens)"
        )
    check_finite(path, f"branch {name!r}", ak.to_numpy(ak.flatten(array)), lambda: ak.to_numpy(ak.num(array)))
    return array


def _flat(path: Path, name: str, column: ak.Array | np.ndarray) -> np.ndarray:
    array = _without_options(path, name, column)
    if array.ndim != 1 or not _numeric(array):
        raise ColliderDataError(path, f"branch {name!r} is {array.type}; expected one number per event")
    values = ak.to_numpy(array)
    check_finite(path, f"branch {name!r}", values)
    return values


def _without_options(path: Path, name: str, column: ak.Array | np.ndarray) -> ak.Array:
    """The column as an awkward array without nullable types (pyarrow and pandas write every parquet column
    nullable); an error if a value is really missing."""
    array = column if isinstance(column, ak.Array) else ak.Array(column)
    levels = _type_levels(array)
    if not any(isinstance(level, ak.types.OptionType) for level in levels):
        return array
    for axis in range(array.ndim):
        if ak.any(ak.is_none(array, axis=axis)):
            raise ColliderDataError(path, f"branch {name!r} has missing values (None) at depth {axis}")
    innermost = levels[-1]
    # a zero of the column's own type, so that float32 stays float32
    zero = np.zeros((), dtype=innermost.primitive) if isinstance(innermost, ak.types.NumpyType) else 0
    for axis in reversed(range(array.ndim)):
        array = ak.fill_none(array, zero if axis == array.ndim - 1 else [], axis=axis)
    return array


def _type_levels(array: ak.Array) -> list[ak.types.Type]:
    """The nested types of an array's elements, outermost first (lists, options, then the numbers)."""
    levels = [array.type.content]
    while hasattr(levels[-1], "content"):
        levels.append(levels[-1].content)
    return levels


def _numeric(array: ak.Array) -> bool:
    """Numbers (or booleans) at the innermost level: not records, strings or missing values."""
    levels = _type_levels(array)
    return len(levels) >= array.ndim and isinstance(levels[array.ndim - 1], ak.types.NumpyType)


def _same_counts(path: Path, tokens: dict[str, ak.Array]) -> None:
    names = list(tokens)
    reference = (names[0], ak.to_numpy(ak.num(tokens[names[0]])))
    for name in names[1:]:
        check_same_counts(path, reference, (name, ak.to_numpy(ak.num(tokens[name]))))


def _labels(path: Path, names: list[str], columns: dict[str, np.ndarray]) -> np.ndarray | None:
    if not names:
        return None
    if len(names) == 1:  # class indices 0, 1, ...: whole and not negative
        values = np.asarray(columns[names[0]])
        bad = ~np.isfinite(values.astype(np.float64)) | (values < 0) | (values != np.round(values))
        if bad.any():
            raise ColliderDataError(
                path, f"the label branch {names[0]!r} holds {values[bad][0]} in event {int(np.argmax(bad))}: "
                "class indices 0, 1, ... are expected"
            )
        return values.astype(np.int64)
    one_hot = np.stack([columns[name] for name in names], axis=1).astype(np.float64)
    if not np.all(np.isin(one_hot, (0.0, 1.0))) or not np.all(one_hot.sum(axis=1) == 1):
        rows = int(np.sum(one_hot.sum(axis=1) != 1))
        raise ColliderDataError(
            path,
            f"the one-hot label branches {', '.join(names)} do not hold exactly one 1 per event ({rows} events do not)",
        )
    return np.argmax(one_hot, axis=1).astype(np.int64)
