"""Feature tables (one row per event): CSV files or HDF5 groups of 1-D columns.

Covers the classic feature-level gamma/hadron sets (UCI MAGIC telescope CSV, FACT ``aict-tools``
HDF5) and any table users export, with two classes or more; also the smallest complete experiment
the engine can run.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, ClassVar

import h5py
import numpy as np
import torch
from annotated_types import MinLen
from pydantic import Field
from torch.utils.data import Dataset

from showerlearn.config.base import SettingsModel
from showerlearn.data.base import ShowerDataModule
from showerlearn.data.split import SplitSpec
from showerlearn.io.errors import FileProblemError
from showerlearn.io.tables import CLASS_SCORE_PREFIX, score_columns
from showerlearn.registry import DATAMODULES, Count, NonNegative


class TableSource(SettingsModel):
    """Where the table is and how to read it."""

    path: Path = Field(description="CSV file, or HDF5 file whose group `group` holds one dataset per column.")
    group: str = Field("events", description="HDF5 group holding the columns (ignored for CSV).")
    columns: list[str] | None = Field(None, description="Column names of a CSV file without a header row.")


class TableError(FileProblemError):
    """A feature table that cannot be read as asked: the message names the file (and the column, line or
    row) and what was expected."""


_FORMATS = "a CSV file (UTF-8 text, comma-separated) or an HDF5 file"
_PARQUET_MAGIC = b"PAR1"
_FLOAT32_MAX = float(np.finfo(np.float32).max)

# Where row i of a table is, for messages: "line 7" of a CSV file, "row 5" of an HDF5 group.
_Locate = Callable[[int], str]


def read_table(source: TableSource, features: list[str], label: str) -> dict[str, np.ndarray]:
    """The ``features`` as finite float64 columns and the ``label`` column (numbers when every value is
    one, else text), each 1-D, all of one length, with at least one row. The format is told by the
    file's content, not its name.

    Raises:
        TableError: the file is of another format, empty, corrupt, lacks a column or holds a bad value;
            the message names the file, the column and the first bad line (CSV) or row (HDF5).
    """
    if label in features:  # the network would read the answer
        raise TableError(source.path, f"label column {label!r} is also among the features {features}")
    if not source.path.is_file():  # a finished run's data read again (predict, export, resume) from elsewhere
        raise TableError(source.path, f"{'a folder, not a table file' if source.path.is_dir() else 'no such file'} "
                         f"(data.params.source.path; a relative path is read from the working folder, {Path.cwd()})")
    wanted = [*features, label]
    reader = _read_hdf5 if _is_hdf5(source.path) else _read_csv
    columns, locate = reader(source, wanted)
    _check_shapes(source.path, columns)
    table = {name: _numbers(source.path, name, columns[name], locate) for name in features}
    table[label] = _labels(source.path, label, columns[label], locate)
    return table


def _is_hdf5(path: Path) -> bool:
    """Whether ``path`` holds HDF5, by its signature: a name can lie (``.csv``, ``.H5``). Parquet is
    refused here, as pyarrow is not a dependency; anything else is left to the CSV reader."""
    if h5py.is_hdf5(path):
        return True
    with path.open("rb") as handle:
        if handle.read(len(_PARQUET_MAGIC)) == _PARQUET_MAGIC:
            raise TableError(path, f"a Parquet file, which the tabular reader does not read; expected {_FORMATS}")
    return False


def _read_hdf5(source: TableSource, wanted: list[str]) -> tuple[dict[str, np.ndarray], _Locate]:
    path = source.path
    try:
        with h5py.File(path, "r") as file:
            group = file.get(source.group)
            if not isinstance(group, h5py.Group):
                what = "no group" if group is None else f"a {type(group).__name__}, not a group, at"
                raise TableError(path, f"{what} {source.group!r}; its groups: {_groups(file)}")
            missing = [c for c in wanted if c not in group]
            if missing:
                raise TableError(path, f"group {source.group!r} has no column(s) {missing}; it has {sorted(group)}")
            return {c: _dataset_values(path, c, group[c]) for c in wanted}, "row {}".format
    except OSError as error:  # a truncated or corrupt file: the signature is there, the rest is not
        raise TableError(path, f"not a readable HDF5 file ({error})") from None


def _groups(file: h5py.File) -> list[str]:
    """Every group of ``file`` ("/" for the root), so that a misspelt group name can be corrected."""
    names = ["/"]
    file.visititems(lambda name, node: names.append(name) if isinstance(node, h5py.Group) else None)
    return names


def _dataset_values(path: Path, name: str, node: h5py.HLObject) -> np.ndarray:
    """A column's values; HDF5 strings (fixed or variable length) as text, decoded as UTF-8 (a superset of
    ASCII, which h5py declares for NumPy's bytes even when they hold UTF-8)."""
    if not isinstance(node, h5py.Dataset):
        raise TableError(path, f"column {name!r} is a {type(node).__name__}, expected a dataset (one value per row)")
    if not h5py.check_string_dtype(node.dtype):
        return np.asarray(node[()])
    try:
        return np.asarray(node.asstr("utf-8")[()], dtype=str)
    except UnicodeDecodeError as error:
        raise TableError(path, f"column {name!r} holds text that is not UTF-8 ({error})") from None


