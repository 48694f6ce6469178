"""Quantitative criteria of explanation maps against the true signal (pure numpy).

gamma-PhysNet (Jacquemont et al.) judges its Grad-CAM maps by eye and asks for quantitative criteria;
these are they, per event, for maps ``(n_events, n_pixels)`` on the camera pixels:

* ``signal_correlation`` — Pearson correlation between the map and the true (noise-free) p.e. image;
* ``signal_fraction`` — fraction of the map's mass on the signal region: pixels with true p.e. >= a
  threshold, optionally dilated by rings of neighbours and, for a map of a coarse stage, grown to the
  whole cells of that stage that hold signal (a map cannot be sharper than its layer);
* ``signal_area`` — fraction of the camera's pixels in that region: the ``signal_fraction`` a
  uniform map would reach (chance level);
* ``border_fraction`` — fraction of the map's mass on the camera's outermost pixel ring (a network
  that looks at the border learns the camera edge, not the shower);
* ``centroid_distance`` — mean distance of the relevant pixels (map >= ``level`` x its maximum) to
  the true image's intensity centroid, in the unit of the pixel positions.

An all-zero map has no mass and no relevant pixel: its criteria are NaN (excluded from averages; their
statistics over seeds and the table comparing models are generic, :mod:`showerlearn.explain.seeds`).
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "CRITERIA",
    "border_mask",
    "centroid_distance",
    "explanation_criteria",
    "intensity_centroid",
    "mass_fraction",
    "pearson_correlation",
    "signal_region",
]

#: criterion name -> one-line definition (written next to the numbers in criteria.json)
CRITERIA: dict[str, str] = {
    "signal_correlation": "Pearson correlation between the map and the true p.e. image",
    "signal_fraction": "fraction of the map's mass on the true signal region (dilated, grown to the map's cells)",
    "signal_area": "fraction of the camera's pixels in the signal region (signal_fraction of a uniform map)",
    "border_fraction": "fraction of the map's mass on the camera's outermost pixel ring",
    "centroid_distance": "mean distance of relevant pixels (map >= level x max) to the true image centroid",
}


def _events(values: np.ndarray, name: str) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim == 1:
        array = array[None]
    if array.ndim != 2:
        raise ValueError(f"{name} must have shape (n_events, n_pixels) or (n_pixels,), got {array.shape}")
    return array


def signal_region(
    true_image: np.ndarray,
    neighbours: np.ndarray,
    threshold: float = 1.0,
    dilation: int = 0,
    cells: np.ndarray | None = None,
) -> np.ndarray:
    """Pixels with at least ``threshold`` true p.e., grown by ``dilation`` rings of neighbours, then to
    whole ``cells``.

    Args:
        true_image: ``(n_events, n_pixels)`` noise-free p.e. counts.
        neighbours: ``(n_pixels, k)`` neighbour table, ``-1`` where missing (``Lattice.neighbours(1)``).
        cells: ``(n_pixels,)`` cell of each pixel at the resolution of the map (e.g. the coarse pixel a
            camera pixel is projected from); a cell holding any signal pixel is signal as a whole.
    """
    image = _events(true_image, "true_image")
    table = np.asarray(neighbours)
    if table.ndim != 2 or table.shape[0] != image.shape[1]:
        raise ValueError(f"neighbours must have shape ({image.shape[1]}, k), got {table.shape}")
    mask = image >= threshold
    valid = table >= 0
    index = np.where(valid, table, 0)
    for _ in range(dilation):
        mask = mask | (mask[:, index] & valid).any(axis=2)
    if cells is not None:
        cells = np.asarray(cells)
        if cells.shape != (image.shape[1],):
            raise ValueError(f"cells must have shape ({image.shape[1]},), got {cells.shape}")
        _, cell_index = np.unique(cells, return_inverse=True)
        per_cell = np.zeros((len(mask), cell_index.max() + 1), dtype=bool)
        events, pixels = np.nonzero(mask)
        per_cell[events, cell_index[pixels]] = True
        mask = per_cell[:, cell_index]
    return mask


def border_mask(neighbours: np.ndarray) -> np.ndarray:
    """Pixels missing at least one neighbour: the camera's outer ring (``(n_pixels,)`` bool)."""
    return (np.asarray(neighbours) < 0).any(axis=1)


