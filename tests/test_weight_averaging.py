"""The moving average of the weights (``callbacks: [{name: ema_weight_averaging}]``): what the run checkpoints,
and so predicts with, is the average of the weights it trained, computed here from their record step by step."""

from __future__ import annotations

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


def test_a_decay_that_averages_nothing_is_refused_when_the_config_is_read(tabular_config: dict) -> None:
    tabular_config["callbacks"] = [{"name": "ema_weight_averaging", "params": {"decay": 1.0}}]
    with pytest.raises(ConfigError, match=r"callbacks\.0\.params\.decay: must be at least 0 and below 1, got 1\.0"):
        resolve_config(tabular_config)
