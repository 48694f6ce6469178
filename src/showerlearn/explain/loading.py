"""Rebuilding a trained network from its run directory, with the data pipeline it was trained with.

Explanations must see exactly what the network saw: the model is rebuilt from the config its best
checkpoint carries by the engine's own builders and given that checkpoint's weights (read weights-only:
:func:`showerlearn.engine.trained.load_network`), and events reach it through the run's DataModule (same
cleaning, normalisation and camera mapping as in training), fed with the user's file through
``use_prediction_inputs``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from torch import nn

from showerlearn.config import ExperimentConfig, load_config
from showerlearn.data.base import ShowerDataModule
from showerlearn.engine.run_dir import RunDir
from showerlearn.engine.trained import load_network
from showerlearn.engine.sweep import is_sweep, sweep_runs

__all__ = ["TrainedRun", "load_trained_module", "resolve_runs"]


@dataclass
class TrainedRun:
    """A trained network ready to explain.

    Attributes:
        run: the run directory.
        config: its resolved config.
        datamodule: its DataModule, set up for prediction on the given files (``predict_set``).
        model: the network (the LightningModule's ``model``) with the best checkpoint's weights, in eval mode.
        head_kinds: ``"classification"`` or ``"regression"`` per task head.
    """

    run: RunDir
    config: ExperimentConfig
    datamodule: ShowerDataModule
    model: nn.Module
    head_kinds: dict[str, str]


def load_trained_module(run_path: str | Path | RunDir, inputs: Sequence[str | Path], progress: bool = True) -> TrainedRun:
    """The network of a trained run and its DataModule set up to predict on ``inputs`` (``progress``: whether
    reading them may show progress bars).

    Raises:
        FileNotFoundError: not a run directory, or no checkpoint.
        ValueError: the run trained a scikit-learn estimator (nothing to explain with gradients).
        UnsafeModelFile: the checkpoint holds anything but tensors and plain data (refused unread).
    """
    run = run_path if isinstance(run_path, RunDir) else RunDir.existing(run_path)
    config, datamodule, module = load_network(network_checkpoint(run), inputs, progress=progress)
    return TrainedRun(run, config, datamodule, module.model.eval(), dict(module.head_kinds))


def network_checkpoint(run: RunDir) -> Path:
    """The best checkpoint of a run that trained a network (what can be explained).

    Raises:
        FileNotFoundError: no checkpoint.
        ValueError: the run trained a scikit-learn estimator (nothing to explain with gradients).
    """
    described = load_config(run.config_file)
    if described.model is None:
        estimator = described.estimator.name if described.estimator else "?"
        raise ValueError(f"{run.path}: the run trained an estimator ({estimator}), not a network")
    return run.best_checkpoint()


def resolve_runs(path: str | Path) -> list[RunDir]:
    """The runs of a sweep folder, or the single run directory ``path``."""
    return sweep_runs(path) if is_sweep(path) else [RunDir.existing(path)]
