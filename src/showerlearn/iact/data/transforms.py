"""Image cleaning (as a mask or an extra channel), charge and time normalisation.

An event's network input is ``(C, n_pixels)``: charge, peak time, and with ``cleaning.as_ = "channel"``
the cleaning mask. Cleaning is ctapipe's ``tailcuts_clean`` on the reference camera, optionally followed
by lstchain's time constraint (``apply_time_delta_cleaning``) and dynamic cleaning, so the settings mean
what they mean in ctapipe/lstchain configs. The Hillas + RF baseline cleans with the same function.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any, Literal

import numpy as np
from ctapipe.instrument import CameraGeometry
from pydantic import ConfigDict, Field, model_validator
from scipy import sparse

from showerlearn.config.base import SettingsModel
from showerlearn.iact.nn.moments import CLEANING_MASK

__all__ = ["CleaningConfig", "ImageTransform", "TransformConfig", "clean_image", "clean_images"]


class CleaningConfig(SettingsModel):
    """Tailcuts cleaning (LST standard analysis defaults) and how its result reaches the network."""

    model_config = ConfigDict(frozen=True, populate_by_name=True, serialize_by_alias=True)

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

    @model_validator(mode="before")
    @classmethod
    def _one_name_for_as(cls, data: Any) -> Any:
        """``as`` and its Python name ``as_`` are one setting: both given (a config extending an example that sets
        ``as``, say) would otherwise read ``as_`` as an unknown key."""
        if isinstance(data, Mapping) and "as" in data and "as_" in data:
            if data["as"] != data["as_"]:
                raise ValueError(f"`as` ({data['as']!r}) and `as_` ({data['as_']!r}) name one setting and both are given "
                                 "(a config extending another may set the other name): give it once, by the name the "
                                 "config it extends uses")
            data = {key: value for key, value in data.items() if key != "as_"}
        return data

    @model_validator(mode="after")
    def _check(self) -> CleaningConfig:
        if self.boundary_thresh > self.picture_thresh:
            raise ValueError(f"boundary_thresh ({self.boundary_thresh}) must not exceed picture_thresh ({self.picture_thresh})")
        return self


#: images cleaned together at most (LSTCam: ~0.3 MB of temporaries an image, for its ~11,000 neighbour pairs)
CLEANING_BLOCK = 256


def clean_image(camera: CameraGeometry, image: np.ndarray, peak_time: np.ndarray, config: CleaningConfig) -> np.ndarray:
    """Boolean mask of the pixels of one image (n_pixels,) kept by ``config``'s cleaning."""
    return clean_images(camera, image[None], peak_time[None], config)[0]


def clean_images(camera: CameraGeometry, images: np.ndarray, peak_times: np.ndarray, config: CleaningConfig) -> np.ndarray:
    """Boolean masks (n, n_pixels) of images (n, n_pixels) kept by ``config``'s cleaning, all at once.

    The same decisions as ctapipe's ``tailcuts_clean`` and ``apply_time_delta_cleaning`` (with one neighbour, as
    lstchain) and lstchain's dynamic cleaning applied image by image (tested against them), as sparse products
    over the whole batch: the per-image calls cost more in Python than in arithmetic. Large batches go in
    blocks of :data:`CLEANING_BLOCK` images (the time constraint holds a value per neighbour pair and image).
    """
    if len(images) > CLEANING_BLOCK:
        return np.concatenate([
            clean_images(camera, images[start:start + CLEANING_BLOCK], peak_times[start:start + CLEANING_BLOCK], config)
            for start in range(0, len(images), CLEANING_BLOCK)
        ])
    adjacency = _adjacency(camera)
    above_picture = images >= config.picture_thresh
    above_boundary = images >= config.boundary_thresh
    if config.keep_isolated_pixels or config.min_number_picture_neighbors == 0:
        in_picture = above_picture
    else:
        in_picture = above_picture & (adjacency.count(above_picture) >= config.min_number_picture_neighbors)
    mask = above_boundary & (adjacency.count(in_picture) > 0)
    if config.keep_isolated_pixels:
        mask |= in_picture
    else:
        mask |= in_picture & (adjacency.count(above_boundary) > 0)
    if config.delta_time is not None:
        mask &= adjacency.count_in_time(mask, peak_times, config.delta_time) >= 1
    if config.dynamic_threshold is not None:
        # bright images keep only pixels above a fraction of the mean of their 3 brightest
        brightest = np.mean(np.sort(images, axis=1)[:, -3:], axis=1)
        bright = brightest >= config.dynamic_threshold
        mask[bright] &= images[bright] >= (config.dynamic_fraction * brightest[bright])[:, None]
    return mask


