"""Warm start: initialise a network from another run's trained weights (``init_from`` in the config).

Tensors are matched by name. Those with the same name and shape are copied; the model's other tensors
keep their fresh initialisation, and the checkpoint's other tensors are ignored. That covers
fine-tuning (same network, new data or task weights) and growing a network: a deeper ResNet with
``zero_init_last`` whose first blocks per stage carry the shallower network's weights starts as exactly
the shallower network's function. Optimizer state, epoch and learning-rate schedule are not taken over
(``train --resume`` continues a run; ``init_from`` starts a new one).
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from showerlearn.config import ConfigError
from showerlearn.engine.run_dir import RunDir
from showerlearn.engine.safe_load import UnsafeModelFile, load_checkpoint

__all__ = ["InitCheckpoint", "load_matching_weights", "read_init_checkpoint", "resolve_checkpoint"]

log = logging.getLogger(__name__)


def resolve_checkpoint(source: str | Path) -> Path:
    """A ``.ckpt`` file as given, or a run folder's best checkpoint (its last one if it has no best)."""
    path = Path(source)
    if path.is_file():
        return path
    if not path.is_dir():
        raise ConfigError("init_from", [f"init_from: {path} does not exist (expected a .ckpt file or a run folder)"])
    try:
        return RunDir(path).best_checkpoint()
    except FileNotFoundError as error:
        raise ConfigError("init_from", [f"init_from: {error}"]) from error


@dataclass(frozen=True)
class InitCheckpoint:
    """The checkpoint ``init_from`` names, read once: its file, its bytes (hashed for run.json) and content."""

    path: Path
    content: bytes
    state: dict[str, Any]


def read_init_checkpoint(source: str | Path) -> InitCheckpoint:
    """``init_from`` (a ``.ckpt`` file or a run folder) read weights-only; a ConfigError for anything unreadable."""
    checkpoint = resolve_checkpoint(source)
    try:
        content = checkpoint.read_bytes()  # read once: loaded and hashed
        return InitCheckpoint(checkpoint, content, load_checkpoint(checkpoint, data=content))
    except UnsafeModelFile:
        raise  # its own message: refused, not unreadable
    except Exception as error:  # zip and key errors mean "not a Lightning checkpoint"
        raise ConfigError("init_from", [f"init_from: {checkpoint} is not a readable Lightning checkpoint ({type(error).__name__}: {error})"]) from error


def load_matching_weights(module: nn.Module, source: str | Path | InitCheckpoint) -> dict[str, Any]:
    """Copy the tensors of ``source``'s ``state_dict`` that match ``module``'s by name and shape.

    Returns what happened, for ``run.json``: the checkpoint, its SHA-256, the number of copied tensors
    and the names of the module's tensors left at their initialisation (``new``) or whose shape
    differs (``shape_mismatch``: ``[name, checkpoint shape, model shape]``). The checkpoint is read
    weights-only: one holding anything but tensors and plain data raises ``UnsafeModelFile`` unread.
    """
    initial = source if isinstance(source, InitCheckpoint) else read_init_checkpoint(source)
    checkpoint, content = initial.path, initial.content
    if "state_dict" not in initial.state:
        raise ConfigError("init_from", [f"init_from: {checkpoint} is not a readable Lightning checkpoint (no state_dict)"])
    state = initial.state["state_dict"]
    own = module.state_dict()
    copied: dict[str, torch.Tensor] = {}
    mismatched: list[list[Any]] = []
    for name, tensor in own.items():
        if name not in state:
            continue
        if state[name].shape != tensor.shape:
            mismatched.append([name, list(state[name].shape), list(tensor.shape)])
            continue
        copied[name] = state[name]
    if not copied:
        raise ConfigError("init_from", [f"init_from: no tensor of {checkpoint} matches the model by name and shape (a different network?)"])
    module.load_state_dict(copied, strict=False)
    other_shape = {name for name, _, _ in mismatched}
    new = [name for name in own if name not in copied and name not in other_shape]
    log.info(
        "initialised %d of %d tensors from %s (%d new, %d of another shape)",
        len(copied), len(own), checkpoint, len(new), len(mismatched),
    )
    for name, stored, wanted in mismatched:
        log.warning("init_from: %s has shape %s in %s, the model wants %s: left at its initialisation", name, stored, checkpoint, wanted)
    return {
        "checkpoint": str(checkpoint.resolve()),
        "sha256": hashlib.sha256(content).hexdigest(),
        "copied": len(copied),
        "new": new,
        "shape_mismatch": mismatched,
    }
