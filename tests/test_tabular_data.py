"""The tabular DataModule's reader on bad input: every defect gives a TableError that names the file (and
the column, line or row) and what was expected; nothing is dropped, renamed or read from the wrong column."""

from __future__ import annotations

import re
from contextlib import AbstractContextManager
from pathlib import Path

import h5py
import numpy as np
import pytest

from showerlearn.data.tabular import TableError, TableSource, TabularDataModule

ROWS = 20
LABELS = ["g", "h"] * (ROWS // 2)
NUMBERS = ["0", "1"] * (ROWS // 2)


def _load(path: Path, group: str = "events") -> TabularDataModule:
    """The DataModule on features ``a``, ``b`` and label ``cls`` of ``path``."""
    return TabularDataModule(TableSource(path=path, group=group), features=["a", "b"], label="cls")


def _refused(path: Path, problem: str) -> AbstractContextManager[pytest.ExceptionInfo[TableError]]:
    """The error of a bad table: the file's path, then ``problem`` (a regular expression)."""
    return pytest.raises(TableError, match=f"^{re.escape(str(path))}: {problem}")


def _rows(labels: list[str] = LABELS) -> list[str]:
    """Good CSV rows ``a,b,cls`` (row r of them is on line r + 2, below the header)."""
    return [f"{i},{i / 2},{label}" for i, label in enumerate(labels)]


def _csv(path: Path, rows: list[str], header: str = "a,b,cls") -> Path:
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


def _hdf5(path: Path, **changed: np.ndarray) -> Path:
    """A good HDF5 table (group ``events``) with the ``changed`` columns."""
    columns = {"a": np.arange(ROWS, dtype=float), "b": np.arange(ROWS) / 2, "cls": np.array(LABELS, dtype="S1")}
    columns.update(changed)
    with h5py.File(path, "w") as file:
        for name, values in columns.items():
            file[f"events/{name}"] = values
    return path


@pytest.mark.parametrize(
    ("columns", "problem"),
    [
        ({"cls": np.array(LABELS[:15], dtype="S1")}, "columns of different lengths .*'cls': 15"),
        ({"b": np.arange(ROWS - 1.0)}, "columns of different lengths .*'b': 19"),
        ({"a": np.zeros((ROWS, 2))}, r"column 'a' has shape \(20, 2\), expected one value per row"),
        ({"a": np.float64(1.0)}, r"column 'a' has shape \(\), expected one value per row"),
    ],
    ids=["short-label", "short-feature", "2-d", "scalar"],
)
def test_every_hdf5_column_holds_one_value_per_row(tmp_path: Path, columns: dict, problem: str) -> None:
    path = _hdf5(tmp_path / "table.h5", **columns)
    with _refused(path, problem):
        _load(path)


def test_a_column_named_twice_in_the_header_is_refused(tmp_path: Path) -> None:
    path = _csv(tmp_path / "table.csv", [f"{i},0,{-i},{label}" for i, label in enumerate(LABELS)], header="a,b,a,cls")
    with _refused(path, re.escape("column(s) ['a'] named more than once in the header ['a', 'b', 'a', 'cls']")):
        _load(path)


@pytest.mark.parametrize(
    ("labels", "bad", "where"),
    [(LABELS, "", "line 5"), (NUMBERS, "nan", "line 5"), (LABELS, "NaN", "line 5"), (NUMBERS, "nan", "row 3")],
    ids=["csv-empty", "csv-nan-number", "csv-nan-text", "hdf5-nan"],
)
def test_an_empty_or_nan_label_is_refused_with_its_line(tmp_path: Path, labels: list, bad: str, where: str) -> None:
    labels = [*labels[:3], bad, *labels[4:]]  # once a class of its own (and numeric classes renamed '0.0', '1.0')
    if where.startswith("row"):
        path = _hdf5(tmp_path / "table.h5", cls=np.array(labels, dtype=float))
    else:
        path = _csv(tmp_path / "table.csv", _rows(labels))
    problem = f"column 'cls', {where}: label {bad!r} (empty or not finite), expected a class in every row"
    with _refused(path, re.escape(problem)):
        _load(path)


@pytest.mark.parametrize(
    ("cell", "problem"),
    [
        ("", "empty cell, expected a number in every row"),
        ("abc", "'abc' is not a number, expected a number in every row"),
        ("nan", "value nan, expected a finite number"),
        ("1e39", r"value 1e\+39, expected a finite number within float32's range"),
    ],
    ids=["empty", "text", "nan", "beyond-float32"],
)
def test_a_bad_feature_cell_names_its_column_and_line(tmp_path: Path, cell: str, problem: str) -> None:
    rows = _rows()
    rows[4] = f"4,{cell},g"
    path = _csv(tmp_path / "table.csv", rows)
    with _refused(path, f"column 'b', line 6: {problem}"):
        _load(path)


@pytest.mark.parametrize(
    ("group", "found"), [("evts", "no group"), ("events/a", "a Dataset, not a group, at")], ids=["missing", "dataset"]
)
def test_a_wrong_hdf5_group_names_the_groups_the_file_has(tmp_path: Path, group: str, found: str) -> None:
    path = _hdf5(tmp_path / "table.h5")
    with _refused(path, re.escape(f"{found} '{group}'; its groups: ['/', 'events']")):
        _load(path, group)


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("", re.escape("holds no rows (the file is empty)")),
        ("a,b,cls\n", re.escape("holds no rows, only the header row ['a', 'b', 'cls']")),
        ("hdf5", "holds no rows$"),
    ],
    ids=["zero-bytes", "header-only", "hdf5-zero-length"],
)
def test_a_table_without_rows_is_refused(tmp_path: Path, content: str, problem: str) -> None:
    if content == "hdf5":
        path = _hdf5(tmp_path / "table.h5", a=np.zeros(0), b=np.zeros(0), cls=np.zeros(0))
    else:
        path = tmp_path / "table.csv"
        path.write_text(content)
    with _refused(path, problem):
        _load(path)


