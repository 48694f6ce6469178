"""Camera images on the true pixel layout (hexagonal for LST), drawn by ctapipe's ``CameraDisplay``.

Every panel says what it shows (its title), where (the camera's name in the figure title, axes in the
camera frame with their unit) and in which unit (the colour bar's label); ctapipe's own frame label
("Unknown Frame" for a geometry read without one) is left out.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
from ctapipe.instrument import CameraGeometry
from ctapipe.visualization import CameraDisplay
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from showerlearn.viz.figures import new_figure


def camera_images_figure(
    geometry: CameraGeometry,
    images: np.ndarray,
    titles: Sequence[str] | None = None,
    *,
    ncols: int = 3,
    colorbar_label: str = "charge [p.e.]",
    title: str = "",
) -> Figure:
    """A grid of camera images, one panel per row of ``images`` (shape (n_images, n_pixels)), under the
    figure title ``<camera>: <title>``."""
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
    figure = new_figure(4.2 * ncols, 3.8 * nrows + 0.3)
    figure.suptitle(camera_title(geometry, title))
    for i, image in enumerate(images):
        ax = figure.add_subplot(nrows, ncols, i + 1)
        _camera_panel(figure, ax, geometry, image, titles[i] if titles else colorbar_label, label=colorbar_label)
    return figure


def camera_rows_figure(
    geometry: CameraGeometry,
    title: str,
    rows: Sequence[tuple[str, Sequence[tuple[str, np.ndarray]]]],
    colorbar_label: Callable[[str], str] = lambda name: "",
) -> Figure:
    """Camera displays in rows, ``[(row label, [(panel title, image (n_pixels,)), ...]), ...]``: the first
    row (the inputs) in viridis, rows labelled ``std...`` in greys, the others (maps) in inferno.
    ``colorbar_label`` gives each panel's colour-bar label (what is shown, in which unit) from its title;
    axes are labelled on the left column and the bottom panel of each column."""
    ncols = max(len(panels) for _, panels in rows)
    figure = new_figure(3.3 * ncols, 3.0 * len(rows) + 0.4)
    figure.suptitle(camera_title(geometry, title))
    grid = figure.add_gridspec(len(rows), ncols)
    lowest = {c: max(r for r, (_, panels) in enumerate(rows) if c < len(panels)) for c in range(ncols)}
    for r, (label, panels) in enumerate(rows):
        cmap = "viridis" if r == 0 else "Greys" if label.startswith("std") else "inferno"
        for c, (name, image) in enumerate(panels):
            ax = figure.add_subplot(grid[r, c])
            _camera_panel(
                figure, ax, geometry, image, f"{name}\n{label}" if label else name, cmap=cmap, label=colorbar_label(name)
            )
            if c:  # the left column's labels hold for the row; the bottom panel's for the column
                ax.set_ylabel("")
            if r != lowest[c]:
                ax.set_xlabel("")
    return figure


def camera_title(geometry: CameraGeometry, what: str) -> str:
    """``LSTCam: <what>``: the camera a figure shows and what (the camera alone without ``what``)."""
    return f"{geometry.name}: {what}" if what else geometry.name


def _camera_panel(
    figure: Figure, ax: Axes, geometry: CameraGeometry, image: np.ndarray, title: str, *, cmap: str = "inferno",
    label: str = "",
) -> None:
    """One camera image with its colour bar and axes in the camera frame. Not ``CameraDisplay``'s own
    updates: each of them (setting the image, ``add_colorbar``) draws the whole figure, which made a figure
    of n panels cost n^2 panel draws (minutes for an explanation figure); it is drawn once, when saved."""
    display = CameraDisplay(
        geometry, image=np.nan_to_num(image), ax=ax, title=title, cmap=cmap, autoupdate=False, show_frame=False
    )
    figure.colorbar(display.pixels, ax=ax, label=label)
    unit = geometry.pix_x.unit.to_string()
    ax.set_xlabel(f"camera x [{unit}]")
    ax.set_ylabel(f"camera y [{unit}]")
    ax.set_aspect("equal")
