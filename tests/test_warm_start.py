"""Warm start (``init_from``): a grown network starts as the trained one; runs record what was copied."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from showerlearn.config import ConfigError, resolve_config
from showerlearn.engine.runner import train
from showerlearn.engine.warm_start import load_matching_weights
from showerlearn.iact.geometry import Lattice, lst_camera
from showerlearn.iact.nn import LatticeResNet


def _save(module: nn.Module, path: Path) -> Path:
    torch.save({"state_dict": module.state_dict()}, path)  # the layout of a Lightning checkpoint
    return path


def _trained_like(module: nn.Module) -> nn.Module:
    """Random non-zero weights and batch-norm statistics everywhere, as after training."""
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for tensor in [*module.parameters(), *(b for n, b in module.named_buffers() if "running" in n)]:
            tensor.copy_(torch.rand(tensor.shape, generator=generator) + 0.5)
    return module


def test_a_deeper_network_grown_from_a_shallower_one_computes_the_same_function(tmp_path: Path) -> None:
    lattice = Lattice.from_camera(lst_camera())
    torch.manual_seed(0)
    shallow = _trained_like(LatticeResNet(lattice, 2, depth=8, widths=(4, 8))).eval()
    deep = LatticeResNet(lattice, 2, depth=14, widths=(4, 8), zero_init_last=True).eval()
    report = load_matching_weights(deep, _save(shallow, tmp_path / "shallow.ckpt"))
    assert report["copied"] == len(shallow.state_dict()) and not report["shape_mismatch"]
    # the second block of each stage is new, and only it
    assert report["new"] and all(name.split(".")[:3] in (["stages", "0", "1"], ["stages", "1", "1"]) for name in report["new"])
    images = torch.rand(3, 2, lattice.n_pixels)
    assert torch.equal(deep(images), shallow(images))
    # the new blocks learn: their last convolution gets a gradient although it starts at zero
    deep.train()(images).square().sum().backward()
    assert deep.stages[0][1].conv2.weight.grad.abs().sum() > 0


def test_shape_mismatches_are_reported_and_unrelated_checkpoints_refused(tmp_path: Path) -> None:
    model = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2))
    other = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 5))
    report = load_matching_weights(model, _save(other, tmp_path / "other.ckpt"))
    assert report["copied"] == 2 and report["new"] == []
    assert report["shape_mismatch"] == [["1.weight", [5, 4], [2, 4]], ["1.bias", [5], [2]]]
    assert torch.equal(model[0].weight, other[0].weight)

    with pytest.raises(ConfigError, match="no tensor of .* matches"):
        load_matching_weights(model, _save(nn.Linear(7, 7), tmp_path / "unrelated.ckpt"))
    corrupt = tmp_path / "corrupt.ckpt"
    corrupt.write_bytes(b"not a checkpoint")
    with pytest.raises(ConfigError, match="init_from: .*corrupt.ckpt is not a readable Lightning checkpoint"):
        load_matching_weights(model, corrupt)
    with pytest.raises(ConfigError, match="init_from: .*missing does not exist"):
        load_matching_weights(model, tmp_path / "missing")
    with pytest.raises(ConfigError, match="init_from: .*no checkpoint"):
        load_matching_weights(model, tmp_path)


@pytest.mark.slow
def test_a_run_initialised_from_another_starts_from_its_weights(tabular_config: dict) -> None:
    source = train(resolve_config(tabular_config), progress=False)
    # learning rate 0: the new run's weights stay what it was initialised with
    frozen = tabular_config | {"name": "warm", "init_from": str(source.path), "optimizer": {"name": "adam", "params": {"lr": 0.0}}}
    run = train(resolve_config(frozen), progress=False)
    report = run.status()["init_from"]
    assert report["checkpoint"] == str(source.best_checkpoint().resolve()) and report["new"] == []
    assert len(report["sha256"]) == 64
    start = torch.load(source.best_checkpoint(), map_location="cpu", weights_only=False)["state_dict"]
    end = torch.load(run.best_checkpoint(), map_location="cpu", weights_only=False)["state_dict"]
    assert start.keys() == end.keys() and all(torch.equal(start[k], end[k]) for k in start)
    assert run.metrics()["scalars"]["auc"] == pytest.approx(source.metrics()["scalars"]["auc"])


def test_init_from_needs_a_network(tabular_config: dict) -> None:
    config = tabular_config | {"init_from": "somewhere", "model": None, "task": None, "estimator": {"name": "random_forest_classifier"}}
    with pytest.raises(ConfigError, match="init_from"):
        resolve_config(config)


def test_zero_epochs_evaluate_the_init_from_network_as_it_is(tabular_config: dict, tmp_path: Path) -> None:
    source = train(resolve_config(tabular_config), progress=False)
    evaluated = train(
        resolve_config(tabular_config | {"name": "as_is", "init_from": str(source.path), "trainer": {"max_epochs": 0}}),
        progress=False,
    )
    start = torch.load(source.best_checkpoint(), map_location="cpu", weights_only=False)["state_dict"]
    kept = torch.load(evaluated.best_checkpoint(), map_location="cpu", weights_only=False)["state_dict"]
    assert start.keys() == kept.keys() and all(torch.equal(start[k], kept[k]) for k in start)
    assert evaluated.status()["state"] == "completed" and evaluated.status()["init_from"]["new"] == []
    # the same network on the same test split: the same predictions
    assert evaluated.metrics()["scalars"]["auc"] == pytest.approx(source.metrics()["scalars"]["auc"])

    with pytest.raises(ConfigError, match="max_epochs: 0 evaluates a trained network without training: give it in `init_from`"):
        resolve_config(tabular_config | {"trainer": {"max_epochs": 0}})
    wider = tabular_config | {"name": "wider", "init_from": str(source.path), "trainer": {"max_epochs": 0}}
    wider["model"] = {**wider["model"], "params": {"hidden": 16}}
    with pytest.raises(ConfigError, match="does not hold this model's .* the same network"):
        train(resolve_config(wider), progress=False)
