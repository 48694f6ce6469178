"""Tests of the Hillas feature extraction against ctapipe's own DL1 processing and real DL1 files."""

from __future__ import annotations

from pathlib import Path

import astropy.units as u
import numpy as np
import pytest
import tables
from ctapipe.containers import ArrayEventContainer, DL1CameraContainer
from ctapipe.image import ImageProcessor, apply_time_delta_cleaning, tailcuts_clean
from ctapipe.image.toymodel import Gaussian
from traitlets.config import Config

from showerlearn.iact.baselines import FEATURE_NAMES, LSTCHAIN_CLEANING, hillas_features
from showerlearn.iact.baselines.features import reset_fit_rng
from showerlearn.iact.data.transforms import CleaningConfig, clean_image, clean_images
from showerlearn.iact.geometry import read_camera_geometry


@pytest.fixture(scope="module")
def subarray():
    # the LST reader's own subarray (the `lst` extra, which `make test` installs)
    lst = pytest.importorskip("ctapipe_io_lst", reason="the lst extra: pip install 'showerlearn[lst]'")
    return lst.LSTEventSource.create_subarray(tel_id=1)


@pytest.fixture(scope="module")
def camera(subarray):
    return subarray.tel[1].camera.geometry


def toy_images(camera, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    pix_x = camera.pix_x.to_value(u.m)
    images, times = [], []
    for _ in range(n):
        x, y = rng.uniform(-0.6, 0.6, 2)
        model = Gaussian(x * u.m, y * u.m, rng.uniform(0.08, 0.2) * u.m, rng.uniform(0.02, 0.06) * u.m, rng.uniform(0, 180) * u.deg)
        images.append(model.generate_image(camera, intensity=rng.uniform(80, 3000), nsb_level_pe=3, rng=rng)[0])
        times.append(12 + 8 * pix_x + rng.normal(0, 1, camera.n_pixels))
    return np.array(images, dtype=np.float32), np.array(times, dtype=np.float32)


def lstchain(**changes: float | None) -> CleaningConfig:
    """lstchain's standard cleaning with some settings changed."""
    return CleaningConfig(**{**LSTCHAIN_CLEANING.model_dump(exclude={"as_"}), **changes})


def test_matches_ctapipe_image_processor(subarray, camera):
    """With lstchain's extra cleaning steps off, the features are ctapipe's own DL1 parameters."""
    images, times = toy_images(camera, 6, seed=0)
    images[5] = 0.5  # nothing survives cleaning
    ours = hillas_features(images, times, camera, lstchain(delta_time=None, dynamic_threshold=None))
    config = Config(
        {
            "TailcutsImageCleaner": {
                "picture_threshold_pe": 6.0,
                "boundary_threshold_pe": 3.0,
                "min_picture_neighbors": 2,
                "keep_isolated_pixels": False,
            }
        }
    )
    processor = ImageProcessor(subarray=subarray, use_telescope_frame=False, config=config)
    for i, (image, time) in enumerate(zip(images, times, strict=True)):
        event = ArrayEventContainer()
        event.dl1.tel[1] = DL1CameraContainer(image=image, peak_time=time)
        reset_fit_rng()  # the robust timing fit draws from ctapipe's global RNG; start both from one state
        processor(event)
        dl1 = event.dl1.tel[1]
        p = dl1.parameters
        assert ours["n_pixels"][i] == dl1.image_mask.sum()
        if i == 5:
            assert not ours["is_valid"][i] and ours["intensity"][i] == 0
            continue
        assert ours["is_valid"][i]
        expected = {
            "intensity": p.hillas.intensity,
            "x": p.hillas.x.to_value(u.m),
            "y": p.hillas.y.to_value(u.m),
            "r": p.hillas.r.to_value(u.m),
            "phi": p.hillas.phi.to_value(u.rad),
            "psi": p.hillas.psi.to_value(u.rad),
            "length": p.hillas.length.to_value(u.m),
            "width": p.hillas.width.to_value(u.m),
            "skewness": p.hillas.skewness,
            "kurtosis": p.hillas.kurtosis,
            "time_gradient": p.timing.slope.to_value(1 / u.m),
            "intercept": p.timing.intercept,
            "leakage_intensity_width_2": p.leakage.intensity_width_2,
            "leakage_pixels_width_1": p.leakage.pixels_width_1,
            "concentration_cog": p.concentration.cog,
            "concentration_core": p.concentration.core,
            "concentration_pixel": p.concentration.pixel,
            "n_islands": p.morphology.n_islands,
        }
        for name, value in expected.items():
            assert ours[name][i] == pytest.approx(value, rel=1e-5, abs=1e-7), name
        assert ours["log_intensity"][i] == pytest.approx(np.log10(p.hillas.intensity), rel=1e-6)
        assert ours["wl"][i] == pytest.approx(p.hillas.width / p.hillas.length, rel=1e-5)


def test_time_delta_and_dynamic_cleaning(camera):
    neighbours = camera.neighbors[0]
    image = np.zeros(camera.n_pixels)
    image[[0, *neighbours]] = 20.0
    late = neighbours[0]
    # the late pixel is 5 ns after its cleaned neighbours; its uncleaned (empty) neighbours share its
    # time but must not count as time neighbours
    times = np.full(camera.n_pixels, 15.0)
    times[[0, *neighbours[1:]]] = 10.0
    base = lstchain(delta_time=None, dynamic_threshold=None)
    assert clean_image(camera, image, times, base).sum() == 7
    timed = clean_image(camera, image, times, lstchain(delta_time=2.0, dynamic_threshold=None))
    assert timed.sum() == 6 and not timed[late]
    # dynamic cleaning: 3 brightest average 1000 p.e. >= 267, so pixels below 3 % of it (30 p.e.) go
    bright = image.copy()
    bright[[0, neighbours[1], neighbours[2]]] = 1000.0
    dynamic = clean_image(camera, bright, times, lstchain(delta_time=None))
    np.testing.assert_array_equal(np.flatnonzero(dynamic), np.sort([0, neighbours[1], neighbours[2]]))
    # below the dynamic threshold nothing changes
    assert clean_image(camera, image, times, lstchain(delta_time=None)).sum() == 7


def _ctapipe_cleaning(camera, image: np.ndarray, times: np.ndarray, config: CleaningConfig) -> np.ndarray:
    """The reference, image by image: ctapipe's functions, then lstchain's dynamic cleaning as lstchain writes it."""
    mask = tailcuts_clean(camera, image, picture_thresh=config.picture_thresh, boundary_thresh=config.boundary_thresh,
                          keep_isolated_pixels=config.keep_isolated_pixels,
                          min_number_picture_neighbors=config.min_number_picture_neighbors)
    if config.delta_time is not None and mask.any():
        mask = apply_time_delta_cleaning(camera, mask, times, min_number_neighbors=1, time_limit=config.delta_time)
    if config.dynamic_threshold is not None and mask.any():
        brightest = np.mean(np.sort(image)[-3:])
        if brightest >= config.dynamic_threshold:
            mask = mask & (image >= config.dynamic_fraction * brightest)
    return mask


@pytest.mark.parametrize("changes", [
    {}, {"dynamic_threshold": 300.0}, {"delta_time": None, "dynamic_threshold": None},
    {"keep_isolated_pixels": True}, {"min_number_picture_neighbors": 0}, {"min_number_picture_neighbors": 3, "delta_time": 1.0},
])
def test_batch_cleaning_equals_ctapipe_image_by_image(camera, changes):
    images, times = toy_images(camera, 40, seed=3)
    times[::3] += np.random.default_rng(4).normal(0, 3, (len(times[::3]), camera.n_pixels)).astype(np.float32)  # ragged times
    images[5] = 0.0  # an empty image
    config = lstchain(**changes)
    masks = clean_images(camera, images, times, config)
    expected = np.array([_ctapipe_cleaning(camera, i, t, config) for i, t in zip(images, times, strict=True)])
    np.testing.assert_array_equal(masks, expected)
    assert expected.any(axis=1).sum() > 30 and not expected[5].any()


def _dl1_images(path: Path):
    """Yield (camera, images, peak_times, masks, stored parameters) per LST telescope of a DL1 file."""
    with tables.open_file(path) as h5:
        for node in h5.root.dl1.event.telescope.images:
            tel_id = int(node.name.split("_")[1])
            images = node.read()
            parameters = h5.get_node(f"/dl1/event/telescope/parameters/{node.name}").read()
            yield read_camera_geometry(path, tel_id), images["image"], images["peak_time"], images["image_mask"], parameters


DL1_FILES = ("gamma_prod6_tel_event_header_v4.lst.dl1.h5", "lst_with_photons.lst.dl1.h5", "gamma_test.lst.dl1.h5")


@pytest.mark.parametrize("name", DL1_FILES)
def test_reproduces_parameters_stored_by_ctapipe_process(shared_data, name):
    """ctapipe 0.32 parameterised these images in the telescope frame (deg): compare frame-free quantities."""
    compared = 0
    for camera, images, times, masks, stored in _dl1_images(shared_data / "iact/dl1_ctapipe" / name):
        ours = hillas_features(images, times, camera, masks=masks)
        for i in np.flatnonzero(masks.sum(axis=1) >= 3):
            compared += 1
            for name_ours, name_stored in [
                ("intensity", "hillas_intensity"),
                ("kurtosis", "hillas_kurtosis"),
                ("leakage_pixels_width_1", "leakage_pixels_width_1"),
                ("leakage_pixels_width_2", "leakage_pixels_width_2"),
                ("leakage_intensity_width_1", "leakage_intensity_width_1"),
                ("leakage_intensity_width_2", "leakage_intensity_width_2"),
                ("concentration_cog", "concentration_cog"),
                ("concentration_core", "concentration_core"),
                ("concentration_pixel", "concentration_pixel"),
                ("n_pixels", "morphology_n_pixels"),
                ("n_islands", "morphology_n_islands"),
            ]:
                assert ours[name_ours][i] == pytest.approx(stored[name_stored][i], rel=1e-3, abs=1e-6), name_ours
            assert abs(ours["skewness"][i]) == pytest.approx(abs(stored["hillas_skewness"][i]), rel=1e-3)
            # metres on the camera -> degrees: one common scale, the inverse focal length (28-29.3 m)
            scale = stored["hillas_length"][i] / ours["length"][i]
            assert stored["hillas_width"][i] / ours["width"][i] == pytest.approx(scale, rel=1e-3)
            assert np.rad2deg(1 / 29.4) < scale < np.rad2deg(1 / 27.9)
            if masks[i].sum() >= 20:
                # the robust (least-trimmed-squares) timing fit starts from random samples: on a handful
                # of pixels its result depends on the RNG history of the process that wrote the file
                assert abs(stored["timing_slope"][i]) == pytest.approx(abs(ours["time_gradient"][i]) / scale, rel=1e-3)
    assert compared > 0


def test_real_gamma_images_give_finite_features(shared_data):
    """Our own cleaning on real LST gamma images: bright images are parameterised, all columns finite."""
    n_bright = 0
    for name in DL1_FILES:
        for camera, images, times, _, stored in _dl1_images(shared_data / "iact/dl1_ctapipe" / name):
            ours = hillas_features(images, times, camera)
            bright = np.nan_to_num(stored["hillas_intensity"]) > 100
            n_bright += bright.sum()
            assert ours["is_valid"][bright].all()
            for column in FEATURE_NAMES:
                assert np.isfinite(ours[column][ours["is_valid"]]).all(), column
            assert (ours["width"][bright] < ours["length"][bright]).all()
    assert n_bright >= 2


@pytest.mark.slow
def test_parallel_extraction_equals_serial(camera):
    images, times = toy_images(camera, 8, seed=3)
    serial = hillas_features(images, times, camera)
    parallel = hillas_features(images, times, camera, n_jobs=2)
    for name in (*FEATURE_NAMES, "is_valid"):
        np.testing.assert_array_equal(serial[name], parallel[name], err_msg=name)


def test_bad_inputs_raise(camera):
    images, times = toy_images(camera, 2, seed=4)
    with pytest.raises(ValueError, match=r"images must have shape \(n_events, 1855\)"):
        hillas_features(images[:, :100], times[:, :100], camera)
    with pytest.raises(ValueError, match="peak_times has shape"):
        hillas_features(images, times[:1], camera)
    with pytest.raises(ValueError, match="masks has shape"):
        hillas_features(images, times, camera, masks=np.ones((2, 5), bool))
    broken = images.copy()
    broken[1, 3] = np.inf
    with pytest.raises(ValueError, match="images contains NaN or inf in 1 event.*index 1"):
        hillas_features(broken, times, camera)
    with pytest.raises(ValueError, match="boundary_thresh"):
        CleaningConfig(picture_thresh=3, boundary_thresh=6)
    with pytest.raises(ValueError, match="delta_time"):
        lstchain(delta_time=0)


def test_features_do_not_depend_on_how_the_images_are_chunked(camera, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    """The images go in chunks (a bar advances per chunk): chunks of 3 give what one chunk gives, and the bar is
    drawn only where the engine asks for bars (``work_bars``)."""
    from showerlearn.iact.baselines import features
    from showerlearn.progress import work_bars

    images, times = toy_images(camera, 8, seed=5)
    whole = hillas_features(images, times, camera)
    monkeypatch.setattr(features, "CHUNK_IMAGES", 3)
    assert "Hillas parameters" not in capsys.readouterr().err
    with work_bars():
        chunked = hillas_features(images, times, camera)
    err = capsys.readouterr().err
    assert "Hillas parameters" in err and "8/8" in err
    for name in (*FEATURE_NAMES, "is_valid"):
        np.testing.assert_array_equal(chunked[name], whole[name], err_msg=name)
