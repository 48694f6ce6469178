"""Image cleaning (as a mask or an extra channel), charge and time normalisation.

An event's network input is ``(C, n_pixels)``: charge, peak time, and with ``cleaning.as_ = "channel"``
the cleaning mask. Cleaning is ctapipe's ``tailcuts_clean`` on the reference camera, optionally followed
by lstchain's time constraint (``apply_time_delta_cleaning``) and dynamic cleaning, so the settings mean
what they mean in ctapipe/lstchain configs. The Hillas + RF baseline cleans with the same function.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from ctapipe.image import apply_time_delta_cleaning, tailcuts_clean
from ctapipe.instrument import CameraGeometry
from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["CleaningConfig", "ImageTransform", "TransformConfig", "clean_image"]


class CleaningConfig(BaseModel):
    """Tailcuts cleaning (LST standard analysis defaults) and how its result reaches the network."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, serialize_by_alias=True)

    picture_thresh: float = Field(8.0, description="Core pixel threshold [p.e.].")
    boundary_thresh: float = Field(4.0, description="Boundary pixel threshold [p.e.].")
    min_number_picture_neighbors: int = Field(2, ge=0, description="Core pixels need this many core neighbours.")
    keep_isolated_pixels: bool = Field(False, description="Keep core pixels without core neighbours.")
    delta_time: float | None = Field(
        None, gt=0.0, description="Drop pixels without a cleaned neighbour within this peak-time difference "
        "[ns] (lstchain standard: 2); null: no time constraint."
    )
    dynamic_threshold: float | None = Field(
        None, gt=0.0, description="Images whose 3 brightest pixels average at least this [p.e.] keep only pixels "
        "above dynamic_fraction of that average (lstchain standard: 267); null: no dynamic cleaning."
    )
    dynamic_fraction: float = Field(0.03, ge=0.0, lt=1.0, description="See dynamic_threshold.")
    as_: Literal["mask", "channel", "none"] = Field(
        "none",
        alias="as",
        description="'mask': zero pixels outside the cleaning mask; 'channel': add the mask as an input "
        "channel; 'none': no cleaning of the input (cuts that need it still use it).",
    )

    @model_validator(mode="after")
    def _check(self) -> CleaningConfig:
        if self.boundary_thresh > self.picture_thresh:
            raise ValueError(f"boundary_thresh ({self.boundary_thresh}) must not exceed picture_thresh ({self.picture_thresh})")
        return self


def clean_image(camera: CameraGeometry, image: np.ndarray, peak_time: np.ndarray, config: CleaningConfig) -> np.ndarray:
    """Boolean mask of the pixels of one image (n_pixels,) kept by ``config``'s cleaning."""
    mask = tailcuts_clean(
        camera,
        image,
        picture_thresh=config.picture_thresh,
        boundary_thresh=config.boundary_thresh,
        keep_isolated_pixels=config.keep_isolated_pixels,
        min_number_picture_neighbors=config.min_number_picture_neighbors,
    )
    if not mask.any():
        return mask
    if config.delta_time is not None:
        # ctapipe counts only already-cleaned neighbours, as lstchain requires
        mask = apply_time_delta_cleaning(camera, mask, peak_time, min_number_neighbors=1, time_limit=config.delta_time)
    if config.dynamic_threshold is not None and mask.any():
        # lstchain's dynamic cleaning: bright images keep only pixels above a fraction of their 3 brightest
        brightest = np.mean(np.sort(image)[-3:])
        if brightest >= config.dynamic_threshold:
            mask = mask & (image >= config.dynamic_fraction * brightest)
    return mask


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

    def __init__(self, camera: CameraGeometry, cleaning: CleaningConfig, transform: TransformConfig) -> None:
        self.camera = camera
        self.cleaning = cleaning
        self.transform = transform

    @property
    def channels(self) -> list[str]:
        names = ["charge", "peak_time"]
        return [*names, "cleaning_mask"] if self.cleaning.as_ == "channel" else names

    @property
    def channel_labels(self) -> dict[str, str]:
        """What each input channel holds, with its unit (figures' colour bars), as :meth:`__call__` makes it."""
        charge = {
            "log1p": "sign(q) ln(1 + |q|), q [p.e.]",
            "scale": f"charge [{self.transform.charge_scale:g} p.e.]",
            "none": "charge [p.e.]",
        }[self.transform.charge]
        scale = f"{self.transform.time_scale:g} ns"
        time = f"peak time - mean [{scale}]" if self.transform.time == "subtract_mean" else f"peak time [{scale}]"
        return {"charge": charge, "peak_time": time, "cleaning_mask": "cleaning mask (1: kept)"}

    def clean(self, image: np.ndarray, peak_time: np.ndarray) -> np.ndarray:
        """Boolean cleaning mask of one image (n_pixels,)."""
        return clean_image(self.camera, image, peak_time, self.cleaning)

    def __call__(self, image: np.ndarray, peak_time: np.ndarray) -> np.ndarray:
        mask = self.clean(image, peak_time)
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
