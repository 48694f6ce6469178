"""Calorimeter geometries: crystals as projective shell segments (polar rows of equal azimuthal width),
the CALIFA-like barrel + iPhos generated from documented numbers, and the generic 10 x 10 toy grid.

May import: numpy.
"""

from showerlearn.calorimeter.geometry.califa import BARREL_IDS, IPHOS_IDS, N_CRYSTALS, alveolus_of, califa
from showerlearn.calorimeter.geometry.crystals import (
    CrystalGeometry,
    CrystalRow,
    UnknownCrystalError,
    unit_vectors,
    wrap_phi,
)
from showerlearn.calorimeter.geometry.toy import toy_grid

__all__ = [
    "BARREL_IDS",
    "GEOMETRIES",
    "IPHOS_IDS",
    "N_CRYSTALS",
    "CrystalGeometry",
    "CrystalRow",
    "UnknownCrystalError",
    "alveolus_of",
    "califa",
    "geometry_by_name",
    "toy_grid",
    "unit_vectors",
    "wrap_phi",
]


#: the geometries a file or config may name, by name
GEOMETRIES = {"califa": califa, "toy_grid": toy_grid}


def geometry_by_name(name: str) -> CrystalGeometry:
    """The geometry a file or config names: ``califa`` or ``toy_grid``."""
    if name not in GEOMETRIES:
        raise ValueError(f"unknown calorimeter geometry {name!r}; known: {', '.join(sorted(GEOMETRIES))}")
    return GEOMETRIES[name]()
