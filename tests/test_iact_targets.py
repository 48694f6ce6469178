"""IACT targets: encoding/decoding round trips and symmetry augmentations that keep truth consistent."""

from __future__ import annotations

from pathlib import Path

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import AltAz, CartesianRepresentation, SkyCoord
from ctapipe.coordinates import TelescopeFrame
from ctapipe.image import hillas_parameters

from showerlearn.iact.data import IACTDataModule, open_dl1
from showerlearn.iact.data.augment import Augmenter, SymmetryOp, _reflection, _rotation, average_views, camera_symmetries
from showerlearn.iact.data.targets import (
    IMPACT_SCALE_M,
    LEGACY_IMPACT_AXES,
    camera_matrices,
    decode_outputs,
    encode_direction,
    encode_targets,
    impact_on_camera_axes,
    impact_on_ground,
    transform_direction,
    turn_impact,
)
from showerlearn.iact.geometry import lst_camera


def rotation(angle_deg: float) -> np.ndarray:
    c, s = np.cos(np.radians(angle_deg)), np.sin(np.radians(angle_deg))
    return np.array([[c, -s], [s, c]])


def test_direction_of_an_offset_source_matches_the_pointing_offset() -> None:
    # a source 1 deg above the pointing: fov_lat = +1 deg, fov_lon = 0
    fov = encode_direction(np.array([71.0]), np.array([180.0]), np.array([70.0]), np.array([180.0]))
    np.testing.assert_allclose(fov, [[0.0, 1.0]], atol=1e-9)
    # a source at larger azimuth lies at positive fov_lon (ctapipe TelescopeFrame convention)
    fov = encode_direction(np.array([70.0]), np.array([181.0]), np.array([70.0]), np.array([180.0]))
    assert fov[0, 0] == pytest.approx(np.cos(np.radians(70.0)), rel=1e-3)


def test_transform_direction_is_the_camera_map_on_small_offsets() -> None:
    fov = np.array([[0.3, -0.5], [1.2, 0.4]])  # (fov_lon, fov_lat)
    for angle in (60.0, 90.0, -135.0):
        turned = transform_direction(rotation(angle), fov)
        camera = fov[:, ::-1]  # camera order (fov_lat, fov_lon) ~ (x, y)
        np.testing.assert_allclose(turned[:, ::-1], camera @ rotation(angle).T, rtol=1e-3, atol=1e-6)
    # six turns by 60 deg give the identity exactly; the map preserves the angular distance
    turned = fov
    for _ in range(6):
        turned = transform_direction(rotation(60.0), turned)
    np.testing.assert_allclose(turned, fov, atol=1e-12)
    reflection = camera_matrices(np.array([0.0]), np.array([True]))[0]
    np.testing.assert_allclose(reflection, [[1.0, 0.0], [0.0, -1.0]])
    np.testing.assert_allclose(transform_direction(reflection, fov), fov * [-1.0, 1.0], atol=1e-12)


def sky_offset(points_neu: np.ndarray, alt: float, az: float) -> np.ndarray:
    """(fov_lon, fov_lat) [deg] of points (north, east, up) seen from the origin, via astropy + ctapipe."""
    cartesian = CartesianRepresentation(*points_neu.T, unit=u.m)
    seen = SkyCoord(AltAz().realize_frame(cartesian))
    pointing = AltAz(alt=alt * u.deg, az=az * u.deg)
    offset = seen.transform_to(TelescopeFrame(telescope_pointing=pointing))
    return np.stack([offset.fov_lon.to_value(u.deg), offset.fov_lat.to_value(u.deg)], axis=1)


@pytest.mark.parametrize(("alt", "az", "angle"), [(70.0, 180.0, 60.0), (55.0, 30.0, 120.0), (85.0, 270.0, 300.0)])
def test_impact_turns_like_the_image(alt: float, az: float, angle: float) -> None:
    """A far point of the shower axis through the (turned) core is seen at the (turned) offset."""
    telescope = np.array([[40.0, -25.0]])
    core = np.array([[180.0, 90.0]])  # ground frame: x north, y west
    pointing = np.array([alt]), np.array([az])
    turned = impact_on_ground(turn_impact(rotation(angle), impact_on_camera_axes(core - telescope, *pointing)), *pointing) + telescope
    direction = np.array([np.cos(np.radians(alt)) * np.cos(np.radians(az)),
                          np.cos(np.radians(alt)) * np.sin(np.radians(az)), np.sin(np.radians(alt))])

    def far_point(ground: np.ndarray) -> np.ndarray:  # north, east, up relative to the telescope
        relative = ground[0] - telescope[0]
        return np.array([relative[0], -relative[1], 0.0]) + 1e7 * direction

    before = sky_offset(far_point(core)[None], alt, az)
    after = sky_offset(far_point(turned)[None], alt, az)
    np.testing.assert_allclose(after, transform_direction(rotation(angle), before), rtol=1e-3, atol=1e-12)

    def impact_parameter(ground: np.ndarray) -> float:  # distance of the telescope to the shower axis
        relative = np.array([ground[0, 0] - telescope[0, 0], -(ground[0, 1] - telescope[0, 1]), 0.0])
        return float(np.linalg.norm(np.cross(relative, direction)))

    assert impact_parameter(turned) == pytest.approx(impact_parameter(core), rel=1e-9)


