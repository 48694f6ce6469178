"""Feature tables (one row per event): CSV files or HDF5 groups of 1-D columns.

Covers the classic feature-level gamma/hadron sets (UCI MAGIC telescope CSV, FACT ``aict-tools``
HDF5) and any table users export, with two classes or more; also the smallest complete experiment
the engine can run.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import h5py
import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field, field_validator
from torch.utils.data import Dataset

from showerlearn.data.base import ShowerDataModule
from showerlearn.data.split import SplitSpec
from showerlearn.io.tables import CLASS_SCORE_PREFIX, score_columns
from showerlearn.registry import DATAMODULES


class TableSource(BaseModel):
    """Where the table is and how to read it."""

    model_config = ConfigDict(extra="forbid")

    path: Path = Field(description="CSV file, or HDF5 file whose group `group` holds one dataset per column.")
    group: str = Field("events", description="HDF5 group holding the columns (ignored for CSV).")
    columns: list[str] | None = Field(None, description="Column names of a CSV file without a header row.")

    @field_validator("path")
    @classmethod
    def _exists(cls, path: Path) -> Path:
        if not path.is_file():
            raise ValueError(f"no such file: {path}")
        return path


def read_table(source: TableSource, wanted: list[str]) -> dict[str, np.ndarray]:
    """Read the ``wanted`` columns; errors name the file and the missing column."""
    if source.path.suffix in (".h5", ".hdf5", ".hdf"):
        try:
            with h5py.File(source.path, "r") as file:
                group = file[source.group]
                missing = [c for c in wanted if c not in group]
                if missing:
                    raise KeyError(f"{source.path}:{source.group} has no column(s) {missing}; it has {sorted(group)}")
                return {c: group[c][()] for c in wanted}
        except OSError as error:
            raise OSError(f"{source.path}: not a readable HDF5 file ({error})") from None
    with source.path.open(newline="") as handle:
        rows = list(csv.reader(handle))
    header = source.columns or rows.pop(0)
    missing = [c for c in wanted if c not in header]
    if missing:
        raise KeyError(f"{source.path} has no column(s) {missing}; it has {header}")
    for number, row in enumerate(rows, start=1 if source.columns else 2):
        if len(row) != len(header):
            raise ValueError(f"{source.path}, line {number}: {len(row)} fields, expected {len(header)}")
    columns = dict(zip(header, zip(*rows), strict=True)) if rows else {c: () for c in header}
    return {c: _parse(np.asarray(columns[c])) for c in wanted}


def _parse(values: np.ndarray) -> np.ndarray:
    try:
        return values.astype(np.float64)
    except ValueError:
        return values  # a text column (class labels)


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
        features: list[str],
        label: str,
        classes: list[str] | None = None,
        split: SplitSpec = SplitSpec(),
        standardize: bool = True,
        batch_size: int = 256,
        num_workers: int = 0,
        seed: int = 0,
    ) -> None:
        """``classes`` lists label values in class-index order (default: sorted unique values).
        ``split``: train / val / test fractions of the rows and the seed that draws them (None: the
        experiment seed; fix it to share one test set across experiment seeds)."""
        super().__init__(batch_size=batch_size, num_workers=num_workers, seed=seed)
        table = read_table(source, [*features, label])
        self.source_name = Path(source.path).name
        self.features = np.stack([table[f] for f in features], axis=1).astype(np.float32)
        bad = ~np.isfinite(self.features)
        if bad.any():
            row, column = np.argwhere(bad)[0]
            raise ValueError(f"{source.path}: non-finite value in column {features[column]!r}, row {row}")
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

    def setup(self, stage: str | None = None) -> None:
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