def _read_csv(source: TableSource, wanted: list[str]) -> tuple[dict[str, np.ndarray], _Locate]:
    path = source.path
    rows, lines = _csv_rows(path)
    if not rows:
        raise TableError(path, "holds no rows (the file is empty)")
    header = source.columns
    if not header:
        header, rows, lines = rows[0], rows[1:], lines[1:]
        if not rows:
            raise TableError(path, f"holds no rows, only the header row {header}")
    _check_header(path, header, wanted)
    for number, row in zip(lines, rows, strict=True):
        if len(row) != len(header):
            raise TableError(path, f"line {number}: {len(row)} fields, expected {len(header)} ({header})")
    position = {c: header.index(c) for c in wanted}
    columns = {c: np.asarray([row[position[c]] for row in rows], dtype=str) for c in wanted}
    return columns, lambda row: f"line {lines[row]}"


def _csv_rows(path: Path) -> tuple[list[list[str]], list[int]]:
    """The rows of a CSV file and the line each ends on (a quoted field can span lines)."""
    rows, lines = [], []
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:  # -sig: a spreadsheet's byte-order mark
            reader = csv.reader(handle)
            for row in reader:
                rows.append(row)
                lines.append(reader.line_num)
    except UnicodeDecodeError:
        raise TableError(path, f"neither HDF5 (no HDF5 signature) nor UTF-8 text; expected {_FORMATS}") from None
    except csv.Error as error:  # a NUL byte: binary content that happens to decode
        raise TableError(path, f"line {len(lines) + 1}: not CSV text ({error}); expected {_FORMATS}") from None
    return rows, lines


def _check_header(path: Path, header: list[str], wanted: list[str]) -> None:
    """Every wanted column named exactly once: of two columns of one name, neither is the right one."""
    if repeated := [c for c in wanted if header.count(c) > 1]:
        raise TableError(path, f"column(s) {repeated} named more than once in the header {header}")
    if missing := [c for c in wanted if c not in header]:
        raise TableError(path, f"no column(s) {missing}; it has {header}")


def _check_shapes(path: Path, columns: dict[str, np.ndarray]) -> None:
    """One value per row in every column (1-D, one length): rows are never dropped or misaligned."""
    for name, values in columns.items():
        if values.ndim != 1:
            raise TableError(path, f"column {name!r} has shape {values.shape}, expected one value per row (1-D)")
    lengths = {name: len(values) for name, values in columns.items()}
    if len(set(lengths.values())) > 1:
        raise TableError(path, f"columns of different lengths {lengths}, expected one value per row in each")
    if not any(lengths.values()):
        raise TableError(path, "holds no rows")


def _numbers(path: Path, name: str, values: np.ndarray, locate: _Locate) -> np.ndarray:
    """A feature column as float64, every value a finite number."""
    if values.dtype.kind == "U":
        try:
            values = values.astype(np.float64)  # one pass in numpy; cell by cell only to find a bad one
        except ValueError:
            row = [_number(text) for text in values].index(None)
            cell = f"{str(values[row])!r} is not a number" if values[row].strip() else "empty cell"
            raise TableError(path, f"column {name!r}, {locate(row)}: {cell}, expected a number in every row") from None
    elif values.dtype.kind not in "biuf":
        raise TableError(path, f"column {name!r} holds {values.dtype} values, expected numbers")
    values = values.astype(np.float64)
    bad = ~(np.abs(values) <= _FLOAT32_MAX)  # NaN compares False
    if bad.any():
        row = int(np.argmax(bad))
        problem = f"value {values[row]}, expected a finite number within float32's range (the networks' type)"
        raise TableError(path, f"column {name!r}, {locate(row)}: {problem}")
    return values