def test_lst_symmetries_are_the_six_rotations() -> None:
    ops = camera_symmetries(lst_camera())
    assert sorted(ops) == ["rot120", "rot180", "rot240", "rot300", "rot60"]
    perm = np.arange(1855)
    for _ in range(6):
        perm = perm[ops["rot60"].perm]
        assert len(np.unique(perm)) == 1855
    np.testing.assert_array_equal(perm, np.arange(1855))
    with pytest.raises(ValueError, match="flip0.*not symmetries"):
        Augmenter(lst_camera(), ["flip0"])


def test_decoding_the_encoded_truth_gives_the_truth_back(shared_data: Path) -> None:
    """Round trip over every shared gamma file, the 90-deg rotated gamma_test camera included."""
    files = [*sorted((shared_data / "iact/dl1_ctapipe").glob("*.h5")), *sorted((shared_data / "iact/dl1_lstchain").glob("*.h5"))]
    for path in files:
        with open_dl1(path) as file:
            columns = file.columns
        targets, masks = encode_targets(columns)
        gamma = columns["true_shower_primary_id"] == 0
        np.testing.assert_array_equal(masks["energy"], gamma)
        np.testing.assert_array_equal(targets["particle"], (~gamma).astype(int))
        logits = np.stack([np.where(gamma, 3.0, -3.0), np.zeros(len(gamma))], axis=1)
        outputs = {"particle": logits, "energy": targets["energy"], "direction": targets["direction"], "impact": targets["impact"]}
        columns_out = decode_outputs(outputs, columns)
        assert np.all((columns_out["gammaness"] > 0.5) == gamma)
        g = gamma
        np.testing.assert_allclose(columns_out["reco_energy"][g], columns["true_energy"][g], rtol=1e-6)
        np.testing.assert_allclose(columns_out["reco_alt"][g], columns["true_alt"][g], atol=1e-4, err_msg=str(path))
        az_error = (columns_out["reco_az"][g] - columns["true_az"][g] + 180) % 360 - 180
        np.testing.assert_allclose(az_error * np.cos(np.radians(columns["true_alt"][g])), 0, atol=1e-4, err_msg=str(path))
        np.testing.assert_allclose(columns_out["reco_core_x"][g], columns["true_core_x"][g], atol=1e-3)
        np.testing.assert_allclose(columns_out["reco_core_y"][g], columns["true_core_y"][g], atol=1e-3)


def test_augmented_image_and_targets_turn_together(shared_data: Path) -> None:
    """The Hillas centroid of the augmented image moves relative to the augmented direction target
    exactly as it did before the turn, turned: the image and its truth stay consistent."""
    path = shared_data / "iact/dl1_lstchain/dl1_gamma_example.h5"
    module = IACTDataModule(
        files=[str(path)], split={"fractions": (1.0, 0.0, 0.0)}, cleaning={"as": "mask"},
        transforms={"charge": "none", "time": "none"}, augment={"enabled": True},
    )
    module.setup("fit")
    dataset = module.train_set
    camera = lst_camera()
    focal = module.model_inputs()["focal_length"].to_value(u.m)
    ops = camera_symmetries(camera)
    bright = int(np.argmax([dataset[i]["inputs"][0].sum() for i in range(8)]))

    def centroid_minus_source(sample: dict) -> np.ndarray:
        image = sample["inputs"][0].numpy()
        mask = image > 0
        hillas = hillas_parameters(camera[mask], image[mask])
        lon, lat = sample["targets"]["direction"].numpy()
        source = np.radians([lat, lon]) * focal  # camera (x, y) of the true source
        return np.array([hillas.x.to_value(u.m), hillas.y.to_value(u.m)]) - source

    dataset.augmenter.draw = lambda _u: None
    plain = dataset[bright]
    reference = centroid_minus_source(plain)
    assert np.linalg.norm(reference) > 0.05  # a real lever arm, not a centred image
    for name in ("rot60", "rot120", "rot300"):
        dataset.augmenter.draw = lambda _u, op=ops[name]: op
        sample = dataset[bright]
        np.testing.assert_allclose(centroid_minus_source(sample), ops[name].matrix @ reference, atol=2e-3, err_msg=name)
        # the energy and class do not change; the impact turns about the telescope
        assert sample["targets"]["energy"] == plain["targets"]["energy"]
        assert sample["targets"]["particle"] == plain["targets"]["particle"]
        assert not np.allclose(sample["targets"]["impact"], plain["targets"]["impact"])


