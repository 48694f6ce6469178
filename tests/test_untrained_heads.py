"""Heads a network computes and its task does not train give no predictions: their columns are NaN, so that
neither the run's own metrics nor an ensemble take weights no loss ever moved for a reconstruction."""

from __future__ import annotations

import numpy as np
import pytest
from iact_runs import EXAMPLES, PNG_FIGURES, TINY

from showerlearn.config import load_config
from showerlearn.engine.runner import train, trained_outputs
from showerlearn.io.tables import read_columns

PARTICLE_ONLY = "task.heads={particle: {loss: cross_entropy}}"


def test_outputs_of_heads_the_task_does_not_train_are_left_out() -> None:
    outputs = {name: np.zeros(3) for name in ("particle", "energy", "direction", "impact", "hillas_valid")}
    config = load_config(EXAMPLES / "gamma_physnet_da_small.yaml", [PARTICLE_ONLY])
    # energy, direction and impact are heads the network declares; hillas_valid is none of its heads: kept
    assert set(trained_outputs(outputs, config)) == {"particle", "hillas_valid"}
    every_head = load_config(EXAMPLES / "gamma_physnet_da_small.yaml")
    assert set(trained_outputs(outputs, every_head)) == set(outputs)
    estimator = load_config(EXAMPLES / "hillas_rf_small.yaml")
    assert trained_outputs(outputs, estimator) == outputs



def test_an_output_that_is_a_function_of_a_trained_head_is_kept() -> None:
    """Slot attention's slots and pairs are the same shares: trained through ``pairs``, its slots still cluster."""
    outputs = {"slots": np.zeros((1, 2, 3)), "pairs": np.zeros((1, 2, 2))}
    config = load_config(EXAMPLES / "calorimeter_slot_attention.yaml")
    assert set(config.task.heads) == {"pairs"} and set(trained_outputs(outputs, config)) == {"slots", "pairs"}


@pytest.mark.slow
def test_a_run_trained_on_one_head_predicts_nothing_for_the_others(iact_workspace: list[str]) -> None:
    # with figures: NaN energies and directions must not break them
    overrides = [*iact_workspace, *TINY, *PNG_FIGURES, PARTICLE_ONLY, "name=particle_only"]
    run = train(load_config(EXAMPLES / "gamma_physnet_da_small.yaml", overrides), progress=False)
    columns = read_columns(run.predictions_file)
    assert np.isfinite(columns["gammaness"]).all()
    for name in ("reco_energy", "reco_alt", "reco_az", "reco_core_x", "reco_core_y"):
        assert np.isnan(columns[name]).all(), name