class _Adjacency:
    """The camera's neighbour pairs as sparse matrices, for counting neighbours of many images at once."""

    def __init__(self, camera: CameraGeometry) -> None:
        self.neighbours = camera.neighbor_matrix_sparse.astype(np.int16).tocsr()  # symmetric
        self.pixel, self.neighbour = self.neighbours.nonzero()
        # pixel x pair: sums a per-pair quantity into the pair's first pixel
        n_pairs = len(self.pixel)
        self.pair_to_pixel = sparse.csr_matrix(
            (np.ones(n_pairs, dtype=np.int16), (self.pixel, np.arange(n_pairs))), shape=(camera.n_pixels, n_pairs)
        )

    def count(self, selected: np.ndarray) -> np.ndarray:
        """(n, n_pixels): for each pixel of each image, how many of its neighbours are ``selected``."""
        return (self.neighbours @ selected.T.astype(np.int16)).T

    def count_in_time(self, mask: np.ndarray, peak_times: np.ndarray, limit: float) -> np.ndarray:
        """(n, n_pixels): for each pixel, its neighbours in ``mask`` whose peak time is within ``limit`` of its own."""
        close = np.abs(peak_times[:, self.pixel] - peak_times[:, self.neighbour]) < limit
        return (self.pair_to_pixel @ (mask[:, self.neighbour] & close).T.astype(np.int16)).T


@functools.lru_cache(maxsize=8)
def _adjacency(camera: CameraGeometry) -> _Adjacency:
    return _Adjacency(camera)


class TransformConfig(SettingsModel):
    """Charge and time normalisation."""

    model_config = ConfigDict(frozen=True)

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
        return [*names, CLEANING_MASK] if self.cleaning.as_ == "channel" else names

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
        return {"charge": charge, "peak_time": time, CLEANING_MASK: "cleaning mask (1: kept)"}

    def clean(self, image: np.ndarray, peak_time: np.ndarray) -> np.ndarray:
        """Boolean cleaning mask of one image (n_pixels,)."""
        return clean_image(self.camera, image, peak_time, self.cleaning)

    def __call__(self, image: np.ndarray, peak_time: np.ndarray) -> np.ndarray:
        """The network input ``(C, n_pixels)`` of one event."""
        return self.batch(image[None], peak_time[None])[0]

    def batch(self, images: np.ndarray, peak_times: np.ndarray) -> np.ndarray:
        """The network inputs ``(n, C, n_pixels)`` of events (n, n_pixels), cleaned together."""
        needs_mask = self.cleaning.as_ != "none" or self.transform.time == "subtract_mean"
        mask = clean_images(self.camera, images, peak_times, self.cleaning) if needs_mask else None
        charge = images.astype(np.float32)
        time = peak_times.astype(np.float32)
        if self.transform.time == "subtract_mean":
            # over the cleaned pixels; an image that none survive, over all of them
            reference = np.where(mask.any(axis=1, keepdims=True), mask, True)
            count = reference.sum(axis=1, keepdims=True, dtype=np.float32)
            time = time - np.sum(time * reference, axis=1, keepdims=True, dtype=np.float32) / count
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
            channels.append(mask)
        return np.stack(channels, axis=1).astype(np.float32)