def test_a_hexagonal_camera_has_rotations_and_reflections() -> None:
    from ctapipe.instrument import CameraGeometry

    axial = np.array([(q, r) for q in range(-4, 5) for r in range(-4, 5) if abs(q + r) <= 4])
    x = 0.05 * (axial[:, 0] + axial[:, 1] / 2)
    y = 0.05 * axial[:, 1] * np.sqrt(3) / 2
    camera = CameraGeometry("hex61", np.arange(len(x)), x * u.m, y * u.m, np.full(len(x), 0.002) * u.m**2, pix_type="hexagon")
    ops = camera_symmetries(camera)
    assert sorted(ops) == sorted(["rot60", "rot120", "rot180", "rot240", "rot300", "flip0", "flip30", "flip60", "flip90", "flip120", "flip150"])
    for name, op in ops.items():
        # the pixel landing on j came from A^-1 x_j
        np.testing.assert_allclose(np.column_stack([x, y])[op.perm], np.column_stack([x, y]) @ op.matrix, atol=1e-9, err_msg=name)
        if name.startswith("flip"):
            np.testing.assert_array_equal(op.perm[op.perm], np.arange(len(x)))  # a reflection undoes itself


def test_the_impact_is_learnt_relative_to_the_telescope() -> None:
    """An image shows where the core is from its telescope, not where the telescope stands in the array: the same
    shower seen by telescopes 125 m apart has one target each, equal when the core is where it is from each; the
    decoded core is in array coordinates (ctapipe's GroundFrame)."""
    n = 2
    columns = {
        "true_shower_primary_id": np.zeros(n, int), "true_energy": np.ones(n), "true_alt": np.full(n, 70.0),
        "true_az": np.full(n, 180.0), "pointing_alt": np.full(n, 70.0), "pointing_az": np.full(n, 180.0),
        "camera_rotation": np.zeros(n), "camera_reflected": np.zeros(n, bool),
        "tel_pos_x": np.array([0.0, 125.0]), "tel_pos_y": np.array([0.0, -40.0]),
        "true_core_x": np.array([60.0, 185.0]), "true_core_y": np.array([30.0, -10.0]),  # 60 m north, 30 m west of each
    }
    targets, _ = encode_targets(columns)
    np.testing.assert_allclose(targets["impact"][0], targets["impact"][1], atol=1e-6)
    # on camera axes: x (up the sky, north seen from a telescope facing south) foreshortened by sin(alt), y west
    np.testing.assert_allclose(targets["impact"][0], [0.6 * np.sin(np.radians(70.0)), 0.3], atol=1e-6)
    decoded = decode_outputs({"impact": targets["impact"]}, {**columns, "event_id": np.arange(n)})
    np.testing.assert_allclose(decoded["reco_core_x"], columns["true_core_x"], atol=1e-4)
    np.testing.assert_allclose(decoded["reco_core_y"], columns["true_core_y"], atol=1e-4)


