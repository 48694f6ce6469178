"""IACT simulator: config validation, numerics against ctapipe, determinism, the DL1 file format."""

from __future__ import annotations

import json

import astropy.units as u
import numpy as np
import pydantic
import pytest
import tables
from astropy.coordinates import AltAz, SkyCoord
from ctapipe.coordinates import CameraFrame, TelescopeFrame
from ctapipe.image import tailcuts_clean
from ctapipe.image.toymodel import RingGaussian, SkewedGaussian
from ctapipe.io import DataLevel, EventSource, TableLoader

from showerlearn.iact.simulation import IACTSimulationConfig, simulate_iact, simulate_iact_arrays
from showerlearn.iact.simulation import dl1 as dl1_module
from showerlearn.iact.simulation import showers as iact
from showerlearn.iact.simulation.camera import batched_tailcuts, max_patch_sum, simulated_camera
from showerlearn.iact.simulation.showers import (
    _power_law,
    _ring_density,
    altaz_to_telescope,
    skewed_gaussian_density,
    telescope_to_altaz,
)

SMALL = dict(chunk_size=40, proton_fraction=0.5)


def test_config_rejects_unknown_fields_and_bad_ranges() -> None:
    with pytest.raises(pydantic.ValidationError, match="extra"):
        IACTSimulationConfig(n_event=10)
    with pytest.raises(pydantic.ValidationError, match="gamma_energy_min_tev"):
        IACTSimulationConfig(gamma_energy_min_tev=5.0, gamma_energy_max_tev=1.0)
    with pytest.raises(pydantic.ValidationError):
        IACTSimulationConfig(proton_fraction=1.5)
    for field in ("proton_xmax_shift_gcm2", "electronic_noise_pe"):  # NaN passes every range check
        with pytest.raises(pydantic.ValidationError, match=f"(?s){field}.*finite number"):
            IACTSimulationConfig(**{field: float("nan")})
        with pytest.raises(pydantic.ValidationError, match=f"(?s){field}.*finite number"):
            IACTSimulationConfig(**{field: float("inf")})
    # every field documented
    assert all(field.description for field in IACTSimulationConfig.model_fields.values())


def test_telescope_frame_matches_ctapipe() -> None:
    rng = np.random.default_rng(0)
    lon, lat = rng.uniform(-5, 5, 50), rng.uniform(-5, 5, 50)
    alt, az = telescope_to_altaz(lon, lat, 70.0, 180.0)
    pointing = SkyCoord(alt=70 * u.deg, az=180 * u.deg, frame=AltAz())
    reference = SkyCoord(fov_lon=lon * u.deg, fov_lat=lat * u.deg, frame=TelescopeFrame(telescope_pointing=pointing))
    reference = reference.transform_to(AltAz())
    np.testing.assert_allclose(alt, reference.alt.deg, atol=1e-9)
    np.testing.assert_allclose(az, reference.az.deg, atol=1e-9)
    back_lon, back_lat = altaz_to_telescope(alt, az, 70.0, 180.0)
    np.testing.assert_allclose(back_lon, lon, atol=1e-9)
    np.testing.assert_allclose(back_lat, lat, atol=1e-9)


def test_camera_pixels_on_sky_use_the_written_focal_length() -> None:
    camera = simulated_camera()
    assert camera.n_pixels == 1855
    geometry = camera.geometry
    frame = CameraFrame(focal_length=28 * u.m)
    sky = SkyCoord(x=geometry.pix_x, y=geometry.pix_y, frame=frame).transform_to(TelescopeFrame())
    np.testing.assert_allclose(camera.fov_lon, sky.fov_lon.deg, atol=1e-9)
    np.testing.assert_allclose(camera.fov_lat, sky.fov_lat.deg, atol=1e-9)
    # LST: ~0.1 deg pixels, ~4.5 deg field of view
    assert 0.09 < np.sqrt(camera.pix_area.mean()) < 0.11
    assert 2.2 < camera.radius_deg < 2.6


