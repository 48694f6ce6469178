"""Image cleaning and Hillas-style image parameters with ctapipe, as in lstchain's DL1 step.

Events are cleaned, a chunk at a time, by :func:`showerlearn.iact.data.transforms.clean_images`, by default with
:data:`LSTCHAIN_CLEANING` (tailcuts 6/3 p.e. with two picture neighbours, a 2 ns time constraint and
the dynamic cleaning of bright images). The surviving pixels are parameterised the
way ctapipe's ``ImageProcessor`` does it (Hillas, timing and concentration on the selected pixels,
leakage and islands on the whole camera), in the camera frame (metres), as lstchain does; the
direction estimate converts to the telescope frame only at the end.
"""

from __future__ import annotations

import warnings

import astropy.units as u
import numpy as np
from ctapipe import fitting
from ctapipe.image import (
    concentration_parameters,
    hillas_parameters,
    leakage_parameters,
    number_of_islands,
    timing_parameters,
)
from ctapipe.image.hillas import HillasParameterizationError
from ctapipe.instrument import CameraGeometry
from joblib import Parallel, delayed

from showerlearn.iact.data.transforms import CleaningConfig, clean_images
from showerlearn.progress import work_bar

__all__ = ["FEATURE_NAMES", "LSTCHAIN_CLEANING", "hillas_features", "image_parameters", "reset_fit_rng"]

#: images per task of :func:`hillas_features` (at most): about a second of work each
CHUNK_IMAGES = 1000

#: Columns returned by :func:`hillas_features`. Lengths in metres on the camera, angles in radians,
#: ``time_gradient`` in ns/m, ``intercept`` in ns (peak time at the centroid).
FEATURE_NAMES: tuple[str, ...] = (
    "intensity",
    "log_intensity",
    "x",
    "y",
    "r",
    "phi",
    "psi",
    "length",
    "width",
    "wl",
    "skewness",
    "kurtosis",
    "time_gradient",
    "intercept",
    "leakage_pixels_width_1",
    "leakage_pixels_width_2",
    "leakage_intensity_width_1",
    "leakage_intensity_width_2",
    "concentration_cog",
    "concentration_core",
    "concentration_pixel",
    "n_pixels",
    "n_islands",
)


#: lstchain's standard analysis cleaning (``lstchain_standard_config``): the baseline's default
LSTCHAIN_CLEANING = CleaningConfig(
    picture_thresh=6.0, boundary_thresh=3.0, min_number_picture_neighbors=2, delta_time=2.0, dynamic_threshold=267.0
)


def image_parameters(
    camera: CameraGeometry, image: np.ndarray, peak_time: np.ndarray, mask: np.ndarray
) -> dict[str, float]:
    """Parameters of one image restricted to ``mask``, computed like ctapipe's ``ImageProcessor``.

    Images whose parameterisation is undefined (empty mask, zero intensity) get NaN in every
    geometric column; ``intensity``, ``n_pixels`` and ``n_islands`` stay defined.
    """
    row = dict.fromkeys(FEATURE_NAMES, np.nan)
    row["n_pixels"] = float(np.count_nonzero(mask))
    row["n_islands"] = float(number_of_islands(camera, mask)[0])
    row["intensity"] = float(image[mask].sum())
    if not mask.any():
        return row
    selected_geometry = camera[mask]
    selected_image = image[mask]
    # degenerate images (one or two pixels) give 0/0 in numpy; they come out NaN and are flagged invalid
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        try:
            hillas = hillas_parameters(selected_geometry, selected_image)
        except HillasParameterizationError:
            return row
        row.update(
            x=hillas.x.to_value(u.m),
            y=hillas.y.to_value(u.m),
            r=hillas.r.to_value(u.m),
            phi=hillas.phi.to_value(u.rad),
            psi=hillas.psi.to_value(u.rad),
            length=hillas.length.to_value(u.m),
            width=hillas.width.to_value(u.m),
            skewness=hillas.skewness,
            kurtosis=hillas.kurtosis,
        )
        row["log_intensity"] = np.log10(row["intensity"])
        row["wl"] = row["width"] / row["length"]
        leakage = leakage_parameters(camera, image, mask)
        row.update(
            leakage_pixels_width_1=leakage.pixels_width_1,
            leakage_pixels_width_2=leakage.pixels_width_2,
            leakage_intensity_width_1=leakage.intensity_width_1,
            leakage_intensity_width_2=leakage.intensity_width_2,
        )
        concentration = concentration_parameters(selected_geometry, selected_image, hillas)
        row.update(
            concentration_cog=concentration.cog,
            concentration_core=concentration.core,
            concentration_pixel=concentration.pixel,
        )
        if np.isfinite(row["length"]) and row["length"] > 0:
            reset_fit_rng()
            timing = timing_parameters(selected_geometry, selected_image, peak_time[mask], hillas)
            row["time_gradient"] = timing.slope.to_value(1 / u.m)
            row["intercept"] = float(timing.intercept)
    return {name: float(value) for name, value in row.items()}


