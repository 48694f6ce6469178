"""Tests of the Hillas + random-forest baseline on toy LSTCam images with known truth.

The toy: a 2D Gaussian (ctapipe toymodel) whose centroid lies at ``disp = 2.5 * length`` from the
source along its major axis, with a peak-time gradient growing away from the source (as a real
gamma shower's), and ``log10(E)`` driving intensity and length. Protons are wider and point nowhere
in particular. The estimator has to learn all of that back.
"""

from __future__ import annotations

import pickle

import astropy.units as u
import numpy as np
import pytest
from ctapipe.coordinates import CameraFrame
from ctapipe.image.toymodel import Gaussian
from sklearn.metrics import roc_auc_score

from showerlearn.iact.baselines import HillasRandomForest, hillas_features
from showerlearn.iact.geometry import camera_to_fov, fov_to_camera
from showerlearn.iact.geometry import lst_camera
from showerlearn.registry import ESTIMATORS

FOCAL_LENGTH = 28 * u.m
SMALL_FORESTS = {"n_estimators": 30}  # keeps the tests fast; depth and leaves stay lstchain's


@pytest.fixture(scope="module")
def camera():
    return lst_camera()


def toy_events(camera, n: int, rng: np.random.Generator, proton_fraction: float = 0.0, noise: bool = True):
    """``(X, targets, masks)`` of ``n`` toy events in the engine's encoding."""
    pix = np.column_stack([camera.pix_x.to_value(u.m), camera.pix_y.to_value(u.m)])
    particle = (rng.random(n) < proton_fraction).astype(int)
    log_energy = rng.uniform(-1, 1, n)
    source = rng.uniform(-0.2, 0.2, (n, 2))
    angle = rng.uniform(0, 2 * np.pi, n)
    length = 0.05 + 0.03 * (log_energy + 1)
    width = np.where(particle == 1, rng.uniform(0.05, 0.08, n), 0.02 + 0.005 * (log_energy + 1))
    disp = np.where(particle == 1, rng.uniform(0.1, 0.4, n), 2.5 * length)
    axis = np.column_stack([np.cos(angle), np.sin(angle)])
    centroid = source + disp[:, None] * axis
    X = np.empty((n, 2, camera.n_pixels), dtype=np.float32)
    for i in range(n):
        model = Gaussian(centroid[i, 0] * u.m, centroid[i, 1] * u.m, length[i] * u.m, width[i] * u.m, angle[i] * u.rad)
        intensity = 300 * 10 ** log_energy[i]
        if noise:
            X[i, 0] = model.generate_image(camera, intensity=intensity, nsb_level_pe=2, rng=rng)[0]
        else:
            X[i, 0] = model.expected_signal(camera, intensity)
        # light from farther down the axis (away from the source) arrives later
        X[i, 1] = 10 + 15 * ((pix - source[i]) @ axis[i]) + (rng.normal(0, 0.3, camera.n_pixels) if noise else 0)
    core = 4 * disp[:, None] * axis  # (core_x, core_y) / 100 m
    targets = {
        "particle": particle,
        "energy": log_energy,
        "direction": camera_to_fov(source[:, 0], source[:, 1], FOCAL_LENGTH),
        "impact": core,
    }
    gamma = particle == 0
    masks = {"particle": np.ones(n, bool), "energy": gamma, "direction": gamma, "impact": gamma}
    return X, targets, masks


def angular_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.hypot(*(a - b).T)  # small field of view: the flat approximation is exact enough