def test_skewed_gaussian_matches_ctapipe_toymodel() -> None:
    camera = simulated_camera()
    geometry_sky = camera.geometry.transform_to(TelescopeFrame())
    params = [(0.5, -0.3, 0.4, 0.3, 0.08, 0.4), (-1.0, 0.8, -2.0, 0.2, 0.05, 0.0), (0.0, 0.0, 1.0, 0.5, 0.1, 0.7)]
    cog_lon, cog_lat, psi, length, width, skew = (np.array(column) for column in zip(*params, strict=True))
    ours = skewed_gaussian_density(camera.fov_lon, camera.fov_lat, cog_lon, cog_lat, psi, length, width, skew)
    for row, (x, y, angle, ell, w, s) in enumerate(params):
        model = SkewedGaussian(
            x=x * u.deg, y=y * u.deg, length=ell * u.deg, width=w * u.deg, psi=angle * u.rad, skewness=s
        )
        reference = model.expected_signal(geometry_sky, intensity=1000.0)
        np.testing.assert_allclose(ours[row] * camera.pix_area * 1000.0, reference, rtol=1e-6, atol=1e-3)


def test_muon_ring_azimuth_profile_matches_ctapipe_and_is_normalised() -> None:
    step = 0.01
    grid = np.arange(-2.5, 2.5, step)
    x, y = (value.ravel() for value in np.meshgrid(grid, grid))
    for rho in (0.0, 0.6, 1.3):
        ours = _ring_density(x, y, np.zeros(1), np.zeros(1), np.ones(1), 0.05, np.full(1, rho), np.zeros(1))[0]
        assert ours.sum() * step**2 == pytest.approx(1.0, abs=0.01)
        # ctapipe's RingGaussian pdf has the same azimuthal profile, without the 1/r of a 2-D density
        reference = RingGaussian(x=0 * u.deg, y=0 * u.deg, radius=1 * u.deg, sigma=0.05 * u.deg, rho=rho).pdf(
            x * u.deg, y * u.deg
        )
        r = np.hypot(x, y)
        on_ring = (np.abs(r - 1) < 0.05) & (reference > 1e-3 * reference.max())
        ratio = ours[on_ring] * r[on_ring] / reference[on_ring]
        assert np.ptp(ratio) / ratio.mean() < 1e-6


def test_batched_tailcuts_matches_ctapipe() -> None:
    camera = simulated_camera()
    rng = np.random.default_rng(1)
    images = rng.exponential(2.0, (20, camera.n_pixels)) * (rng.random((20, camera.n_pixels)) < 0.3) * 5
    masks = batched_tailcuts(images, camera.neighbors, 8.0, 4.0, 2)
    for image, mask in zip(images, masks, strict=True):
        expected = tailcuts_clean(camera.geometry, image, 8.0, 4.0, min_number_picture_neighbors=2)
        np.testing.assert_array_equal(mask, expected)


def test_power_law_index_is_recovered() -> None:
    energy = _power_law(np.random.default_rng(2), -2.7, 0.05, 50.0, 200_000)
    assert energy.min() >= 0.05 and energy.max() <= 50.0
    # maximum-likelihood index of a power law truncated far above the bulk
    index = -1 - 1 / np.mean(np.log(energy / 0.05))
    assert index == pytest.approx(-2.7, abs=0.03)


def test_showers_the_camera_cannot_trigger_on_end_in_an_error_not_a_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(iact, "MAX_THROWN_PER_EVENT", 50)
    config = IACTSimulationConfig(**{**SMALL, "trigger_threshold_pe": 1e9, "proton_fraction": 0.0})
    with pytest.raises(ValueError, match=r"gamma: 0 of 2 showers triggered in [\d,]+ thrown, fewer than 1 in 50"):
        simulate_iact_arrays(config, seed=3, n_events=2)