def reset_fit_rng() -> None:
    """Put ctapipe's module-level fit RNG back to its initial state.

    ``timing_parameters`` uses a least-trimmed-squares fit that draws random starting samples from
    that one generator, so a time gradient would otherwise depend on how many images were fitted
    before it (in this process). Resetting it per image makes every feature a function of its image.
    """
    fitting.FIT_RNG.bit_generator.state = np.random.default_rng(0).bit_generator.state


def _features_chunk(
    camera: CameraGeometry,
    images: np.ndarray,
    peak_times: np.ndarray,
    masks: np.ndarray | None,
    config: CleaningConfig,
) -> np.ndarray:
    out = np.empty((len(images), len(FEATURE_NAMES)), dtype=np.float64)
    if masks is None:
        masks = clean_images(camera, images, peak_times, config)
    for i, (image, peak_time, mask) in enumerate(zip(images, peak_times, masks, strict=True)):
        row = image_parameters(camera, image, peak_time, mask)
        out[i] = [row[name] for name in FEATURE_NAMES]
    return out


def hillas_features(
    images: np.ndarray,
    peak_times: np.ndarray,
    camera: CameraGeometry,
    cleaning: CleaningConfig | None = None,
    masks: np.ndarray | None = None,
    n_jobs: int = 1,
) -> dict[str, np.ndarray]:
    """Clean and parameterise many images of one camera.

    Parameters
    ----------
    images, peak_times
        ``(n_events, n_pixels)`` charges (p.e.) and peak times (ns), pixel order of ``camera``.
    camera
        ctapipe ``CameraGeometry`` in the camera frame (metres).
    cleaning
        Cleaning settings (default: lstchain standard); ignored where ``masks`` is given.
    masks
        Optional precomputed ``(n_events, n_pixels)`` cleaning masks (e.g. ``image_mask`` of a DL1 file).
    n_jobs
        Worker processes for joblib (events are split into chunks); 1 runs in this process.

    Returns
    -------
    dict
        One float64 array per name in :data:`FEATURE_NAMES`, plus ``is_valid`` (bool): the Hillas
        parameterisation succeeded, every column is finite and the image has a non-zero length.
    """
    images = _as_event_array(images, camera, "images")
    peak_times = _as_event_array(peak_times, camera, "peak_times")
    if peak_times.shape != images.shape:
        raise ValueError(f"peak_times has shape {peak_times.shape}, images {images.shape}: they must match")
    if masks is not None:
        masks = np.asarray(masks, dtype=bool)
        if masks.shape != images.shape:
            raise ValueError(f"masks has shape {masks.shape}, images {images.shape}: they must match")
    config = cleaning or LSTCHAIN_CLEANING
    n_events = len(images)
    # chunks of at most CHUNK_IMAGES images, and several per worker, for a bar that moves and busy workers
    n_chunks = max(-(-n_events // CHUNK_IMAGES), 1 if n_jobs == 1 else min(n_events, 8 * max(abs(n_jobs), 1)))
    bounds = np.linspace(0, n_events, n_chunks + 1).astype(int)
    chunks = [slice(start, stop) for start, stop in zip(bounds[:-1], bounds[1:], strict=True)]
    tasks = (delayed(_features_chunk)(camera, images[s], peak_times[s], None if masks is None else masks[s], config)
             for s in chunks)
    parts = []
    with work_bar("Hillas parameters", n_events) as advance:
        # joblib runs a single worker in this process, in order
        for part in Parallel(n_jobs=n_jobs, return_as="generator")(tasks) if n_events else ():
            parts.append(part)
            advance(len(part))
    table = np.concatenate(parts) if parts else np.empty((0, len(FEATURE_NAMES)))
    columns = {name: table[:, j] for j, name in enumerate(FEATURE_NAMES)}
    columns["is_valid"] = np.isfinite(table).all(axis=1) & (columns["length"] > 0)
    return columns


def _as_event_array(values: np.ndarray, camera: CameraGeometry, name: str) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 2 or array.shape[1] != camera.n_pixels:
        raise ValueError(
            f"{name} must have shape (n_events, {camera.n_pixels}) for camera {camera.name}, got {array.shape}"
        )
    if not np.isfinite(array).all():
        bad = np.unique(np.nonzero(~np.isfinite(array))[0])
        raise ValueError(f"{name} contains NaN or inf in {len(bad)} event(s), first at index {bad[0]}")
    return array

