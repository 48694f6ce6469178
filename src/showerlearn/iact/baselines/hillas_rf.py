"""The standard single-telescope IACT baseline: Hillas parameters + random forests, as in lstchain.

Training follows lstchain's ``build_models`` with ``disp_method = "disp_norm_sign"``:

1. every image is cleaned and parameterised (:func:`showerlearn.iact.baselines.hillas_features`);
2. on gammas only: a regressor of log10(E), a regressor of |disp| (distance centroid -> source on the
   camera) and a classifier of the disp sign (on which side of the centroid, along the major axis,
   the source lies);
3. gamma/hadron: the gammas are split (80/20 by default); regressors trained on the larger part
   reconstruct energy and disp for the smaller part and for all protons, and the classifier is
   trained on those, so its ``log_reco_energy`` / ``reco_disp_*`` features carry realistic errors;
4. impact (not part of lstchain's mono analysis, which has no core estimate): a regressor of the
   core position from image features plus the reconstructed disp vector. Its training rows use the
   out-of-bag disp predictions of the disp forests, so it too sees realistic reconstruction errors.
   The core is learnt relative to the telescope (the targets' convention), so it transfers to telescopes at
   other positions of the array; it only transfers to data with the training set's pointing.

Events whose cleaned image cannot be parameterised get a defined fallback (gammaness 0, the training
mean for the regressions) and ``hillas_valid = False``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import astropy.units as u
import numpy as np
from ctapipe.coordinates import CameraFrame
from ctapipe.instrument import CameraGeometry
from scipy.sparse import csr_array
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
from sklearn.model_selection import train_test_split

from showerlearn.baselines.base import MultiHeadClassifier, log_probabilities, unknown_arguments
from showerlearn.iact.baselines.features import hillas_features
from showerlearn.iact.data.targets import IMPACT_AXES, PASSTHROUGH_OUTPUTS
from showerlearn.iact.data.transforms import CleaningConfig
from showerlearn.iact.geometry.frames import camera_to_fov, fov_to_camera
from showerlearn.iact.particles import GAMMA_CLASS, PARTICLE_CLASSES, PROTON_CLASS
from showerlearn.progress import work_bar
from showerlearn.registry import ESTIMATORS

log = logging.getLogger(__name__)

__all__ = ["HillasRandomForest"]

# lstchain_standard_config.json (lstchain >= 0.10); "auto" max_features there meant all features for
# regressors and sqrt for classifiers in the scikit-learn versions lstchain was tuned with.
REGRESSOR_ARGS: dict[str, Any] = {
    "n_estimators": 150,
    "max_depth": 50,
    "min_samples_leaf": 2,
    "min_samples_split": 2,
    "max_features": 1.0,
    "bootstrap": True,
    "criterion": "squared_error",
}
CLASSIFIER_ARGS: dict[str, Any] = {
    "n_estimators": 100,
    "max_depth": 100,
    "min_samples_leaf": 2,
    "min_samples_split": 2,
    "max_features": "sqrt",
    "bootstrap": True,
    "criterion": "gini",
}

#: each forest: its scikit-learn class, lstchain's arguments, and the parameter whose dict overrides them
FORESTS: dict[str, tuple[type[RandomForestRegressor | RandomForestClassifier], dict[str, Any], str]] = {
    "energy": (RandomForestRegressor, REGRESSOR_ARGS, "energy_regressor_args"),
    "disp_norm": (RandomForestRegressor, REGRESSOR_ARGS, "disp_regressor_args"),
    "disp_sign": (RandomForestClassifier, CLASSIFIER_ARGS, "disp_classifier_args"),
    "particle": (RandomForestClassifier, CLASSIFIER_ARGS, "particle_classifier_args"),
    "impact": (RandomForestRegressor, REGRESSOR_ARGS, "impact_regressor_args"),
}

# lstchain standard feature lists without the pointing columns (alt_tel, sin_az_tel): the training
# sets here have one pointing. The particle list is lstchain's newest (signed skewness / gradient).
ENERGY_FEATURES = (
    "log_intensity", "width", "length", "x", "y", "wl", "skewness", "kurtosis", "time_gradient",
    "leakage_intensity_width_2",
)  # fmt: skip
DISP_FEATURES = (
    "log_intensity", "width", "length", "wl", "skewness", "kurtosis", "time_gradient",
    "leakage_intensity_width_2",
)  # fmt: skip
PARTICLE_FEATURES = (
    "log_intensity", "width", "length", "x", "y", "wl", "signed_skewness", "kurtosis",
    "signed_time_gradient", "leakage_intensity_width_2", "log_reco_energy", "reco_disp_norm", "reco_disp_sign",
)  # fmt: skip
IMPACT_FEATURES = (
    "log_intensity", "width", "length", "x", "y", "wl", "kurtosis", "signed_time_gradient",
    "leakage_intensity_width_2", "reco_disp_dx", "reco_disp_dy",
)  # fmt: skip

HEADS = ("particle", "energy", "direction", "impact")
# which trained head a derived feature needs
_FEATURE_HEAD = {
    "log_reco_energy": "energy",
    "reco_disp_norm": "direction",
    "reco_disp_sign": "direction",
    "reco_disp_dx": "direction",
    "reco_disp_dy": "direction",
    "signed_skewness": "direction",
    "signed_time_gradient": "direction",
}
# the particle output of events without a valid image: gammaness 0
_NO_IMAGE_PROBABILITIES = np.eye(len(PARTICLE_CLASSES))[PROTON_CLASS]


@ESTIMATORS.register("hillas_rf")
class HillasRandomForest(MultiHeadClassifier):
    """Hillas + random-forest reconstruction of one IACT camera (lstchain's standard mono analysis).

    ``fit(X, targets, masks)`` trains one forest per head found in ``targets`` (``particle``,
    ``energy``, ``direction``, ``impact``); ``predict(X)`` then returns those heads encoded like the
    networks' outputs plus ``hillas_valid`` and ``hillas_intensity``. As a scikit-learn classifier,
    ``fit(X, y)`` with ``y`` the particle classes (:data:`~showerlearn.iact.particles.PARTICLE_CLASSES`
    indices) trains the gamma/hadron forest alone; ``predict`` gives classes, ``predict_proba`` their
    probabilities. Parameters are checked by ``fit``.

    Parameters
    ----------
    camera
        Camera geometry in the camera frame (injected by the IACT DataModule).
    focal_length
        Focal length used to convert camera positions to the telescope frame; must be the one the
        ``direction`` targets were made with (injected). Default: the camera frame's.
    in_channels, n_classes
        Injected by the DataModule; checked (charge + peak time, gamma/proton).
    missing_targets
        Injected by the DataModule: head -> why training events lack its target (images without telescope
        pointing have no direction nor impact), the cause ``fit`` names when a head is left with no event.
    picture_thresh, boundary_thresh, min_number_picture_neighbors, delta_time, dynamic_threshold, dynamic_fraction
        Image cleaning (:class:`~showerlearn.iact.data.transforms.CleaningConfig`; defaults lstchain standard).
    energy_regressor_args, disp_regressor_args, disp_classifier_args, particle_classifier_args, impact_regressor_args
        Overrides of the scikit-learn forest arguments (defaults lstchain standard).
    energy_features, disp_features, particle_features, impact_features
        Feature names per forest: columns of :func:`hillas_features` or the derived ``log_reco_energy``,
        ``reco_disp_norm``, ``reco_disp_sign``, ``reco_disp_dx``, ``reco_disp_dy``, ``signed_skewness``,
        ``signed_time_gradient``.
    classifier_gamma_fraction
        Fraction of the training gammas held out from the temporary regressors and used, with all
        protons, to train the gamma/hadron classifier (lstchain: 0.2).
    min_train_intensity
        Images below this intensity (p.e., after cleaning) are left out of training only.
    n_jobs
        Worker processes of every forest and of the feature extraction.
    seed
        ``random_state`` of the forests and of the gamma split (injected: the experiment seed).
    """

    #: Hillas parameters need the charge in p.e. and the peak time in ns, not network-normalised inputs
    wants_raw_inputs = True
    #: the head a plain ``y`` is the target of (scikit-learn use)
    label_head = "particle"
    #: outputs beyond the heads, with their types: the columns of a prediction of no event have them too
    own_outputs = PASSTHROUGH_OUTPUTS

    #: for estimator files saved before the parameter existed: scikit-learn's get_params reads every parameter
    missing_targets: Mapping[str, str] | None = None

    def __init__(
        self,
        camera: CameraGeometry,
        focal_length: u.Quantity | None = None,
        in_channels: int | None = None,
        n_classes: int | None = None,
        missing_targets: Mapping[str, str] | None = None,
        *,
        picture_thresh: float = 6.0,
        boundary_thresh: float = 3.0,
        min_number_picture_neighbors: int = 2,
        delta_time: float | None = 2.0,
        dynamic_threshold: float | None = 267.0,
        dynamic_fraction: float = 0.03,
        energy_regressor_args: Mapping[str, Any] | None = None,
        disp_regressor_args: Mapping[str, Any] | None = None,
        disp_classifier_args: Mapping[str, Any] | None = None,
        particle_classifier_args: Mapping[str, Any] | None = None,
        impact_regressor_args: Mapping[str, Any] | None = None,
        energy_features: Sequence[str] = ENERGY_FEATURES,
        disp_features: Sequence[str] = DISP_FEATURES,
        particle_features: Sequence[str] = PARTICLE_FEATURES,
        impact_features: Sequence[str] = IMPACT_FEATURES,
        classifier_gamma_fraction: float = 0.2,
        min_train_intensity: float = 0.0,
        n_jobs: int = 1,
        seed: int = 42,
    ) -> None:
        self.camera = camera
        self.focal_length = focal_length
        self.in_channels = in_channels
        self.n_classes = n_classes
        self.missing_targets = missing_targets
        self.picture_thresh = picture_thresh
        self.boundary_thresh = boundary_thresh
        self.min_number_picture_neighbors = min_number_picture_neighbors
        self.delta_time = delta_time
        self.dynamic_threshold = dynamic_threshold
        self.dynamic_fraction = dynamic_fraction
        self.energy_regressor_args = energy_regressor_args
        self.disp_regressor_args = disp_regressor_args
        self.disp_classifier_args = disp_classifier_args
        self.particle_classifier_args = particle_classifier_args
        self.impact_regressor_args = impact_regressor_args
        self.energy_features = energy_features
        self.disp_features = disp_features
        self.particle_features = particle_features
        self.impact_features = impact_features
        self.classifier_gamma_fraction = classifier_gamma_fraction
        self.min_train_intensity = min_train_intensity
        self.n_jobs = n_jobs
        self.seed = seed

    @classmethod
    def config_problems(cls, params: Mapping[str, Any], path: str) -> list[str]:
        """Keys of the ``*_args`` dicts that their forest does not take (a misspelt ``n_estimators``), one line
        each named from ``path``: the forests are built, and scikit-learn refuses them, only in ``fit``."""
        return [
            problem
            for forest, _, parameter in FORESTS.values()
            for problem in unknown_arguments(params.get(parameter), forest, f"{path}.{parameter}")
        ]

    @property
    def forest_args(self) -> dict[str, dict[str, Any]]:
        """scikit-learn arguments of each forest: lstchain's, updated by the ``*_args`` parameters."""
        return {name: {**defaults, **(getattr(self, parameter) or {})} for name, (_, defaults, parameter) in FORESTS.items()}

    def _fix_settings(self) -> None:
        """Check the parameters (a scikit-learn estimator checks them in ``fit``, not when built) and fix
        what ``predict`` reads, so that a later ``set_params`` cannot pair it with forests trained otherwise."""
        if not isinstance(self.camera, CameraGeometry):
            raise TypeError(f"hillas_rf: camera must be a ctapipe CameraGeometry, got {type(self.camera).__name__}")
        if self.in_channels is not None and self.in_channels < 2:
            raise ValueError(f"hillas_rf needs charge and peak-time channels (in_channels >= 2), got {self.in_channels}")
        if self.n_classes is not None and self.n_classes != len(PARTICLE_CLASSES):
            raise ValueError(f"hillas_rf separates gammas from protons (n_classes = 2), got {self.n_classes}")
        if not 0 < self.classifier_gamma_fraction < 1:
            raise ValueError(
                f"hillas_rf: classifier_gamma_fraction must be in (0, 1), got {self.classifier_gamma_fraction}"
            )
        if problems := self.config_problems(self.get_params(deep=False), "hillas_rf"):
            raise ValueError("; ".join(problems))
        if self.focal_length is None and self.camera.frame is None:
            raise ValueError(f"hillas_rf: camera {self.camera.name} has no frame; give focal_length")
        focal_length = self.camera.frame.focal_length if self.focal_length is None else self.focal_length
        self.focal_length_ = u.Quantity(focal_length, u.m)
        self.cleaning_ = CleaningConfig(
            picture_thresh=self.picture_thresh,
            boundary_thresh=self.boundary_thresh,
            min_number_picture_neighbors=self.min_number_picture_neighbors,
            delta_time=self.delta_time,
            dynamic_threshold=self.dynamic_threshold,
            dynamic_fraction=self.dynamic_fraction,
        )
        self.features_ = {
            "energy": tuple(self.energy_features),
            "disp": tuple(self.disp_features),
            "particle": tuple(self.particle_features),
            "impact": tuple(self.impact_features),
        }

    # ------------------------------------------------------------------ training
    def fit(
        self,
        X: np.ndarray,
        y: Mapping[str, np.ndarray] | np.ndarray,
        masks: Mapping[str, np.ndarray] | None = None,
        sample_weight: np.ndarray | None = None,
    ) -> HillasRandomForest:
        """Train on raw images ``X`` (n, C>=2, n_pixels) the forests of the heads in ``y`` (targets per
        head, with loss ``masks`` per head), or the gamma/hadron forest on particle classes ``y``."""
        self._fix_settings()
        targets, masks = self._targets_per_head(y, masks)
        n_events = len(self._checked_inputs(X))
        heads = tuple(head for head in HEADS if head in targets)
        if not heads:
            raise KeyError(f"hillas_rf.fit: targets has none of the heads {HEADS}; got {sorted(targets)}")
        targets = {head: _checked_target(targets[head], head, n_events) for head in heads}
        masks = {head: _checked_mask(masks.get(head), head, n_events) for head in heads}
        weight = np.ones(n_events) if sample_weight is None else _checked_weight(sample_weight, n_events)
        columns = self._features(X)
        usable = columns["is_valid"] & (columns["intensity"] >= self.min_train_intensity)

        self.forests_, self.fallback_ = {}, {}
        if "direction" in heads:
            source_x, source_y = fov_to_camera(targets["direction"], self.focal_length_)
            disp_dx, disp_dy = source_x - columns["x"], source_y - columns["y"]
            columns["true_disp_norm"] = np.hypot(disp_dx, disp_dy)
            # side of the centroid, along the major axis, on which the source lies
            along = disp_dx * np.cos(columns["psi"]) + disp_dy * np.sin(columns["psi"])
            columns["true_disp_sign"] = np.where(along < 0, -1, 1)
        rows = {head: usable & masks[head] for head in heads}
        for head in heads:
            if head != "particle" and not rows[head].any():
                raise ValueError(self._no_event_message(head))
            if not np.isfinite(targets[head][rows[head]]).all():
                raise ValueError(f"hillas_rf.fit: targets[{head!r}] has NaN or inf in selected (masked-in) events")
            if head != "particle":
                self.fallback_[head] = np.average(targets[head][rows[head]], axis=0, weights=weight[rows[head]])

        log.info("hillas_rf: training forests for %s on %d usable images", ", ".join(heads), int(usable.sum()))
        with work_bar("forests (heads)", len(heads)) as advance:
            if "energy" in heads:
                self.forests_["energy"] = self._fit_energy(columns, targets, rows["energy"], weight)
                advance(1)
            if "direction" in heads:
                # out-of-bag predictions give the impact forest disp estimates with realistic errors
                oob = "impact" in heads
                self.forests_["disp_norm"], self.forests_["disp_sign"] = self._fit_disp(columns, rows["direction"], weight, oob)
                advance(1)
            if "impact" in heads:
                self.forests_["impact"] = self._fit_impact(columns, targets, rows, weight, heads)
                advance(1)
            if "particle" in heads:
                self.forests_["particle"] = self._fit_particle(columns, targets, rows, weight, heads)
                self.classes_ = np.arange(len(PARTICLE_CLASSES))
                advance(1)
        self.impact_axes_ = IMPACT_AXES  # what the impact forest learnt (estimator files before it learnt ground offsets)
        self.heads_ = heads  # set last: it marks the estimator fitted
        return self

    def _no_event_message(self, head: str) -> str:
        """Why ``fit`` has no event for ``head``: with the cause the data gave (a file without pointing), if any."""
        message = f"hillas_rf.fit: no event with a valid image is selected for head {head!r}"
        cause = (self.missing_targets or {}).get(head)
        return f"{message}: {cause}" if cause else message

    def _forest(self, name: str, oob: bool = False) -> RandomForestRegressor | RandomForestClassifier:
        args = {**self.forest_args[name], "n_jobs": self.n_jobs, "random_state": self.seed}
        if oob:
            args["oob_score"] = True
        return FORESTS[name][0](**args)

    def _fit_energy(self, columns: dict, targets: Mapping, rows: np.ndarray, weight: np.ndarray) -> RandomForestRegressor:
        forest = self._forest("energy")
        forest.fit(_matrix(columns, self.features_["energy"], rows), targets["energy"][rows], sample_weight=weight[rows])
        return forest

    def _fit_disp(
        self, columns: dict, rows: np.ndarray, weight: np.ndarray, oob: bool = False
    ) -> tuple[RandomForestRegressor, RandomForestClassifier]:
        features = _matrix(columns, self.features_["disp"], rows)
        norm, sign = self._forest("disp_norm", oob), self._forest("disp_sign", oob)
        norm.fit(features, columns["true_disp_norm"][rows], sample_weight=weight[rows])
        sign.fit(features, columns["true_disp_sign"][rows], sample_weight=weight[rows])
        return norm, sign

    def _fit_impact(
        self, columns: dict, targets: Mapping, rows: Mapping, weight: np.ndarray, heads: tuple[str, ...]
    ) -> RandomForestRegressor:
        selected = rows["impact"]
        derived = _subset(columns, selected)
        if "disp_norm" in self.forests_:
            norm, sign = self.forests_["disp_norm"], self.forests_["disp_sign"]
            reco_norm, reco_sign = _predict_disp(norm, sign, _matrix(derived, self.features_["disp"]))
            # rows the disp forests were trained on get their out-of-bag estimate instead (when they have one)
            oob_norm = norm.oob_prediction_
            oob_sign = _sign_from_proba(sign, sign.oob_decision_function_)
            in_disp = np.flatnonzero(rows["direction"][selected])
            position = np.searchsorted(np.flatnonzero(rows["direction"]), np.flatnonzero(selected)[in_disp])
            seen = np.isfinite(oob_norm[position]) & np.isfinite(sign.oob_decision_function_[position]).all(axis=1)
            reco_norm[in_disp[seen]] = oob_norm[position[seen]]
            reco_sign[in_disp[seen]] = oob_sign[position[seen]]
            derived = _disp_columns(derived, reco_norm, reco_sign)
        forest = self._forest("impact")
        features = self._head_features("impact", heads)
        forest.fit(_matrix(derived, features), targets["impact"][selected], sample_weight=weight[selected])
        return forest

    def _fit_particle(
        self, columns: dict, targets: Mapping, rows: Mapping, weight: np.ndarray, heads: tuple[str, ...]
    ) -> RandomForestClassifier:
        particle = targets["particle"].astype(int)
        if set(np.unique(particle)) - {GAMMA_CLASS, PROTON_CLASS}:
            raise ValueError(
                f"hillas_rf.fit: particle targets must be {GAMMA_CLASS} (gamma) or {PROTON_CLASS} (proton), "
                f"got {np.unique(particle)}"
            )
        selected = rows["particle"]
        gammas = np.flatnonzero(selected & (particle == GAMMA_CLASS))
        protons = np.flatnonzero(selected & (particle == PROTON_CLASS))
        if len(gammas) < 2 or len(protons) < 1:
            raise ValueError(
                f"hillas_rf.fit: the gamma/hadron classifier needs gammas and protons with valid images, "
                f"got {len(gammas)} gammas and {len(protons)} protons"
            )
        features = self._head_features("particle", heads)
        needs = {_FEATURE_HEAD[name] for name in features if name in _FEATURE_HEAD}
        if needs:
            # lstchain: temporary regressors on most gammas reconstruct the held-out gammas and the protons
            regression_gammas, classifier_gammas = train_test_split(
                gammas, test_size=self.classifier_gamma_fraction, random_state=self.seed
            )
            temporary = np.zeros(len(particle), dtype=bool)
            temporary[regression_gammas] = True
            classifier_rows = np.sort(np.concatenate([classifier_gammas, protons]))
            derived = _subset(columns, classifier_rows)
            if "energy" in needs:
                energy = self._fit_energy(columns, targets, temporary & rows["energy"], weight)
                derived["log_reco_energy"] = energy.predict(_matrix(derived, self.features_["energy"]))
            if "direction" in needs:
                norm, sign = self._fit_disp(columns, temporary & rows["direction"], weight)
                derived = _disp_columns(derived, *_predict_disp(norm, sign, _matrix(derived, self.features_["disp"])))
        else:
            classifier_rows = np.sort(np.concatenate([gammas, protons]))
            derived = _subset(columns, classifier_rows)
        forest = self._forest("particle")
        forest.fit(_matrix(derived, features), particle[classifier_rows], sample_weight=weight[classifier_rows])
        return forest

    def _head_features(self, kind: str, heads: Sequence[str]) -> tuple[str, ...]:
        """The features of forest ``kind`` whose inputs exist: derived ones need their head trained."""
        return tuple(name for name in self.features_[kind] if _FEATURE_HEAD.get(name, kind) in (*heads, kind))

    # ---------------------------------------------------------------- prediction
    def predict_heads(self, X: np.ndarray) -> dict[str, np.ndarray]:
        """Encoded predictions per trained head plus ``hillas_valid`` (bool) and ``hillas_intensity`` (p.e.).

        ``particle`` is ``(n, 2)`` log-probabilities of :data:`~showerlearn.iact.particles.PARTICLE_CLASSES`;
        ``energy`` log10(E/TeV); ``direction`` (fov_lon, fov_lat) deg; ``impact`` (core - telescope position) / 100 m.
        Events without a valid image get gammaness 0 and the training mean of each regression target.
        ``valid_`` keeps the ``hillas_valid`` of the last call.
        """
        self._check_fitted()
        columns = self._features(X)
        valid = columns["is_valid"]
        n_events = len(valid)
        good = _subset(columns, valid)
        if "energy" in self.heads_ and valid.any():
            good["log_reco_energy"] = self.forests_["energy"].predict(_matrix(good, self.features_["energy"]))
        if "direction" in self.heads_ and valid.any():
            disp = _predict_disp(self.forests_["disp_norm"], self.forests_["disp_sign"], _matrix(good, self.features_["disp"]))
            good = _disp_columns(good, *disp)

        outputs: dict[str, np.ndarray] = {}
        for head in self.heads_:
            if head == "particle":
                proba = np.tile(_NO_IMAGE_PROBABILITIES, (n_events, 1))
                forest = self.forests_["particle"]
                if valid.any():
                    proba[valid] = forest.predict_proba(_matrix(good, self._head_features("particle", self.heads_)))[
                        :, np.searchsorted(forest.classes_, self.classes_)
                    ]
                outputs[head] = log_probabilities(proba).astype(np.float32)
                continue
            value = np.broadcast_to(self.fallback_[head], (n_events, *np.shape(self.fallback_[head]))).copy()
            if valid.any():
                if head == "energy":
                    value[valid] = good["log_reco_energy"]
                elif head == "direction":
                    value[valid] = camera_to_fov(good["reco_src_x"], good["reco_src_y"], self.focal_length_)
                else:
                    value[valid] = self.forests_["impact"].predict(_matrix(good, self._head_features("impact", self.heads_)))
            outputs[head] = value.astype(np.float32)
        outputs["hillas_valid"] = valid.astype(self.own_outputs["hillas_valid"])
        outputs["hillas_intensity"] = columns["intensity"].astype(self.own_outputs["hillas_intensity"])
        self.valid_ = valid
        return outputs

    def _checked_inputs(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X)
        if X.ndim != 3 or X.shape[1] < 2 or X.shape[2] != self.camera.n_pixels:
            raise ValueError(
                f"hillas_rf expects inputs of shape (n_events, >=2 channels [charge, peak_time], "
                f"{self.camera.n_pixels} pixels), got {X.shape}"
            )
        return X

    def _features(self, X: np.ndarray) -> dict[str, np.ndarray]:
        X = self._checked_inputs(X)
        workers = "1 process (n_jobs: -1 uses every core)" if self.n_jobs == 1 else f"n_jobs={self.n_jobs}"
        log.info("hillas_rf: cleaning and Hillas parameters of %d images, %s", len(X), workers)
        return hillas_features(X[:, 0], X[:, 1], self.camera, self.cleaning_, n_jobs=self.n_jobs)

    # ------------------------------------------------------------------- storage
    def __getstate__(self) -> dict[str, Any]:
        """Plain data only (numbers, strings, arrays, forests): the run's ``estimator.skops`` then loads
        without unpickling anything, and skops stores neither ctapipe geometries nor astropy quantities.
        The camera keeps its pixels, neighbours and its frame's focal length (what ``fit`` takes when
        ``focal_length`` is not given: an unfitted copy, as joblib hands to worker processes, must fit too)."""
        state = dict(super().__getstate__())
        state["camera"] = _camera_state(self.camera)
        for name in ("focal_length", "focal_length_"):
            if state.get(name) is not None:
                state[name] = float(u.Quantity(state[name], u.m).to_value(u.m))
        if "cleaning_" in state:
            state["cleaning_"] = self.cleaning_.model_dump()
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        state = dict(state)
        state["camera"] = _camera_from_state(state["camera"])
        for name in ("focal_length", "focal_length_"):
            if state.get(name) is not None:
                state[name] = state[name] * u.m
        if "cleaning_" in state:
            state["cleaning_"] = CleaningConfig.model_validate(state["cleaning_"])
        if "impact" in state.get("heads_", ()) and "impact_axes_" not in state:
            # fitted before the impact was encoded as an image shows it (2026-12-06): its forest learnt ground
            # offsets, which this version would decode as camera axes
            log.warning("hillas_rf: fitted before 2026-12-06, when the impact forest learnt ground offsets that hold "
                        "only at the training's azimuth: its cores are left out (NaN); fit it again for them")
            state["heads_"] = tuple(head for head in state["heads_"] if head != "impact")
        super().__setstate__(state)


def _camera_state(camera: CameraGeometry) -> dict[str, Any]:
    """The geometry as arrays in metres and plain values (the pixels as they are now: already derotated)."""
    neighbors = camera.neighbor_matrix_sparse
    return {
        "name": str(camera.name),
        "pix_id": np.asarray(camera.pix_id),
        "pix_x_m": camera.pix_x.to_value(u.m),
        "pix_y_m": camera.pix_y.to_value(u.m),
        "pix_area_m2": camera.pix_area.to_value(u.m**2),
        "pix_type": camera.pix_type.value,
        "pix_rotation_deg": float(camera.pix_rotation.to_value(u.deg)),
        "cam_rotation_deg": float(camera.cam_rotation.to_value(u.deg)),
        "neighbor_indices": np.asarray(neighbors.indices),
        "neighbor_indptr": np.asarray(neighbors.indptr),
        "frame_focal_length_m": (
            float(u.Quantity(camera.frame.focal_length, u.m).to_value(u.m)) if camera.frame is not None else None
        ),
    }


def _camera_from_state(state: Mapping[str, Any]) -> CameraGeometry:
    n_pixels = len(state["pix_id"])
    indices = np.asarray(state["neighbor_indices"])
    neighbors = csr_array((np.ones(len(indices), dtype=bool), indices, state["neighbor_indptr"]), shape=(n_pixels, n_pixels))
    return CameraGeometry(
        name=state["name"],
        pix_id=state["pix_id"],
        pix_x=state["pix_x_m"] * u.m,
        pix_y=state["pix_y_m"] * u.m,
        pix_area=state["pix_area_m2"] * u.m**2,
        pix_type=state["pix_type"],
        pix_rotation=state["pix_rotation_deg"] * u.deg,
        cam_rotation=state["cam_rotation_deg"] * u.deg,
        neighbors=neighbors,
        apply_derotation=False,  # the stored pixels are the derotated ones
        # a state written before it kept the frame has none (its fitted focal_length_ is what counts then)
        frame=CameraFrame(focal_length=state["frame_focal_length_m"] * u.m) if state.get("frame_focal_length_m") else None,
    )


def _predict_disp(
    norm: RandomForestRegressor, sign: RandomForestClassifier, features: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Reconstructed |disp| (m) and disp sign (+1 / -1) of each row of ``features``."""
    return norm.predict(features), _sign_from_proba(sign, sign.predict_proba(features))


def _sign_from_proba(sign: RandomForestClassifier, proba: np.ndarray) -> np.ndarray:
    """+1 where the sign classifier gives P(+1) > 0.5, else -1 (lstchain's rule)."""
    classes = list(sign.classes_)
    if 1 not in classes:  # trained on one side only
        return np.full(len(proba), classes[0])
    return np.where(proba[:, classes.index(1)] > 0.5, 1, -1)


def _disp_columns(columns: dict[str, np.ndarray], norm: np.ndarray, sign: np.ndarray) -> dict[str, np.ndarray]:
    """Add the reconstructed disp vector, source position and the disp-signed features (lstchain)."""
    derived = dict(columns)
    derived["reco_disp_norm"], derived["reco_disp_sign"] = norm, sign.astype(np.float64)
    derived["reco_disp_dx"] = sign * norm * np.cos(columns["psi"])
    derived["reco_disp_dy"] = sign * norm * np.sin(columns["psi"])
    derived["reco_src_x"] = columns["x"] + derived["reco_disp_dx"]
    derived["reco_src_y"] = columns["y"] + derived["reco_disp_dy"]
    # the source lies at longitudinal coordinate sign * norm from the centroid: skewness and time
    # gradient referred to it are -sign * value (lstchain's signed_skewness / signed_time_gradient)
    derived["signed_skewness"] = -sign * columns["skewness"]
    derived["signed_time_gradient"] = -sign * columns["time_gradient"]
    return derived


def _subset(columns: Mapping[str, np.ndarray], rows: np.ndarray) -> dict[str, np.ndarray]:
    return {name: values[rows] for name, values in columns.items()}


def _matrix(columns: Mapping[str, np.ndarray], names: Sequence[str], rows: np.ndarray | None = None) -> np.ndarray:
    missing = [name for name in names if name not in columns]
    if missing:
        raise KeyError(f"hillas_rf: unknown feature(s) {missing}; known: {sorted(columns)}")
    matrix = np.column_stack([columns[name] for name in names])
    return matrix if rows is None else matrix[rows]


def _checked_target(values: np.ndarray, head: str, n_events: int) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    expected = {"particle": (), "energy": (), "direction": (2,), "impact": (2,)}[head]
    if array.shape != (n_events, *expected):
        raise ValueError(f"hillas_rf.fit: targets[{head!r}] must have shape {(n_events, *expected)}, got {array.shape}")
    return array


def _checked_mask(values: np.ndarray | None, head: str, n_events: int) -> np.ndarray:
    if values is None:
        return np.ones(n_events, dtype=bool)
    array = np.asarray(values, dtype=bool)
    if array.shape != (n_events,):
        raise ValueError(f"hillas_rf.fit: masks[{head!r}] must have shape {(n_events,)}, got {array.shape}")
    return array


def _checked_weight(values: np.ndarray, n_events: int) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    if array.shape != (n_events,) or not np.isfinite(array).all() or (array < 0).any():
        raise ValueError(f"hillas_rf.fit: sample_weight must be {n_events} finite non-negative values, got shape {array.shape}")
    return array
