"""Camera geometry: lattice inference, camera files, pixel matching, pooling hierarchy, mappers."""

from __future__ import annotations

import math
from pathlib import Path

import astropy.units as u
import numpy as np
from scipy.spatial import Delaunay
import pytest
from ctapipe.instrument import CameraGeometry
from scipy.spatial import cKDTree

from showerlearn.iact.geometry import (
    CameraMismatchError,
    GeometryFileError,
    Lattice,
    LatticeError,
    lst_camera,
    match_pixels,
    read_camera_geometry,
    upsample_to_pixels,
)
from showerlearn.iact.geometry.mappers import AxialMapper, BilinearMapper

DL1_FILES = [
    "dl1_ctapipe/gamma_prod6_tel_event_header_v4.lst.dl1.h5",
    "dl1_ctapipe/gamma_test.lst.dl1.h5",
    "dl1_ctapipe/lst_muons.lst.dl1.h5",
    "dl1_ctapipe/lst_with_photons.lst.dl1.h5",
    "dl1_ctapipe/test_lasercal_v3.lst.ctapipe0.28_v7.1.0.dl1.h5",
    "dl1_lstchain/dl1_gamma_example.h5",
    "geometry/LST-1_SubarrayDescription.h5",
    "geometry/LSTCam.camgeom.fits.gz",
]


@pytest.fixture(scope="module")
def lst_lattice() -> Lattice:
    return Lattice.from_camera(lst_camera())


def rotate(x: np.ndarray, y: np.ndarray, degrees: float) -> tuple[np.ndarray, np.ndarray]:
    c, s = math.cos(math.radians(degrees)), math.sin(math.radians(degrees))
    return c * x - s * y, s * x + c * y


