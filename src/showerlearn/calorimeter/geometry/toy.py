"""The seed study's "generic" toy detector: a flat 10 x 10 grid of crystals for quick clustering studies.

Here the grid is a patch of the sphere around 90 deg polar angle (cells of ``cell_deg`` in theta and phi),
so that every clustering method, reader and metric of the family runs on it unchanged.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from showerlearn.calorimeter.geometry.crystals import CrystalGeometry, CrystalRow

__all__ = ["toy_grid"]


@lru_cache(maxsize=8)
def toy_grid(n: int = 10, cell_deg: float = 4.0, r_front: float = 300.0, length: float = 200.0) -> CrystalGeometry:
    """An ``n`` x ``n`` grid of crystals centred on (theta, phi) = (90, 0) deg; ids 1..n*n row by row."""
    if n < 1 or cell_deg <= 0 or n * cell_deg >= 180:
        raise ValueError(f"toy grid: need n >= 1 and 0 < n * cell_deg < 180, got n={n}, cell_deg={cell_deg}")
    cell = np.radians(cell_deg)
    theta_min = np.pi / 2 - n * cell / 2
    rows = tuple(
        CrystalRow(theta_min=float(theta_min + i * cell), theta_max=float(theta_min + (i + 1) * cell),
                   r_front=r_front, length=length, crystal_ids=tuple(range(1 + i * n, 1 + (i + 1) * n)),
                   phi_start=float(-n * cell / 2), phi_width=float(cell))
        for i in range(n)
    )
    return CrystalGeometry(name="toy_grid", rows=rows)
