"""Lightning callbacks available by name in ``callbacks:`` (any other by import path), the per-epoch report
every network run writes to its log, the process settings every training process applies, and the moving
average of the weights."""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Mapping
from typing import Any

import lightning as L
from lightning.pytorch import callbacks
from lightning.pytorch.utilities.data import extract_batch_size

from showerlearn.config.schema import TrainerConfig
from showerlearn.engine.speed import apply_process_settings
from showerlearn.registry import CALLBACKS

CALLBACKS.add("early_stopping", callbacks.EarlyStopping)
CALLBACKS.add("lr_monitor", callbacks.LearningRateMonitor)
# refused for new runs (family._averaging_problems): its average reaches no prediction; kept so that the refusal names it
CALLBACKS.add("stochastic_weight_averaging", callbacks.StochasticWeightAveraging)
CALLBACKS.add("gradient_accumulation", callbacks.GradientAccumulationScheduler)
CALLBACKS.add("device_stats", callbacks.DeviceStatsMonitor)

log = logging.getLogger(__name__)


class EpochReport(callbacks.Callback):
    """One log line per validated epoch: losses and metrics, speed, and the time left.

    A batch job's log has no progress bar; this line is what tells, hours into a run, whether it
    learns and when it ends. Speed counts only the events this process trained on (a resumed epoch's
    remainder, one shard under DDP).
    """

    def __init__(self) -> None:
        self._started: float | None = None
        self._train_seconds = 0.0
        self._events = 0
        self._steps = 0

    def on_train_batch_start(self, trainer: L.Trainer, pl_module: L.LightningModule, batch: Any, batch_idx: int) -> None:
        # the clock starts at the epoch's first batch here: Lightning skips on_train_epoch_start when it
        # resumes in the middle of an epoch
        if self._started is None:
            self._started, self._events, self._steps = time.monotonic(), 0, 0

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any, batch_idx: int) -> None:
        self._events += extract_batch_size(batch)
        self._steps += 1

    def on_validation_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self._started is not None:
            self._train_seconds = time.monotonic() - self._started

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not trainer.sanity_checking:
            self._end_epoch(trainer)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # after the validation, which has reported already; an epoch without validation
        # (limit_val_batches: 0, an empty validation split) reports here
        if self._started is not None:
            self._train_seconds = time.monotonic() - self._started
            self._end_epoch(trainer)

    def _end_epoch(self, trainer: L.Trainer) -> None:
        if self._started is None:
            return
        started, self._started = self._started, None  # the next batch starts the next epoch's clock
        if trainer.is_global_zero and self._steps:
            self._report(trainer, time.monotonic() - started)

    def _report(self, trainer: L.Trainer, epoch_seconds: float) -> None:
        metrics = trainer.callback_metrics
        values = [f"{name} {float(metrics[name]):.4g}" for name in sorted(metrics) if name.startswith("val/")]
        speed = self._events / max(self._train_seconds, 1e-9)
        log.info(
            "epoch %d/%d, step %d | %s | %s, %.0f events/s%s",
            trainer.current_epoch + 1, trainer.max_epochs, trainer.global_step, ", ".join(values) or "no validation metrics",
            _duration(epoch_seconds), speed, self._time_left(trainer, epoch_seconds),
        )

    def _time_left(self, trainer: L.Trainer, epoch_seconds: float) -> str:
        """`` | about 1 h 05 min left``, from this epoch's pace (batches still to train times seconds a
        batch), or the time ``max_time`` leaves if that is shorter."""
        batches_per_epoch = trainer.num_training_batches
        remaining = (trainer.max_epochs - trainer.current_epoch - 1) * batches_per_epoch
        if trainer.max_steps > 0:  # optimizer steps, each of accumulate_grad_batches batches
            remaining = min(remaining, (trainer.max_steps - trainer.global_step) * trainer.accumulate_grad_batches)
        if remaining <= 0 or not batches_per_epoch:
            return ""
        # validation is paid once an epoch: scale the whole epoch's time, not only the training part
        seconds, limit = remaining * epoch_seconds / self._steps, ""
        timer = next((c for c in trainer.callbacks if isinstance(c, callbacks.Timer)), None)
        allowed = timer.time_remaining("train") if timer is not None else None
        if allowed is not None and allowed < seconds:
            seconds, limit = allowed, " (max_time)"
        return f" | about {_duration(seconds)} left{limit}"


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    minutes = round(seconds / 60)
    return f"{minutes} min" if minutes < 90 else f"{minutes // 60} h {minutes % 60:02d} min"


