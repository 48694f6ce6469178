"""Mappers from camera images (pixel axis last) to square 2-D images for ordinary CNNs, and back.

* :class:`AxialMapper` — lossless: every pixel goes to one cell of the lattice's index matrix
  (``layout="axial"``: the sheared axial addressing of indexedconv; ``layout="offset"``: rows shifted
  by half a pixel so the camera looks upright, the "shift" mapping). Empty cells are zero, the sum
  of charge is conserved and :meth:`AxialMapper.from_image` is the exact inverse.
* :class:`BilinearMapper` — resamples onto a regular grid of chosen size by linear interpolation
  between the three pixels around each grid point (Delaunay triangles: the scattered-data form of
  bilinear interpolation). Not invertible; :meth:`BilinearMapper.from_image` samples the grid back
  at the pixel centres (bilinear), an approximate inverse.

Both accept numpy arrays and torch tensors of shape ``(..., n_pixels)`` / ``(..., rows, cols)``
(the bilinear mapper: numpy only, as it uses a scipy sparse matrix).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import sparse
from scipy.spatial import Delaunay, cKDTree

from showerlearn.iact.geometry.lattice import Lattice

__all__ = ["AxialMapper", "BilinearMapper"]


class AxialMapper:
    """Lossless lattice -> 2-D image mapping (axial or half-pixel-shifted rows)."""

    def __init__(self, lattice: Lattice, layout: str = "axial") -> None:
        if layout not in ("axial", "offset"):
            raise ValueError(f"layout must be 'axial' or 'offset', got {layout!r}")
        if layout == "offset" and lattice.kind != "hex":
            layout = "axial"  # a square lattice is already upright
        rows, cols = lattice.matrix_coordinates.T
        if layout == "offset":
            # undo the shear of the axial layout: shift row i by i/2 (rounded down)
            cols = cols - rows // 2
            cols = cols - cols.min()
        self.lattice = lattice
        self.layout = layout
        self.shape = (int(rows.max()) + 1, int(cols.max()) + 1)
        self.flat_index = rows * self.shape[1] + cols

    def to_image(self, values: Any) -> Any:
        """``(..., n_pixels)`` -> ``(..., rows, cols)`` with zeros where there is no pixel."""
        _check_pixels(values, self.lattice.n_pixels)
        flat = _zeros_like(values, (*values.shape[:-1], self.shape[0] * self.shape[1]))
        flat[..., self.flat_index] = values
        return flat.reshape(*values.shape[:-1], *self.shape)

    def from_image(self, image: Any) -> Any:
        """``(..., rows, cols)`` -> ``(..., n_pixels)`` (exact inverse of :meth:`to_image`)."""
        if tuple(image.shape[-2:]) != self.shape:
            raise ValueError(f"image must end with shape {self.shape}, got {tuple(image.shape)}")
        return image.reshape(*image.shape[:-2], -1)[..., self.flat_index]


class BilinearMapper:
    """Interpolate pixel values onto a ``size x size`` grid covering the camera (and back)."""

    def __init__(self, lattice: Lattice, size: int = 64) -> None:
        if size < 2:
            raise ValueError(f"image size must be at least 2, got {size}")
        self.lattice = lattice
        self.shape = (size, size)
        xy = np.column_stack([lattice.x, lattice.y])
        lo, hi = xy.min(axis=0), xy.max(axis=0)
        half = (hi - lo).max() / 2
        centre = (lo + hi) / 2
        axis = np.linspace(-half, half, size)
        # image row 0 is the top (largest y), as displayed
        grid_x, grid_y = np.meshgrid(centre[0] + axis, centre[1] - axis)
        grid = np.column_stack([grid_x.ravel(), grid_y.ravel()])
        self._to = _barycentric_matrix(Delaunay(xy), xy, grid)
        step = axis[1] - axis[0]
        self._from = _grid_bilinear_matrix((xy[:, 0] - grid_x[0, 0]) / step, (grid_y[0, 0] - xy[:, 1]) / step, self.shape)

    def to_image(self, values: np.ndarray) -> np.ndarray:
        """``(..., n_pixels)`` -> ``(..., size, size)``; zero outside the camera's convex hull."""
        _check_pixels(values, self.lattice.n_pixels)
        flat = np.asarray(values).reshape(-1, values.shape[-1])
        return (self._to @ flat.T).T.reshape(*values.shape[:-1], *self.shape)

    def from_image(self, image: np.ndarray) -> np.ndarray:
        """``(..., size, size)`` -> ``(..., n_pixels)`` by bilinear sampling at the pixel centres."""
        if tuple(image.shape[-2:]) != self.shape:
            raise ValueError(f"image must end with shape {self.shape}, got {tuple(image.shape)}")
        flat = np.asarray(image).reshape(-1, self.shape[0] * self.shape[1])
        return (self._from @ flat.T).T.reshape(*image.shape[:-2], self.lattice.n_pixels)


