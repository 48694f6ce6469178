"""Losses, registered by name, each declaring the kind of head it trains; the masked mean every
head's loss goes through.

A loss is called ``loss(output, target, **loss_params)`` and returns one value per event ``(B,)``.
Heads on sets (one target per hit, per hit pair) give a per-element mask in ``batch["masks"]``,
shaped ``(B, N)`` or ``(B, N, N)``: such a loss is applied element by element (output and target
flattened to one row per element, so the per-event losses work unchanged per element) and its values
come back shaped like the mask. A loss that needs whole events (object condensation: potentials
between the hits of one event) takes a third parameter ``mask`` instead: it is given the whole
padded tensors and the head's mask, and returns one value per event.

Kinds (:class:`LossKind`) say what a head predicts and whether its likelihood is categorical (the
task balancer's uncertainty weighting needs only that): ``classification``, ``regression``,
``pairwise``, ``object_condensation`` (:mod:`showerlearn.tasks.condensation`); a family declares its
own with :func:`declare_kind`, next to its losses. A loss declares its kind with :func:`loss_kind`; a
loss without a declaration (a user's, by import path) is a regression.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import torch
import torch.nn.functional as F
from torch import Tensor

from showerlearn.registry import LOSSES

LossFunction = TypeVar("LossFunction", bound=Callable[..., Tensor])


@dataclass(frozen=True)
class LossKind:
    """What a head predicts; ``categorical``: its likelihood is a softmax or sigmoid (else Gaussian)."""

    name: str
    categorical: bool


_KINDS: dict[str, LossKind] = {}


def declare_kind(name: str, *, categorical: bool) -> LossKind:
    """Declare a kind of head (once, next to the losses of that kind)."""
    kind = LossKind(name, categorical)
    if _KINDS.setdefault(name, kind) != kind:
        raise ValueError(f"loss kind {name!r} is declared twice, differently")
    return kind


def declared_kind(name: str) -> LossKind:
    """The kind declared as ``name``; a ValueError naming the declared kinds when there is none."""
    if name not in _KINDS:
        LOSSES.names()  # a family declares its kinds next to its losses: load them
    if name not in _KINDS:
        raise ValueError(f"kind must be one of the declared {sorted(_KINDS)}, got {name!r}")
    return _KINDS[name]


def loss_kind(kind: str) -> Callable[[LossFunction], LossFunction]:
    """Decorator declaring the kind of head a loss trains (a kind declared with :func:`declare_kind`)."""
    if kind not in _KINDS:
        raise ValueError(f"loss kind {kind!r} is not declared; declared: {sorted(_KINDS)}")

    def decorator(function: LossFunction) -> LossFunction:
        function.loss_kind = kind  # type: ignore[attr-defined]
        return function

    return decorator


def kind_of(loss: Callable[..., Tensor]) -> LossKind:
    """The kind a loss declares; ``regression`` for a loss that declares none."""
    try:
        return declared_kind(getattr(loss, "loss_kind", "regression"))
    except ValueError as error:
        raise ValueError(f"loss {getattr(loss, '__name__', loss)!r}: {error}") from None


declare_kind("classification", categorical=True)
declare_kind("regression", categorical=False)
declare_kind("pairwise", categorical=True)  # one logit per element pair (same cluster or not): Bernoulli


def _per_event(values: Tensor) -> Tensor:
    # average the components of vector targets (e.g. alt and az) so each event weighs once
    return values.reshape(values.shape[0], -1).mean(dim=1)


@LOSSES.register("cross_entropy")
@loss_kind("classification")
def cross_entropy(output: Tensor, target: Tensor) -> Tensor:
    """Classification: cross-entropy of class logits ``(B, C)`` against class indices ``(B,)`` (or of
    ``(B, ..., C)`` against ``(B, ...)``, averaged per event)."""
    return _per_event(F.cross_entropy(output.movedim(-1, 1), target.long(), reduction="none"))


@LOSSES.register("l1")
@loss_kind("regression")
def l1(output: Tensor, target: Tensor) -> Tensor:
    """Regression: absolute difference, components averaged per event."""
    return _per_event(torch.abs(output - target.reshape(output.shape)))


@LOSSES.register("mse")
@loss_kind("regression")
def mse(output: Tensor, target: Tensor) -> Tensor:
    """Regression: squared difference, components averaged per event."""
    return _per_event((output - target.reshape(output.shape)) ** 2)


@LOSSES.register("smooth_l1")
@loss_kind("regression")
def smooth_l1(output: Tensor, target: Tensor) -> Tensor:
    """Regression: Huber loss (smooth L1, beta 1), components averaged per event."""
    return _per_event(F.smooth_l1_loss(output, target.reshape(output.shape), reduction="none"))


@LOSSES.register("pairwise_bce")
@loss_kind("pairwise")
def pairwise_bce(output: Tensor, target: Tensor, pos_weight: float | None = None) -> Tensor:
    """Pairwise: binary cross-entropy of one logit per element pair ``(B, N, N)`` against 0/1 targets
    (1: both elements belong to the same cluster).

    Parameters
    ----------
    pos_weight
        Weight of the positive pairs, against the imbalance of pairs: an event of n hits in K clusters of
        similar size has about n^2/K same-cluster pairs among n^2, so ``K - 1`` balances them.
    """
    weight = None if pos_weight is None else output.new_tensor(pos_weight)
    return _per_event(
        F.binary_cross_entropy_with_logits(output, target.to(output.dtype), pos_weight=weight, reduction="none")
    )


@dataclass(frozen=True)
class HeadLoss:
    """The loss of one head as the task module applies it: the function with the head's ``loss_params``."""

    function: Callable[..., Tensor]
    kind: LossKind
    whole_events: bool

    @classmethod
    def resolve(cls, name: str, params: Mapping[str, Any] | None = None) -> HeadLoss:
        """The loss registered as (or imported from) ``name``, bound to ``params``."""
        function = LOSSES.get(name)
        whole_events = "mask" in inspect.signature(function).parameters
        return cls(functools.partial(function, **(params or {})), kind_of(function), whole_events)

    def values(self, output: Tensor, target: Tensor, mask: Tensor | None = None) -> Tensor:
        """Loss values: per element, shaped like an element mask ``(B, N[, N])``; else per event ``(B,)``
        (no mask, a per-event mask, or a loss that takes whole events)."""
        if self.whole_events:
            return self.function(output, target, mask)
        if mask is None:
            return self.function(output, target)
        elements = mask.dim()
        if output.shape[:elements] != mask.shape or target.shape[:elements] != mask.shape:
            raise ValueError(
                f"a {'per-element ' if elements > 1 else ''}mask {tuple(mask.shape)} must lead the output and target "
                f"shapes, got {tuple(output.shape)} and {tuple(target.shape)}"
            )
        # masked-out targets may be NaN or -1 ("no label"): a neutral 0 keeps them out of the gradient too
        target = torch.where(_per_value(mask.bool(), target), target, torch.zeros_like(target))
        if elements == 1:
            return self.function(output, target)
        rows = self.function(output.flatten(0, elements - 1), target.flatten(0, elements - 1))
        return rows.reshape(mask.shape)


