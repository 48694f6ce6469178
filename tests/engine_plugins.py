"""User-side plugins given by import path (``engine_plugins:TinyClassifier``...) in engine tests."""

from __future__ import annotations

import time
import warnings
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback
from torch import nn


class TinyClassifier(nn.Module):
    def __init__(self, in_features: int, n_classes: int, hidden: int = 16, delay: float = 0.0) -> None:
        """``delay`` seconds of sleep per training forward pass make a run slow enough to kill mid-epoch."""
        super().__init__()
        self.delay = delay
        self.net = nn.Sequential(nn.Linear(in_features, hidden), nn.ReLU(), nn.Linear(hidden, n_classes))

    def forward(self, inputs: torch.Tensor) -> dict[str, torch.Tensor]:
        if self.training and self.delay:
            time.sleep(self.delay)
        return {"label": self.net(inputs)}


class IndexedClassifier(TinyClassifier):
    """:class:`TinyClassifier` reading its inputs through an integer buffer, as gamma-PhysNet reads its camera
    through neighbour indices: large whole numbers that no float rounding may change."""

    def __init__(self, in_features: int, n_classes: int, hidden: int = 16) -> None:
        super().__init__(in_features, n_classes, hidden)
        self.register_buffer("order", torch.arange(100_000, dtype=torch.long) * in_features)

    def forward(self, inputs: torch.Tensor) -> dict[str, torch.Tensor]:
        columns = (self.order[: inputs.shape[1]] // inputs.shape[1]) % inputs.shape[1]  # 0, 1, 2...
        return super().forward(inputs[:, columns])


class RecordBatches(Callback):
    """Appends ``epoch step rank sum-of-inputs`` of every training batch to ``path``: what a run trained on."""

    def __init__(self, path: str) -> None:
        self.path = Path(path)

    def on_train_batch_start(self, trainer: L.Trainer, pl_module: L.LightningModule, batch: Any, batch_idx: int) -> None:
        with self.path.open("a") as handle:
            inputs = batch["inputs"]  # a tensor, or named streams of sets with their masks
            total = sum(float(v.double().sum()) for v in (inputs.values() if isinstance(inputs, dict) else [inputs]))
            handle.write(f"{trainer.current_epoch} {trainer.global_step} {trainer.global_rank} {total:.9f}\n")


class RecordWeights(Callback):
    """Saves the network's state (weights and buffers) after every optimizer step to ``folder/STEP.pt``."""

    def __init__(self, folder: str) -> None:
        self.folder = Path(folder)

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        state = {name: value.detach().clone() for name, value in pl_module.state_dict().items()}
        torch.save(state, self.folder / f"{trainer.global_step}.pt")


class RecordProcessSettings(Callback):
    """Writes ``threads cudnn-TF32 matmul-TF32`` of the process that trains, as it starts, to ``path`` + its rank."""

    def __init__(self, path: str) -> None:
        self.path = path

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        with warnings.catch_warnings():  # torch calls allow_tf32 its older API
            warnings.simplefilter("ignore", UserWarning)
            tf32 = (torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32)
        Path(f"{self.path}{trainer.global_rank}").write_text(f"{torch.get_num_threads()} {tf32[0]} {tf32[1]}")


class CrashAtStep(Callback):
    """Fails a fresh (not resumed) run when it reaches training step ``step``: a job killed mid-run
    (``interrupt``: as Ctrl+C does)."""

    def __init__(self, step: int, interrupt: bool = False) -> None:
        self.step = step
        self.interrupt = interrupt

    def on_train_batch_start(self, trainer: L.Trainer, pl_module: L.LightningModule, batch: Any, batch_idx: int) -> None:
        if trainer.global_step == self.step and trainer.ckpt_path is None:
            if self.interrupt:
                raise KeyboardInterrupt
            raise RuntimeError(f"simulated crash at step {self.step}")
