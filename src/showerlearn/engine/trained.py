"""A trained network from its checkpoint alone: the checkpoint carries the run's config as plain data.

Used wherever a trained network is applied (prediction, explanations, export): the config comes out of
the checkpoint, the network is rebuilt by the engine's own builders and given the checkpoint's weights,
all read weights-only (:mod:`showerlearn.engine.safe_load`). The DataModule is the one the config
describes, so the data it was trained on (or the files to predict on) must be readable: it gives the
network's data-dependent arguments (``model_inputs``) and its inputs.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

from showerlearn.config import ExperimentConfig, apply_overrides, load_config, resolve_config
from showerlearn.data.base import ShowerDataModule
from showerlearn.data.files import expand_patterns
from showerlearn.engine.run_dir import RunDir
from showerlearn.engine.runner import build_datamodule, build_module, load_trained_weights
from showerlearn.engine.safe_load import CONFIG_KEY, CheckpointFile
from showerlearn.tasks.module import MultiTaskModule

__all__ = ["TrainedNetwork", "load_network", "stored_config"]


class TrainedNetwork(NamedTuple):
    """What :func:`load_network` gives: the run's config, its DataModule and the LightningModule with the weights
    (in eval mode)."""

    config: ExperimentConfig
    datamodule: ShowerDataModule
    module: MultiTaskModule


def load_network(
    checkpoint: str | Path | CheckpointFile, inputs: Sequence[str | Path] | None = None, overrides: Sequence[str] = (),
    progress: bool = True,
) -> TrainedNetwork:
    """The network of ``checkpoint`` (a ``.ckpt`` file, or one read already to hash it too) with its weights, and
    its DataModule set up for prediction: on ``inputs`` (``use_prediction_inputs``, stage "predict") or on the
    run's test split (stage "test"). ``overrides`` (``KEY=VALUE``) change the stored config, as ``--set`` does;
    ``progress``: whether the DataModule may show progress bars (a first simulation of a cleared cache).

    Raises:
        UnsafeModelFile: the checkpoint holds anything but tensors and plain data.
        ValueError: it holds no config and lies in no run folder, or the config trains an estimator.
    """
    read = checkpoint if isinstance(checkpoint, CheckpointFile) else CheckpointFile.read(checkpoint)
    checkpoint, state = read.path, read.load()
    config = stored_config(state, checkpoint, overrides)
    if config.model is None:
        raise ValueError(f"{checkpoint}: its config trains an estimator, not a network")
    datamodule = build_datamodule(config, progress)
    # what the network was trained with, as predict restores it: new files need no training file, and outputs are
    # decoded as the network learnt them (an IACT impact of an earlier encoding) on the test split too
    datamodule.restore_from_checkpoint(state)
    if inputs:
        # patterns expanded here, as predict does, for every family's reader (not each of them does)
        inputs = expand_patterns(inputs, "--input", FileNotFoundError, folders=False, find_copies=False)
        datamodule.use_prediction_inputs(inputs)
    datamodule.setup("predict" if inputs else "test")
    module = build_module(config, datamodule)
    load_trained_weights(module, state, checkpoint)
    return TrainedNetwork(config, datamodule, module.eval())


def stored_config(state: dict[str, Any], checkpoint: Path, overrides: Sequence[str]) -> ExperimentConfig:
    """The config the checkpoint carries; for one written before checkpoints carried it, the ``config.yaml``
    of the run folder it lies in."""
    if CONFIG_KEY in state:
        data = apply_overrides(copy.deepcopy(state[CONFIG_KEY]), overrides)
        return resolve_config(data, source=f"{checkpoint} (its stored config)")
    run = RunDir(checkpoint.resolve().parent.parent)
    if run.config_file.is_file():
        return load_config(run.config_file, overrides)
    raise ValueError(
        f"{checkpoint}: holds no config (written by an older showerlearn) and lies in no run folder "
        "(RUN_DIR/checkpoints/): put it back in its run folder"
    )