def hex_patch(radius: int, spacing: float = 1.0, degrees: float = 0.0, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A hexagonal patch of pixels, rotated and shuffled."""
    q, r = np.meshgrid(np.arange(-radius, radius + 1), np.arange(-radius, radius + 1))
    keep = np.abs(q + r) <= radius
    q, r = q[keep], r[keep]
    x, y = spacing * (q + r / 2), spacing * r * math.sqrt(3) / 2
    order = np.random.default_rng(seed).permutation(len(x))
    return rotate(x[order], y[order], degrees)


def chec_like(degrees: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Square pixels in 4x4 modules of 8x8, with module gaps of 0.3 pixel (as CHEC/ASTRI)."""
    index = np.arange(32)
    coordinate = index + 0.3 * (index // 8)
    x, y = (a.ravel() for a in np.meshgrid(coordinate * 6e-3, coordinate * 6e-3))
    return rotate(x, y, degrees)


def distance_neighbours(x: np.ndarray, y: np.ndarray, reach: float) -> list[set[int]]:
    """Independent reference: pixels within ``reach`` of each pixel (itself included)."""
    tree = cKDTree(np.column_stack([x, y]))
    return [set(found) for found in tree.query_ball_point(np.column_stack([x, y]), reach)]


# ---------------------------------------------------------------- lattice inference
@pytest.mark.parametrize("degrees", [0.0, 17.0, 90.0, 100.893])
def test_hex_lattice_neighbours_match_distances(degrees: float) -> None:
    x, y = hex_patch(6, spacing=0.05, degrees=degrees)
    lattice = Lattice.from_positions(x, y)
    assert lattice.kind == "hex" and lattice.n_pixels == len(x)
    assert lattice.spacing == pytest.approx(0.05)
    assert lattice.rotation == pytest.approx(degrees % 60, abs=1e-6)
    table = lattice.neighbours(1)
    assert table.shape == (len(x), 7)
    assert (table[:, 3] == np.arange(len(x))).all()  # centre in the middle
    reference = distance_neighbours(x, y, 1.01 * 0.05)
    assert [set(row[row >= 0]) for row in table] == reference
    table2 = lattice.neighbours(2)
    assert table2.shape == (len(x), 19)
    reference2 = distance_neighbours(x, y, 2.01 * 0.05)  # radius 2 hexagon = pixels within 2 spacings
    assert [set(row[row >= 0]) for row in table2] == reference2


@pytest.mark.parametrize("degrees", [0.0, 30.0, 90.0])
def test_square_lattice_with_gaps(degrees: float) -> None:
    x, y = chec_like(degrees)
    lattice = Lattice.from_positions(x, y)
    assert lattice.kind == "square" and lattice.shape == (32, 32)
    assert lattice.rotation == pytest.approx(degrees % 90, abs=1e-6)
    table = lattice.neighbours(1)
    assert table.shape == (1024, 9) and (table[:, 4] == np.arange(1024)).all()
    # the gap closes: every pixel has its full 3x3 box except on the camera edge
    assert ((table >= 0).sum(axis=1) == 9).sum() == 30 * 30
    reference = distance_neighbours(x, y, 1.31 * math.sqrt(2) * 6e-3)
    assert all(set(row[row >= 0]) <= ref for row, ref in zip(table, reference, strict=True))


def test_degenerate_positions_raise() -> None:
    x, y = hex_patch(3)
    with pytest.raises(LatticeError, match="duplicate"):
        Lattice.from_positions(np.append(x, x[5]), np.append(y, y[5]))
    rng = np.random.default_rng(1)
    with pytest.raises(LatticeError, match="not"):
        Lattice.from_positions(rng.uniform(size=200), rng.uniform(size=200))
    with pytest.raises(LatticeError, match="not"):
        Lattice.from_positions(np.arange(10.0), np.zeros(10))
    moved = x.copy()
    moved[7] += 0.4
    with pytest.raises(LatticeError, match="pixel 7"):
        Lattice.from_positions(moved, y)
    with pytest.raises(LatticeError, match="NaN"):
        Lattice.from_positions(np.append(x, np.nan), np.append(y, 0.0))


# ---------------------------------------------------------------- pooling hierarchy
def test_downsample_and_upsample(lst_lattice: Lattice) -> None:
    lattice = lst_lattice
    level = lattice.downsample()
    coarse = level.lattice
    assert coarse.kind == "hex" and coarse.spacing == pytest.approx(2 * lattice.spacing)
    assert level.pool_index.shape == (coarse.n_pixels, 7)
    assert (level.pool_index[:, 3] == level.kept).all()
    # the coarse lattice is the stride-2 sub-lattice: its neighbours are 2 fine spacings apart
    reference = distance_neighbours(coarse.x, coarse.y, 2.01 * lattice.spacing)
    assert [set(row[row >= 0]) for row in coarse.neighbours(1)] == reference
    # every pixel is in some pooling window, and upsampling takes the nearest coarse pixel
    assert set(level.pool_index[level.pool_index >= 0]) == set(range(lattice.n_pixels))
    second = coarse.downsample()
    values = np.arange(second.lattice.n_pixels, dtype=float)
    on_pixels = upsample_to_pixels(values, [level, second])
    assert on_pixels.shape == (lattice.n_pixels,)
    assert (on_pixels[level.kept[second.kept]] == values).all()
    fine_to_coarse = np.hypot(lattice.x - coarse.x[level.upsample_index], lattice.y - coarse.y[level.upsample_index])
    assert fine_to_coarse.max() <= 1.01 * lattice.spacing


# ---------------------------------------------------------------- camera files
def test_lst_camera() -> None:
    camera = lst_camera()
    assert camera.n_pixels == 1855 and camera.name == "LSTCam"
    assert camera.pix_x.unit.is_equivalent(u.m)
    lattice = Lattice.from_camera(camera)
    assert lattice.kind == "hex" and lattice.spacing == pytest.approx(0.05, rel=1e-3)


@pytest.mark.parametrize("name", DL1_FILES)
def test_shared_files_are_the_lst_lattice(shared_data: Path, name: str) -> None:
    reference = lst_camera()
    camera = read_camera_geometry(shared_data / "iact" / name)
    perm = match_pixels(reference, camera)
    assert sorted(perm) == list(range(1855))
    # the file's own lattice has the same neighbourhoods, pixel by pixel
    ref_table = Lattice.from_positions(reference.pix_x, reference.pix_y).neighbours(1)
    table = Lattice.from_camera(camera).neighbours(1)
    for i in range(0, 1855, 7):
        assert {perm[j] for j in ref_table[i] if j >= 0} == set(table[perm[i]][table[perm[i]] >= 0])


def test_rotated_file_lands_on_same_pixels(shared_data: Path) -> None:
    reference = lst_camera()
    camera = read_camera_geometry(shared_data / "iact/dl1_ctapipe/gamma_test.lst.dl1.h5")
    perm = match_pixels(reference, camera)
    assert not (perm == np.arange(1855)).all()
    x, y = camera.pix_x.to_value(u.m)[perm], camera.pix_y.to_value(u.m)[perm]
    rx, ry = reference.pix_x.to_value(u.m), reference.pix_y.to_value(u.m)
    # the file is turned by 90 deg: undoing it puts every pixel of the mapped image on its reference pixel
    turned = [np.hypot(*np.subtract(rotate(x, y, -angle), (rx, ry))).max() for angle in (90, 270)]
    assert min(turned) < 0.1 * 0.05


def test_both_ctapipe_versions_same_lattice(shared_data: Path) -> None:
    old = read_camera_geometry(shared_data / "iact/dl1_ctapipe/test_lasercal_v3.lst.ctapipe0.28_v7.1.0.dl1.h5")
    new = read_camera_geometry(shared_data / "iact/dl1_ctapipe/gamma_prod6_tel_event_header_v4.lst.dl1.h5", tel_id=2)
    a, b = Lattice.from_camera(old), Lattice.from_camera(new)
    assert (a.axial == b.axial).all() and a.rotation == pytest.approx(b.rotation)


def test_match_pixels_any_rotation_and_order() -> None:
    x, y = hex_patch(8, spacing=0.05)
    asymmetric = ~((x > 0.1) & (y > 0.05))  # a symmetric patch would match several rotations
    x, y = x[asymmetric], y[asymmetric]
    reference = _geometry(x, y)
    order = np.random.default_rng(3).permutation(len(x))
    for angle in (90.0, 23.0, 180.0):
        tx, ty = rotate(x[order], y[order], angle)
        perm = match_pixels(reference, _geometry(tx, ty))
        assert (order[perm] == np.arange(len(x))).all()
    with pytest.raises(CameraMismatchError, match="pixels"):
        match_pixels(reference, _geometry(x[:-1], y[:-1]))
    with pytest.raises(CameraMismatchError, match="do not match"):
        match_pixels(reference, _geometry(x * 1.3, y * 1.3))


def test_read_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="missing.h5"):
        read_camera_geometry(tmp_path / "missing.h5")
    text = tmp_path / "notes.txt"
    text.write_text("not a camera")
    with pytest.raises(GeometryFileError, match="not a camera geometry file"):
        read_camera_geometry(text)
    import tables

    empty = tmp_path / "empty.h5"
    with tables.open_file(str(empty), "w") as h5:
        h5.create_array("/", "something", np.arange(3))
    with pytest.raises(GeometryFileError, match="no camera geometry table"):
        read_camera_geometry(empty)


def test_unknown_tel_id(shared_data: Path) -> None:
    with pytest.raises(GeometryFileError, match="no telescope 99"):
        read_camera_geometry(shared_data / "iact/dl1_ctapipe/gamma_test.lst.dl1.h5", tel_id=99)


def _geometry(x: np.ndarray, y: np.ndarray) -> CameraGeometry:
    n = len(x)
    return CameraGeometry("test", np.arange(n), x * u.m, y * u.m, np.full(n, 1e-3) * u.m**2, pix_type="hexagon")


# ---------------------------------------------------------------- mappers
@pytest.mark.parametrize("layout", ["axial", "offset"])
def test_axial_mapper_lossless(layout: str, lst_lattice: Lattice) -> None:
    lattice = lst_lattice
    mapper = AxialMapper(lattice, layout=layout)
    values = np.random.default_rng(0).normal(size=(2, 3, lattice.n_pixels))
    image = mapper.to_image(values)
    assert image.shape == (2, 3, *mapper.shape)
    assert np.allclose(image.sum(axis=(-1, -2)), values.sum(axis=-1))
    assert (mapper.from_image(image) == values).all()
    # neighbouring pixels stay neighbours in the image (within a 3x3 box)
    rows, cols = np.divmod(mapper.flat_index, mapper.shape[1])
    table = lattice.neighbours(1)
    valid = table >= 0
    centre = np.broadcast_to(np.arange(lattice.n_pixels)[:, None], table.shape)
    assert np.abs(rows[table[valid]] - rows[centre[valid]]).max() <= 1
    assert np.abs(cols[table[valid]] - cols[centre[valid]]).max() <= 1


def test_axial_mapper_torch() -> None:
    torch = pytest.importorskip("torch")
    lattice = Lattice.from_positions(*chec_like())
    mapper = AxialMapper(lattice)
    values = torch.randn(4, lattice.n_pixels)
    assert torch.equal(mapper.from_image(mapper.to_image(values)), values)


def test_bilinear_mapper_reproduces_linear_functions(lst_lattice: Lattice) -> None:
    lattice = lst_lattice
    mapper = BilinearMapper(lattice, size=48)
    values = 2.0 * lattice.x - 3.0 * lattice.y + 1.0
    image = mapper.to_image(values)
    assert image.shape == (48, 48)
    # linear interpolation is exact for linear functions inside the camera
    size = np.ptp(np.column_stack([lattice.x, lattice.y]), axis=0).max()
    axis = np.linspace(-size / 2, size / 2, 48)
    centre = (np.column_stack([lattice.x, lattice.y]).max(0) + np.column_stack([lattice.x, lattice.y]).min(0)) / 2
    gx, gy = np.meshgrid(centre[0] + axis, centre[1] - axis)
    inside = image != 0
    assert inside.sum() > 0.5 * 48 * 48
    assert np.allclose(image[inside], (2.0 * gx - 3.0 * gy + 1.0)[inside])
    back = mapper.from_image(image)
    interior = (lattice.neighbours(2) >= 0).all(axis=1)
    assert np.allclose(back[interior], values[interior], atol=1e-9)
    with pytest.raises(ValueError, match="pixel axis"):
        mapper.to_image(values[:-1])


@pytest.mark.parametrize("size", [64, 128])
def test_every_grid_point_inside_the_camera_is_interpolated(size: int, lst_lattice: Lattice) -> None:
    """Against scipy's own point location: a grid point in a thin border triangle, which none of its nearest
    pixels belongs to, is interpolated too (it used to be left at 0)."""
    xy = np.column_stack([lst_lattice.x, lst_lattice.y])
    mapper = BilinearMapper(lst_lattice, size=size)
    half, centre = (xy.max(0) - xy.min(0)).max() / 2, (xy.max(0) + xy.min(0)) / 2
    axis = np.linspace(-half, half, size)
    gx, gy = np.meshgrid(centre[0] + axis, centre[1] - axis)
    in_hull = Delaunay(xy).find_simplex(np.column_stack([gx.ravel(), gy.ravel()])) >= 0
    weights = mapper.to_image(np.ones(lst_lattice.n_pixels)).ravel()
    np.testing.assert_allclose(weights[in_hull], 1.0, atol=1e-9)  # barycentric weights add up to 1
    assert not weights[~in_hull].any()
