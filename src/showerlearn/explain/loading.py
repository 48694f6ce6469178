"""Rebuilding a trained network from its run directory, with the data pipeline it was trained with.

Explanations must see exactly what the network saw: the model is rebuilt from the config its best
checkpoint carries by the engine's own builders and given that checkpoint's weights (read weights-only:
:func:`showerlearn.engine.trained.load_network`), and events reach it through the run's DataModule (same
cleaning, normalisation and camera mapping as in training), fed with the user's file through
``use_prediction_inputs``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import nn

from showerlearn.config import ExperimentConfig, load_config
from showerlearn.data.base import ShowerDataModule
from showerlearn.engine.run_dir import RunDir
from showerlearn.engine.trained import load_network
from showerlearn.engine.sweep import is_sweep, sweep_runs
from showerlearn.registry import MODELS

__all__ = ["TrainedRun", "check_explainable", "load_trained_module", "network_checkpoint", "resolve_runs"]


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
        ValueError: the run trained a scikit-learn estimator (nothing to explain with gradients), or a network
            whose class declares it has nothing to map (:func:`check_explainable`).
    """
    described = load_config(run.config_file)
    if described.model is None:
        estimator = described.estimator.name if described.estimator else "?"
        raise ValueError(f"{run.path}: the run trained an estimator ({estimator}), not a network")
    # by its class, before the run is loaded or any file read (a declaration __init__ makes: once it is built)
    check_explainable(MODELS.get(described.model.name), str(run.path))
    return run.best_checkpoint()


def check_explainable(network: nn.Module | Callable[..., Any], source: str) -> None:
    """Refuse a network (built, or its class as registered) that declares it has nothing to map (``source``: the
    run, for the message).

    A network whose layers keep no activation per detector element (an MLP on flattened high-level features)
    says why, and what to explain instead, in its ``explain_unavailable`` attribute (a class attribute, or one
    set in ``__init__`` when it depends on the parameters). Without that declaration the driver would fail
    later on a symptom: no default layer, then for any ``--layer`` a layer "without positions".
    """
    reason = getattr(network, "explain_unavailable", None)
    if reason:
        name = getattr(network, "__name__", type(network).__name__)  # a class's own name, else a built network's
        raise ValueError(
            f"{source}: {name} has no per-position activations to explain, so Grad-CAM and attention maps do not "
            f"apply (nor does any --layer): {reason}"
        )


def resolve_runs(path: str | Path) -> list[RunDir]:
    """The runs of a sweep folder, or the single run directory ``path``."""
    return sweep_runs(path) if is_sweep(path) else [RunDir.existing(path)]
