"""The multi-task LightningModule: any number of named heads, each with a loss (of a declared kind),
an optional per-event or per-element mask and validation metrics, combined by a task balancer.

The module holds the model and the training logic only; data comes from a DataModule and the loop
from Lightning's Trainer.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import lightning as L
import torch
from torch import Tensor, nn

from showerlearn.config.components import build
from showerlearn.config.schema import Component, HeadConfig, logged_name
from showerlearn.registry import BALANCERS, HEAD_METRICS, OPTIMIZERS, SCHEDULERS
from showerlearn.tasks.losses import HeadLoss, divided, masked_sum


class MultiTaskModule(L.LightningModule):
    """Trains ``model`` (returning ``dict[head, Tensor]``) on the heads described in ``heads``."""

    def __init__(
        self,
        model: nn.Module,
        heads: Mapping[str, HeadConfig],
        balancing: Component,
        optimizer: Component,
        scheduler: Component | None = None,
    ) -> None:
        super().__init__()
        self.model = model
        self.heads = dict(heads)
        self.losses = {name: HeadLoss.resolve(spec.loss, spec.loss_params) for name, spec in self.heads.items()}
        #: head -> the kind its loss declares ("classification", "regression", "pairwise", ...)
        self.head_kinds = {name: loss.kind.name for name, loss in self.losses.items()}
        self.balancer = build(balancing, BALANCERS, "task.balancing", heads=self.head_kinds)
        self.optimizer_config = optimizer
        self.scheduler_config = scheduler
        #: how a batch is predicted, given the network and the batch (the DataModule's ``predict_views``: every
        #: test-time view, merged); None: the network's outputs on the inputs as they are
        self.predict_views: Callable[[Callable[[Any], Any], Mapping[str, Any]], Any] | None = None
        #: per head, the mean selection per event of the training batches so far, the denominator of the training
        #: losses where batches are grouped by size (:meth:`divide_by_running_selection`); None: each batch's own
        self.running_selection: RunningSelection | None = None
        self.val_metrics = nn.ModuleDict(
            {_metric_key(head, metric): HEAD_METRICS.get(metric)() for head, spec in self.heads.items() for metric in spec.metrics}
        )

    def forward(self, inputs: Any) -> dict[str, Tensor]:
        return self.model(inputs)

    def divide_by_running_selection(self, warmup_events: int = 0) -> None:
        """Divide each training batch's loss sums by the batch's events times the mean selection (elements, or
        their weights) per event of all training batches so far, not by the batch's own selection: in batches of
        events of similar size (:class:`~showerlearn.data.sampling.SizeGrouping`), a batch of small events would
        otherwise give each of its elements several times the weight an element of a large event gets. With it,
        every element weighs the same over the epoch, as in random batches. Until ``warmup_events`` events are
        counted (a pool of batches), a batch divides by its own selection: a mean of a few batches of one size
        would weigh the first steps' gradients up or down many times. Under DDP the mean is over all processes.
        """
        self.running_selection = RunningSelection(warmup_events)

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        if self.running_selection is not None:  # a resumed run divides as the uninterrupted one would
            checkpoint[RunningSelection.CHECKPOINT_KEY] = self.running_selection.state_dict()

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        if self.running_selection is not None and RunningSelection.CHECKPOINT_KEY in checkpoint:
            self.running_selection.load_state_dict(checkpoint[RunningSelection.CHECKPOINT_KEY])

    def head_losses(self, outputs: Mapping[str, Tensor], batch: Mapping[str, Any], training: bool = False) -> dict[str, Tensor]:
        """Each head's loss on ``batch``: the masked, weighted mean of its values (``training`` with a
        :attr:`running_selection`: divided by the running denominator instead)."""
        masks = batch.get("masks", {})
        weights = batch.get("weights")
        missing = set(self.heads) - set(outputs)
        if missing:
            raise KeyError(f"model returned outputs {sorted(outputs)}, but the task expects heads {sorted(missing)}")
        # a model may add terms to a head's loss values (e.g. the axis head's per-event |disp| and side
        # terms): they are masked and weighted with it, and balanced as part of it
        extra = self.model.head_loss_terms(batch["targets"]) if hasattr(self.model, "head_loss_terms") else {}
        losses = {}
        for name, loss in self.losses.items():
            with self._head_fits(name, "loss", outputs[name], batch["targets"][name]):
                values = loss.values(outputs[name], batch["targets"][name], masks.get(name))
            total, selected = masked_sum(values + extra.get(name, 0.0), masks.get(name), weights)
            if training and self.running_selection is not None:
                selected = self.running_selection.denominator(name, selected, values.shape[0], self._summed_over_processes)
            losses[name] = divided(total, selected)
        return losses

    @contextlib.contextmanager
    def _head_fits(self, head: str, what: str, output: Tensor, target: Tensor) -> Iterator[None]:
        """A head's loss or metric that cannot take the network's output and the data's target (a regression loss
        on class labels, a cross-entropy over one logit): a ValueError naming the head and both shapes, instead of
        torch's error from deep inside it."""
        try:
            yield
        except torch.OutOfMemoryError:
            raise
        except (RuntimeError, IndexError, ValueError) as error:
            spec = self.heads[head]
            setting = f"loss {spec.loss!r}" if what == "loss" else f"metrics {spec.metrics}"
            raise ValueError(
                f"task.heads.{head}: its {setting} failed on the network's output, shaped {tuple(output.shape)}, "
                f"and the data's target, shaped {tuple(target.shape)} ({target.dtype}): {type(error).__name__}: "
                f"{error} (most often a loss or metric of another kind than the target, class labels or values, or "
                "an output of another size than the data needs)"
            ) from error

    def _summed_over_processes(self, values: Tensor) -> Tensor:
        """``values`` summed over the DDP processes (as they are in one process, or outside a trainer)."""
        trainer = self._trainer
        if trainer is None or trainer.world_size == 1:
            return values
        return trainer.strategy.reduce(values, reduce_op="sum")

    def _shared_parameters(self) -> list[nn.Parameter] | None:
        shared = getattr(self.model, "shared_parameters", None)
        return list(shared()) if callable(shared) else None

    def training_step(self, batch: Mapping[str, Any], batch_idx: int) -> Tensor:
        losses = self.head_losses(self(batch["inputs"]), batch, training=True)
        total = self.balancer(losses, self._shared_parameters())
        batch_size = len(batch["targets"][next(iter(self.heads))])
        self.log_dict({logged_name("train", k): v for k, v in losses.items()}, batch_size=batch_size)
        self.log_dict({f"weight/{k}": v for k, v in self.balancer.current_weights().items()}, batch_size=batch_size)
        self.log(logged_name("train"), total, prog_bar=True, batch_size=batch_size)
        return total

    def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
        after_step = getattr(self.balancer, "after_optimizer_step", None)
        if callable(after_step):
            after_step()

    def validation_step(self, batch: Mapping[str, Any], batch_idx: int) -> None:
        outputs = self(batch["inputs"])
        losses = self.head_losses(outputs, batch)
        batch_size = len(batch["targets"][next(iter(self.heads))])
        # the unweighted sum: comparable across epochs even when the balancer's weights move; averaged
        # over DDP processes, so that every process's checkpoint callback sees the same val/loss
        total = torch.stack(list(losses.values())).sum()
        self.log(logged_name("val"), total, prog_bar=True, batch_size=batch_size, sync_dist=True)
        self.log_dict({logged_name("val", k): v for k, v in losses.items()}, batch_size=batch_size, sync_dist=True)
        masks = batch.get("masks", {})
        for head, spec in self.heads.items():
            for metric in spec.metrics:
                computed = self.val_metrics[_metric_key(head, metric)]
                with self._head_fits(head, "metrics", outputs[head], batch["targets"][head]):
                    computed.update(outputs[head], batch["targets"][head], masks.get(head))
                self.log(logged_name("val", head, metric), computed, batch_size=batch_size)

    def predict_step(self, batch: Mapping[str, Any], batch_idx: int) -> dict[str, Any]:
        outputs = self(batch["inputs"]) if self.predict_views is None else self.predict_views(self, batch)
        return {"outputs": outputs, "meta": batch.get("meta", {})}

    def configure_optimizers(self) -> Any:
        # the balancer's learnable weights (e.g. log-variances) are optimised too, without weight decay
        groups = [{"params": [p for p in self.model.parameters() if p.requires_grad]}]
        balancer_parameters = [p for p in self.balancer.parameters() if p.requires_grad]
        if balancer_parameters:
            groups.append({"params": balancer_parameters, "weight_decay": 0.0})
        optimizer = build(self.optimizer_config, OPTIMIZERS, "optimizer", params=groups)
        if self.scheduler_config is None:
            return optimizer
        scheduler = build(self.scheduler_config, SCHEDULERS, "scheduler", optimizer=optimizer)
        # what a scheduler that waits for a plateau (ReduceLROnPlateau) watches; the others ignore it
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "epoch", "monitor": logged_name("val")}}