def test_frame_conversion_follows_ctapipe_convention_and_inverts():
    x, y = np.array([0.1, 0.0, -0.3]), np.array([0.0, 0.2, 0.4])
    fov = camera_to_fov(x, y, FOCAL_LENGTH)
    # ctapipe's CameraFrame -> TelescopeFrame (equidistant optics): fov_lat = x / f, fov_lon = y / f
    np.testing.assert_allclose(fov[:, 0], np.rad2deg(y / 28.0), atol=1e-12)
    np.testing.assert_allclose(fov[:, 1], np.rad2deg(x / 28.0), atol=1e-12)
    back_x, back_y = fov_to_camera(fov, FOCAL_LENGTH)
    np.testing.assert_allclose(back_x, x, atol=1e-12)
    np.testing.assert_allclose(back_y, y, atol=1e-12)


def test_registered_and_built_like_the_engine(camera):
    from showerlearn.config.components import build
    from showerlearn.config.schema import Component

    injected = {
        "camera": camera, "focal_length": FOCAL_LENGTH, "lattice": object(), "in_channels": 2, "n_classes": 2, "seed": 7,
    }  # fmt: skip
    component = Component(name="hillas_rf", params={"n_jobs": 1, "energy_regressor_args": {"n_estimators": 10}})
    model = build(component, ESTIMATORS, "estimator", injected=injected)
    assert isinstance(model, HillasRandomForest)
    assert model.focal_length == FOCAL_LENGTH and model.seed == 7
    assert model.forest_args["energy"]["n_estimators"] == 10 and model.forest_args["energy"]["max_depth"] == 50
    assert model.forest_args["particle"]["n_estimators"] == 100 and model.forest_args["particle"]["max_depth"] == 100
    # scikit-learn estimators check their parameters in fit, not when built
    blank, energy = np.zeros((1, 2, camera.n_pixels), np.float32), {"energy": np.zeros(1)}
    with pytest.raises(ValueError, match="n_classes"):
        HillasRandomForest(camera=camera, n_classes=3).fit(blank, energy)
    with pytest.raises(ValueError, match="in_channels"):
        HillasRandomForest(camera=camera, in_channels=1).fit(blank, energy)
    with pytest.raises(ValueError, match="give focal_length"):
        HillasRandomForest(camera=camera).fit(blank, energy)  # showerlearn's LSTCam carries no frame


def test_joblib_round_trip_predicts_the_same(trained, tmp_path):
    import joblib

    model, (X, _, _), out = trained
    joblib.dump(model, tmp_path / "estimator.joblib")
    again = joblib.load(tmp_path / "estimator.joblib").predict(X)
    for key, value in out.items():
        np.testing.assert_array_equal(again[key], value, err_msg=key)


@pytest.fixture(scope="module")
def trained(camera):
    rng = np.random.default_rng(1)
    X, targets, masks = toy_events(camera, 900, rng, proton_fraction=0.35)
    model = HillasRandomForest(
        camera=camera,
        focal_length=FOCAL_LENGTH,
        energy_regressor_args=SMALL_FORESTS,
        disp_regressor_args=SMALL_FORESTS,
        disp_classifier_args=SMALL_FORESTS,
        particle_classifier_args=SMALL_FORESTS,
        impact_regressor_args=SMALL_FORESTS,
    )
    model.fit(X, targets, masks)
    test = toy_events(camera, 300, rng, proton_fraction=0.35)
    return model, test, model.predict(test[0])


def test_prediction_keys_shapes_and_encoding(trained):
    model, (X, targets, _), out = trained
    n = len(X)
    assert set(out) == {"particle", "energy", "direction", "impact", "hillas_valid", "hillas_intensity"}
    assert out["particle"].shape == (n, 2) and out["direction"].shape == (n, 2) and out["impact"].shape == (n, 2)
    assert out["energy"].shape == (n,) and out["hillas_valid"].dtype == bool
    for key in ("particle", "energy", "direction", "impact", "hillas_intensity"):
        assert np.isfinite(out[key]).all(), key
    # log-probabilities: softmax gives back probabilities summing to one
    np.testing.assert_allclose(np.exp(out["particle"]).sum(axis=1), 1, rtol=1e-5)
    np.testing.assert_array_equal(model.valid_, out["hillas_valid"])
    features = hillas_features(X[:, 0], X[:, 1], model.camera)
    np.testing.assert_allclose(out["hillas_intensity"], features["intensity"], rtol=1e-6)