def test_averaged_views_of_an_equivariant_prediction_give_it_back() -> None:
    rng = np.random.default_rng(3)
    n = 50
    meta = {
        "tel_pos_x": rng.normal(0, 50, n), "tel_pos_y": rng.normal(0, 50, n),
        "pointing_alt": rng.uniform(60, 80, n), "pointing_az": rng.uniform(0, 360, n),
    }
    telescope = np.stack([meta["tel_pos_x"], meta["tel_pos_y"]], axis=1)
    direction = rng.normal(0, 1.0, (n, 2))
    core = telescope + rng.normal(0, 150, (n, 2))
    views = [None, SymmetryOp("rot120", _rotation(120), np.arange(3)), SymmetryOp("flip10", _reflection(10), np.arange(3))]
    outputs = []
    for view in views:
        matrix = np.eye(2) if view is None else view.matrix
        outputs.append({
            "direction": transform_direction(matrix, direction),
            "impact": turn_impact(matrix, impact_on_camera_axes(core - telescope, meta["pointing_alt"], meta["pointing_az"]))
                      / IMPACT_SCALE_M,
            "energy": rng.normal(0, 1, n),
            "particle": rng.normal(0, 2, (n, 2)),
        })
    merged = average_views(views, outputs)
    np.testing.assert_allclose(merged["direction"], direction, atol=1e-9)
    np.testing.assert_allclose(impact_on_ground(merged["impact"] * IMPACT_SCALE_M, meta["pointing_alt"], meta["pointing_az"]),
                               core - telescope, atol=1e-6)
    np.testing.assert_allclose(merged["energy"], np.mean([o["energy"] for o in outputs], axis=0))
    probabilities = [np.exp(o["particle"]) / np.exp(o["particle"]).sum(axis=1, keepdims=True) for o in outputs]
    np.testing.assert_allclose(np.exp(merged["particle"]), np.mean(probabilities, axis=0))


def _shower(pointing_az: float, core_offset: np.ndarray, camera_rotation: float = 0.0) -> dict[str, np.ndarray]:
    """One gamma seen by a telescope at (30, -20) m pointing at (70 deg, ``pointing_az``), from a source 0.4 deg
    above the pointing, landing at ``core_offset`` (north, west) [m] from the telescope."""
    one = np.ones(1)
    return {
        "true_shower_primary_id": np.zeros(1, int), "true_energy": one, "true_alt": 70.4 * one,
        "true_az": pointing_az * one, "pointing_alt": 70.0 * one, "pointing_az": pointing_az * one,
        "camera_rotation": camera_rotation * one, "camera_reflected": np.zeros(1, bool),
        "tel_pos_x": 30.0 * one, "tel_pos_y": -20.0 * one,
        "true_core_x": 30.0 + core_offset[:1], "true_core_y": -20.0 + core_offset[1:], "event_id": np.arange(1),
    }


@pytest.mark.parametrize("turn", [150.0, -90.0, 33.0])
def test_the_impact_target_is_what_the_image_shows_at_any_azimuth(turn: float) -> None:
    """The whole scene turned about the vertical (pointing, source and core): the image is the same, so must the
    target be (ground axes turned with the azimuth, which no image shows: cores 150 deg off at another azimuth);
    the decoded core turns with the scene."""
    core = np.array([120.0, -45.0])
    c, s_ = np.cos(np.radians(turn)), np.sin(np.radians(turn))
    # azimuth grows from north to east, ground y points west: turning the azimuth by `turn` turns (x, y) by -turn
    turned_core = np.array([c * core[0] + s_ * core[1], -s_ * core[0] + c * core[1]])
    here, there = _shower(180.0, core), _shower(180.0 + turn, turned_core)
    targets_here, targets_there = encode_targets(here)[0], encode_targets(there)[0]
    np.testing.assert_allclose(targets_there["impact"], targets_here["impact"], atol=1e-9)
    np.testing.assert_allclose(targets_there["direction"], targets_here["direction"], atol=1e-9)
    decoded = decode_outputs({"impact": targets_here["impact"]}, there)  # the prediction a network makes there
    np.testing.assert_allclose([decoded["reco_core_x"][0], decoded["reco_core_y"][0]], [30.0, -20.0] + turned_core, atol=1e-6)


def test_a_network_of_the_ground_encoding_is_decoded_as_it_was_trained() -> None:
    """Checkpoints before the camera-axes encoding predicted ground offsets turned by the camera map: decoded as
    such (:data:`LEGACY_IMPACT_AXES`), their own truth gives the true core back, in a rotated camera too."""
    shower = _shower(180.0, np.array([120.0, -45.0]), camera_rotation=40.0)
    matrices = camera_matrices(shower["camera_rotation"], shower["camera_reflected"])
    offset = np.array([[120.0, -45.0]])
    alt, az = shower["pointing_alt"], shower["pointing_az"]
    legacy = impact_on_ground(turn_impact(matrices, impact_on_camera_axes(offset, alt, az)), alt, az) / IMPACT_SCALE_M
    decoded = decode_outputs({"impact": legacy}, shower, LEGACY_IMPACT_AXES)
    np.testing.assert_allclose([decoded["reco_core_x"][0], decoded["reco_core_y"][0]], [150.0, -65.0], atol=1e-6)
    assert decode_outputs({"impact": legacy}, shower)["reco_core_x"][0] != pytest.approx(150.0, abs=1.0)
