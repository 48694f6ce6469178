"""Grad-CAM (Selvaraju et al. 2017) for any model output, on any layer with positions.

For an output score ``y`` (one class logit, the energy, one direction coordinate...) and the activation
``A`` of a chosen layer (``(B, C, N)`` on N positions such as a lattice, ``(B, C, H, W)`` on an image, or
token layouts ``(B, L, C)`` with ``channels_last``)::

    alpha_c = mean over positions of dy / dA_c         (one weight per channel)
    cam     = ReLU(sum_c alpha_c A_c)                   (one value per position)

``method="hirescam"`` (Draelos & Carin 2020, arXiv:2011.08891) keeps the gradient per position,
``cam = ReLU(sum_c dy/dA_c * A_c)``: for heads that flatten the maps into a fully connected layer
(gamma-PhysNet's particle, direction and impact heads) the position-averaged Grad-CAM weights mix
every position's weights, while HiResCAM is the exact contribution of each position to a linear head;
for a head on the mean over positions (the energy head) both give the same map.

``reference`` measures the activation against that of a reference input, ``A_c - A_c(reference)``
(the baseline of integrated gradients and DeepLIFT, Sundararajan et al. 2017; Shrikumar et al. 2017):
with an empty detector (all-zero input) as reference, a position whose features are those of an empty
detector gets no mass, whatever constant its activation carries (BatchNorm shifts, biases). Without it,
a flatten head's weights on the constant activations of empty positions put most of a map's mass there.

A map is brought back from the layer to the detector's own elements by a :data:`Projection` that the
detector's family supplies (the IACT family: camera pixels through the network's pooling hierarchy,
``showerlearn.iact.explain.gradcam``); without one, image maps are upsampled bilinearly to the input
image and other maps stay on the layer's positions. The default layer is the model's ``backbone`` (its
output: the last stage's feature maps, which feed every head of gamma-PhysNet), or the module a model
names in its ``explain_layer`` attribute.

The model runs in eval mode (BatchNorm statistics, no dropout), so each event's score depends on its
own input only and the gradient of the summed score is every event's own gradient.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = [
    "CAM_METHODS", "GradCamResult", "OutputSelector", "Projection", "grad_cam", "resolve_layer", "upsample_image_map",
]

#: ``"gradcam"``: channel weights averaged over positions; ``"hirescam"``: gradient x activation per position.
CAM_METHODS = ("gradcam", "hirescam")

#: A layer map ``(B, *positions)`` -> the same map on the detector's own elements ``(B, n_elements)`` (a
#: camera's pixels...): how a family brings Grad-CAM maps back from a layer to its detector.
Projection = Callable[[Tensor], Tensor]


@dataclass(frozen=True)
class OutputSelector:
    """One scalar output per event: head ``head`` and, for multi-column heads, column ``index``.

    Written ``"particle:0"`` (class 0 logit), ``"energy"``, ``"direction:1"`` on the command line.
    """

    head: str
    index: int | None = None

    @classmethod
    def parse(cls, text: str | OutputSelector) -> OutputSelector:
        if isinstance(text, OutputSelector):
            return text
        head, sep, index = text.partition(":")
        # no negative columns: 'label:-1' would be 'label:1' of a two-class head under another name
        if not head or (sep and not index.isdigit()):
            raise ValueError(
                f"output selector must be 'head' or 'head:index' with an index >= 0 (e.g. 'particle:0', 'energy'), got {text!r}"
            )
        return cls(head, int(index) if sep else None)

    def score(self, outputs: Mapping[str, Tensor]) -> Tensor:
        """The selected output, shape ``(B,)``."""
        if self.head not in outputs:
            raise KeyError(f"the model has no output {self.head!r}; its outputs are {sorted(outputs)}")
        values = outputs[self.head]
        if values.dim() == 1:
            if self.index not in (None, 0):
                raise ValueError(f"output {self.head!r} has one value per event: no column {self.index}")
            return values
        if values.dim() > 2:
            # (B, N, N) pair scores, (B, N, C) per-element classes: a flattened column is no one quantity per event
            raise ValueError(
                f"output {self.head!r} has shape (batch, {', '.join(map(str, values.shape[1:]))}): several values per "
                "element, no one score per event; Grad-CAM explains outputs of shape (batch,) or (batch, columns)"
            )
        columns = values.reshape(values.shape[0], -1)
        if self.index is None:
            if columns.shape[1] != 1:
                raise ValueError(f"output {self.head!r} has {columns.shape[1]} columns: select one, e.g. '{self.head}:0'")
            return columns[:, 0]
        if not 0 <= self.index < columns.shape[1]:
            raise ValueError(f"output {self.head!r} has {columns.shape[1]} columns, no column {self.index}")
        return columns[:, self.index]

    def __str__(self) -> str:
        return self.head if self.index is None else f"{self.head}:{self.index}"


@dataclass(frozen=True)
class GradCamResult:
    """Grad-CAM maps of one batch, keyed by output selector (``str(OutputSelector)``).

    Attributes:
        maps: the maps brought back to the detector by the projection (``(B, n_elements)``), ``(B, H, W)``
            on the input image (image layers without projection), or the layer maps (without projection,
            or with ``project=False``).
        layer_maps: ``(B, *positions)`` on the layer itself (``(B, N_stage)`` for a lattice stage).
        outputs: the model's outputs for the batch, detached.
    """

    maps: dict[str, Tensor]
    layer_maps: dict[str, Tensor]
    outputs: dict[str, Tensor]


def resolve_layer(model: nn.Module, layer: nn.Module | str | None) -> nn.Module:
    """The module whose output Grad-CAM explains: a module, a name of ``model.named_modules()``, or
    ``None`` for the model's default: the module its ``explain_layer`` attribute names (a transformer's
    last self-attention block, say), else ``model.backbone`` (the last backbone stage's output)."""
    if isinstance(layer, nn.Module):
        return layer
    modules = dict(model.named_modules())
    if layer is None:
        layer = getattr(model, "explain_layer", None)
    if layer is None:
        if "backbone" not in modules:
            raise ValueError(
                f"{type(model).__name__} has no 'backbone' and names no 'explain_layer': name the layer to explain"
            )
        return modules["backbone"]
    if layer not in modules:
        candidates = [name for name in modules if name][-8:]
        raise KeyError(f"{type(model).__name__} has no layer {layer!r}; layers include {candidates}")
    return modules[layer]


def grad_cam(
    model: nn.Module,
    inputs: Tensor | Mapping[str, Tensor],
    targets: str | OutputSelector | Sequence[str | OutputSelector],
    layer: nn.Module | str | None = None,
    *,
    projection: Projection | None = None,
    channels_last: bool = False,
    relu: bool = True,
    project: bool = True,
    method: str = "gradcam",
    reference: Tensor | Mapping[str, Tensor] | None = None,
) -> GradCamResult:
    """Grad-CAM maps of ``targets`` on ``layer`` for a batch, from one forward pass.

    Args:
        model: returns ``dict[head, Tensor]``; it runs in eval mode and its mode is restored after.
        inputs: the batch as the model takes it (``(B, C, N)`` pixels, ``(B, C, H, W)`` images, or a dict).
        targets: output selectors (``"particle:0"``, ``"energy"``...).
        layer: module, module name, or ``None`` for ``model.backbone``.
        projection: brings each layer map to the detector's elements (see :data:`Projection`); without
            it, image maps are upsampled to the input image and other maps stay on the layer.
        channels_last: the layer's channel axis is its last one (transformer tokens ``(B, L, C)``).
        relu: keep only positive evidence (standard Grad-CAM); ``False`` keeps the signed map.
        project: bring the maps to the detector / input image; ``False`` returns the layer maps.
        method: ``"gradcam"`` or ``"hirescam"`` (see the module docstring).
        reference: an input the activation is measured against (one event, broadcast over the batch,
            or one per event), e.g. ``torch.zeros_like(inputs[:1])`` for the empty detector.

    Raises:
        ValueError: an activation without positions, a layer called several times per forward pass,
            an output that does not depend on the layer (and the projection's own errors).
    """
    if method not in CAM_METHODS:
        raise ValueError(f"method must be one of {CAM_METHODS}, got {method!r}")
    selectors = [OutputSelector.parse(t) for t in ([targets] if isinstance(targets, (str, OutputSelector)) else targets)]
    if not selectors:
        raise ValueError("grad_cam needs at least one target output")
    module = resolve_layer(model, layer)
    # the reference runs first: what the model keeps of its last forward pass (attention maps) is the inputs'
    baseline = _activation(model, module, reference, with_grad=False)[0] if reference is not None else None
    activation, outputs = _activation(model, module, inputs, with_grad=True)
    if not activation.requires_grad:
        raise ValueError(f"layer {type(module).__name__}'s output does not depend on any parameter or input with gradients")
    features = activation.movedim(-1, 1) if channels_last else activation
    if baseline is not None:
        if baseline.shape[1:] != activation.shape[1:] or baseline.shape[0] not in (1, activation.shape[0]):
            raise ValueError(
                f"the reference gives layer activations {tuple(baseline.shape)}, the inputs {tuple(activation.shape)}"
            )
        features = features - (baseline.movedim(-1, 1) if channels_last else baseline)
    position_axes = tuple(range(2, features.dim()))
    to_detector = projection if projection is not None else lambda cam: _on_input_image(cam, inputs)
    maps, layer_maps = {}, {}
    for i, selector in enumerate(selectors):
        score = selector.score(outputs)
        (gradient,) = torch.autograd.grad(score.sum(), activation, retain_graph=i < len(selectors) - 1, allow_unused=True)
        if gradient is None:
            raise ValueError(f"output {selector} does not depend on layer {type(module).__name__}")
        if channels_last:
            gradient = gradient.movedim(-1, 1)
        weights = gradient.mean(dim=position_axes, keepdim=True) if method == "gradcam" else gradient
        cam = (weights * features).sum(dim=1).detach()
        if relu:
            cam = cam.clamp_min(0.0)
        layer_maps[str(selector)] = cam
        maps[str(selector)] = to_detector(cam) if project else cam
    return GradCamResult(maps, layer_maps, {k: v.detach() for k, v in outputs.items()})


def _activation(
    model: nn.Module, module: nn.Module, inputs: Tensor | Mapping[str, Tensor], with_grad: bool
) -> tuple[Tensor, dict[str, Tensor]]:
    """The output of ``module`` (called exactly once) and the model's outputs for ``inputs``, in eval mode."""
    captured: list[Tensor] = []

    def keep_activation(_module: nn.Module, _inputs: Any, output: Any) -> Tensor:
        if not isinstance(output, Tensor):
            raise TypeError(f"Grad-CAM needs a layer returning one tensor, {type(_module).__name__} returned {type(output).__name__}")
        captured.append(output)
        # later in-place operations (ReLU(inplace=True)) must not overwrite the activation we explain
        return output.clone()

    handle = module.register_forward_hook(keep_activation)
    was_training = model.training
    model.eval()
    try:
        with torch.set_grad_enabled(with_grad):
            outputs = model(inputs)
    finally:
        handle.remove()
        model.train(was_training)
    if len(captured) != 1:
        hint = (
            " (a model may bypass a module's forward: LatticeResNet's dense path runs its stages' blocks directly, so "
            "explain the backbone, a Dual Attention block 'backbone.hooks.N', or build it with implementation='indexed')"
            if not captured else ""
        )
        raise ValueError(f"layer {type(module).__name__} ran {len(captured)} times in one forward pass; Grad-CAM needs exactly one{hint}")
    activation = captured[0]
    if activation.dim() < 3:
        raise ValueError(
            f"layer {type(module).__name__} outputs shape {tuple(activation.shape)}: no positions to explain; Grad-CAM "
            "needs a layer with one activation per position, (batch, channels, positions...) or tokens (batch, tokens, "
            "channels), before any pooling or flattening"
        )
    return activation, outputs


def upsample_image_map(cam: Tensor, size: Sequence[int]) -> Tensor:
    """An image-layer map ``(B, h, w)`` upsampled bilinearly to ``size`` ``(H, W)``."""
    return F.interpolate(cam[:, None], size=tuple(size), mode="bilinear", align_corners=False)[:, 0]


def _on_input_image(cam: Tensor, inputs: Tensor | Mapping[str, Tensor]) -> Tensor:
    """Without a projection: image maps on the input image ``(B, C, H, W)``, other maps as they are."""
    if cam.dim() == 3 and isinstance(inputs, Tensor) and inputs.dim() == 4:
        return upsample_image_map(cam, inputs.shape[-2:])
    return cam
