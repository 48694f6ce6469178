"""Lightning's checkpoint I/O, made atomic, self-contained and safe to read.

Saving goes through a temporary file renamed into place (a kill during a save never corrupts
``last.ckpt``) and adds the run's config and what its data fitted on the training split
(:meth:`~showerlearn.data.base.ShowerDataModule.fitted_state`) as plain data, so the network loads and
predicts new files from its checkpoint alone (:func:`showerlearn.engine.trained.load_network`). Loading, which is how ``--resume`` reads ``last.ckpt``,
accepts tensors and plain data only (:func:`showerlearn.engine.safe_load.load_checkpoint`).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.plugins.io import TorchCheckpointIO

from showerlearn.data.base import FITTED_STATE_KEY
from showerlearn.engine.safe_load import CONFIG_KEY, load_checkpoint
from showerlearn.io.atomic import atomic_path


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning's torch checkpoint I/O through a temporary file, with ``config`` (the run's resolved config
    as plain data, ``ExperimentConfig.model_dump(mode="json")``) and ``data_state`` (the DataModule's fitted
    state, fixed once its training split is set up) in every checkpoint, read back weights-only."""

    def __init__(self, config: Mapping[str, Any], data_state: Mapping[str, Any]) -> None:
        super().__init__()
        self.contents = self_contained(config, data_state)

    def save_checkpoint(self, checkpoint: dict[str, Any], path: str | Path, storage_options: Any = None) -> None:
        with atomic_path(path) as tmp:
            torch.save({**checkpoint, **self.contents}, tmp)

    def load_checkpoint(
        self, path: str | Path, map_location: Any = lambda storage, loc: storage, weights_only: bool | None = None
    ) -> dict[str, Any]:
        """Tensors and plain data only, whatever ``weights_only`` Lightning asks for; FileNotFoundError as Lightning's."""
        if not Path(path).is_file():
            raise FileNotFoundError(f"Checkpoint file not found: {path}")
        return load_checkpoint(path, map_location=map_location)


def self_contained(config: Mapping[str, Any], data_state: Mapping[str, Any]) -> dict[str, Any]:
    """What a checkpoint holds besides the weights so that it predicts alone: the config and, where the data
    fitted anything on the training split, that state."""
    return {CONFIG_KEY: dict(config), **({FITTED_STATE_KEY: dict(data_state)} if data_state else {})}