def masked_mean(values: Tensor, mask: Tensor | None = None, weights: Tensor | None = None) -> Tensor:
    """Weighted mean of loss values over the events, or elements, where ``mask`` is true.

    ``values`` are per event ``(B,)`` or per element ``(B, N)``, ``(B, N, N)``. ``mask`` and ``weights``
    have the shape of ``values`` or are per event ``(B,)``, applying to every element of their event;
    a mask with more axes than ``values`` (the element mask of a loss that returns one value per event)
    counts an event when any of its elements is selected.

    Per-element values are averaged over all selected elements of the batch, so an event with more hits
    weighs more: each hit's loss is an estimate of the same per-hit quantity, and a mean of per-event
    means would let one hit of a small event outweigh many of a large one (and needs a rule for events
    without selected elements). A batch with nothing selected gives exactly zero (with a gradient path),
    never NaN: e.g. the energy loss of a batch holding only protons.
    """
    total, selected = masked_sum(values, mask, weights)
    return divided(total, selected)


def masked_sum(values: Tensor, mask: Tensor | None = None, weights: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """The weighted sum of the selected loss values and the sum of their weights (as :func:`masked_mean`)."""
    w = torch.ones_like(values) if weights is None else _per_value(weights.to(values.dtype), values)
    if mask is not None:
        if mask.dim() > values.dim():
            mask = mask.flatten(values.dim()).any(dim=-1)
        w = w * _per_value(mask, values).to(values.dtype)
    # masked-out events may hold NaN/inf (targets of protons, padding, fp16 overflow): never let 0 * NaN in;
    # negative weights (NLO generators) count, with their sign
    safe = torch.where(w != 0, values, torch.zeros_like(values))
    return (safe * w).sum(), w.sum()


def divided(total: Tensor, denominator: Tensor) -> Tensor:
    """``total / denominator``, or exactly zero (with a gradient path) where nothing was selected."""
    return total / denominator if denominator > 0 else total * 0.0


def _per_value(given: Tensor, values: Tensor) -> Tensor:
    """A per-event ``(B,)`` or per-element tensor broadcast to the shape of ``values``."""
    if given.shape != values.shape[: given.dim()]:
        raise ValueError(
            f"a mask or weights of shape {tuple(given.shape)} do not fit loss values of shape {tuple(values.shape)}"
        )
    return given.reshape(*given.shape, *(1,) * (values.dim() - given.dim())).expand_as(values)
