"""The CALIFA-like geometry against the numbers it is generated from (R3BRoot's numbering, the CALIFA
barrel and iPhos counts and ranges) and against independent geometry (solid angle, point location)."""

from __future__ import annotations

import numpy as np
import pytest

from showerlearn.calorimeter.geometry import (
    BARREL_IDS,
    IPHOS_IDS,
    CrystalGeometry,
    CrystalRow,
    UnknownCrystalError,
    alveolus_of,
    califa,
    geometry_by_name,
    toy_grid,
    unit_vectors,
    wrap_phi,
)


def _r3broot_id(alveolus_type: int, copy: int, crystal_type: int) -> int:
    """R3BCalifaGeometry::GetCrystalId (R3BRoot), written out again as the reference."""
    if alveolus_type == 1:
        return 1 + copy
    if alveolus_type < 20:
        return 33 + (alveolus_type - 2) * 128 + copy * 4 + (crystal_type - 1)
    return 2337 + (alveolus_type - 20) * 24 + copy * 3 + (crystal_type - 1)


def test_counts_ids_and_ranges_of_barrel_and_iphos() -> None:
    table = califa().table()
    assert califa().n_crystals == 2432 and np.array_equal(table["crystal_id"], np.arange(1, 2433))
    barrel = table["crystal_id"] <= BARREL_IDS[-1]
    assert barrel.sum() == 1952 and (~barrel).sum() == 480 == len(IPHOS_IDS)
    assert np.degrees(table["theta_min"][barrel].min()) == pytest.approx(43.45)
    assert np.degrees(table["theta_max"][barrel].max()) == pytest.approx(140.1)
    assert np.degrees(table["theta_min"][~barrel].min()) == pytest.approx(19.9)
    assert np.degrees(table["theta_max"][~barrel].max()) == pytest.approx(43.45)
    assert table["length"].min() == 140.0 and table["length"].max() == 220.0


def test_numbering_round_trips_through_r3broot_scheme() -> None:
    for crystal_id in range(1, 2433):
        assert _r3broot_id(*alveolus_of(crystal_id)) == crystal_id
    with pytest.raises(ValueError, match="1 to 2432"):
        alveolus_of(2433)


def test_crystals_of_an_alveolus_are_neighbours_and_type_1_is_forward() -> None:
    theta, phi = califa().angles([_r3broot_id(5, 3, c) for c in (1, 2, 3, 4)])
    assert theta[0] == theta[1] < theta[2] == theta[3]  # 1, 2 forward; 3, 4 backward
    assert phi[0] == phi[3] < phi[1] == phi[2]  # 1, 4 at lower phi
    assert np.ptp(np.degrees(phi)) == pytest.approx(360 / 64)


def test_crystals_tile_the_covered_solid_angle() -> None:
    table = califa().table()
    solid = ((np.cos(table["theta_min"]) - np.cos(table["theta_max"])) * (table["phi_max"] - table["phi_min"])).sum()
    assert solid == pytest.approx(2 * np.pi * (np.cos(np.radians(19.9)) - np.cos(np.radians(140.1))), rel=1e-12)


def test_locate_finds_each_crystal_at_its_centre_and_nothing_outside() -> None:
    geometry = califa()
    table = geometry.table()
    centres = geometry.centres(table["crystal_id"])
    assert np.array_equal(geometry.locate(centres), np.arange(geometry.n_crystals))
    direction = unit_vectors(table["theta"][:5], table["phi"][:5])
    in_front = direction * (table["r_front"][:5, None] - 1.0)
    behind = direction * (table["r_front"][:5, None] + table["length"][:5, None] + 1.0)
    forward_hole = np.array([[0.0, 0.0, 500.0]])
    assert (geometry.locate(np.vstack([in_front, behind, forward_hole])) == -1).all()


def test_angles_name_unknown_ids_and_phi_follows_root() -> None:
    with pytest.raises(UnknownCrystalError, match="3000"):
        califa().angles([1, 3000])
    assert wrap_phi(np.array([np.pi, -np.pi, 3 * np.pi / 2])) == pytest.approx([np.pi, np.pi, -np.pi / 2])
    _, phi = califa().angles(np.arange(1, 2433))
    assert phi.max() <= np.pi and phi.min() > -np.pi


def test_toy_grid_is_ten_by_ten_around_ninety_degrees() -> None:
    grid = toy_grid()
    theta, phi = grid.angles(np.arange(1, 101))
    assert grid.n_crystals == 100 and geometry_by_name("toy_grid") is grid
    assert np.degrees(theta).mean() == pytest.approx(90.0) and np.degrees(phi).mean() == pytest.approx(0.0, abs=1e-9)
    assert np.allclose(np.diff(np.degrees(phi[:10])), 4.0) and np.allclose(np.diff(np.degrees(theta[::10])), 4.0)
    assert np.array_equal(grid.locate(grid.centres([1, 55, 100])), [0, 54, 99])
    with pytest.raises(ValueError, match="unknown calorimeter geometry"):
        geometry_by_name("crystal_ball")


def test_the_turns_and_mirror_that_map_a_calorimeter_onto_itself() -> None:
    assert (califa().azimuthal_turns, califa().azimuthal_mirror) == (32, True)  # rows of 32 and 64 from phi = 0
    assert califa().azimuthal_symmetries == 64 and toy_grid().azimuthal_symmetries == 1
    assert (toy_grid().azimuthal_turns, toy_grid().azimuthal_mirror) == (1, False)  # a patch

    def rings(counts: tuple[int, ...], phi_start: float = 0.0) -> CrystalGeometry:
        rows, first = [], 1
        for i, n in enumerate(counts):
            rows.append(CrystalRow(theta_min=0.5 + 0.1 * i, theta_max=0.6 + 0.1 * i, r_front=300.0, length=200.0,
                                   crystal_ids=tuple(range(first, first + n)), phi_start=phi_start))
            first += n
        return CrystalGeometry(name="rings", rows=tuple(rows))

    assert rings((30, 32)).azimuthal_turns == 2 and rings((30, 45)).azimuthal_turns == 15
    assert rings((16,), phi_start=2 * np.pi / 32).azimuthal_mirror  # a crystal centre at phi = 0
    assert not rings((16,), phi_start=2 * np.pi / 64).azimuthal_mirror  # neither an edge nor a centre there