def test_disp_energy_impact_and_gamma_hadron_are_learned(trained):
    _, (X, targets, masks), out = trained
    gamma = masks["direction"] & out["hillas_valid"] & (out["hillas_intensity"] > 100)
    theta = angular_distance(out["direction"][gamma], targets["direction"][gamma])
    # a random source within the +-0.2 m box would be ~0.3 deg off; DISP gets far closer
    assert np.quantile(theta, 0.68) < 0.04
    energy_error = out["energy"][gamma] - targets["energy"][gamma]
    assert np.std(energy_error) < 0.06  # the energy spread is 0.58 in log10
    impact_error = np.hypot(*(out["impact"][gamma] - targets["impact"][gamma]).T)
    assert np.median(impact_error) < 0.1 * np.median(np.hypot(*targets["impact"][gamma].T))
    valid = out["hillas_valid"]
    gammaness = np.exp(out["particle"][valid, 0])
    assert roc_auc_score(targets["particle"][valid] == 0, gammaness) > 0.98


def test_noise_free_ellipses_reconstruct_source(camera):
    rng = np.random.default_rng(2)
    X, targets, masks = toy_events(camera, 500, rng, noise=False)
    heads = {k: targets[k] for k in ("direction",)}
    model = HillasRandomForest(camera=camera, focal_length=FOCAL_LENGTH)
    model.fit(X, heads, {"direction": masks["direction"]})
    X_test, targets_test, _ = toy_events(camera, 150, rng, noise=False)
    out = model.predict(X_test)
    assert set(out) == {"direction", "hillas_valid", "hillas_intensity"}
    valid = out["hillas_valid"]  # the faintest toys leave no pixel above the picture threshold
    assert valid.mean() > 0.8
    theta = angular_distance(out["direction"][valid], targets_test["direction"][valid])
    assert np.quantile(theta, 0.68) < 0.02  # 0.02 deg = 1 cm on the camera, a quarter of a pixel


def test_empty_images_get_documented_fallback(trained):
    model, (X, _, _), _ = trained
    blank = np.zeros((3, 2, model.camera.n_pixels), dtype=np.float32)
    out = model.predict(np.concatenate([X[:2], blank]))
    np.testing.assert_array_equal(out["hillas_valid"], [True, True, False, False, False])
    assert np.exp(out["particle"][2:, 0]).max() < 1e-20  # gammaness 0
    np.testing.assert_allclose(out["energy"][2:], model.fallback_["energy"], rtol=1e-6)
    np.testing.assert_allclose(out["direction"][2:], np.broadcast_to(model.fallback_["direction"], (3, 2)), rtol=1e-6)
    assert (out["hillas_intensity"][2:] == 0).all()
    only_blank = model.predict(blank)
    assert not only_blank["hillas_valid"].any()
    np.testing.assert_array_equal(only_blank["impact"], out["impact"][2:])


def test_bad_inputs_raise_clear_errors(trained, camera):
    model, (X, targets, masks), _ = trained
    with pytest.raises(ValueError, match="shape"):
        model.predict(X[:, :, :100])
    with pytest.raises(ValueError, match="shape"):
        model.predict(X[:, :1])
    broken = X.copy()
    broken[4, 0, 7] = np.nan
    with pytest.raises(ValueError, match="NaN.*index 4"):
        model.predict(broken)
    fresh = HillasRandomForest(camera=camera, focal_length=FOCAL_LENGTH)
    with pytest.raises(RuntimeError, match="before fit"):
        fresh.predict(X)
    with pytest.raises(ValueError, match=r"targets\['energy'\]"):
        fresh.fit(X, {"energy": targets["energy"][:5]}, masks)
    with pytest.raises(KeyError, match="none of the heads"):
        fresh.fit(X, {"charge": targets["energy"]}, masks)
    gammas_only = {"particle": np.zeros(len(X), int)}
    with pytest.raises(ValueError, match="gammas and protons"):
        fresh.fit(X, gammas_only)


