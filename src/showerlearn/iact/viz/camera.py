"""Camera images on the true pixel layout (hexagonal for LST), drawn by ctapipe's ``CameraDisplay``."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from ctapipe.instrument import CameraGeometry
from ctapipe.visualization import CameraDisplay
from matplotlib.figure import Figure

from showerlearn.viz.figures import new_figure


def camera_images_figure(
    geometry: CameraGeometry,
    images: np.ndarray,
    titles: Sequence[str] | None = None,
    *,
    ncols: int = 3,
    colorbar_label: str = "charge [p.e.]",
) -> Figure:
    """A grid of camera images, one panel per row of ``images`` (shape (n_images, n_pixels))."""
    images = np.atleast_2d(np.asarray(images, dtype=float))
    if images.ndim != 2 or images.shape[1] != geometry.n_pixels:
        raise ValueError(
            f"images must have shape (n_images, {geometry.n_pixels}) for camera {geometry.name}, got {images.shape}"
        )
    if titles is not None and len(titles) != len(images):
        raise ValueError(f"got {len(titles)} titles for {len(images)} images")
    n = len(images)
    ncols = max(1, min(ncols, n))
    nrows = max(1, math.ceil(n / ncols))
    figure = new_figure(4.2 * ncols, 3.8 * nrows)
    for i, image in enumerate(images):
        ax = figure.add_subplot(nrows, ncols, i + 1)
        title = titles[i] if titles else geometry.name
        display = CameraDisplay(geometry, image=np.nan_to_num(image), ax=ax, title=title)
        display.add_colorbar(ax=ax, label=colorbar_label)
        ax.set_aspect("equal")
    return figure


def camera_rows_figure(geometry: CameraGeometry, title: str, rows: Sequence[tuple[str, Sequence[tuple[str, np.ndarray]]]]) -> Figure:
    """Camera displays in rows, ``[(row label, [(panel title, image (n_pixels,)), ...]), ...]``: the first
    row (the inputs) in viridis, rows labelled ``std...`` in greys, the others (maps) in inferno."""
    ncols = max(len(panels) for _, panels in rows)
    figure = new_figure(3.3 * ncols, 3.0 * len(rows) + 0.4)
    figure.suptitle(title)
    grid = figure.add_gridspec(len(rows), ncols)
    for r, (label, panels) in enumerate(rows):
        cmap = "viridis" if r == 0 else "Greys" if label.startswith("std") else "inferno"
        for c, (name, image) in enumerate(panels):
            ax = figure.add_subplot(grid[r, c])
            display = CameraDisplay(geometry, image=np.nan_to_num(image), ax=ax, title=f"{name}\n{label}" if label else name, cmap=cmap)
            display.add_colorbar(ax=ax)
            ax.set_xlabel("")
            ax.set_ylabel("")
            ax.set_aspect("equal")
    return figure
