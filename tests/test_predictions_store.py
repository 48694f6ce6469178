"""The predictions store: per-event and per-element tables in one predictions.h5, what the runner joins
from padded prediction batches, and which evaluators get the element tables."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from showerlearn.config import dump_config, resolve_config
from showerlearn.engine.run_dir import RunDir
from showerlearn.data.collate import concatenate_batches
from showerlearn.engine.runner import evaluate
from showerlearn.io.atomic import write_text_atomic
from showerlearn.io.tables import as_tables, read_columns, read_tables, write_columns, write_tables


def _tables() -> dict[str, dict[str, np.ndarray]]:
    return {
        "predictions": {"event_id": np.array([7, 8, 9]), "score": np.array([0.1, 0.5, 0.9])},
        "hits": {"event_index": np.array([0, 0, 2, 2, 2]), "energy": np.array([1.0, 2.0, 3.0, 4.0, 5.0])},
        "clusters": {"event_index": np.array([], dtype=np.int64), "size": np.array([], dtype=np.int64)},
    }


def test_tables_round_trip_and_the_per_event_table_reads_as_before(tmp_path: Path) -> None:
    path = write_tables(tmp_path / "predictions.h5", _tables())
    back = read_tables(path)
    assert list(back) == ["predictions", "clusters", "hits"]
    for name, columns in _tables().items():
        assert set(back[name]) == set(columns)
        for column, values in columns.items():
            np.testing.assert_array_equal(back[name][column], values)
    np.testing.assert_array_equal(read_columns(path)["score"], [0.1, 0.5, 0.9])
    # a file of the per-event table alone (every earlier run) reads as tables too
    old = write_columns(tmp_path / "old.h5", _tables()["predictions"])
    assert list(read_tables(old)) == ["predictions"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda t: t.pop("predictions"), "no per-event table"),
        (lambda t: t["hits"].pop("event_index"), "has no 'event_index' column"),
        (lambda t: t["hits"].update(event_index=np.array([0.0, 0, 2, 2, 2])), "must hold integers"),
        (lambda t: t["hits"].update(event_index=np.array([0, 0, 2, 2, 3])), r"must lie in \[0, 3\)"),
        (lambda t: t["hits"].update(energy=np.ones(4)), "differ in length"),
    ],
)
def test_invalid_tables_are_refused_and_leave_the_file_as_it_was(tmp_path: Path, change, message: str) -> None:
    path = write_tables(tmp_path / "predictions.h5", _tables())
    before = path.read_bytes()
    tables = _tables()
    change(tables)
    with pytest.raises(ValueError, match=message):
        write_tables(path, tables)
    assert path.read_bytes() == before and not list(tmp_path.glob(".*tmp*"))


def test_decoded_predictions_become_tables() -> None:
    columns = {"score": np.ones(2)}
    assert as_tables(columns) == {"predictions": columns}
    assert as_tables(_tables()).keys() == _tables().keys()
    with pytest.raises(ValueError, match="per-event table under 'predictions'"):
        as_tables({"hits": _tables()["hits"]})
    with pytest.raises(ValueError, match="columns .* or tables"):
        as_tables({"score": np.ones(2), "hits": _tables()["hits"]})


def test_padded_prediction_batches_join_along_the_events() -> None:
    batches = [
        {"hits": torch.ones(2, 3, 4), "hits_mask": torch.ones(2, 3, dtype=torch.bool), "pairs": torch.ones(2, 3, 3), "id": torch.tensor([0, 1])},
        {"hits": torch.full((1, 5, 4), 2.0), "hits_mask": torch.ones(1, 5, dtype=torch.bool), "pairs": torch.ones(1, 5, 5), "id": torch.tensor([2])},
    ]
    joined = concatenate_batches(batches)
    assert joined["hits"].shape == (3, 5, 4) and joined["pairs"].shape == (3, 5, 5) and joined["id"].tolist() == [0, 1, 2]
    assert joined["hits_mask"].tolist() == [[True] * 3 + [False] * 2] * 2 + [[True] * 5]
    assert (joined["hits"][:2, 3:] == 0).all() and (joined["hits"][2] == 2).all()
    assert joined["pairs"][:2].sum() == 2 * 9
    # batches of one shape join exactly as before
    same = concatenate_batches([{"x": torch.ones(2, 3)}, {"x": torch.zeros(1, 3)}])
    np.testing.assert_array_equal(same["x"], np.concatenate([np.ones((2, 3)), np.zeros((1, 3))]))


def element_rows(predictions: dict[str, np.ndarray], output_dir: Path, tables: dict[str, dict[str, np.ndarray]]) -> dict:
    """An evaluator that asks for the element tables."""
    return {"scalars": {"n_events": len(predictions["label"])}, "rows": {name: len(t["event_index"]) for name, t in tables.items()}}


@pytest.mark.parametrize("evaluator", ["classification", "test_predictions_store:element_rows"])
def test_evaluators_get_the_element_tables_when_they_ask(tabular_config: dict, tmp_path: Path, evaluator: str) -> None:
    run = RunDir(tmp_path / "run")
    run.path.mkdir()
    evaluation = {"name": evaluator, "params": {"figure_formats": ["png"]} if evaluator == "classification" else {}}
    write_text_atomic(run.config_file, dump_config(resolve_config({**tabular_config, "evaluation": evaluation})))
    write_tables(run.predictions_file, {
        "predictions": {"label": np.array([0, 1, 1, 0]), "score": np.array([0.2, 0.8, 0.7, 0.4])},
        "hits": {"event_index": np.array([0, 3]), "energy": np.array([1.0, 2.0])},
    })
    metrics = evaluate(run)
    if evaluator == "classification":  # no `tables` parameter: the per-event table only, as before
        assert metrics["scalars"]["auc"] == 1.0 and metrics["scalars"]["n_events"] == 4
    else:
        assert metrics == {"scalars": {"n_events": 4}, "rows": {"hits": 2}}


def test_an_evaluator_refusing_the_values_names_the_predictions_file(tabular_config: dict, tmp_path: Path) -> None:
    run = RunDir(tmp_path / "run")
    run.path.mkdir()
    write_text_atomic(run.config_file, dump_config(resolve_config({**tabular_config, "evaluation": {"name": "classification"}})))
    write_tables(run.predictions_file, {"predictions": {"label": np.array([0, 1, 1]), "score": np.array([0.2, np.nan, 0.7])}})
    with pytest.raises(ValueError, match=rf"^evaluating {run.predictions_file}: scores contain 1 NaN values"):
        evaluate(run)
    assert not run.metrics_file.exists()
    write_tables(run.predictions_file, {"predictions": {"label": np.array([0, 1, 1])}})  # no score column
    # a KeyError's sentence, without the quotes of its repr
    with pytest.raises(ValueError, match=rf"^evaluating {run.predictions_file}: predictions lack the columns \['score'\];"):
        evaluate(run)


def test_attributes_read_in_pytables_without_a_warning(tmp_path: Path) -> None:
    """h5py writes a bool attribute as an HDF5 enum, which PyTables (pandas.read_hdf, ctapipe's readers) warns of
    on every read of a predictions file: booleans are written as 0 or 1."""
    import warnings

    import tables

    from showerlearn.io.tables import read_attributes

    path = write_tables(tmp_path / "predictions.h5", _tables(), attributes={"keep_invalid": True, "note": "x", "n": 3})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with tables.open_file(path) as file:
            assert file.root._v_attrs["keep_invalid"] == 1
    assert read_attributes(path) == {"keep_invalid": 1, "note": "x", "n": 3}
