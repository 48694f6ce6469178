"""Figures of collider explanations: mean attention maps per class and head, Grad-CAM jet images per
class, and one event's inputs and maps."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from showerlearn.viz.figures import new_figure

__all__ = ["attention_figure", "event_rows_figure", "gradcam_figure", "stream_axis_label"]

_AXIS_LABELS = {
    "constituents": "constituent (by decreasing pT)",
    "objects": "object (missing pT, large-R jets, jets, leptons)",
    "union": "token (constituents, then objects)",
}


def stream_axis_label(stream: str) -> str:
    return _AXIS_LABELS.get(stream, stream)


def attention_figure(
    means: np.ndarray, class_names: Sequence[str], title: str, query: str, key: str, n_events: Sequence[int]
) -> Figure:
    """``means`` (classes, heads, n_query, n_key): one panel per class (rows) and head (columns)."""
    n_classes, n_heads = means.shape[:2]
    figure = new_figure(3.2 * n_heads + 1.0, 2.8 * n_classes + 0.6)
    finite = means[np.isfinite(means)]
    vmax = float(np.quantile(finite, 0.99)) if finite.size else 1.0
    image = None
    for row in range(n_classes):
        for head in range(n_heads):
            ax = figure.add_subplot(n_classes, n_heads, row * n_heads + head + 1)
            image = ax.imshow(means[row, head], aspect="auto", origin="upper", cmap="viridis", vmin=0.0, vmax=vmax,
                              interpolation="nearest")  # fmt: skip
            ax.set_title(f"{class_names[row]} ({n_events[row]} events), head {head}", fontsize=8)
            ax.set_xlabel(f"key: {stream_axis_label(key)}", fontsize=7)
            ax.set_ylabel(f"query: {stream_axis_label(query)}", fontsize=7)
            ax.tick_params(labelsize=6)
    if image is not None:
        figure.colorbar(image, ax=figure.axes, shrink=0.8, label="mean attention weight")
    figure.suptitle(f"{title}: attention averaged over events (real tokens only)", fontsize=10)
    return figure


def gradcam_figure(
    images: tuple[np.ndarray, np.ndarray] | None,
    profile: np.ndarray,
    stream: str,
    class_names: Sequence[str],
    extent: Sequence[float] | None,
    title: str,
) -> Figure:
    """Rows: classes. Columns per jet: the mean pT image and the mean Grad-CAM image (``images``: (gradcam, pt),
    each (classes, jets, bins, bins); None for a layer over the objects, which have no jet image); last column:
    the mean share of each token slot of ``stream`` in an event's Grad-CAM (``profile``: (classes, tokens))."""
    n_classes, n_jets = len(class_names), images[0].shape[1] if images is not None else 0
    columns = 2 * n_jets + 1
    figure = new_figure(3.0 * columns, 2.8 * n_classes + 0.6)
    for row in range(n_classes):
        for jet in range(n_jets):
            for offset, (name, maps) in enumerate((("pT share", images[1]), ("Grad-CAM", images[0]))):
                ax = figure.add_subplot(n_classes, columns, row * columns + 2 * jet + offset + 1)
                # imshow's rows are the first axis: delta eta along x needs the transpose
                image = ax.imshow(maps[row, jet].T, origin="lower", extent=extent, cmap="magma", aspect="equal")
                scale = figure.colorbar(image, ax=ax, shrink=0.7)
                scale.set_label(f"mean {name} per cell", fontsize=7)
                scale.ax.tick_params(labelsize=6)
                ax.set_title(f"{class_names[row]}: jet {jet + 1}, {name}", fontsize=8)
                ax.set_xlabel("Δη (aligned)", fontsize=7)
                ax.set_ylabel("Δφ (aligned)", fontsize=7)
                ax.tick_params(labelsize=6)
        ax = figure.add_subplot(n_classes, columns, (row + 1) * columns)
        ax.plot(np.arange(profile.shape[1]), profile[row], drawstyle="steps-mid")
        ax.set_title(f"{class_names[row]}:\nmean Grad-CAM per position", fontsize=8)  # one line: wider than the panel
        ax.set_xlabel(stream_axis_label(stream), fontsize=7)
        ax.set_ylabel("share of the event's Grad-CAM", fontsize=7)
        ax.tick_params(labelsize=6)
    figure.suptitle(f"{title}: averaged over events (each event's map normalised to sum 1)", fontsize=10)
    return figure


def event_rows_figure(
    title: str, rows: Sequence[tuple[str, Sequence[tuple[str, np.ndarray]]]], shapes: Mapping[str, tuple[int, int]],
    boundary: int,
) -> Figure:  # fmt: skip
    """One event: each panel drawn by what it holds. Constituents ``(n, 3)`` (delta eta, delta phi, pT
    share): a scatter; a panel whose title is in ``shapes`` (attention): the map as a
    (query, key) image; any other 1-D map: bars over the token slots, the constituents before
    ``boundary`` and the objects after; a 2-D array (the object tokens): an image."""
    columns = max(len(panels) for _, panels in rows)
    figure = new_figure(3.2 * columns, 2.9 * len(rows) + 0.5)
    for r, (label, panels) in enumerate(rows):
        for c, (name, values) in enumerate(panels):
            ax = figure.add_subplot(len(rows), columns, r * columns + c + 1)
            _draw_panel(ax, name, np.asarray(values, dtype=float), shapes, boundary)
            ax.set_title(f"{label}: {name}" if label else name, fontsize=7)
            ax.tick_params(labelsize=6)
    figure.suptitle(title, fontsize=9)
    return figure


def _draw_panel(ax: Axes, name: str, values: np.ndarray, shapes: Mapping[str, tuple[int, int]], boundary: int) -> None:
    title = next((key for key in shapes if name.endswith(key)), None)
    if title is not None:
        image = ax.imshow(values.reshape(shapes[title]), aspect="auto", cmap="viridis", interpolation="nearest")
        ax.figure.colorbar(image, ax=ax, shrink=0.8).set_label("attention weight", fontsize=7)
        ax.set_xlabel("key token", fontsize=7)
        ax.set_ylabel("query token", fontsize=7)
    elif values.ndim == 2 and values.shape[1] == 3:
        real = np.isfinite(values[:, 0])
        ax.scatter(values[real, 0], values[real, 1], s=300 * values[real, 2], alpha=0.6)
        ax.set_xlabel("Δη (aligned)", fontsize=7)
        ax.set_ylabel("Δφ (aligned)", fontsize=7)
    elif values.ndim == 2:
        image = ax.imshow(values, aspect="auto", cmap="coolwarm", interpolation="nearest")
        ax.figure.colorbar(image, ax=ax, shrink=0.8).set_label("standardised value", fontsize=7)
        ax.set_xlabel("feature", fontsize=7)
        ax.set_ylabel("object", fontsize=7)
    else:
        ax.bar(np.arange(values.size), values, width=1.0)
        ax.axvline(boundary - 0.5, color="grey", linewidth=0.8)
        ax.set_xlabel("token slot (constituents | objects)", fontsize=7)
        ax.set_ylabel("Grad-CAM [arb. units]", fontsize=7)
