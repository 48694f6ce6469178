"""A CALIFA-like calorimeter (R3B at FAIR), generated from documented numbers: the barrel (1952 CsI(Tl)
crystals, polar angles 43.4-140.1 deg) and the forward iPhos endcap (480 crystals, 19.9-43.4 deg).

Sources (see docs/calorimeter.md):

* the crystal numbering and counts follow R3BRoot (``califa/pars/R3BCalifaGeometry.cxx``,
  ``GetCrystalVolumePath``): 23 alveolus types; type 1 holds one crystal per alveolus (ids 1-32),
  types 2-19 four crystals (2 x 2) per alveolus, 32 alveoli each (ids 33-2336), types 20-23 three
  crystals per alveolus, 8 alveoli each (ids 2337-2432); 2432 crystals in all (R3BRoot's
  ``fTotalCrystals``), the barrel being types 1-16 (ids 1-1952) and iPhos types 17-23 (ids 1953-2432);
* the polar range and front-face distance of each alveolus ring were measured on the alveolus corner
  points of R3BRoot's CAD export (``califa/geobase/files/CLF-ALL-onePart.txt``, target reference
  (4.1, 2304.08, 325.0) mm, beam along +z); the ring edges below are midpoints between neighbouring
  front faces;
* the crystal lengths (140-220 mm) were measured on the crystal corner points of
  ``califa/geobase/files/CLF-ALL-oneCrystal.txt``.

Simplifications (documented): crystals are projective shell segments pointing at the target (the real
ones are tapered boxes slightly tilted from it); the 11.25 deg alveoli split their polar and azimuthal
range evenly between their crystals; wrapping (65 um teflon) and the carbon-fibre alveoli (0.25 mm) are
not material; the azimuthal origin of alveolus copy 0 (phi = 0, +x) and the counter-clockwise direction
of the copies are our convention.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from showerlearn.calorimeter.geometry.crystals import CrystalGeometry, CrystalRow

__all__ = ["ALVEOLUS_RINGS", "BARREL_IDS", "IPHOS_IDS", "N_CRYSTALS", "alveolus_of", "califa"]

N_CRYSTALS = 2432
BARREL_IDS = range(1, 1953)
IPHOS_IDS = range(1953, 2433)
_ALVEOLI_PER_RING = 32

#: (first alveolus type, last type, theta_min, theta_max [deg], front-face distance [mm], crystal length [mm],
#: crystal rows in theta per alveolus, crystals per alveolus in phi); backward to forward
ALVEOLUS_RINGS: tuple[tuple[int, int, float, float, float, float, int, int], ...] = (
    (1, 1, 131.95, 140.10, 467.0, 170.0, 1, 1),
    (2, 2, 125.50, 131.95, 405.0, 140.0, 2, 2),
    (3, 3, 118.15, 125.50, 369.0, 140.0, 2, 2),
    (4, 4, 109.95, 118.15, 340.0, 140.0, 2, 2),
    (5, 5, 101.10, 109.95, 320.0, 140.0, 2, 2),
    (6, 6, 94.40, 101.10, 307.0, 160.0, 2, 2),
    (7, 7, 87.60, 94.40, 302.0, 160.0, 2, 2),
    (8, 8, 81.80, 87.60, 303.0, 170.0, 2, 2),
    (9, 9, 76.15, 81.80, 309.0, 170.0, 2, 2),
    (10, 10, 70.70, 76.15, 318.0, 170.0, 2, 2),
    (11, 11, 65.50, 70.70, 330.0, 180.0, 2, 2),
    (12, 12, 60.60, 65.50, 345.0, 180.0, 2, 2),
    (13, 13, 55.90, 60.60, 363.0, 180.0, 2, 2),
    (14, 14, 51.50, 55.90, 385.0, 220.0, 2, 2),
    (15, 15, 47.40, 51.50, 410.0, 220.0, 2, 2),
    (16, 16, 43.45, 47.40, 438.0, 220.0, 2, 2),
    (17, 17, 39.00, 43.45, 434.0, 220.0, 2, 2),
    (18, 18, 34.30, 39.00, 435.0, 220.0, 2, 2),
    (19, 19, 29.60, 34.30, 435.0, 220.0, 2, 2),
    (20, 23, 19.90, 29.60, 436.0, 220.0, 3, 1),  # four alveolus types side by side in phi, 8 copies each
)


def alveolus_of(crystal_id: int) -> tuple[int, int, int]:
    """``(alveolus type, alveolus copy, crystal type)`` of a crystal id, by R3BRoot's numbering."""
    if not 1 <= crystal_id <= N_CRYSTALS:
        raise ValueError(f"CALIFA crystal ids run from 1 to {N_CRYSTALS}, got {crystal_id}")
    if crystal_id < 33:
        return 1, crystal_id - 1, 1
    if crystal_id < 2337:
        offset = crystal_id - 33
        return offset // 128 + 2, offset % 128 // 4, offset % 4 + 1
    offset = crystal_id - 2337
    return offset // 24 + 20, offset % 24 // 3, offset % 3 + 1


def _crystal_id(alveolus_type: int, copy: int, crystal_type: int) -> int:
    if alveolus_type == 1:
        return 1 + copy
    if alveolus_type < 20:
        return 33 + (alveolus_type - 2) * 128 + copy * 4 + crystal_type - 1
    return 2337 + (alveolus_type - 20) * 24 + copy * 3 + crystal_type - 1


def _ring_rows(ring: tuple[int, int, float, float, float, float, int, int]) -> list[CrystalRow]:
    """The polar rows of one alveolus ring; crystal type 1 is the forward (smaller theta) one."""
    first, last, theta_min, theta_max, r_front, length, n_theta, n_phi = ring
    edges = np.radians(np.linspace(theta_max, theta_min, n_theta + 1))  # backward to forward
    rows = []
    for sub_row in range(n_theta):  # 0: the backward row
        forward_index = n_theta - 1 - sub_row  # 0: the forward row
        ids = []
        for alveolus in range(_ALVEOLI_PER_RING):
            if first == last:
                copy, alveolus_type = alveolus, first
            else:  # types 20-23 alternate in phi within each 45 deg copy, the last type first
                copy, alveolus_type = alveolus // 4, last - alveolus % 4
            ids += [_crystal_id(alveolus_type, copy, _crystal_type(forward_index, half, n_theta, n_phi))
                    for half in range(n_phi)]
        rows.append(CrystalRow(theta_min=float(edges[sub_row + 1]), theta_max=float(edges[sub_row]),
                               r_front=r_front, length=length, crystal_ids=tuple(ids)))
    return rows


def _crystal_type(forward_index: int, phi_half: int, n_theta: int, n_phi: int) -> int:
    """R3BRoot crystal type within an alveolus: 2 x 2 alveoli count 1, 2 (forward, increasing phi) then
    3, 4 (backward, decreasing phi); one-column alveoli count from the forward crystal on."""
    if n_phi == 1:
        return forward_index + 1
    return (1, 2)[phi_half] if forward_index == 0 else (4, 3)[phi_half]


@lru_cache(maxsize=1)
def califa() -> CrystalGeometry:
    """The CALIFA-like barrel + iPhos geometry (2432 crystals, built once)."""
    rows = [row for ring in ALVEOLUS_RINGS for row in _ring_rows(ring)]
    geometry = CrystalGeometry(name="califa", rows=tuple(rows))
    if geometry.n_crystals != N_CRYSTALS:
        raise AssertionError(f"CALIFA geometry has {geometry.n_crystals} crystals, expected {N_CRYSTALS}")
    return geometry
