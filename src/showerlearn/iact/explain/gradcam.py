"""Grad-CAM on the camera: the core's Grad-CAM (:mod:`showerlearn.explain.gradcam`) with its maps brought
back to the camera pixels.

Lattice maps ``(B, N_stage)`` go back through the network's own pooling hierarchy
(:class:`~showerlearn.iact.explain.projection.PixelProjector`); image maps ``(B, h, w)`` of a model that
maps the pixels to an image are upsampled bilinearly to that image and, given the mapper, sampled back
onto the pixels (without a mapper they stay on the input image).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from torch import Tensor, nn

from showerlearn.explain import gradcam as core
from showerlearn.explain.gradcam import GradCamResult, OutputSelector, Projection, upsample_image_map
from showerlearn.iact.explain.projection import PixelProjector, find_input_lattice
from showerlearn.iact.geometry import Lattice

__all__ = ["ImageMapper", "camera_projection", "grad_cam"]


class ImageMapper(Protocol):
    """What the projection needs from an image mapper (``showerlearn.iact.geometry.mappers``): its image
    shape and the way back from an image to the pixels."""

    shape: tuple[int, int]

    def from_image(self, image: Any) -> Any: ...


def camera_projection(
    model: nn.Module,
    inputs: Tensor | Mapping[str, Tensor] | None = None,
    lattice: Lattice | None = None,
    mapper: ImageMapper | None = None,
) -> Projection:
    """Layer maps of ``model`` -> camera pixels (lattice maps), or input image / pixels (image maps).

    ``lattice``: the camera lattice (default: the one a sub-module of the model holds with the input's
    pixel count); ``mapper``: sets the image size of image maps and brings them back onto the pixels.
    """

    def project(cam: Tensor) -> Tensor:
        if cam.dim() == 3:  # (B, h, w) image activation
            if mapper is not None:
                return mapper.from_image(upsample_image_map(cam, mapper.shape))
            if isinstance(inputs, Tensor) and inputs.dim() == 4:
                return upsample_image_map(cam, inputs.shape[-2:])
            raise ValueError("an image-layer map needs image inputs (B, C, H, W) or a mapper to be projected")
        if cam.dim() != 2:
            raise ValueError(f"cannot project a map of shape {tuple(cam.shape)}: use project=False")
        return PixelProjector(model, lattice if lattice is not None else _input_lattice(model, inputs))(cam)

    return project


def _input_lattice(model: nn.Module, inputs: Tensor | Mapping[str, Tensor] | None) -> Lattice:
    if not isinstance(inputs, Tensor):
        raise ValueError("multi-stream inputs: pass the camera lattice to project lattice maps")
    return find_input_lattice(model, inputs.shape[-1])


def grad_cam(
    model: nn.Module,
    inputs: Tensor | Mapping[str, Tensor],
    targets: str | OutputSelector | Sequence[str | OutputSelector],
    layer: nn.Module | str | None = None,
    *,
    lattice: Lattice | None = None,
    mapper: ImageMapper | None = None,
    channels_last: bool = False,
    relu: bool = True,
    project: bool = True,
    method: str = "gradcam",
    reference: Tensor | Mapping[str, Tensor] | None = None,
) -> GradCamResult:
    """:func:`showerlearn.explain.gradcam.grad_cam` with its maps on the camera pixels (``(B, n_pixels)``;
    ``(B, H, W)`` on the input image for image layers without a mapper), through :func:`camera_projection`
    of ``lattice`` and ``mapper``. The other arguments are the core function's."""
    return core.grad_cam(
        model, inputs, targets, layer, projection=camera_projection(model, inputs, lattice, mapper),
        channels_last=channels_last, relu=relu, project=project, method=method, reference=reference,
    )
