"""A calorimeter as a table of crystals, and the look-ups the simulation and the readers need.

Each crystal is a segment of a spherical shell seen from the target (the origin): a polar range
``[theta_min, theta_max]``, an azimuthal range ``[phi_min, phi_max]`` and a radial range
``[r_front, r_front + length]``. The crystals of one polar *row* share the polar range and the radii
and sit side by side in azimuth, which makes locating the crystal at a point two array look-ups.
Angles are in radians, lengths in millimetres, ``phi`` in ``(-pi, pi]`` as ROOT's ``TVector3::Phi``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

__all__ = ["CrystalGeometry", "CrystalRow", "UnknownCrystalError", "unit_vectors", "wrap_phi"]


class UnknownCrystalError(ValueError):
    """A crystal id that the geometry does not have."""


@dataclass(frozen=True)
class CrystalRow:
    """One polar row of crystals of equal azimuthal width, side by side from ``phi_start`` on.

    Attributes:
        theta_min, theta_max: polar range [rad].
        r_front: distance of the front faces from the target [mm].
        length: crystal length [mm].
        crystal_ids: ids of the crystals in azimuthal order, the first one starting at ``phi_start``.
        phi_start: azimuth where the first crystal starts [rad], counted counter-clockwise from +x.
        phi_width: azimuthal width of each crystal [rad]; None: the crystals tile the full circle.
    """

    theta_min: float
    theta_max: float
    r_front: float
    length: float
    crystal_ids: tuple[int, ...]
    phi_start: float = 0.0
    phi_width: float | None = None

    @property
    def width(self) -> float:
        """Azimuthal width of one crystal [rad]."""
        return self.phi_width if self.phi_width is not None else 2 * np.pi / len(self.crystal_ids)


@dataclass(frozen=True)
class CrystalGeometry:
    """Crystals of a calorimeter, built from its polar rows (see :class:`CrystalRow`).

    Attributes:
        name: a short name written in files ("califa", "toy_grid").
        rows: the polar rows, sorted by ``theta_min`` and not overlapping.
    """

    name: str
    rows: tuple[CrystalRow, ...]
    _table: dict[str, np.ndarray] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        rows = sorted(self.rows, key=lambda row: row.theta_min)
        for lower, upper in zip(rows, rows[1:]):
            if upper.theta_min < lower.theta_max - 1e-12:
                raise ValueError(f"geometry {self.name}: polar rows overlap at {np.degrees(upper.theta_min):.2f} deg")
        object.__setattr__(self, "rows", tuple(rows))
        object.__setattr__(self, "_table", _crystal_table(self.rows))

    @property
    def azimuthal_turns(self) -> int:
        """``n``: turning by a multiple of 2 pi / n about the beam axis maps every crystal onto a crystal (the
        greatest common divisor of the rows' crystal counts when every row closes the circle: 32 for CALIFA); 1
        when some row does not close it (the toy grid, a patch)."""
        if not all(_closes_circle(row) for row in self.rows):
            return 1
        return math.gcd(*(len(row.crystal_ids) for row in self.rows))

    @property
    def azimuthal_mirror(self) -> bool:
        """Whether mirroring in azimuth (phi -> -phi) maps every crystal onto a crystal: every row closes the
        circle with a crystal edge or centre at phi = 0 (CALIFA's rows start at 0)."""
        return all(_closes_circle(row) and np.isclose(2 * row.phi_start / row.width, round(2 * row.phi_start / row.width))
                   for row in self.rows)

    @property
    def azimuthal_symmetries(self) -> int:
        """How many turns and mirrors about the beam axis map every crystal onto a crystal, the identity included
        (64 for CALIFA: 32 turns, with and without the mirror)."""
        return self.azimuthal_turns * (2 if self.azimuthal_mirror else 1)

    # ---- the crystal table -------------------------------------------------------------------------
    @property
    def n_crystals(self) -> int:
        return len(self._table["crystal_id"])

    def table(self) -> dict[str, np.ndarray]:
        """One entry per crystal, sorted by id: ``crystal_id``, ``theta``, ``phi`` (centre), ``theta_min``,
        ``theta_max``, ``phi_min``, ``phi_max`` (unwrapped: ``phi_max > phi_min``, possibly beyond pi), ``r_front``,
        ``length``, ``row``."""
        return {key: value.copy() for key, value in self._table.items()}

    def index_of(self, crystal_ids: np.ndarray | Sequence[int]) -> np.ndarray:
        """Row indices of ``crystal_ids`` in :meth:`table`; raises :class:`UnknownCrystalError` naming unknown ids."""
        ids = np.asarray(crystal_ids, dtype=np.int64)
        known = self._table["crystal_id"]
        index = np.clip(np.searchsorted(known, ids), 0, len(known) - 1)
        bad = known[index] != ids
        if bad.any():
            unknown = np.unique(ids[bad])
            raise UnknownCrystalError(
                f"geometry {self.name} has crystals {known[0]}..{known[-1]}; unknown ids: {unknown[:10].tolist()}"
                + (" ..." if len(unknown) > 10 else "")
            )
        return index

    def angles(self, crystal_ids: np.ndarray | Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        """Centre ``(theta, phi)`` of each crystal [rad]."""
        index = self.index_of(crystal_ids)
        return self._table["theta"][index], self._table["phi"][index]

    def centres(self, crystal_ids: np.ndarray | Sequence[int]) -> np.ndarray:
        """Centre of each crystal's volume, (n, 3) [mm]: on its centre direction, half a length behind the front."""
        index = self.index_of(crystal_ids)
        radius = self._table["r_front"][index] + 0.5 * self._table["length"][index]
        return radius[:, None] * unit_vectors(self._table["theta"][index], self._table["phi"][index])

    # ---- locating points (the simulation) ----------------------------------------------------------
    @property
    def r_min(self) -> float:
        """Smallest front-face distance: the sphere around the target with no crystal inside [mm]."""
        return float(self._table["r_front"].min())

    @property
    def r_max(self) -> float:
        """Largest back-face distance: nothing is hit beyond this sphere [mm]."""
        return float((self._table["r_front"] + self._table["length"]).max())

    def locate(self, points: np.ndarray) -> np.ndarray:
        """Index (into :meth:`table`) of the crystal containing each point (n, 3) [mm], -1 outside all crystals."""
        lookup = self._lookup
        r = np.sqrt(np.einsum("ij,ij->i", points, points))
        cos_theta = np.divide(points[:, 2], r, out=np.ones_like(r), where=r > 0)
        theta = np.arccos(np.clip(cos_theta, -1.0, 1.0))
        row = np.searchsorted(lookup["theta_edges"], theta, side="right") - 1
        row = np.clip(row, 0, len(lookup["theta_edges"]) - 2)
        in_row = (theta >= lookup["theta_edges"][row]) & (theta < lookup["theta_edges"][row + 1]) & lookup["is_row"][row]
        inside = in_row & (r >= lookup["r_front"][row]) & (r <= lookup["r_back"][row])
        phi = np.mod(np.arctan2(points[:, 1], points[:, 0]) - lookup["phi_start"][row], 2 * np.pi)
        column = (phi / lookup["phi_width"][row]).astype(np.int64)
        inside &= column < lookup["n_phi"][row]
        column = np.minimum(column, lookup["n_phi"][row] - 1)
        return np.where(inside, lookup["crystal_index"][row, column], -1)

    @property
    def _lookup(self) -> dict[str, np.ndarray]:
        cached = self.__dict__.get("_lookup_cache")
        if cached is None:
            cached = _row_lookup(self.rows, self._table["crystal_id"])
            object.__setattr__(self, "_lookup_cache", cached)
        return cached


def _closes_circle(row: CrystalRow) -> bool:
    return bool(np.isclose(row.width * len(row.crystal_ids), 2 * np.pi))


def unit_vectors(theta: np.ndarray, phi: np.ndarray) -> np.ndarray:
    """Unit vectors (n, 3) of polar angles ``theta`` and azimuths ``phi`` [rad]."""
    sin_theta = np.sin(theta)
    return np.stack([sin_theta * np.cos(phi), sin_theta * np.sin(phi), np.cos(theta)], axis=-1)


def wrap_phi(phi: np.ndarray) -> np.ndarray:
    """Azimuths in ``(-pi, pi]``, the convention of ROOT's ``TVector3::Phi`` (and of ``arctan2``)."""
    wrapped = np.mod(np.asarray(phi, dtype=float) + np.pi, 2 * np.pi) - np.pi
    return np.where(wrapped == -np.pi, np.pi, wrapped)


def _crystal_table(rows: Sequence[CrystalRow]) -> dict[str, np.ndarray]:
    columns: dict[str, list[np.ndarray]] = {key: [] for key in (
        "crystal_id", "theta_min", "theta_max", "phi_min", "phi_max", "r_front", "length", "row")}
    for index, row in enumerate(rows):
        n = len(row.crystal_ids)
        width = row.width
        start = row.phi_start + width * np.arange(n)
        values = {
            "crystal_id": np.asarray(row.crystal_ids), "theta_min": np.full(n, row.theta_min),
            "theta_max": np.full(n, row.theta_max), "phi_min": start, "phi_max": start + width,
            "r_front": np.full(n, row.r_front), "length": np.full(n, row.length), "row": np.full(n, index),
        }
        for key, value in values.items():
            columns[key].append(value)
    table = {key: np.concatenate(value) for key, value in columns.items()}
    table["crystal_id"] = table["crystal_id"].astype(np.int64)
    table["row"] = table["row"].astype(np.int64)
    if len(np.unique(table["crystal_id"])) != len(table["crystal_id"]):
        raise ValueError("crystal ids are not unique")
    # the centre direction: middle of the polar range in cos(theta) would weigh by solid angle; the middle
    # angle is what a crystal's axis points at in a projective geometry
    table["theta"] = 0.5 * (table["theta_min"] + table["theta_max"])
    table["phi"] = wrap_phi(0.5 * (table["phi_min"] + table["phi_max"]))
    order = np.argsort(table["crystal_id"], kind="stable")
    return {key: value[order] for key, value in table.items()}


def _row_lookup(rows: Sequence[CrystalRow], sorted_ids: np.ndarray) -> dict[str, np.ndarray]:
    """Arrays over 'slots' between polar edges (rows and the gaps between them) for :meth:`locate`."""
    edges, is_row, source = [rows[0].theta_min], [], []
    for index, row in enumerate(rows):
        if row.theta_min > edges[-1] + 1e-12:  # a gap between rows
            edges.append(row.theta_min)
            is_row.append(False)
            source.append(-1)
        edges.append(row.theta_max)
        is_row.append(True)
        source.append(index)
    max_phi = max(len(row.crystal_ids) for row in rows)
    n_slots = len(source)
    crystal_index = np.full((n_slots, max_phi), -1, dtype=np.int64)
    n_phi = np.ones(n_slots, dtype=np.int64)
    values = {key: np.zeros(n_slots) for key in ("r_front", "r_back", "phi_start")}
    values["phi_width"] = np.full(n_slots, 2 * np.pi)
    for slot, index in enumerate(source):
        if index < 0:
            continue
        row = rows[index]
        n_phi[slot] = len(row.crystal_ids)
        crystal_index[slot, : n_phi[slot]] = np.searchsorted(sorted_ids, row.crystal_ids)
        values["r_front"][slot], values["r_back"][slot] = row.r_front, row.r_front + row.length
        values["phi_start"][slot], values["phi_width"][slot] = row.phi_start, row.width
    return {"theta_edges": np.asarray(edges), "is_row": np.asarray(is_row), "n_phi": n_phi,
            "crystal_index": crystal_index, **values}