def _labels(path: Path, name: str, values: np.ndarray, locate: _Locate) -> np.ndarray:
    """The label column: numbers when every value is one (a CSV file holds text), else text. An empty or
    NaN label is refused: it would become a class of its own (and turn the others into floats)."""
    if values.dtype.kind == "U":
        parsed = [_number(text) for text in values]
        missing = [not t.strip() or (n is not None and not np.isfinite(n)) for t, n in zip(values, parsed, strict=True)]
        _refuse_missing(path, name, values, np.array(missing), locate)
        return values if None in parsed else np.array(parsed)
    if values.dtype.kind not in "biuf":
        raise TableError(path, f"column {name!r} holds {values.dtype} values, expected class names or numbers")
    _refuse_missing(path, name, values, ~np.isfinite(values), locate)
    return values


def _refuse_missing(path: Path, name: str, values: np.ndarray, missing: np.ndarray, locate: _Locate) -> None:
    if missing.any():
        row = int(np.argmax(missing))
        problem = f"label {str(values[row])!r} (empty or not finite), expected a class in every row"
        raise TableError(path, f"column {name!r}, {locate(row)}: {problem}")


def label_names(values: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Class labels as text and their distinct values in default class order.

    Numeric labels (a CSV's are parsed as float64, an HDF5 file's may be integers) sort by value, and
    integral ones are written as integers ("10", not "10.0"), so that both formats give the same
    classes and a config can name them ``["0", "1", ...]``; text labels sort as text."""
    if values.dtype.kind not in "iuf":
        text = values.astype(str)
        return text, sorted(set(text.tolist()))
    distinct = np.unique(values)  # sorted by value
    if values.dtype.kind == "f" and _integral(values):
        values, distinct = values.astype(np.int64), distinct.astype(np.int64)
    return values.astype(str), distinct.astype(str).tolist()


def _same_value(name: str, present: list[str]) -> str:
    """The name among the data's class names ``present`` with the number ``name`` says, else ``name`` itself."""
    value = _number(name)
    return name if value is None else next((p for p in present if _number(p) == value), name)


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _integral(values: np.ndarray) -> bool:
    """Whether every float is a whole number that float64 holds exactly (so the int64 cast is lossless)."""
    finite = np.isfinite(values).all()
    return bool(finite and (values == np.round(values)).all() and (np.abs(values) <= 2**53).all())


class _ArrayDataset(Dataset):
    def __init__(self, features: np.ndarray, labels: np.ndarray, index: np.ndarray) -> None:
        self.features = torch.as_tensor(features[index], dtype=torch.float32)
        self.labels = torch.as_tensor(labels[index], dtype=torch.long)
        self.index = torch.as_tensor(index)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> dict[str, Any]:
        return {
            "inputs": self.features[i],
            "targets": {"label": self.labels[i]},
            "meta": {"row": self.index[i], "label": self.labels[i]},
        }


@DATAMODULES.register("tabular")
class TabularDataModule(ShowerDataModule):
    """Classification of events from a feature table (head ``label``)."""

    model_input_names: ClassVar[frozenset[str]] = frozenset({"in_features", "n_classes"})

    def __init__(
        self,
        source: TableSource,
        features: Annotated[list[str], MinLen(1)],
        label: str,
        classes: list[str] | None = None,
        split: SplitSpec = SplitSpec(),
        standardize: bool = True,
        batch_size: Count = 256,
        num_workers: NonNegative = 0,
        seed: int = 0,
    ) -> None:
        """``classes`` lists label values in class-index order (default: sorted unique values).
        ``split``: train / val / test fractions of the rows and the seed that draws them (None: the
        experiment seed; fix it to share one test set across experiment seeds)."""
        super().__init__(batch_size=batch_size, num_workers=num_workers, seed=seed)
        table = read_table(source, features, label)
        self.source_name = Path(source.path).name
        self.features = np.stack([table[f] for f in features], axis=1).astype(np.float32)
        raw_labels, present = label_names(table[label])
        # classes a config names as numbers are matched by value: "1.0" (as earlier versions named them) is "1"
        self.classes = [_same_value(c, present) for c in classes] if classes else present
        unknown = set(raw_labels) - set(self.classes)
        if unknown:
            raise ValueError(f"{source.path}: label values {sorted(unknown)} not in classes {self.classes}")
        self.labels = np.array([self.classes.index(v) for v in raw_labels])
        self.split = SplitSpec.model_validate(split)  # a mapping too, when built outside a config
        self.parts = dict(zip(("train", "val", "test"), self.split.indices(len(self.labels), seed), strict=True))
        self.raw_features = self.features
        if standardize:  # statistics of the training part only, so the test set stays unseen
            train = self.features[self.parts["train"]]
            self.features = (self.features - train.mean(0)) / np.where(train.std(0) > 0, train.std(0), 1.0)

    @classmethod
    def new_run_problems(cls, params: Mapping[str, Any]) -> list[str]:
        """The table must be there (not checked by the schema: a finished run's config is read from any folder)."""
        path = Path((params.get("source") or {}).get("path", ""))
        if path.is_file():
            return []
        found = "a folder, not a table file" if path.is_dir() else "no such file"
        return [f"data.params.source.path: {found}: {path} (a relative path is read from the working folder, {Path.cwd()})"]

    def setup(self, stage: str | None = None) -> None:
        if stage == "fit" and len(present := np.unique(self.labels[self.parts["train"]])) < 2:
            # it would train to answer that class whatever the inputs, and be scored as if it had learnt
            named = ", ".join(repr(self.classes[i]) for i in present) or "none"
            raise ValueError(f"{self.source_name}: the training split holds one class of the label ({named}): a "
                             "classifier needs events of two classes at least (a file of one class given alone?)")
        self.train_set, self.val_set, self.test_set = (
            _ArrayDataset(self.features, self.labels, self.parts[p]) for p in ("train", "val", "test")
        )

    def model_inputs(self) -> dict[str, Any]:
        return {"in_features": self.features.shape[1], "n_classes": len(self.classes)}

    def arrays(self, split: str, raw: bool = False) -> tuple[np.ndarray, dict, dict, dict]:
        index = self.parts[split]
        labels = self.labels[index]
        features = self.raw_features if raw else self.features
        return features[index], {"label": labels}, {}, {"row": index, "label": labels}

    def decode_predictions(self, outputs: dict[str, np.ndarray], meta: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Class probabilities, in the columns the ``classification`` evaluator reads: ``score`` (of class 1)
        for two classes, else ``score_<class>`` for each class in class-index order."""
        logits = outputs["label"]
        probabilities = np.exp(logits - logits.max(axis=1, keepdims=True))
        probabilities /= probabilities.sum(axis=1, keepdims=True)
        columns, scores = {"row": meta["row"], "label": meta["label"]}, score_columns(self.classes)
        if len(scores) == 1:
            return {**columns, scores[0]: probabilities[:, 1]}
        return {**columns, **dict(zip(scores, probabilities.T, strict=True))}

    def describe(self) -> str:
        return f"feature table {self.source_name} ({len(self.labels)} rows, classes {', '.join(map(str, self.classes))})"

    def column_units(self) -> dict[str, dict[str, str]]:
        """Row numbers, class indices and probabilities: all dimensionless."""
        return {"predictions": dict.fromkeys(["row", "label", *score_columns(self.classes)], "")}

    @classmethod
    def average_predictions(
        cls, tables: Sequence[Mapping[str, np.ndarray]], names: Sequence[str]
    ) -> dict[str, np.ndarray]:
        """The mean of each score column (``score``, or ``score_<class>`` beyond two classes) of each row;
        every table must hold the same rows with the same labels and the same score columns."""
        scores = _score_columns_of(tables[0])
        if not scores:
            raise ValueError(f"{names[0]}: prediction table has no score column ('score' or 'score_<class>')")
        for table, name in zip(tables, names, strict=True):
            if missing := [column for column in ("row", "label", *scores) if column not in table]:
                raise ValueError(f"{name}: prediction table lacks columns {missing} that {names[0]}'s has")
            if extra := [column for column in _score_columns_of(table) if column not in scores]:
                raise ValueError(f"{name}: prediction table has score columns {extra} that {names[0]}'s lacks")
            for column in ("row", "label"):
                if not np.array_equal(np.asarray(table[column]), np.asarray(tables[0][column])):
                    raise ValueError(
                        f"{name}: column {column!r} differs from {names[0]}'s: not the same events (runs of other "
                        "seeds share a test set only with a fixed data.params.split.seed)"
                    )
        averaged = {
            column: np.stack([np.asarray(table[column], dtype=np.float64) for table in tables]).mean(axis=0)
            for column in scores
        }
        return {"row": np.asarray(tables[0]["row"]), "label": np.asarray(tables[0]["label"]), **averaged}


def _score_columns_of(table: Mapping[str, np.ndarray]) -> list[str]:
    """The score columns a prediction table holds, in its order (see :func:`score_columns`)."""
    return [column for column in table if column == "score" or column.startswith(CLASS_SCORE_PREFIX)]
