"""Several camera images in one dense grid, placed so that the empty corners of their index matrices
interleave: fewer empty cells for the dense lattice convolutions to compute.

A camera's pixels fill only 55-65 % of its index matrix (LSTCam's hexagon lies across the axial lattice's
axes, so all four corners of the matrix are empty). Images placed side by side with their matrices
overlapping where one image's corner is empty fill more of a grid: 16 LSTCam images fill 76 % of one
(74 % and 69 % of the coarser lattices after each pooling), so the convolutions compute fewer empty cells
(``benchmarks/results/train_throughput.md``).

The placement keeps every pixel of one image out of the radius-``r`` kernel neighbourhood of every pixel
of another, so a lattice convolution never mixes two images; the cells between them are empty and masked
to zero after every layer, as the cells outside a single image's camera are.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy.signal import correlate

__all__ = ["pack_images"]

#: grid widths tried, in units of one image's matrix width (up to about sqrt(images) + 1 images across)
_WIDTH_STEPS = 16


def pack_images(
    pixels: np.ndarray, shape: tuple[int, int], kernel_offsets: np.ndarray, images: int
) -> tuple[tuple[int, int], np.ndarray]:
    """Where ``images`` copies of a pixel set go in one grid: ``((rows, columns), offsets (images, 2))``.

    ``pixels``: ``(row, column)`` of each pixel in an index matrix of ``shape``; ``kernel_offsets``: the
    ``(d_row, d_col)`` of a convolution kernel (a neighbourhood symmetric under negation). Each image is
    placed at the first free position in row-major order (the top-left rule of strip packing), where none
    of its pixels is a kernel neighbour of an earlier image's; of the grid widths tried, the one whose
    grid the pixels fill best is kept. Deterministic, and cached per pixel set.
    """
    key = (np.asarray(pixels, np.int64).tobytes(), tuple(shape), np.asarray(kernel_offsets, np.int64).tobytes(), images)
    grid, offsets = _pack(*key)
    return grid, offsets.copy()


@lru_cache(maxsize=64)
def _pack(pixels: bytes, shape: tuple[int, int], kernel_offsets: bytes, images: int) -> tuple[tuple[int, int], np.ndarray]:
    rows_cols = np.frombuffer(pixels, np.int64).reshape(-1, 2)
    offsets = np.frombuffer(kernel_offsets, np.int64).reshape(-1, 2)
    if images < 1:
        raise ValueError(f"images per grid must be >= 1, got {images}")
    image = np.zeros(shape, dtype=bool)
    image[rows_cols[:, 0], rows_cols[:, 1]] = True
    if images == 1:
        return shape, np.zeros((1, 2), np.int64)
    # an earlier image forbids its pixels' kernel neighbourhoods: dilate the image once, place by correlation
    reach = int(np.abs(offsets).max())
    halo = np.zeros((shape[0] + 2 * reach, shape[1] + 2 * reach), dtype=bool)
    for d_row, d_col in offsets:
        halo[reach + d_row : reach + d_row + shape[0], reach + d_col : reach + d_col + shape[1]] |= image
    best: tuple[float, tuple[int, int], np.ndarray] | None = None
    widest = int(np.ceil(np.sqrt(images))) + 1
    for width in np.unique(np.linspace(shape[1], widest * shape[1], _WIDTH_STEPS).round().astype(int)):
        grid, placed = _place(image, halo, reach, int(width), images)
        fill = images * len(rows_cols) / (grid[0] * grid[1])
        if best is None or fill > best[0]:
            best = (fill, grid, placed)
    assert best is not None
    return best[1], best[2]


def _place(image: np.ndarray, halo: np.ndarray, reach: int, width: int, images: int) -> tuple[tuple[int, int], np.ndarray]:
    """Top-left placement of ``images`` copies in a grid ``width`` columns wide (as tall as needed)."""
    # first tried in the height of matrices side by side, ``reach`` cells apart (mostly enough: the correlation
    # costs in proportion to it); where the top-left rule needs more, in a height that always holds them
    across = max(1, (width + reach) // (image.shape[1] + reach))
    for height in ((image.shape[0] + reach) * -(-images // across), (image.shape[0] + reach) * images):
        placed = _place_within(image, halo, reach, width, height, images)
        if placed is not None:
            pixel_rows = np.flatnonzero(image.any(axis=1))
            return (int(placed[:, 0].max() + pixel_rows[-1] + 1), width), placed
    raise AssertionError("image k fits at row k * (rows + reach) at the latest")


def _place_within(image: np.ndarray, halo: np.ndarray, reach: int, width: int, height: int, images: int) -> np.ndarray | None:
    """The top-left offsets of ``images`` copies in a ``height`` x ``width`` grid, or None where they do not fit."""
    # forbidden[r, c]: a cell that a pixel of an already placed image, or its kernel neighbour, occupies
    forbidden = np.zeros((height + 2 * reach, width + 2 * reach), dtype=bool)
    placed = np.zeros((images, 2), np.int64)
    template = image.astype(np.float64)
    for number in range(images):
        inner = forbidden[reach : reach + height, reach : reach + width].astype(np.float64)
        # overlap[r, c]: how many of the image's pixels would land on forbidden cells at offset (r, c)
        overlap = correlate(inner, template, mode="valid", method="fft")
        free = np.argwhere(overlap < 0.5)
        if len(free) == 0:
            return None
        row, col = free[0]  # row-major: the topmost, then leftmost free position
        placed[number] = row, col
        forbidden[row : row + halo.shape[0], col : col + halo.shape[1]] |= halo
    return placed
