"""Pixel lattices inferred from pixel positions alone: hexagonal or square (with gaps), any rotation.

A :class:`Lattice` assigns every pixel integer *axial* coordinates ``(q, r)``:

* hexagonal: position = origin + R(rotation) @ spacing * (q * (1, 0) + r * (1/2, sqrt(3)/2));
  the six nearest neighbours are the offsets (+-1, 0), (0, +-1), (1, -1), (-1, 1);
* square: position = origin + R(rotation) @ spacing * (q, r). Gaps between camera modules narrower
  than half a pixel are closed (the rows/columns on either side become adjacent: module gaps are not
  pixels); wider gaps count as their rounded number of missing rows/columns.

The *index matrix* lays the lattice out on a 2-D array: row ``i = r_max - r``, column
``j = q - q_min`` (the axial addressing of indexedconv/GammaLearn, so a hexagonal kernel is a 3x3
square without the two corners ``(i-1, j+1)`` and ``(i+1, j-1)``). Kernels list their offsets in
row-major order of that matrix; the centre pixel is in the middle (index ``k // 2``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from scipy.spatial import cKDTree

if TYPE_CHECKING:
    from ctapipe.instrument import CameraGeometry

__all__ = ["Downsampling", "Lattice", "LatticeError", "upsample_to_pixels"]

_SQRT3_2 = math.sqrt(3.0) / 2.0
# a pixel may sit this far (in spacings) from its lattice site: real cameras are placed to < 1e-3
_POSITION_TOLERANCE = 0.2


class LatticeError(ValueError):
    """Pixel positions that do not form a supported lattice (duplicates, scattered points, 1-D)."""


@dataclass(frozen=True, eq=False)
class Lattice:
    """A hexagonal or square pixel lattice.

    Attributes:
        kind: ``"hex"`` or ``"square"``.
        axial: integer lattice coordinates ``(q, r)`` of each pixel, shape ``(n_pixels, 2)``.
        spacing: distance between neighbouring pixel centres (unit of the input positions).
        rotation: angle of the lattice's ``q`` axis to the x axis in degrees, in [0, 60) for
            hexagonal and [0, 90) for square lattices.
        x, y: pixel positions (for coarse lattices: those of the pixels kept as pooling centres).
    """

    kind: str
    axial: np.ndarray
    spacing: float
    rotation: float
    x: np.ndarray
    y: np.ndarray

    def __post_init__(self) -> None:
        if self.kind not in ("hex", "square"):
            raise LatticeError(f"lattice kind must be 'hex' or 'square', got {self.kind!r}")
        axial = np.asarray(self.axial)
        if axial.ndim != 2 or axial.shape[1] != 2 or not np.issubdtype(axial.dtype, np.integer):
            raise LatticeError(f"axial coordinates must be an integer array (n, 2), got {axial.dtype} {axial.shape}")
        if len(np.unique(axial, axis=0)) != len(axial):
            raise LatticeError("two pixels share the same lattice site")
        for array in (axial, self.x, self.y):
            array.flags.writeable = False

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_positions(cls, x: np.ndarray, y: np.ndarray, tolerance: float = _POSITION_TOLERANCE) -> Lattice:
        """Infer the lattice (kind, spacing, rotation, axial coordinates) from pixel centres.

        Raises:
            LatticeError: duplicate pixels, too few pixels, or positions off any hexagonal/square
                lattice by more than ``tolerance`` spacings.
        """
        x = np.asarray(getattr(x, "value", x), dtype=np.float64).ravel()
        y = np.asarray(getattr(y, "value", y), dtype=np.float64).ravel()
        if x.shape != y.shape:
            raise LatticeError(f"x and y must have the same length, got {x.shape} and {y.shape}")
        if len(x) < 3:
            raise LatticeError(f"a lattice needs at least 3 pixels, got {len(x)}")
        if not (np.isfinite(x).all() and np.isfinite(y).all()):
            raise LatticeError("pixel positions contain NaN or infinite values")
        positions = np.column_stack([x, y])
        distances, neighbours = cKDTree(positions).query(positions, k=min(7, len(x)))
        nearest = distances[:, 1]
        spacing = float(np.median(nearest))
        duplicates = np.flatnonzero(nearest < 1e-6 * spacing)
        if len(duplicates):
            pair = (int(duplicates[0]), int(neighbours[duplicates[0], 1]))
            raise LatticeError(f"duplicate pixels: {len(duplicates)} pixels share a position, e.g. pixels {pair}")
        close = distances[:, 1:] < 1.2 * spacing
        n_close = int(close.sum(axis=1).max())
        if n_close >= 5:
            kind, fold = "hex", 6
        elif n_close in (3, 4):
            kind, fold = "square", 4
        else:
            raise LatticeError(
                f"pixel positions are not a 2-D lattice: no pixel has more than {n_close} neighbours at the "
                f"typical spacing {spacing:.4g}"
            )
        # lattice orientation: circular mean of the neighbour directions folded by the symmetry
        rows, cols = np.nonzero(close)
        delta = positions[neighbours[:, 1:][rows, cols]] - positions[rows]
        angles = np.arctan2(delta[:, 1], delta[:, 0])
        period = 2 * np.pi / fold
        rotation = float(np.angle(np.exp(1j * fold * angles).mean()) / fold) % period
        if np.isclose(rotation, period, atol=1e-9):
            rotation = 0.0
        # express positions in the lattice frame, relative to the pixel nearest the centroid
        anchor = int(np.argmin(((positions - positions.mean(axis=0)) ** 2).sum(axis=1)))
        cos, sin = math.cos(rotation), math.sin(rotation)
        rel = (positions - positions[anchor]) / spacing
        u = cos * rel[:, 0] + sin * rel[:, 1]
        v = -sin * rel[:, 0] + cos * rel[:, 1]
        if kind == "hex":
            r_float = v / _SQRT3_2
            q_float = u - r_float / 2
            axial = np.column_stack([np.rint(q_float), np.rint(r_float)]).astype(np.int64)
            off_u = u - (axial[:, 0] + axial[:, 1] / 2)
            off_v = v - axial[:, 1] * _SQRT3_2
            offset = np.hypot(off_u, off_v)
        else:
            q, off_q = _collapse_gaps(u, tolerance)
            r, off_r = _collapse_gaps(v, tolerance)
            axial = np.column_stack([q, r])
            offset = np.hypot(off_q, off_r)
        worst = int(np.argmax(offset))
        if offset[worst] > tolerance:
            raise LatticeError(
                f"pixel positions are not on a {kind} lattice: pixel {worst} is {offset[worst]:.2f} spacings "
                f"from its lattice site (tolerance {tolerance})"
            )
        sites, counts = np.unique(axial, axis=0, return_counts=True)
        if (counts > 1).any():
            raise LatticeError(f"pixel positions are not on a {kind} lattice: lattice site {sites[counts > 1][0]} is taken twice")
        return cls(kind, axial, spacing, math.degrees(rotation), x.copy(), y.copy())

    @classmethod
    def from_camera(cls, geometry: CameraGeometry) -> Lattice:
        """The lattice of a ctapipe ``CameraGeometry`` (positions only; units kept as given)."""
        return cls.from_positions(geometry.pix_x.to_value(geometry.pix_x.unit), geometry.pix_y.to_value(geometry.pix_x.unit))

    # ------------------------------------------------------------------ layout
    @property
    def n_pixels(self) -> int:
        return len(self.axial)

    @property
    def shape(self) -> tuple[int, int]:
        """Shape ``(rows, columns)`` of the index matrix."""
        lo, hi = self.axial.min(axis=0), self.axial.max(axis=0)
        return int(hi[1] - lo[1] + 1), int(hi[0] - lo[0] + 1)

    @property
    def matrix_coordinates(self) -> np.ndarray:
        """``(row, column)`` of each pixel in the index matrix, shape ``(n_pixels, 2)``."""
        q, r = self.axial[:, 0], self.axial[:, 1]
        return np.column_stack([r.max() - r, q - q.min()])

    def index_matrix(self) -> np.ndarray:
        """2-D array of pixel indices (``-1`` where there is no pixel), rows ``r_max - r``, columns ``q - q_min``."""
        matrix = np.full(self.shape, -1, dtype=np.int64)
        rows, cols = self.matrix_coordinates.T
        matrix[rows, cols] = np.arange(self.n_pixels)
        return matrix

    def kernel_offsets(self, radius: int) -> np.ndarray:
        """Offsets ``(d_row, d_col)`` in the index matrix of a kernel of ``radius``, in kernel order.

        Hexagonal: the ``1 + 3 radius (radius + 1)`` pixels within ``radius`` steps (7 for radius 1);
        square: the ``(2 radius + 1)**2`` box. Row-major order; the centre is at index ``k // 2``.
        """
        if radius < 0 or int(radius) != radius:
            raise ValueError(f"kernel radius must be a non-negative integer, got {radius}")
        steps = np.arange(-radius, radius + 1)
        d_row, d_col = (a.ravel() for a in np.meshgrid(steps, steps, indexing="ij"))
        if self.kind == "hex":
            # in matrix coordinates dq = d_col, dr = -d_row; hex distance <= radius
            keep = np.abs(d_row - d_col) <= radius
            d_row, d_col = d_row[keep], d_col[keep]
        return np.column_stack([d_row, d_col])

    def neighbours(self, radius: int = 1) -> np.ndarray:
        """Neighbour table ``(n_pixels, k)``: pixel index of each kernel position, ``-1`` where missing.

        Column order is :meth:`kernel_offsets` (row-major over the index matrix, as indexedconv).
        """
        return self._gather_table(self.kernel_offsets(radius), centres=self.matrix_coordinates)

    def _gather_table(self, offsets: np.ndarray, centres: np.ndarray) -> np.ndarray:
        pad = int(np.abs(offsets).max(initial=0))
        matrix = np.pad(self.index_matrix(), pad, constant_values=-1)
        rows = centres[:, :1] + offsets[None, :, 0] + pad
        cols = centres[:, 1:] + offsets[None, :, 1] + pad
        return matrix[rows, cols]

    # ------------------------------------------------------------------ pooling hierarchy
    def downsample(self, stride: int = 2, window_radius: int = 1) -> Downsampling:
        """Coarser lattice keeping every ``stride``-th row and column of the index matrix.

        Same rule as indexedconv's ``pool_index_matrix`` + ``neighbours_extraction(stride=2)``: the
        pooling window of a coarse pixel is the ``window_radius`` kernel around it in this lattice.
        """
        if stride < 2 or int(stride) != stride:
            raise ValueError(f"stride must be an integer >= 2, got {stride}")
        coords = self.matrix_coordinates
        kept = np.flatnonzero((coords[:, 0] % stride == 0) & (coords[:, 1] % stride == 0))
        # keep index-matrix (row-major) order, as indexedconv numbers pooled pixels
        kept = kept[np.lexsort((coords[kept, 1], coords[kept, 0]))]
        row, col = coords[kept, 0] // stride, coords[kept, 1] // stride
        coarse = Lattice(
            self.kind,
            np.column_stack([col, -row]).astype(np.int64),
            self.spacing * stride,
            self.rotation,
            self.x[kept].copy(),
            self.y[kept].copy(),
        )
        pool_index = self.neighbours(window_radius)[kept]
        # each fine pixel takes the value of the nearest coarse pixel (in lattice-frame units, so ties
        # break the same way whatever the camera rotation)
        fine_xy, coarse_xy = self.lattice_frame_positions(), self.lattice_frame_positions()[kept]
        _, upsample_index = cKDTree(coarse_xy).query(fine_xy)
        return Downsampling(coarse, pool_index, np.asarray(upsample_index, dtype=np.int64), kept)

    def lattice_frame_positions(self) -> np.ndarray:
        """Ideal pixel positions in the lattice frame, in spacings (gaps closed, rotation removed)."""
        q, r = self.axial[:, 0].astype(float), self.axial[:, 1].astype(float)
        if self.kind == "hex":
            return np.column_stack([q + r / 2, r * _SQRT3_2])
        return np.column_stack([q, r])

    def __repr__(self) -> str:
        return (
            f"Lattice(kind={self.kind!r}, n_pixels={self.n_pixels}, spacing={self.spacing:.6g}, "
            f"rotation={self.rotation:.3f} deg, shape={self.shape})"
        )


@dataclass(frozen=True, eq=False)
class Downsampling:
    """One level of the pooling hierarchy.

    Attributes:
        lattice: the coarse lattice.
        pool_index: ``(n_coarse, k)`` fine-pixel indices of each coarse pixel's pooling window
            (``-1`` where missing), kernel order of :meth:`Lattice.kernel_offsets`.
        upsample_index: ``(n_fine,)`` coarse pixel whose value each fine pixel takes when
            projecting back (nearest coarse pixel).
        kept: ``(n_coarse,)`` fine-pixel index at the centre of each coarse pixel.
    """

    lattice: Lattice
    pool_index: np.ndarray
    upsample_index: np.ndarray
    kept: np.ndarray


def upsample_to_pixels(values_coarse: np.ndarray, levels: Sequence[Downsampling]) -> np.ndarray:
    """Project values on the coarsest lattice of ``levels`` (fine to coarse order) back onto the pixels.

    ``values_coarse`` has the pixel axis last (``(..., n_coarse)``, numpy array or torch tensor);
    returns ``(..., n_pixels)`` of the finest lattice (nearest-coarse-pixel upsampling).
    """
    values = values_coarse
    for level in reversed(levels):
        if values.shape[-1] != level.lattice.n_pixels:
            raise ValueError(f"values have {values.shape[-1]} pixels, the coarse lattice has {level.lattice.n_pixels}")
        values = values[..., level.upsample_index]
    return values


def _collapse_gaps(coordinate: np.ndarray, tolerance: float) -> tuple[np.ndarray, np.ndarray]:
    """Integer row/column index along one axis of a square lattice and each pixel's offset from it.

    Distinct coordinate values (clusters closer than ``tolerance``) are numbered in order; a step
    between neighbouring values of less than 1.5 spacings (a module gap) counts as one, a larger one
    as its rounded number of spacings (missing rows).
    """
    order = np.argsort(coordinate)
    sorted_values = coordinate[order]
    starts = np.concatenate([[True], np.diff(sorted_values) > tolerance])
    cluster = np.cumsum(starts) - 1
    centres = np.bincount(cluster, weights=sorted_values) / np.bincount(cluster)
    steps = np.diff(centres)
    index_of_cluster = np.concatenate([[0], np.cumsum(np.where(steps < 1.5, 1, np.rint(steps)))]).astype(np.int64)
    index = np.empty(len(coordinate), dtype=np.int64)
    index[order] = index_of_cluster[cluster]
    offset = np.empty(len(coordinate))
    offset[order] = sorted_values - centres[cluster]
    return index, offset