@pytest.mark.parametrize("name", ["table.csv", "table.H5", "table.HDF5", "table"])
def test_hdf5_content_is_read_whatever_the_file_name(tmp_path: Path, name: str) -> None:
    data = _load(_hdf5(tmp_path / name))
    assert data.classes == ["g", "h"]
    np.testing.assert_array_equal(data.raw_features[:, 1], np.arange(ROWS) / 2)


@pytest.mark.parametrize("dtype", [h5py.string_dtype(), "S2"], ids=["variable-length", "fixed-length"])
def test_hdf5_text_labels_are_read_as_utf8(tmp_path: Path, dtype: object) -> None:
    labels = np.array([label.encode() for label in ["γ", "p"] * (ROWS // 2)], dtype=dtype)
    assert _load(_hdf5(tmp_path / "table.h5", cls=labels)).classes == ["p", "γ"]


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"PAR1\x15\x04\x15\xa0\x01\x00" * 8, "a Parquet file, which the tabular reader does not read"),
        (bytes(range(256)), r"neither HDF5 \(no HDF5 signature\) nor UTF-8 text"),
    ],
    ids=["parquet", "binary"],
)
def test_a_file_of_another_format_is_refused_naming_the_formats(tmp_path: Path, content: bytes, problem: str) -> None:
    path = tmp_path / "table.csv"
    path.write_bytes(content)
    with _refused(path, problem + "; expected a CSV file .* or an HDF5 file"):
        _load(path)


def test_a_training_split_of_one_class_is_refused_when_training_starts(tmp_path: Path) -> None:
    """A file of one class given alone would train a network answering that class whatever its inputs; predicting
    such a file with a trained run (setup for the test split) is fine."""
    data = _load(_csv(tmp_path / "one.csv", _rows(["g"] * ROWS)))
    with pytest.raises(ValueError, match=r"^one\.csv: the training split holds one class of the label \('g'\)"):
        data.setup("fit")
    data.setup("test")
    _load(_csv(tmp_path / "two.csv", _rows())).setup("fit")


def test_a_table_needs_a_feature(tmp_path: Path, tabular_config: dict) -> None:
    from showerlearn.config import ConfigError, resolve_config

    tabular_config["data"]["params"]["features"] = []
    with pytest.raises(ConfigError, match=r"data\.params\.features: List should have at least 1 item"):
        resolve_config(tabular_config)


def test_a_missing_table_is_named_by_its_key_when_a_finished_run_reads_it_again(tmp_path: Path) -> None:
    """predict, export and resume read a finished run's table without new-run checks: the reader names it."""
    with _refused(tmp_path / "gone.csv", r"no such file \(data\.params\.source\.path; a relative path is read from the working"):
        _load(tmp_path / "gone.csv")
