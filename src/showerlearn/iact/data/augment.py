"""Symmetry augmentations of the camera lattice that keep the truth consistent.

A symmetry is an orthogonal map ``A`` of the camera plane (a rotation by a multiple of 60 deg for a
hexagonal lattice, 90 deg for a square one, or a reflection about a lattice axis) that sends every
pixel centre onto a pixel centre. Only the maps under which the whole camera maps onto itself (within
``tolerance`` pixel spacings) are offered. Applying one moves the image content by ``A`` and turns
the direction and impact targets by the same map (``showerlearn.iact.data.targets``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import astropy.units as u
import numpy as np
import torch
from pydantic import ConfigDict, Field
from scipy.spatial import cKDTree

from showerlearn.config.base import SettingsModel
from showerlearn.iact.data.targets import transform_direction, turn_impact
from showerlearn.iact.geometry import Lattice

__all__ = ["AugmentConfig", "SymmetryOp", "average_views", "camera_symmetries", "permuted_pixels"]


class AugmentConfig(SettingsModel):
    """Random lattice symmetries applied to training events (never to validation/test)."""

    model_config = ConfigDict(frozen=True)

    enabled: bool = Field(False, description="Apply augmentations to the training set.")
    ops: list[str] | None = Field(
        None,
        description="Symmetry names ('rot60', 'flip30', ... see docs/data_iact.md); None: every symmetry of the "
        "camera. Each training event gets the identity or one of them, uniformly at random.",
    )
    test_time: bool = Field(
        False,
        description="Test-time augmentation: predict every test (and `showerlearn predict`) event as it is and "
        "moved by each of `ops`, turn the outputs back and average them (gammaness: mean probability; energy: mean "
        "log10 E; direction, impact: mean position). One forward pass per view. Independent of `enabled`.",
    )


@dataclass(frozen=True)
class SymmetryOp:
    """``image_new = image[..., perm]`` is the image moved by ``matrix`` (acting on camera x, y)."""

    name: str
    matrix: np.ndarray
    perm: np.ndarray


def _rotation(angle_deg: float) -> np.ndarray:
    c, s = math.cos(math.radians(angle_deg)), math.sin(math.radians(angle_deg))
    return np.array([[c, -s], [s, c]])


def _reflection(axis_deg: float) -> np.ndarray:
    c, s = math.cos(math.radians(2 * axis_deg)), math.sin(math.radians(2 * axis_deg))
    return np.array([[c, s], [s, -c]])


def camera_symmetries(camera: object, tolerance: float = 0.1) -> dict[str, SymmetryOp]:
    """The non-trivial lattice symmetries that map ``camera`` (a ctapipe CameraGeometry) onto itself.

    Names: ``rot<deg>`` (counter-clockwise rotation) and ``flip<deg>`` (reflection about the line
    through the centre at that angle to camera x), angles rounded to 0.1 deg.
    """
    xy = np.column_stack([camera.pix_x.to_value(u.m), camera.pix_y.to_value(u.m)])
    lattice = Lattice.from_camera(camera)
    fold = 6 if lattice.kind == "hex" else 4
    candidates: list[tuple[str, np.ndarray]] = [
        (f"rot{360 // fold * k}", _rotation(360 / fold * k)) for k in range(1, fold)
    ]
    for k in range(fold):
        axis = (lattice.rotation + 180 / fold * k) % 180
        candidates.append((f"flip{round(axis, 1):g}", _reflection(axis)))
    tree = cKDTree(xy)
    ops = {}
    for name, matrix in candidates:
        # the pixel that lands on pixel j comes from A^-1 @ x_j
        distance, source = tree.query(xy @ matrix)  # rows: (A^T x_j) = A^-1 x_j for orthogonal A
        if distance.max() < tolerance * lattice.spacing and len(np.unique(source)) == len(source):
            ops[name] = SymmetryOp(name, matrix, source.astype(np.int64))
    return ops


class Augmenter:
    """Draws the identity or one of ``ops`` per event (torch's RNG, seeded per DataLoader worker)."""

    def __init__(self, camera: object, names: Sequence[str] | None = None) -> None:
        available = camera_symmetries(camera)
        if names is None:
            self.ops = list(available.values())
        else:
            unknown = [name for name in names if name not in available]
            if unknown:
                raise ValueError(
                    f"augmentation(s) {unknown} are not symmetries of camera {getattr(camera, 'name', '?')}; "
                    f"available: {sorted(available)}"
                )
            self.ops = [available[name] for name in names]

    def draw(self, u01: float) -> SymmetryOp | None:
        """The op for a uniform random number ``u01`` in [0, 1): None (identity) or one of ``ops``."""
        choice = int(u01 * (len(self.ops) + 1))
        return None if choice == 0 else self.ops[choice - 1]


def permuted_pixels(images: torch.Tensor, perm: torch.Tensor) -> torch.Tensor:
    """A batch of images ``(..., n_pixels)`` moved by a symmetry: ``images[..., perm]`` (a test-time view)."""
    return images[..., perm]


def average_views(
    views: Sequence[SymmetryOp | None], outputs: Sequence[Mapping[str, np.ndarray]]
) -> dict[str, np.ndarray]:
    """Encoded IACT outputs (``particle`` logits, ``energy``, ``direction``, ``impact``) averaged over
    predictions of the same events moved by ``views`` (None: as they are).

    Each view's direction and impact are turned back by the inverse map first, so all views speak of
    the event as it is. The class probabilities are averaged and returned as their logarithm (what the
    decoder's softmax turns back into the mean probability).
    """
    if len(views) != len(outputs) or not views:
        raise ValueError(f"{len(views)} views but {len(outputs)} sets of outputs")
    turned = []
    for view, view_outputs in zip(views, outputs, strict=True):
        view_outputs = {name: np.asarray(values, dtype=np.float64) for name, values in view_outputs.items()}
        if view is not None:
            inverse = view.matrix.T
            if "direction" in view_outputs:
                view_outputs["direction"] = transform_direction(inverse, view_outputs["direction"])
            if "impact" in view_outputs:
                view_outputs["impact"] = turn_impact(inverse, view_outputs["impact"])
        if "particle" in view_outputs:
            logits = view_outputs["particle"]
            probabilities = np.exp(logits - logits.max(axis=1, keepdims=True))
            view_outputs["particle"] = probabilities / probabilities.sum(axis=1, keepdims=True)
        turned.append(view_outputs)
    merged = {name: np.mean([view_outputs[name] for view_outputs in turned], axis=0) for name in turned[0]}
    if "particle" in merged:
        merged["particle"] = np.log(merged["particle"])
    return merged