class ProcessSettings(callbacks.Callback):
    """Applies ``trainer.threads``, ``cpu_allocator`` and ``tf32`` in every process that trains.

    ``train()`` applies them before Lightning starts, which is not enough under DDP: processes started with
    ``ddp_spawn`` never run ``train()``, and Lightning's launchers then set their own thread count (cores /
    processes, where ``OMP_NUM_THREADS`` is unset) over the configured one, in every DDP process. ``setup``
    runs in each process after the launcher, so the config has the last word.
    """

    def __init__(self, trainer_config: TrainerConfig) -> None:
        self.trainer_config = trainer_config

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        apply_process_settings(self.trainer_config)


class EpochProgressBar(callbacks.RichProgressBar):
    """Lightning's rich progress bar, counting epochs from 1 like the log lines ("epoch 3/3", not "Epoch 2/2")."""

    def _get_train_description(self, current_epoch: int) -> str:
        total = f"/{self.trainer.max_epochs}" if self.trainer.max_epochs not in (None, -1) else ""
        return f"epoch {current_epoch + 1}{total}".ljust(len(self.validation_description))


@CALLBACKS.register("ema_weight_averaging")
class ExponentialWeightAveraging(callbacks.EMAWeightAveraging):
    """An exponential moving average of the network's weights, updated after every optimizer step; once it has
    begun, the average is what the run validates, checkpoints (``state_dict``, the weights being trained kept
    beside it for a resumed run), predicts, exports and warm-starts from, so best.ckpt is the best average. It
    helps where the learning rate stays high to the end; after a decay to zero the last weights already are such
    an average (the calorimeter transformer's cosine recipe gains nothing:
    benchmarks/results/calorimeter_clustering_60k_loss_weights_ema).

    Only the weights are averaged: the buffers (running statistics, a lattice's neighbour indices) are the
    network's own at each update, since integers averaged as floats would be rounded into other indices.

    Parameters
    ----------
    decay
        The average's weight per step: it spans about ``1 / (1 - decay)`` optimizer steps (0.999: the last
        thousand or so), which should be a small part of the run.
    update_starting_at_step
        The optimizer steps before this one (counted from 0) are left out of the average (none: none is): the early
        weights are far from the later ones. Until it begins, the run validates and saves the weights it trains,
        as without the callback.
    """

    @classmethod
    def config_problems(cls, params: Mapping[str, Any], path: str) -> list[str]:
        """A decay that is no average's (the config check reports it before any work)."""
        decay = params.get("decay", 0.999)
        return [] if 0.0 <= decay < 1.0 else [f"{path}.decay: must be at least 0 and below 1, got {decay}"]

    def __init__(self, decay: float = 0.999, update_starting_at_step: int | None = None) -> None:
        if problems := self.config_problems({"decay": decay}, "ema_weight_averaging"):
            raise ValueError(problems[0])
        super().__init__(decay=decay, update_starting_at_step=update_starting_at_step, use_buffers=False)

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # Lightning builds the average in `setup`, before the strategy casts the network to its precision
        # (64-true) and moves it to its device: the average follows, tensor by tensor
        average = self._average_model
        assert average is not None
        average.to(device=pl_module.device)
        kept = itertools.chain(average.module.parameters(), average.module.buffers())
        for averaged, trained in zip(kept, itertools.chain(pl_module.parameters(), pl_module.buffers()), strict=True):
            averaged.data = averaged.data.to(dtype=trained.dtype)

    def _begun(self) -> bool:
        """Whether the average holds any trained weights (before its first update it holds the initial ones)."""
        return self._average_model is not None and int(self._average_model.n_averaged) > 0

    def on_validation_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self._begun():
            super().on_validation_epoch_start(trainer, pl_module)

    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self._begun():  # no update happens during validation: swapped back exactly when swapped in
            super().on_validation_epoch_end(trainer, pl_module)

    def on_save_checkpoint(self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict[str, Any]) -> None:
        if self._begun():  # else the checkpoint holds the trained weights, as a run without the callback's
            super().on_save_checkpoint(trainer, pl_module, checkpoint)

    def on_load_checkpoint(self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict[str, Any]) -> None:
        if "current_model_state" in checkpoint:  # else saved before the average began: it begins at its step again
            super().on_load_checkpoint(trainer, pl_module, checkpoint)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self._begun():
            super().on_train_end(trainer, pl_module)
        else:
            log.warning("ema_weight_averaging: training ended after %d optimizer steps, before step %s (counted from "
                        "0), where the average begins: the run's weights are not averaged", trainer.global_step,
                        self.update_starting_at_step)
