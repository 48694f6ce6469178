"""Per-event losses, registered by name. Each returns one value per event (shape ``(B,)``);
the multi-task module applies masks and weights, so every loss composes with them the same way."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from showerlearn.registry import LOSSES


def _per_event(values: Tensor) -> Tensor:
    # average the components of vector targets (e.g. alt and az) so each event weighs once
    return values.reshape(values.shape[0], -1).mean(dim=1)


@LOSSES.register("cross_entropy")
def cross_entropy(output: Tensor, target: Tensor) -> Tensor:
    """Cross-entropy of class logits ``(B, C)`` against class indices ``(B,)``."""
    return F.cross_entropy(output, target.long(), reduction="none")


@LOSSES.register("l1")
def l1(output: Tensor, target: Tensor) -> Tensor:
    return _per_event(torch.abs(output - target.reshape(output.shape)))


@LOSSES.register("mse")
def mse(output: Tensor, target: Tensor) -> Tensor:
    return _per_event((output - target.reshape(output.shape)) ** 2)


@LOSSES.register("smooth_l1")
def smooth_l1(output: Tensor, target: Tensor) -> Tensor:
    return _per_event(F.smooth_l1_loss(output, target.reshape(output.shape), reduction="none"))


#: losses whose head is a classification (the others are regressions)
CLASSIFICATION_LOSSES = frozenset({"cross_entropy"})


def masked_mean(values: Tensor, mask: Tensor | None = None, weights: Tensor | None = None) -> Tensor:
    """Weighted mean of per-event values over the events where ``mask`` is true.

    A batch with no selected event gives exactly zero (with a gradient path), never NaN: e.g. the
    energy loss of a batch holding only protons.
    """
    w = torch.ones_like(values) if weights is None else weights.to(values.dtype)
    if mask is not None:
        w = w * mask.to(values.dtype)
    # masked-out events may hold NaN/inf (targets of protons, fp16 overflow): never let 0 * NaN in
    safe = torch.where(w > 0, values, torch.zeros_like(values))
    total = w.sum()
    return (safe * w).sum() / total if total > 0 else safe.sum() * 0.0
