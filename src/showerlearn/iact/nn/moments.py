"""Image moments on a lattice: the Hillas parameters of the network's own input, as a fixed layer.

A convolutional network sees positions only through its receptive fields and loses sub-pixel precision
with every pooling; the charge-weighted moments of the image keep it exactly (the centroid of a bright
LST image is known to a small fraction of a pixel). This layer computes them from the input the
network receives, so the heads can anchor the direction on the centroid and main axis and learn only
what the moments do not say: the distance to the source along the axis, its side, the corrections.

Weights are the positive part of the charge channel, restricted to the cleaned pixels: either the
DataModule zeroed the others (``cleaning.as: mask``) or a mask channel says which they are
(``cleaning.as: channel``, ``mask_channel``), so the network may see the whole image. The moments are those of Hillas (1985) and of ctapipe's
``hillas_parameters``; the time slope is a charge-weighted least-squares slope of the peak time along the
main axis (ctapipe's ``timing_parameters``, which the Hillas + RF baseline uses, fits a least-trimmed-squares
line instead, robust to outlying pixels: the two differ by some per cent on noisy images). They are computed
without gradient: nothing before them learns.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn

__all__ = ["AXIS", "CENTROID", "CLEANING_MASK", "ImageMoments", "MOMENT_FEATURES", "SKEWNESS", "TIME_SLOPE"]

#: the name of the input channel that holds the image cleaning mask (1: kept), which the moments can weigh by
CLEANING_MASK = "cleaning_mask"

#: Columns of the output of :class:`ImageMoments`, in order.
MOMENT_FEATURES: tuple[str, ...] = (
    "log10_intensity",
    "x",
    "y",
    "axis_x",
    "axis_y",
    "length",
    "width",
    "skewness",
    "kurtosis",
    "time_slope",
    "leakage_intensity_width_1",
    "leakage_intensity_width_2",
)

CENTROID, AXIS = slice(1, 3), slice(3, 5)
SKEWNESS, TIME_SLOPE = MOMENT_FEATURES.index("skewness"), MOMENT_FEATURES.index("time_slope")

_EPS = 1e-6


class ImageMoments(nn.Module):
    """Charge-weighted moments of lattice images ``(B, C, N)``.

    Args:
        positions: ``(N, 2)`` positions of the lattice pixels, in the frame and unit of the outputs
            (TelescopeFrame degrees for the direction).
        charge_channel: input channel of the charge (the weights).
        time_channel: input channel of the peak time, or ``None`` (the time slope is then 0).
        mask_channel: input channel of the cleaning mask (1 for kept pixels, 0 for the others), or
            ``None``: every pixel with a positive charge counts.
        border: ``(2, N)`` booleans, the camera's outermost one and two rings of pixels (ctapipe's
            ``get_border_pixel_mask(1)`` and ``(2)``): the leakage, the fraction of the intensity there,
            says how much of a shower the camera cut off. ``None``: leakage 0.
        charge_log1p: the charge channel holds ``sign(q) log(1 + |q|)`` (the DataModule's ``charge: log1p``):
            the weights are the charges it came from, so that the moments are Hillas' and not those of log-charges.

    ``forward`` returns the features ``(B, len(MOMENT_FEATURES))`` (lengths in the unit of
    ``positions``; ``axis`` is the unit vector of the main axis, oriented to ``axis_x >= 0`` like
    ctapipe's ``psi`` in (-90, 90] deg; skewness and time slope are signed along it). Columns 1-2 are the
    centroid, 3-4 the axis (:data:`CENTROID`, :data:`AXIS`).
    """

    def __init__(
        self,
        positions: np.ndarray,
        charge_channel: int = 0,
        time_channel: int | None = 1,
        border: np.ndarray | None = None,
        mask_channel: int | None = None,
        charge_log1p: bool = False,
    ) -> None:
        super().__init__()
        positions = np.asarray(positions, dtype=np.float32)
        if positions.ndim != 2 or positions.shape[1] != 2:
            raise ValueError(f"positions must have shape (n_pixels, 2), got {positions.shape}")
        self.register_buffer("positions", torch.from_numpy(positions.T.copy()))  # (2, N)
        border = np.zeros((2, len(positions)), dtype=bool) if border is None else np.asarray(border, dtype=bool)
        if border.shape != (2, len(positions)):
            raise ValueError(f"border must have shape (2, {len(positions)}), got {border.shape}")
        self.register_buffer("border", torch.from_numpy(border.astype(np.float32)).T.contiguous())  # (N, 2)
        self.charge_channel = charge_channel
        self.time_channel = time_channel
        self.mask_channel = mask_channel
        self.charge_log1p = charge_log1p

    @torch.no_grad()
    def forward(self, inputs: Tensor) -> Tensor:
        if inputs.shape[-1] != self.positions.shape[1]:
            raise ValueError(f"inputs have {inputs.shape[-1]} pixels, the moment lattice has {self.positions.shape[1]}")
        # positions are degrees of several units and the moments sums of many pixels: keep fp32
        with torch.autocast(inputs.device.type, enabled=False):
            inputs = inputs.float()
            weight = inputs[:, self.charge_channel].clamp(min=0)  # (B, N)
            if self.charge_log1p:
                weight = torch.expm1(weight)
            if self.mask_channel is not None:
                weight = weight * inputs[:, self.mask_channel]
            intensity = weight.sum(dim=1)
            norm = weight / (intensity.unsqueeze(1) + _EPS)
            centroid = norm @ self.positions.T  # (B, 2)
            dx = self.positions[0] - centroid[:, :1]  # (B, N)
            dy = self.positions[1] - centroid[:, 1:]
            sxx, syy, sxy = (norm * dx * dx).sum(1), (norm * dy * dy).sum(1), (norm * dx * dy).sum(1)
            half_trace, root = (sxx + syy) / 2, torch.sqrt(((sxx - syy) / 2) ** 2 + sxy**2)
            length = torch.sqrt((half_trace + root).clamp(min=0))
            width = torch.sqrt((half_trace - root).clamp(min=0))
            psi = 0.5 * torch.atan2(2 * sxy, sxx - syy)  # (-90, 90] deg: axis_x >= 0
            axis = torch.stack([torch.cos(psi), torch.sin(psi)], dim=1)
            along = dx * axis[:, :1] + dy * axis[:, 1:]  # longitudinal coordinate of every pixel
            variance = (norm * along**2).sum(1) + _EPS
            skewness = (norm * along**3).sum(1) / variance**1.5
            kurtosis = (norm * along**4).sum(1) / variance**2
            if self.time_channel is None:
                time_slope = torch.zeros_like(intensity)
            else:
                time = inputs[:, self.time_channel]
                mean_time = (norm * time).sum(1, keepdim=True)
                time_slope = (norm * along * (time - mean_time)).sum(1) / variance
            return torch.stack(
                [
                    torch.log10(intensity + _EPS),
                    centroid[:, 0],
                    centroid[:, 1],
                    axis[:, 0],
                    axis[:, 1],
                    length,
                    width,
                    skewness,
                    kurtosis,
                    time_slope,
                    *(norm @ self.border).unbind(dim=1),
                ],
                dim=1,
            )