def test_arrays_are_deterministic_and_complete() -> None:
    config = IACTSimulationConfig(**SMALL)
    first = simulate_iact_arrays(config, seed=3, n_events=90)
    second = simulate_iact_arrays(config, seed=3, n_events=90)
    other = simulate_iact_arrays(config, seed=4, n_events=90)
    for key, value in first.items():
        np.testing.assert_array_equal(value, second[key], err_msg=key)
    assert not np.array_equal(first["true_energy"], other["true_energy"])
    assert first["image"].shape == (90, 1855) and first["image"].dtype == np.float32
    assert first["true_image"].dtype == np.int32 and first["true_image"].min() >= 0
    np.testing.assert_array_equal(first["event_id"], np.arange(1, 91))
    assert set(np.unique(first["true_shower_primary_id"])) == {0, 101}
    np.testing.assert_array_equal(first["signal_mask"], first["true_image"] >= 1)
    camera = simulated_camera()
    # the trigger (naive loop over 7-pixel patches): every kept event has a bright enough patch
    for image in first["true_image"][:10]:
        patches = (image[[pixel, *camera.geometry.neighbors[pixel]]].sum() for pixel in range(1855))
        assert max(patches) >= config.trigger_threshold_pe
    for key in ("image", "peak_time", "true_energy", "true_core_x", "true_x_max"):
        assert np.isfinite(first[key]).all(), key


def test_without_noise_the_image_is_the_true_image() -> None:
    config = IACTSimulationConfig(
        nsb_rate_pe_per_ns=0.0, single_pe_resolution=0.0, electronic_noise_pe=0.0, image_mask="true_signal", **SMALL
    )
    arrays = simulate_iact_arrays(config, seed=5, n_events=30)
    np.testing.assert_array_equal(arrays["image"], arrays["true_image"].astype(np.float32))
    np.testing.assert_array_equal(arrays["image_mask"], arrays["signal_mask"])


def test_file_is_ctapipe_dl1_and_matches_the_arrays(tmp_path) -> None:
    config = IACTSimulationConfig(n_events=70, **SMALL)
    path = simulate_iact(config, tmp_path / "sim.dl1.h5", seed=7)
    arrays = simulate_iact_arrays(config, seed=7, n_events=70)
    with TableLoader(path, dl1_images=True, simulated=True, true_images=True, pointing=True) as loader:
        events = loader.read_telescope_events([1])
        assert loader.subarray.tel[1].camera.geometry.n_pixels == 1855
        assert loader.subarray.tel[1].optics.equivalent_focal_length.to_value(u.m) == pytest.approx(28.0)
        assert loader.subarray.tel[1].optics.effective_focal_length.to_value(u.m) == pytest.approx(28.0)
        run = loader.read_simulation_configuration()
    assert len(events) == 70
    np.testing.assert_array_equal(events["event_id"], arrays["event_id"])
    np.testing.assert_array_equal(events["image"], arrays["image"])
    np.testing.assert_array_equal(events["peak_time"], arrays["peak_time"])
    np.testing.assert_array_equal(events["image_mask"], arrays["image_mask"])
    np.testing.assert_array_equal(events["true_image"], arrays["true_image"])
    np.testing.assert_array_equal(events["true_shower_primary_id"], arrays["true_shower_primary_id"])
    for name, unit in (("true_energy", u.TeV), ("true_alt", u.deg), ("true_az", u.deg), ("true_core_x", u.m),
                       ("true_core_y", u.m), ("true_impact_distance", u.m), ("true_h_first_int", u.m)):
        assert events[name].unit == unit, name
        np.testing.assert_allclose(u.Quantity(events[name]).to_value(unit), arrays[name], err_msg=name)
    np.testing.assert_allclose(u.Quantity(events["telescope_pointing_altitude"]).to_value(u.deg), 70.0, rtol=1e-6)
    np.testing.assert_allclose(u.Quantity(events["telescope_pointing_azimuth"]).to_value(u.deg), 180.0, rtol=1e-6)
    assert u.Quantity(run["energy_range_min"]).to_value(u.TeV)[0] == pytest.approx(0.02, rel=1e-6)
    assert run["n_showers"][0] >= np.sum(arrays["true_shower_primary_id"] == 0)
    # ctapipe's event-wise reader too (it maps columns to container fields by their metadata)
    with EventSource(path, max_events=3) as source:
        assert source.is_simulation and DataLevel.DL1_IMAGES in source.datalevels
        for row, event in enumerate(source):
            assert event.index.event_id == arrays["event_id"][row]
            np.testing.assert_array_equal(event.dl1.tel[1].image, arrays["image"][row])
            np.testing.assert_array_equal(event.simulation.tel[1].true_image, arrays["true_image"][row])
            assert event.simulation.shower.energy.to_value(u.TeV) == pytest.approx(arrays["true_energy"][row])
            assert event.monitoring.tel[1].pointing.altitude.to_value(u.deg) == pytest.approx(70.0)
    with tables.open_file(path) as h5:
        assert h5.root._v_attrs["CTA PRODUCT DATA MODEL VERSION"] == "v7.1.0"
        attrs = h5.get_node("/configuration/simulation/run").attrs
        assert IACTSimulationConfig.model_validate(json.loads(attrs["showerlearn_config"])) == config
        assert h5.get_node("/dl1/event/telescope/images/tel_001").filters.complib == "blosc:lz4"