def test_a_misspelt_forest_argument_is_refused_before_any_feature(camera):
    """Used from Python (a grid search), as ``config validate`` does for a config: the key and the forest's own."""
    model = HillasRandomForest(camera=camera, focal_length=FOCAL_LENGTH, disp_classifier_args={"n_estimator": 3})
    with pytest.raises(ValueError, match=r"hillas_rf.disp_classifier_args.n_estimator: unknown key \(did you mean "
                                         r"'n_estimators'\?\); allowed keys here \(RandomForestClassifier arguments\)"):
        model.fit(np.zeros((2, 2, camera.n_pixels), np.float32), np.array([0, 1]))


def test_a_scikit_learn_classifier_of_particle_classes(camera):
    """Parameters stored unchanged, ``clone`` an unfitted copy that refits to the same predictions, and
    ``fit(X, y)`` with particle classes trains the gamma/hadron forest alone, answering in labels."""
    from sklearn.base import clone, is_classifier

    rng = np.random.default_rng(3)
    X, targets, _ = toy_events(camera, 240, rng, proton_fraction=0.4)
    X_test = toy_events(camera, 60, rng, proton_fraction=0.4)[0]
    model = HillasRandomForest(camera=camera, focal_length=FOCAL_LENGTH, particle_classifier_args=SMALL_FORESTS, seed=5)
    params = model.get_params()
    assert params["camera"] is camera and params["particle_classifier_args"] is SMALL_FORESTS and params["seed"] == 5
    rebuilt = HillasRandomForest(**params).get_params()
    assert rebuilt.keys() == params.keys() and all(rebuilt[key] is value for key, value in params.items())

    model.fit(X, targets["particle"])
    assert is_classifier(model) and model.heads_ == ("particle",)
    proba, labels = model.predict_proba(X_test), model.predict(X_test)
    assert proba.shape == (60, 2) and set(np.unique(labels)) <= {0, 1}
    np.testing.assert_array_equal(labels, np.argmax(proba, axis=1))
    copy = clone(model)
    assert not hasattr(copy, "heads_") and copy.get_params()["seed"] == 5
    np.testing.assert_array_equal(copy.fit(X, targets["particle"]).predict_proba(X_test), proba)
    with pytest.raises(TypeError, match="masks go with targets per head"):
        copy.fit(X, targets["particle"], {"particle": np.ones(len(X), bool)})
    # an unfitted copy pickled (what joblib hands to worker processes) keeps its camera's focal length
    framed = lst_camera()
    framed.frame = CameraFrame(focal_length=FOCAL_LENGTH)  # as a camera read from a file comes
    unfitted = pickle.loads(pickle.dumps(HillasRandomForest(camera=framed)))
    assert unfitted.camera.frame is not None
    assert u.isclose(unfitted.camera.frame.focal_length, framed.frame.focal_length)


def test_a_forest_fitted_before_the_camera_axes_impact_leaves_the_core_out(trained, caplog):
    """An estimator file of an earlier version learnt the impact as ground offsets, which this version would decode
    as camera axes: its impact head is dropped (NaN cores) with a warning; the other heads predict as before."""
    model, (X, _, _), out = trained
    state = model.__getstate__()
    assert state["impact_axes_"] == "camera"
    del state["impact_axes_"]
    earlier = HillasRandomForest.__new__(HillasRandomForest)
    with caplog.at_level("WARNING"):
        earlier.__setstate__(state)
    assert "cores are left out" in caplog.text and "impact" not in earlier.heads_
    again = earlier.predict(X)
    assert "impact" not in again
    np.testing.assert_array_equal(again["energy"], out["energy"])