def mass_fraction(maps: np.ndarray, region: np.ndarray) -> np.ndarray:
    """``sum(map on region) / sum(map)`` per event; ``region`` per event or one for all. NaN for a zero map."""
    values = _events(maps, "maps")
    if (values < 0).any():
        raise ValueError("mass fractions need non-negative maps (Grad-CAM after ReLU, attention maps)")
    region = np.broadcast_to(np.asarray(region, dtype=bool), values.shape)
    total = values.sum(axis=1)
    inside = np.where(region, values, 0.0).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, inside / total, np.nan)


def pearson_correlation(maps: np.ndarray, signal: np.ndarray) -> np.ndarray:
    """Pearson correlation over pixels per event; NaN where either is constant."""
    a, b = _events(maps, "maps"), _events(signal, "signal")
    if a.shape != b.shape:
        raise ValueError(f"maps and signal must have the same shape, got {a.shape} and {b.shape}")
    a = a - a.mean(axis=1, keepdims=True)
    b = b - b.mean(axis=1, keepdims=True)
    norm = np.sqrt((a * a).sum(axis=1) * (b * b).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(norm > 0, (a * b).sum(axis=1) / norm, np.nan)


def intensity_centroid(image: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Intensity-weighted mean position per event, ``(n_events, 2)``; NaN for an empty image."""
    weights = np.clip(_events(image, "image"), 0.0, None)
    total = weights.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.column_stack([weights @ np.asarray(x, float), weights @ np.asarray(y, float)]) / total[:, None]


def centroid_distance(maps: np.ndarray, x: np.ndarray, y: np.ndarray, centroid: np.ndarray, level: float = 0.5) -> np.ndarray:
    """Mean distance to ``centroid`` ``(n_events, 2)`` of the pixels where the map is >= ``level`` x its max."""
    values = _events(maps, "maps")
    if not 0.0 < level <= 1.0:
        raise ValueError(f"level must be in (0, 1], got {level}")
    centroid = np.asarray(centroid, dtype=np.float64).reshape(-1, 2)
    peak = values.max(axis=1, keepdims=True)
    relevant = (values >= level * peak) & (peak > 0)
    distance = np.hypot(np.asarray(x, float)[None] - centroid[:, :1], np.asarray(y, float)[None] - centroid[:, 1:])
    count = relevant.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, np.where(relevant, distance, 0.0).sum(axis=1) / count, np.nan)


def explanation_criteria(
    maps: np.ndarray,
    true_image: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    neighbours: np.ndarray,
    *,
    signal_threshold: float = 1.0,
    dilation: int = 1,
    level: float = 0.5,
    cells: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Every criterion of :data:`CRITERIA` per event for maps ``(n_events, n_pixels)`` (``cells``: see
    :func:`signal_region`)."""
    values, truth = _events(maps, "maps"), _events(true_image, "true_image")
    if values.shape != truth.shape:
        raise ValueError(f"maps and true images must have the same shape, got {values.shape} and {truth.shape}")
    region = signal_region(truth, neighbours, signal_threshold, dilation, cells)
    fraction = mass_fraction(values, region)
    return {
        "signal_correlation": pearson_correlation(values, truth),
        "signal_fraction": fraction,
        # the chance level of the fraction: over the same events (not those of a zero map), so the two compare
        "signal_area": np.where(truth.any(axis=1) & np.isfinite(fraction), region.mean(axis=1), np.nan),
        "border_fraction": mass_fraction(values, border_mask(neighbours)),
        "centroid_distance": centroid_distance(values, x, y, intensity_centroid(truth, x, y), level),
    }
