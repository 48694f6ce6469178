"""Errors raised in worker processes (parallel simulation, a benchmark's runs) reach the parent pickled: each
of the package's errors with arguments of its own must come back whole, message and attributes."""

from __future__ import annotations

import pickle

import pytest

from showerlearn.calorimeter.io.errors import CalorimeterFileError
from showerlearn.collider.io.errors import ColliderDataError
from showerlearn.config.components import ComponentProblem
from showerlearn.config.errors import ConfigError
from showerlearn.data.tabular import TableError
from showerlearn.io import FileProblemError

ERRORS = [
    ComponentProblem(["model.params.dim: expected an integer"]),
    ConfigError("run.yaml", ["model.params.dim: expected an integer", "unknown key 'trainer.epochs'"]),
    FileProblemError("events.h5", "missing dataset /hits/energy"),
    CalorimeterFileError("hits.root", "branch 'Energy' is missing"),
    ColliderDataError("delphes.root", "branch 'EFlowTrack.PID' holds 211.5 in event 1; expected whole numbers"),
    TableError("features.csv", "column 'energy' is missing"),
]


@pytest.mark.parametrize("error", ERRORS, ids=lambda error: type(error).__name__)
def test_errors_survive_pickling_with_their_message_and_attributes(error: Exception) -> None:
    error.add_note("while reading part 3")
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is type(error)
    assert str(copy) == str(error) and vars(copy) == vars(error)
    assert copy.__notes__ == ["while reading part 3"]
