"""A calorimeter prediction file's tables are checked before they are scored (``evaluate``) or drawn (``plot``):
rows lost or out of place, values no prediction holds, truth that names no gamma of its event."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from showerlearn.calorimeter.evaluation.checks import prediction_table_problem
from showerlearn.calorimeter.evaluation.evaluator import evaluate_calorimeter
from showerlearn.calorimeter.evaluation.report import split_tables


def _tables() -> tuple[dict[str, np.ndarray], dict[str, dict[str, np.ndarray]]]:
    """Two events: 3 hits of 2 gammas in 2 clusters, then 1 hit of 1 gamma in 1 cluster."""
    predictions = {"beta": np.array([0.7, 0.7]), "n_hits": np.array([3, 1]), "n_gammas": np.array([2, 1]),
                   "n_clusters": np.array([2, 1])}
    tables = {
        "hits": {"event_index": np.array([0, 0, 0, 1]), "energy": np.array([1.0, 0.5, 0.2, 3.0]),
                 "theta": np.array([1.0, 1.1, 2.0, 0.5]), "phi": np.array([0.1, 0.2, -1.0, 3.0]),
                 "true_gamma": np.array([0, 0, 1, 0]), "label": np.array([0, 0, 1, 0])},
        "gammas": {"event_index": np.array([0, 0, 1]), "index": np.array([0, 1, 0]),
                   "energy_rest": np.array([2.0, 0.3, 4.0]), "energy_lab": np.array([1.5, 0.2, 3.0]),
                   "theta": np.array([1.0, 2.0, 0.5]), "phi": np.array([0.1, -1.0, 3.0])},
        "clusters": {"event_index": np.array([0, 0, 1]), "energy": np.array([1.5, 0.2, 3.0]),
                     "theta": np.array([1.05, 2.0, 0.5])},
    }
    return predictions, tables


def test_a_prediction_files_tables_pass() -> None:
    assert prediction_table_problem(*_tables()) is None
    predictions, tables = _tables()
    predictions["beta"][1] = np.nan  # measured data: no velocity known
    assert prediction_table_problem(predictions, tables) is None


def test_events_without_a_velocity_are_not_scored_against_the_truth(tmp_path: Path) -> None:
    predictions, tables = _tables()
    predictions["beta"][1] = np.nan
    with pytest.raises(ValueError, match=r"1 events have no velocity \(predictions\.beta is NaN from row 1; a hit file "
                                         r"converted without --beta or --beta-branch\)"):
        evaluate_calorimeter(predictions, tmp_path, tables, figure_formats=("png",))


@pytest.mark.parametrize(("table", "column", "row", "value", "expected"), [
    ("hits", "energy", 2, np.nan, "hits.energy is nan at row 2; expected a deposited energy [MeV], at least 0"),
    ("hits", "theta", 0, 4.0, "hits.theta is 4.0 at row 0; expected a polar angle in [0, pi]"),
    ("gammas", "energy_lab", 1, -1.0, "gammas.energy_lab is -1.0 at row 1; expected a gamma energy [MeV], at least 0"),
    ("clusters", "energy", 0, np.inf, "clusters.energy is inf at row 0; expected a cluster energy [MeV], at least 0"),
    ("hits", "event_index", 3, 2, "hits.event_index is 2 at row 3; expected an event row in [0, 2)"),
    ("gammas", "event_index", 0, -1, "gammas.event_index is -1 at row 0; expected an event row in [0, 2)"),
    ("hits", "event_index", 2, 1, "the hits table has 2 rows of event row 0, where predictions.n_hits says 3"),
    ("clusters", "event_index", 1, 1, "the clusters table has 1 rows of event row 0, where predictions.n_clusters says 2"),
    ("hits", "true_gamma", 3, 1, "hits.true_gamma is 1 at row 3; expected a gamma of its event (-1 to 0: event row 1 "
                                 "has 1 gammas)"),
    ("gammas", "index", 1, 2, "gammas.index is 2 at row 1; expected a gamma of its event (0 to 1"),
])
def test_a_damaged_value_is_named_with_its_table_column_and_row(table: str, column: str, row: int, value: float,
                                                                 expected: str) -> None:
    predictions, tables = _tables()
    tables[table][column] = tables[table][column].astype(type(value)) if isinstance(value, float) else tables[table][column]
    tables[table][column][row] = value
    assert prediction_table_problem(predictions, tables).startswith(expected)


def test_rows_lost_or_out_of_event_order_are_named() -> None:
    predictions, tables = _tables()
    tables["hits"] = {key: values[:3] for key, values in tables["hits"].items()}  # the last hit cut off
    assert prediction_table_problem(predictions, tables) == (
        "the hits table has 0 rows of event row 1, where predictions.n_hits says 1 (3 rows in all, 4 counted): rows "
        "lost or added")
    predictions, tables = _tables()
    tables["gammas"]["event_index"] = np.array([0, 1, 0])
    assert prediction_table_problem(predictions, tables) == (
        "gammas.event_index is 0 at row 2, after 1; expected the rows in event order")
    tables["gammas"]["event_index"] = np.array([0.0, 0.0, 1.0])
    assert prediction_table_problem(predictions, tables) == (
        "gammas.event_index holds float64 values; expected whole numbers (the row of its event)")


def test_evaluate_refuses_a_damaged_file_before_scoring_it() -> None:
    predictions, tables = _tables()
    tables["hits"]["energy"][0] = np.nan
    with pytest.raises(ValueError, match=r"hits\.energy is nan at row 0; .* \(a damaged prediction file\? predict it"):
        split_tables(predictions, tables)
