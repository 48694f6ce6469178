"""Image transforms: tailcuts cleaning (as a mask or an extra channel), charge and time normalisation.

An event's network input is ``(C, n_pixels)``: charge, peak time, and with ``cleaning.as_ = "channel"``
the cleaning mask. Cleaning uses ctapipe's ``tailcuts_clean`` on the reference camera, so the
thresholds mean what they mean in ctapipe/lstchain configs.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from ctapipe.image import tailcuts_clean
from pydantic import BaseModel, ConfigDict, Field

__all__ = ["CleaningConfig", "ImageTransform", "TransformConfig"]


class CleaningConfig(BaseModel):
    """Tailcuts cleaning (LST standard analysis defaults) and how its result reaches the network."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, serialize_by_alias=True)

    picture_thresh: float = Field(8.0, description="Core pixel threshold [p.e.].")
    boundary_thresh: float = Field(4.0, description="Boundary pixel threshold [p.e.].")
    min_number_picture_neighbors: int = Field(2, ge=0, description="Core pixels need this many core neighbours.")
    keep_isolated_pixels: bool = Field(False, description="Keep core pixels without core neighbours.")
    as_: Literal["mask", "channel", "none"] = Field(
        "none",
        alias="as",
        description="'mask': zero pixels outside the cleaning mask; 'channel': add the mask as an input "
        "channel; 'none': no cleaning of the input (cuts that need it still use it).",
    )


class TransformConfig(BaseModel):
    """Charge and time normalisation."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    charge: Literal["log1p", "scale", "none"] = Field(
        "log1p", description="'log1p': sign(q) log(1 + |q|) (charges may be negative); 'scale': q / charge_scale."
    )
    charge_scale: float = Field(100.0, gt=0, description="Divisor of the charge for 'scale' [p.e.].")
    time: Literal["subtract_mean", "none"] = Field(
        "subtract_mean",
        description="'subtract_mean': peak time minus the event's mean over cleaned pixels (all pixels "
        "when none survive), so only time gradients remain.",
    )
    time_scale: float = Field(10.0, gt=0, description="Divisor of the peak time after subtraction [ns].")


class ImageTransform:
    """Turns a DL1 event (charge, peak time) into the network input ``(C, n_pixels)`` float32."""

    def __init__(self, camera: object, cleaning: CleaningConfig, transform: TransformConfig) -> None:
        self.camera = camera
        self.cleaning = cleaning
        self.transform = transform

    @property
    def channels(self) -> list[str]:
        names = ["charge", "peak_time"]
        return [*names, "cleaning_mask"] if self.cleaning.as_ == "channel" else names

    def clean(self, image: np.ndarray) -> np.ndarray:
        """Boolean tailcuts mask of one image (n_pixels,)."""
        c = self.cleaning
        return tailcuts_clean(
            self.camera,
            image,
            picture_thresh=c.picture_thresh,
            boundary_thresh=c.boundary_thresh,
            keep_isolated_pixels=c.keep_isolated_pixels,
            min_number_picture_neighbors=c.min_number_picture_neighbors,
        )

    def __call__(self, image: np.ndarray, peak_time: np.ndarray) -> np.ndarray:
        mask = self.clean(image)
        charge = image.astype(np.float32)
        time = peak_time.astype(np.float32)
        if self.transform.time == "subtract_mean":
            reference = time[mask] if mask.any() else time
            time = time - reference.mean()
        time = time / self.transform.time_scale
        if self.transform.charge == "log1p":
            charge = np.sign(charge) * np.log1p(np.abs(charge))
        elif self.transform.charge == "scale":
            charge = charge / self.transform.charge_scale
        if self.cleaning.as_ == "mask":
            charge = np.where(mask, charge, 0.0)
            time = np.where(mask, time, 0.0)
        channels = [charge, time]
        if self.cleaning.as_ == "channel":
            channels.append(mask.astype(np.float32))
        return np.stack(channels).astype(np.float32)
