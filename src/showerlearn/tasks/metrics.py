"""Validation metrics of a head, registered by name in :data:`showerlearn.registry.HEAD_METRICS` and
logged as ``val/{head}_{metric}`` (``task.heads.<name>.metrics``).

Each is a torchmetrics ``Metric`` (Lightning computes, resets and syncs it over DDP processes), built
without arguments and updated with a batch's ``(output, target, mask)``: the mask is ``None``, per event
``(B,)`` or per element like the target (``(B, N)``, ``(B, N, N)``), and only selected events or
elements count.

Class outputs: an output with one axis more than its target holds class logits on its last axis (any
number of classes); an output shaped like its target holds one logit per element (a binary head, e.g.
pairwise same-cluster scores: probability ``sigmoid(logit)`` of class 1).
"""

from __future__ import annotations

import torch
import torchmetrics
from torch import Tensor
from torchmetrics.functional.classification import binary_auroc, multiclass_auroc
from torchmetrics.utilities import dim_zero_cat

from showerlearn.registry import HEAD_METRICS


def selected(output: Tensor, target: Tensor, mask: Tensor | None) -> tuple[Tensor, Tensor]:
    """Output and target of the selected events or elements (the mask's axes become one)."""
    return (output, target) if mask is None else (output[mask], target[mask])


def class_probabilities(output: Tensor, target: Tensor) -> tuple[Tensor, Tensor]:
    """``(probabilities (M, C), class indices (M,))`` with one row per event or element."""
    if output.dim() == target.dim():  # one logit per element: a binary head
        positive = torch.sigmoid(output.reshape(-1).float())
        return torch.stack([1.0 - positive, positive], dim=-1), target.reshape(-1).long()
    return output.float().softmax(dim=-1).reshape(-1, output.shape[-1]), target.reshape(-1).long()


@HEAD_METRICS.register("accuracy")
class Accuracy(torchmetrics.MeanMetric):
    """Fraction of events (or elements) whose most probable class is the target class."""

    def update(self, output: Tensor, target: Tensor, mask: Tensor | None = None) -> None:  # type: ignore[override]
        probabilities, labels = class_probabilities(*selected(output, target, mask))
        super().update((probabilities.argmax(dim=-1) == labels).float())


@HEAD_METRICS.register("auroc")
class AUROC(torchmetrics.Metric):
    """Area under the ROC curve: of the score of class 1 for two classes, else the one-vs-rest mean over
    the classes present in the labels (scikit-learn's ``roc_auc_score(multi_class="ovr")`` on those
    classes, as :func:`showerlearn.metrics.classification.one_vs_rest_auc`); the number of classes is
    the output's."""

    full_state_update = False
    higher_is_better = True
    is_differentiable = False

    def __init__(self) -> None:
        super().__init__()
        self.add_state("probabilities", default=[], dist_reduce_fx="cat")
        self.add_state("labels", default=[], dist_reduce_fx="cat")

    def update(self, output: Tensor, target: Tensor, mask: Tensor | None = None) -> None:  # type: ignore[override]
        probabilities, labels = class_probabilities(*selected(output, target, mask))
        self.probabilities.append(probabilities)
        self.labels.append(labels)

    def compute(self) -> Tensor:
        probabilities, labels = dim_zero_cat(self.probabilities), dim_zero_cat(self.labels)
        if probabilities.shape[-1] == 2:
            return binary_auroc(probabilities[:, 1], labels)
        return present_class_mean_auroc(probabilities, labels)


def present_class_mean_auroc(probabilities: Tensor, labels: Tensor) -> Tensor:
    """Mean one-vs-rest AUROC over the classes that are present but not alone in ``labels`` (NaN if none).

    torchmetrics' macro average scores a class without events as 0, which biases a validation set
    lacking a rare class low; the offline evaluator leaves such classes out, and so does this."""
    per_class = multiclass_auroc(probabilities, labels, num_classes=probabilities.shape[-1], average=None)
    counts = torch.bincount(labels, minlength=probabilities.shape[-1])
    defined = (counts > 0) & (counts < labels.numel())  # an AUC needs positives and negatives
    if not defined.any():
        return torch.tensor(float("nan"), device=probabilities.device)
    return per_class[defined].mean()


@HEAD_METRICS.register("mae")
class MeanAbsoluteError(torchmetrics.MeanAbsoluteError):
    """Mean absolute difference of output and target over every component of the selected events or elements."""

    def update(self, output: Tensor, target: Tensor, mask: Tensor | None = None) -> None:  # type: ignore[override]
        output, target = selected(output, target, mask)
        super().update(output.reshape(-1), target.reshape(-1))
