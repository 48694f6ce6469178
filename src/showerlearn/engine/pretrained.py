"""Networks the project trained and ships with the package, applied to new events as ordinary runs.

A shipped network is two files in its family's ``pretrained/`` folder: ``NAME.ckpt``, the weights with the
config they were trained with (tensors and plain data: it loads weights-only), and ``NAME.json``, its
provenance (the command that trained it, the commit, the digest of its training data, the training time and
the metrics its benchmark measured). :func:`pack` writes both from a finished run;
:meth:`PretrainedNetwork.evaluate` predicts and evaluates the network on the test split of new events
without training it (``trainer.max_epochs: 0`` with ``init_from``), so the board and every comparison read
the result like a run trained here.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from showerlearn.config import ExperimentConfig, resolve_config
from showerlearn.data.base import FITTED_STATE_KEY
from showerlearn.engine.checkpoint_io import self_contained
from showerlearn.engine.run_dir import RunDir
from showerlearn.engine.runner import train
from showerlearn.engine.safe_load import CONFIG_KEY, load_checkpoint
from showerlearn.engine.trained import stored_config
from showerlearn.io.atomic import atomic_path, read_json_object, write_json_atomic

__all__ = ["PretrainedNetwork", "pack"]

#: settings of the machine that trained it, meaningless elsewhere: back to their defaults when packed
_LOCAL_SETTINGS = ("output_dir", "init_from")
_LOCAL_DATA_SETTINGS = ("cache_dir", "num_workers")


@dataclass(frozen=True)
class PretrainedNetwork:
    """The shipped network whose weights are ``checkpoint`` (its provenance is the ``.json`` beside it)."""

    checkpoint: Path

    @property
    def name(self) -> str:
        return self.checkpoint.stem

    @property
    def provenance(self) -> dict[str, Any]:
        return read_json_object(self.checkpoint.with_suffix(".json"))

    def config(self, overrides: Sequence[str] = ()) -> ExperimentConfig:
        """The config it was trained with, changed by ``overrides`` (``KEY=VALUE``: typically the events), set to
        evaluate these weights without training."""
        evaluation = [f"init_from={json.dumps(str(self.checkpoint))}", "trainer.max_epochs=0", "trainer.max_time=null"]
        return stored_config(load_checkpoint(self.checkpoint), self.checkpoint, [*overrides, *evaluation])

    def evaluate(self, overrides: Sequence[str] = (), progress: bool = True) -> RunDir:
        """A completed run of this network on the test split that ``overrides`` give its data: predictions,
        metrics and figures, with the provenance in ``run.json`` (``pretrained``)."""
        run = train(self.config(overrides), progress=progress)
        run.update_status(pretrained=self.provenance)
        return run


def pack(run: RunDir, destination: Path, provenance: Mapping[str, Any]) -> PretrainedNetwork:
    """Write ``run``'s best network to ``destination`` (``NAME.ckpt``) with ``provenance`` (``NAME.json``).

    The checkpoint keeps the weights and the config only (no optimizer state: a third of the size), the config
    without the settings of the machine that trained it (:data:`_LOCAL_SETTINGS`, :data:`_LOCAL_DATA_SETTINGS`).
    """
    state = load_checkpoint(run.best_checkpoint())
    config = {k: v for k, v in state[CONFIG_KEY].items() if k not in _LOCAL_SETTINGS}
    config["data"] = copy.deepcopy(config["data"])
    for key in _LOCAL_DATA_SETTINGS:
        config["data"].get("params", {}).pop(key, None)
    resolve_config(copy.deepcopy(config), source=f"{run.path} (the config to ship)")  # still a valid config
    destination.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(destination.with_suffix(".ckpt")) as tmp:
        torch.save({"state_dict": state["state_dict"], **self_contained(config, state.get(FITTED_STATE_KEY, {}))}, tmp)
    write_json_atomic(destination.with_suffix(".json"), dict(provenance))
    return PretrainedNetwork(destination.with_suffix(".ckpt"))
