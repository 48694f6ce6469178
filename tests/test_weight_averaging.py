"""The moving average of the weights (``callbacks: [{name: ema_weight_averaging}]``): what the run checkpoints,
and so predicts with, is the average of the weights it trained, computed here from their record step by step."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import torch

from showerlearn.config import ConfigError, resolve_config
from showerlearn.engine.runner import train


@pytest.mark.slow
def test_the_checkpoint_holds_the_moving_average_of_the_trained_weights(tabular_config: dict, tmp_path: Path) -> None:
    decay, start = 0.7, 3
    tabular_config["callbacks"] = [
        {"name": "engine_plugins:RecordWeights", "params": {"folder": str(tmp_path)}},
        {"name": "ema_weight_averaging", "params": {"decay": decay, "update_starting_at_step": start}},
    ]
    run = train(resolve_config(tabular_config), progress=False)
    steps = sorted(int(path.stem) for path in tmp_path.glob("*.pt"))
    weights = {step: torch.load(tmp_path / f"{step}.pt") for step in steps}
    # Lightning counts the steps from 0 for the start: the step that makes global_step start + 1 is the first one
    first = start + 1
    average = dict(weights[first])
    for step in steps[steps.index(first) + 1:]:
        average = {name: decay * value + (1 - decay) * weights[step][name] for name, value in average.items()}

    checkpoint = torch.load(run.checkpoints / "last.ckpt", weights_only=False)
    last = weights[steps[-1]]
    assert checkpoint["state_dict"].keys() == average.keys()
    for name, value in checkpoint["state_dict"].items():
        torch.testing.assert_close(value, average[name].to(value.dtype), msg=name)
        torch.testing.assert_close(checkpoint["current_model_state"][name], last[name], msg=name)
    # not the last weights under another name: the average moved less than the training did
    assert any(not torch.equal(value, last[name]) for name, value in checkpoint["state_dict"].items())


@pytest.mark.slow
def test_before_the_average_begins_the_run_validates_and_saves_the_weights_it_trains(
    tabular_config: dict, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A start beyond the run: no average ever begins, and the run is the one it would be without the callback
    (not its untrained network, which the average holds until its first update)."""
    tabular_config["callbacks"] = [
        {"name": "engine_plugins:RecordWeights", "params": {"folder": str(tmp_path)}},
        {"name": "ema_weight_averaging", "params": {"update_starting_at_step": 10_000}},
    ]
    with caplog.at_level(logging.WARNING, logger="showerlearn"):
        run = train(resolve_config(tabular_config), progress=False)
    assert "training ended after 15 optimizer steps, before step 10000 (counted from 0), where the average" in caplog.text
    last = torch.load(tmp_path / "15.pt")
    checkpoint = torch.load(run.checkpoints / "last.ckpt", weights_only=False)
    assert "current_model_state" not in checkpoint
    for name, value in checkpoint["state_dict"].items():
        torch.testing.assert_close(value, last[name], msg=name)
    plain = {**tabular_config, "callbacks": [], "output_dir": str(tmp_path / "plain")}
    assert train(resolve_config(plain), progress=False).metrics()["scalars"] == run.metrics()["scalars"]


@pytest.mark.slow
def test_only_the_weights_are_averaged_in_the_networks_own_number_type(tabular_config: dict) -> None:
    """Integer buffers (a lattice's indices) stay the network's to the last digit, which floats averaged and rounded
    back would not; under 64-true the average is kept in float64 as the network is."""
    tabular_config["model"] = {"name": "engine_plugins:IndexedClassifier", "params": {"hidden": 8}}
    tabular_config["trainer"]["precision"] = "64-true"
    tabular_config["callbacks"] = [{"name": "ema_weight_averaging", "params": {"decay": 0.9}}]
    run = train(resolve_config(tabular_config), progress=False)
    checkpoint = torch.load(run.checkpoints / "last.ckpt", weights_only=False)
    average, trained = checkpoint["state_dict"], checkpoint["current_model_state"]
    assert torch.equal(average["model.order"], torch.arange(100_000) * 3)
    assert average["model.net.0.weight"].dtype == trained["model.net.0.weight"].dtype == torch.float64
    assert not torch.equal(average["model.net.0.weight"], trained["model.net.0.weight"])


def test_a_decay_that_averages_nothing_is_refused_when_the_config_is_read(tabular_config: dict) -> None:
    tabular_config["callbacks"] = [{"name": "ema_weight_averaging", "params": {"decay": 1.0}}]
    with pytest.raises(ConfigError, match=r"callbacks\.0\.params\.decay: must be at least 0 and below 1, got 1\.0"):
        resolve_config(tabular_config)