class RunningSelection:
    """Per head, the selection (elements or events, by their weights) per event over all training batches so far,
    and from it a batch's loss denominator: its events times that mean (its own selection during a warm-up)."""

    #: where a checkpoint keeps it
    CHECKPOINT_KEY = "showerlearn_running_selection"

    def __init__(self, warmup_events: int = 0) -> None:
        self.warmup_events = warmup_events
        self.selected: dict[str, float] = {}
        self.events: dict[str, int] = {}

    def denominator(self, head: str, selected: Tensor, events: int, summed: Callable[[Tensor], Tensor] = lambda x: x) -> Tensor:
        """Count this batch's ``selected`` over its ``events`` in (``summed`` over the DDP processes: every process
        keeps the same mean, and a checkpoint holds it whole), and return ``events`` times the mean so far, or the
        batch's own ``selected`` until the warm-up's events are counted."""
        # a batch's counts in its own dtype (Apple's MPS has no float64); summed in Python's floats
        batch = summed(torch.stack([selected.detach(), selected.new_tensor(float(events))]))
        self.selected[head] = self.selected.get(head, 0.0) + float(batch[0])
        self.events[head] = self.events.get(head, 0) + round(float(batch[1]))
        if self.events[head] < self.warmup_events:
            return selected
        return selected.new_tensor(events * self.selected[head] / self.events[head])

    def state_dict(self) -> dict[str, dict[str, Any]]:
        return {"selected": dict(self.selected), "events": dict(self.events)}

    def load_state_dict(self, state: Mapping[str, Mapping[str, Any]]) -> None:
        self.selected, self.events = dict(state["selected"]), dict(state["events"])


def _metric_key(head: str, metric: str) -> str:
    """The head's metric as a key of ``nn.ModuleDict``, which refuses dots (a metric given by import path,
    ``my_package.metrics:Recall``); the logs keep the name as written."""
    return f"{head}_{metric}".replace(".", "_").replace(":", "_")