def _barycentric_matrix(triangulation: Delaunay, points: np.ndarray, queries: np.ndarray) -> sparse.csr_matrix:
    """Sparse (n_queries, n_points) linear-interpolation weights; rows outside the hull are empty.

    Point location by hand (triangles around the nearest pixels) rather than ``Delaunay.find_simplex``,
    whose lazily built per-triangle LAPACK solves crawl when BLAS threads compete for a busy CPU. The three
    nearest pixels find almost every point; those they miss (a thin border triangle none of them belongs to)
    are looked for around their twelve nearest.
    """
    triangles = triangulation.simplices
    # triangles around each vertex, padded with -1
    order = np.argsort(triangles.ravel(), kind="stable")
    vertex_of = triangles.ravel()[order]
    degree = np.bincount(vertex_of, minlength=len(points))
    slot = np.arange(len(order)) - np.repeat(np.cumsum(degree) - degree, degree)
    around = np.full((len(points), degree.max()), -1)
    around[vertex_of, slot] = order // 3
    tree = cKDTree(points)
    rows, vertices, weights = _locate(triangles, around, tree, points, queries, np.arange(len(queries)), 3)
    missing = np.setdiff1d(np.arange(len(queries)), rows)
    more = _locate(triangles, around, tree, points, queries, missing, 12) if len(missing) else (rows[:0], vertices[:0], weights[:0])
    rows, vertices, weights = (np.concatenate(pair) for pair in zip((rows, vertices, weights), more))
    return sparse.csr_matrix(
        (weights.ravel(), (np.repeat(rows, 3), vertices.ravel())), shape=(len(queries), len(points))
    )


def _locate(
    triangles: np.ndarray, around: np.ndarray, tree: cKDTree, points: np.ndarray, queries: np.ndarray,
    rows: np.ndarray, k: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(rows found, their triangles' vertices, barycentric weights)`` of the ``queries[rows]`` that lie in a
    triangle around one of their ``k`` nearest points."""
    _, nearest = tree.query(queries[rows], k=min(k, len(points)))
    candidates = around[nearest.reshape(len(rows), -1)].reshape(len(rows), -1)  # (n, c)
    a, b, c = (points[triangles[candidates, i]] for i in range(3))  # (n, c, 2)
    p = queries[rows][:, None, :]
    det = _cross(b - a, c - a)
    u = _cross(p - a, c - a) / det
    v = _cross(b - a, p - a) / det
    weights = np.stack([1 - u - v, u, v], axis=-1)  # barycentric coordinates of a, b, c
    inside = (candidates >= 0) & (weights >= -1e-9).all(axis=-1)
    found = np.flatnonzero(inside.any(axis=1))
    best = inside[found].argmax(axis=1)
    return rows[found], triangles[candidates[found, best]], weights[found, best]


def _cross(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    return u[..., 0] * v[..., 1] - u[..., 1] * v[..., 0]


def _grid_bilinear_matrix(col: np.ndarray, row: np.ndarray, shape: tuple[int, int]) -> sparse.csr_matrix:
    """Sparse (n, rows*cols) bilinear weights sampling a grid at fractional (row, col) positions."""
    col = np.clip(col, 0, shape[1] - 1)
    row = np.clip(row, 0, shape[0] - 1)
    c0 = np.minimum(np.floor(col).astype(int), shape[1] - 2)
    r0 = np.minimum(np.floor(row).astype(int), shape[0] - 2)
    fc, fr = col - c0, row - r0
    entries = [
        (r0, c0, (1 - fr) * (1 - fc)),
        (r0, c0 + 1, (1 - fr) * fc),
        (r0 + 1, c0, fr * (1 - fc)),
        (r0 + 1, c0 + 1, fr * fc),
    ]
    n = len(col)
    rows = np.concatenate([np.arange(n)] * 4)
    cols = np.concatenate([r * shape[1] + c for r, c, _ in entries])
    weights = np.concatenate([w for _, _, w in entries])
    return sparse.csr_matrix((weights, (rows, cols)), shape=(n, shape[0] * shape[1]))


def _check_pixels(values: Any, n_pixels: int) -> None:
    if values.shape[-1] != n_pixels:
        raise ValueError(f"values must end with the pixel axis of length {n_pixels}, got shape {tuple(values.shape)}")


def _zeros_like(values: Any, shape: tuple[int, ...]) -> Any:
    if isinstance(values, np.ndarray):
        return np.zeros(shape, dtype=values.dtype)
    return values.new_zeros(shape)  # torch tensor