def test_file_does_not_depend_on_the_number_of_workers(tmp_path) -> None:
    config = IACTSimulationConfig(n_events=100, **SMALL)
    serial = simulate_iact(config, tmp_path / "serial.h5", seed=11, n_jobs=1)
    parallel = simulate_iact(config, tmp_path / "parallel.h5", seed=11, n_jobs=2)
    with tables.open_file(serial) as a, tables.open_file(parallel) as b:
        for key in ("/dl1/event/telescope/images/tel_001", "/simulation/event/subarray/shower",
                    "/simulation/event/telescope/images/tel_001", "/configuration/simulation/run"):
            assert a.get_node(key).read().tobytes() == b.get_node(key).read().tobytes(), key  # NaN-safe


def test_interrupted_simulation_leaves_no_file(tmp_path, monkeypatch) -> None:
    calls = {"n": 0}
    original = dl1_module.simulate_chunk

    def failing_chunk(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("killed")
        return original(*args, **kwargs)

    monkeypatch.setattr(dl1_module, "simulate_chunk", failing_chunk)
    with pytest.raises(RuntimeError, match="killed"):
        simulate_iact(IACTSimulationConfig(n_events=80, **SMALL), tmp_path / "sim.h5", seed=1)
    assert list(tmp_path.iterdir()) == []


def test_an_output_created_while_simulating_is_kept_without_overwrite(tmp_path, monkeypatch) -> None:
    output = tmp_path / "sim.h5"
    original = dl1_module.simulate_chunk

    def someone_writes_the_output_meanwhile(*args, **kwargs):
        output.write_text("another process's file")
        return original(*args, **kwargs)

    monkeypatch.setattr(dl1_module, "simulate_chunk", someone_writes_the_output_meanwhile)
    with pytest.raises(FileExistsError, match=r"sim\.h5: exists \(created while this file was being written\)"):
        simulate_iact(IACTSimulationConfig(n_events=5, **SMALL), output, seed=1, overwrite=False)
    assert output.read_text() == "another process's file" and [path.name for path in tmp_path.iterdir()] == ["sim.h5"]


def test_bad_n_jobs_and_seeds_are_rejected(tmp_path) -> None:
    with pytest.raises(ValueError, match="n_jobs"):
        simulate_iact(IACTSimulationConfig(n_events=5), tmp_path / "sim.h5", seed=1, n_jobs=0)
    with pytest.raises(ValueError, match="seed must be in 0"):
        simulate_iact(IACTSimulationConfig(n_events=5), tmp_path / "sim.h5", seed=-1)


@pytest.mark.parametrize("particle", ["gamma", "proton"])
def test_pre_trigger_rejects_only_showers_that_would_not_trigger(particle) -> None:
    config = IACTSimulationConfig()
    camera = simulated_camera()
    rng = np.random.default_rng(9)
    showers = iact._draw_showers(rng, config, particle, 60_000)
    if particle == "proton":
        showers.update(iact._draw_subshowers(rng, config, showers))
    rejected = np.setdiff1d(np.arange(showers["psi"].size), iact._preselect(showers, camera, config))
    # the hardest rejected cases: the brightest ones whose centroid is near or inside the camera
    near = rejected[np.hypot(showers["cog_lon"][rejected], showers["cog_lat"][rejected]) < camera.radius_deg + 1.0]
    hardest = near[np.argsort(showers["intensity"][near])[-400:]]
    block = {key: value[hardest] for key, value in showers.items()}
    expected, _ = iact._render(block, camera, config)
    patch = max_patch_sum(rng.poisson(expected), camera.patches)
    assert np.mean(patch >= config.trigger_threshold_pe) < 0.01
