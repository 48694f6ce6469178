"""The ``iact`` DataModule: camera images from DL1 or sim_telarray files (given, or simulated and
cached) to batches.

Pipeline: open every file (metadata only; a sim_telarray file is first calibrated with ctapipe into a
cached DL1 file) -> image parameters where a file has none and a cut needs them -> selection cuts ->
split (by event or by file, fixed seed) -> targets encoded once for all events -> lazy datasets
reading images per event. One telescope type is read (``telescope_type``); its camera, as the first
file describes it, is the *reference camera* every image is mapped onto and the model's lattice.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field
from torch.utils.data import DataLoader, Dataset

from showerlearn.config.base import SettingsModel
from showerlearn.data.base import FITTED_STATE_KEY, InputView, ShowerDataModule
from showerlearn.data.files import (
    cached_simulation, check_source, event_count_validator, expand_patterns, files_caption, missing_file_problems,
    source_problems,
)
from showerlearn.data.split import SplitSpec
from showerlearn.iact.data.augment import AugmentConfig, Augmenter, SymmetryOp, average_views, permuted_pixels
from showerlearn.iact.data.cuts import Cuts, add_image_parameters, cut_masks, removed_per_cut, select
from showerlearn.iact.data.dataset import IACTDataset, collate_batch
from showerlearn.iact.data.ensemble import average_prediction_tables
from showerlearn.iact.data.pointing import pointing_gaps
from showerlearn.iact.data.sampling import EnergySampling, energy_sampling_weights
from showerlearn.iact.data.targets import (
    COLUMN_UNITS, IMPACT_AXES, LEGACY_IMPACT_AXES, META_COLUMNS, decode_outputs, encode_targets,
)
from showerlearn.iact.data.transforms import CleaningConfig, ImageTransform, TransformConfig
from showerlearn.iact.family import FAMILY
from showerlearn.iact.geometry import CameraGeometry, Lattice, lst_camera
from showerlearn.iact.io.errors import (
    EmptySelectionError, IACTDataError, MissingTruthError, SeveralTelescopeTypesError, UnknownCameraError,
)
from showerlearn.iact.io.kinds import SIMTEL, file_kind
from showerlearn.iact.io.production import combined_production, production_particle, simulation_runs
from showerlearn.iact.io.reader import DL1File
from showerlearn.iact.io.simtel import SimtelOptions, cached_dl1
from showerlearn.iact.particles import GAMMA_PRIMARY_ID, PARTICLE_CLASSES, particle_class
from showerlearn.iact.simulation.config import IACTSimulationConfig
from showerlearn.registry import DATAMODULES, Count, NonNegative

__all__ = ["IACTDataModule", "IACTSplitSpec", "SimulateSpec"]

_SPLITS = ("train", "val", "test")
# what `arrays(raw=True)` hands to estimators: the file's charge and peak time, untouched
RAW_CLEANING = CleaningConfig(as_="none")
RAW_TRANSFORM = TransformConfig(charge="none", time="none", time_scale=1.0)  # p.e. and ns, as the files hold them
# carried per event besides META_COLUMNS: what decoding needs to turn predictions back
_DECODE_COLUMNS = ("camera_rotation", "camera_reflected", "tel_pos_x", "tel_pos_y")

log = logging.getLogger(__name__)


class IACTSplitSpec(SplitSpec):
    """How events are divided into train / val / test: the fractions and seed of every DataModule, and
    whether events or whole files are drawn."""

    by: Literal["event", "shower", "file"] = Field(
        "event",
        description="'event': images drawn one by one; 'shower': the images of one simulated shower (every telescope, "
        "every reuse: obs_id and event_id // 100 in a file, as CORSIKA numbers reuses) go to one split; 'file': whole "
        "files go to one split.",
    )


class SimulateSpec(SettingsModel):
    """Simulate the DL1 file with ``showerlearn.iact.simulation.simulate_iact`` (cached by config + seed)."""

    model_config = ConfigDict(frozen=True)

    config: IACTSimulationConfig = Field(
        default_factory=IACTSimulationConfig, description="Simulation settings (docs/simulation.md); checked like any key."
    )
    events: int | None = Field(
        None, ge=1, exclude=True, description="Number of events (a shortcut: sets config.n_events, where a resolved config keeps it)."
    )

    one_event_count = event_count_validator()
    seed: int | None = Field(None, ge=0, lt=2**32, description="Simulation seed; default: the experiment seed.")
    n_jobs: int = Field(1, ge=1, description="Worker processes of the simulator (the output does not depend on it).")


def _coerce(model: type[BaseModel], value: Any) -> Any:
    return value if isinstance(value, model) else model.model_validate(value or {})


#: version of the code that turns images into inputs (cleaning, transforms): part of the name of every
#: ``in_memory: memmap`` file, so files written by older code are not mapped; raise it when the inputs change
INPUTS_FORMAT = 2


#: how many images of events two training files share by their ids are compared before calling them the same events
_REPEATS_COMPARED = 5


def _same_non_empty(first: np.ndarray, second: np.ndarray) -> bool:
    return bool(np.any(first)) and np.array_equal(first, second)


def _refuse_repeated_events(paths: Sequence[Path], files: Sequence[DL1File], columns: Mapping[str, np.ndarray]) -> None:
    """Refuse training files that hold the same images under the same (obs_id, event_id, tel_id): a DL1 file and
    the sim_telarray file it was made from (their bytes differ, so the copy check passes them), whose events would
    count twice and could land in the training and the test split. Ids alone are no proof (two simulations may both
    number their runs from 1): up to :data:`_REPEATS_COMPARED` shared ids must show equal, non-empty images."""
    keys = np.stack([columns[name] for name in ("obs_id", "event_id", "tel_id")], axis=1)
    order = np.lexsort(keys.T[::-1])
    same = np.all(keys[order][1:] == keys[order][:-1], axis=1)
    pairs = [(order[k], order[k + 1]) for k in np.nonzero(same)[0]
             if columns["file_index"][order[k]] != columns["file_index"][order[k + 1]]][:_REPEATS_COMPARED]
    if not pairs:
        return

    def image(row: int) -> np.ndarray:
        return files[int(columns["file_index"][row])].read([int(columns["row"][row])])["image"][0]

    if all(_same_non_empty(image(a), image(b)) for a, b in pairs):
        a, b = pairs[0]
        first, second = (paths[int(columns["file_index"][row])] for row in (a, b))  # as given, not a converted cache
        raise IACTDataError(
            f"{second} holds the events of {first}, with the same images (obs_id={keys[a][0]} event_id={keys[a][1]} "
            f"tel_id={keys[a][2]}{f' and {len(pairs) - 1} more compared' if len(pairs) > 1 else ''}): a DL1 file and "
            "the sim_telarray file it was made from? Their events would count twice, in the training and the test "
            "split: give one of them"
        )


@DATAMODULES.register("iact")
class IACTDataModule(ShowerDataModule):
    """Cherenkov camera images (one telescope type, any camera) with particle / energy / direction /
    impact targets (docs/data_iact.md)."""

    model_input_names: ClassVar[frozenset[str]] = frozenset(
        {"lattice", "camera", "in_channels", "channel_names", "charge_transform", "n_classes", "focal_length",
         "missing_targets"})
    family = FAMILY
    #: the same events read otherwise: test-time augmentation, how many files stay open, in memory or not, where
    #: the simulated file is kept and how many processes write it; and what only training reads
    prediction_settings: ClassVar[frozenset[str]] = ShowerDataModule.prediction_settings | {
        "augment", "max_open_files", "in_memory", "cache_dir", "simulate.n_jobs", "class_balance", "energy_sampling"}
    event_id_columns: ClassVar[tuple[str, ...]] = ("obs_id", "event_id", "tel_id")
    #: which telescopes' images are read: the camera the network was built on, kept in its checkpoint
    fitted_settings: ClassVar[tuple[str, ...]] = ("telescope_type",)
    #: how the images become the network's inputs: their cleaning (an input channel, or zeroed pixels) and transforms
    input_settings: ClassVar[tuple[str, ...]] = ("cleaning", "transforms")
    #: the loaders' batches come stacked from IACTDataset.__getitems__; a list of events (explain) is stacked here
    collate = staticmethod(collate_batch)

    @classmethod
    def config_problems(cls, params: Mapping[str, Any], path: str) -> list[str]:
        """What ``config validate`` reports before any work: ``files`` and ``simulate`` both given, or neither."""
        return source_problems(params, path)

    @classmethod
    def new_run_problems(cls, params: Mapping[str, Any]) -> list[str]:
        """The files named are there (:func:`~showerlearn.data.files.missing_file_problems`)."""
        return missing_file_problems(params.get("files"), "data.params.files")

    def __init__(
        self,
        files: list[str] | None = None,
        simulate: SimulateSpec | None = None,
        cache_dir: Path = Path(".showerlearn_cache/iact"),
        telescope_type: str | None = None,
        simtel: SimtelOptions = SimtelOptions(),
        split: IACTSplitSpec = IACTSplitSpec(),
        cuts: Cuts = Cuts(),
        cleaning: CleaningConfig = CleaningConfig(),
        transforms: TransformConfig = TransformConfig(),
        augment: AugmentConfig = AugmentConfig(),
        class_balance: Literal["none", "balanced"] | dict[str, float] = "none",
        energy_sampling: EnergySampling = EnergySampling(),
        max_open_files: Count = 8,
        in_memory: bool | Literal["memmap"] = False,
        batch_size: Count = 64,
        num_workers: NonNegative = 0,
        seed: int = 0,
    ) -> None:
        """
        Args:
            files: DL1 files (ctapipe or lstchain HDF5) or sim_telarray files (plain, gzip or zstd; told
                apart by content), paths or glob patterns; or else ``simulate``.
            simulate: generate a DL1 file once with the built-in simulator and use it (cached in ``cache_dir``).
            cache_dir: where simulated files, and the DL1 files calibrated from sim_telarray files
                (``simtel/``), are kept, named by a digest of their source and settings.
            telescope_type: the telescope type whose images are read, by ctapipe's type name
                ('LST_LST_LSTCam', 'SST_1M_DigiCam', 'SST_ASTRI_CHEC') or camera name ('LSTCam', 'DigiCam',
                'ASTRICam', 'NectarCam', 'FlashCam', 'CHEC'), any case; null: the files' only type (a file
                with several types is refused with the list of its types).
            simtel: how sim_telarray files are read: ctapipe's image extractor and its settings, at most
                how many events, truncated files.
            split: how events are divided into train / val / test.
            cuts: event selection applied before the split (intensity, leakage, islands, particle, energy).
            cleaning: image cleaning (tailcuts, optionally lstchain's time and dynamic steps) of the input
                images and of the selection's intensity, and how its mask enters the network.
            transforms: charge and peak-time normalisation of the input channels.
            augment: camera symmetries drawn per training event (directions and impacts turned along).
            class_balance: 'balanced' weights classes by inverse training frequency; a mapping
                ``{"gamma": w, "proton": w}`` gives the weights directly.
            energy_sampling: draw training events with replacement, more often the rarer their true energy is
                within their particle's spectrum (``flatten`` > 0), instead of each once per epoch.
            max_open_files: HDF5 handles each process keeps open at once (least recently used are closed).
            in_memory: read the training and validation images into memory once, cleaned and transformed,
                (4 bytes x channels x pixels an event: 1.5 GB for 100k LSTCam events with 2 channels, in every
                DDP process) when training starts; removes the per-event file read and cleaning from every epoch.
                'memmap': the same, written once into ``cache_dir/inputs/`` (a ``.npy`` file per split, named by a
                digest of the files, the events and the cleaning and transforms) by one process and mapped from
                disk by every DDP process and by later runs on the same data: for data sets larger than memory.
            batch_size: events per batch (per process under DDP).
            num_workers: DataLoader worker processes.
            seed: the experiment seed (injected): draws the split unless ``split.seed`` is set, and
                the simulation unless ``simulate.seed`` is set.
        """
        super().__init__(batch_size=batch_size, num_workers=num_workers, seed=seed)
        check_source(files, simulate, "iact data")
        self.file_patterns = files
        self.simulate = _coerce(SimulateSpec, simulate) if simulate is not None else None
        self.cache_dir = Path(cache_dir)
        self.telescope_type = telescope_type
        self.simtel = _coerce(SimtelOptions, simtel)
        self.split = _coerce(IACTSplitSpec, split)
        self.cuts = _coerce(Cuts, cuts)
        self.cleaning = _coerce(CleaningConfig, cleaning)
        self.transforms = _coerce(TransformConfig, transforms)
        self.augment = _coerce(AugmentConfig, augment)
        if isinstance(class_balance, dict):
            unknown = set(class_balance) - set(PARTICLE_CLASSES)
            if unknown:
                raise ValueError(f"class_balance: unknown classes {sorted(unknown)}; known {list(PARTICLE_CLASSES)}")
        self.class_balance = class_balance
        self.energy_sampling = _coerce(EnergySampling, energy_sampling)
        self.max_open_files = max_open_files
        if in_memory not in (False, True, "memmap"):
            raise ValueError(f"iact data: in_memory must be false, true or 'memmap', not {in_memory!r}")
        self.in_memory = in_memory
        # the reference camera and what depends on it: the simulator's LSTCam, or set by the first file opened
        self.camera: CameraGeometry | None = None
        #: the camera the network was built on (name, pixels), restored from its checkpoint; None before
        self._trained_camera: dict[str, Any] | None = None
        self.transform: ImageTransform | None = None
        self.augmenter: Augmenter | None = None
        self._views: list[SymmetryOp | None] = [None]
        if self.simulate is not None:
            self._use_camera(lst_camera())
        self.files: list[DL1File] = []
        self.parts: dict[str, np.ndarray] = {}
        self._columns: dict[str, np.ndarray] = {}
        self._weights = np.ones(len(PARTICLE_CLASSES))  # per-class loss weight, set from the training split
        # what the quality cuts removed from the events to predict: counts per cut, and those events' meta
        self._selection: dict[str, int] = {}
        self._removed_meta: dict[str, np.ndarray] = {}
        #: the meta of no event, typed as the file to predict holds its columns (empty: no file read yet)
        self._empty_meta: dict[str, np.ndarray] = {}
        #: how the network's impact output is encoded: this version's, or a restored checkpoint's
        self._impact_axes = IMPACT_AXES

    def _use_camera(self, camera: CameraGeometry, source: str = "the data") -> None:
        """Make ``camera`` the reference: images are read on it, cleaned on it, and turned by its symmetries;
        refused when it is not the camera the network was built on (``source``: where it comes from, for the
        message)."""
        if self._trained_camera is not None:
            self._check_trained_camera(camera, source)
        self.camera = camera
        self.transform = ImageTransform(camera, self.cleaning, self.transforms)
        # unknown augmentation names fail here, in the main process, not in a worker
        self.augmenter = Augmenter(camera, self.augment.ops) if self.augment.enabled else None
        self._views = [None, *(Augmenter(camera, self.augment.ops).ops if self.augment.test_time else [])]

    def _check_trained_camera(self, camera: CameraGeometry, source: str) -> None:
        """``camera`` must be the one the network was built on (its checkpoint's): by name and pixels, or by the
        pixels alone, with a warning, where either names none."""
        trained = self._trained_camera
        if {"", "unknown"} & {camera.name, trained["name"]} and trained["n_pixels"] == camera.n_pixels:
            log.warning("%s gives the camera %s, the network's is %s: taken as the same by their %d pixels", source,
                        camera.name, trained["name"], camera.n_pixels)
        elif (trained["name"], trained["n_pixels"]) != (camera.name, camera.n_pixels):
            raise UnknownCameraError(
                f"{source} gives the camera {camera.name} ({camera.n_pixels} pixels), but the network was trained on "
                f"{trained['name']} ({trained['n_pixels']} pixels): predict files of that camera (a file of several "
                f"telescope types: the run's data.params.telescope_type picks the images)"
            )

    def _use_training_camera(self) -> None:
        """Before predicting without the training splits: nothing where the checkpoint knows the network's camera
        (each file to predict is checked against it); else the reference camera of the first training file (the
        model was built on it), or, when those files are gone, that of the first file to predict."""
        if self.camera is not None or self._trained_camera is not None:
            return
        try:
            first = expand_patterns(self.file_patterns, "iact data", IACTDataError, find_copies=False)[0]
            file = self._open(first)
        except (IACTDataError, OSError) as error:
            log.warning("iact data: the training files cannot give the camera the model was built on (%s); "
                        "the first file to predict gives it", error)
            return
        file.close()
        self._use_camera(file.reference)

    # ------------------------------------------------------------------ files
    def resolve_files(self) -> list[Path]:
        """The files: globs expanded (sorted), or the cached simulated file (simulated if absent)."""
        if self.simulate is not None:
            return [self._simulated_file()]
        return expand_patterns(self.file_patterns, "iact data", IACTDataError, refuse_copies=True)

    def _simulation_seed(self) -> int:
        assert self.simulate is not None
        return self.seed if self.simulate.seed is None else self.simulate.seed

    def _simulated_file(self) -> Path:
        from showerlearn.iact.simulation import simulate_iact

        spec = self.simulate
        config = spec.config
        return cached_simulation(
            self.cache_dir, "iact", ".dl1.h5", config, self._simulation_seed(),
            lambda config, path, seed, progress: simulate_iact(config, path, seed=seed, n_jobs=spec.n_jobs, progress=progress),
            progress=self.progress,
        )

    def _open(self, path: Path) -> DL1File:
        """A DL1 file, or the DL1 file calibrated from a sim_telarray file, read on the reference camera."""
        try:
            return self._open_type(path, self.telescope_type)
        except SeveralTelescopeTypesError:
            # a run trained on files of one type names none, and cannot be given one at predict (a fitted setting):
            # of a file holding several, a trained network reads its own camera's
            if self.telescope_type is not None or self._trained_camera is None:
                raise
            return self._open_type(path, self._trained_camera["name"])

    def _open_type(self, path: Path, telescope_type: str | None) -> DL1File:
        if path.is_file() and file_kind(path) == SIMTEL:
            path = cached_dl1(path, self.cache_dir, telescope_type, self.simtel)
        return DL1File(path, telescope_type=telescope_type, reference=self.camera)

    def _catalog(self, paths: Sequence[Path], require_truth: bool) -> tuple[list[DL1File], dict[str, np.ndarray]]:
        """Open ``paths`` (metadata only) and concatenate their per-event columns."""
        files, parts = [], []
        for index, path in enumerate(paths):
            file = self._open(path)
            if self.camera is None:  # the first file's camera of the chosen type is the reference
                self._use_camera(file.reference, str(path))
            if require_truth and not file.has_truth:
                file.close()
                raise MissingTruthError(
                    f"{path}: no simulation truth (/simulation/event/subarray/shower, or lstchain mc_* "
                    "columns); only simulated files can be used for training and evaluation"
                )
            if file.truth_problems and require_truth:
                file.close()
                raise IACTDataError(file.truth_problems[0])
            for problem in file.truth_problems:  # prediction needs no truth: the rows keep it as the file has it
                log.warning("%s; carried into the predictions as it is", problem)
            if file.other_images:  # not an error (one network reads one camera), but not to be passed over unseen
                log.info("%s: %d image(s) of other telescope types not read (%s), only the %d of %s", path,
                         sum(file.other_images.values()), _counts(file.other_images), file.n_events, file.telescope_type)
            if self.cuts.needs_image_parameters:
                add_image_parameters(file, self.transform)
            file.close()  # workers reopen their own handles
            columns = dict(file.columns, file_index=np.full(file.n_events, index), row=np.arange(file.n_events))
            files.append(file)
            parts.append(columns)
        common = set.intersection(*(set(p) for p in parts))
        return files, {key: np.concatenate([p[key] for p in parts]) for key in sorted(common)}

    def fitted_state(self) -> dict[str, Any]:
        """The camera the network was built on (name and number of pixels): a file of another camera with a
        lattice of the same shape (NectarCam's and LSTCam's 1855 pixels) would load its weights without a word."""
        camera = ({"name": self.camera.name, "n_pixels": int(self.camera.n_pixels)} if self.camera is not None
                  else self._trained_camera)
        return {} if camera is None else {"camera": dict(camera), "impact_axes": self._impact_axes}

    @classmethod
    def resume_problems(cls, checkpoint: Callable[[], Mapping[str, Any]], heads: Collection[str]) -> list[str]:
        """A run whose checkpoint learnt the impact on ground axes (before 2026-12-06) would go on training its impact
        head on camera-axis targets, and be decoded as ground offsets."""
        if "impact" not in heads or (checkpoint().get(FITTED_STATE_KEY) or {}).get("impact_axes") == IMPACT_AXES:
            return []
        return ["its network learnt the impact point on ground axes (before 2026-12-06), which this version no longer "
                "trains: start a new run (init_from: its checkpoints/last.ckpt keeps its weights; the impact head "
                "retrains)"]

    def restore_from_checkpoint(self, checkpoint: Mapping[str, Any]) -> bool:
        if not checkpoint.get(FITTED_STATE_KEY):  # older than fitted states, so than the camera-axes impact too
            self._use_impact_axes(LEGACY_IMPACT_AXES)
        return super().restore_from_checkpoint(checkpoint)

    def restore_fitted_state(self, state: dict[str, Any]) -> None:
        camera = state.get("camera")
        if camera is None:
            return
        # checkpoints before the impact was encoded on camera axes (2026-12-06) say nothing of it
        self._use_impact_axes(str(state.get("impact_axes", LEGACY_IMPACT_AXES)))
        self._trained_camera = {"name": str(camera["name"]), "n_pixels": int(camera["n_pixels"])}
        if self.camera is not None:  # simulated data: its camera was set already
            self._use_camera(self.camera, "the run's simulated data")

    def _use_impact_axes(self, axes: str) -> None:
        """Decode the impact output as a restored network was trained to give it."""
        self._impact_axes = axes
        if axes == LEGACY_IMPACT_AXES:
            log.warning("this network was trained before the impact point was encoded as an image shows it "
                        "(2026-12-06): its reco_core_x/y hold only at the pointing azimuth of its training events")

    def use_prediction_inputs(self, files: Sequence[str | Path]) -> None:
        """Predict on these DL1 or sim_telarray files (no truth needed); the run's quality cuts still apply,
        the training's ``simtel.max_events`` (a training-set size) does not: every event is predicted."""
        self.prediction_inputs = [Path(f) for f in files]
        if self.simtel.max_events is not None:
            self.simtel = self.simtel.model_copy(update={"max_events": None})

    # ------------------------------------------------------------------ setup
    def setup(self, stage: str | None = None) -> None:
        # prediction on new files needs neither the training files nor their simulation
        if self.train_set is None and not (stage == "predict" and self.prediction_inputs is not None):
            self._setup_splits()
        if self.prediction_inputs is not None and self.predict_set is None:
            files, columns = self._prediction_catalog()
            select(columns, self.cuts.without_truth(), _describe(self.prediction_inputs))  # refuses inputs with no event left
            self._predict_rows(files, columns, np.arange(len(columns["event_id"])))

    def prediction_parts(self, file: Path, max_events: int) -> Iterator[Dataset]:
        """``file`` in parts of ``max_events`` events: its per-event columns (and image parameters, where a cut
        needs them) are read once, each part's images when they are predicted."""
        self.teardown("predict")
        self.use_prediction_inputs([file])
        files, columns = self._prediction_catalog()
        n = len(columns["event_id"])
        for start in range(0, n, max_events):
            self._predict_rows(files, columns, np.arange(start, min(start + max_events, n)))
            yield self.predict_set

    def _prediction_catalog(self) -> tuple[list[DL1File], dict[str, np.ndarray]]:
        """The files to predict and their per-event columns, read on the training camera; their column types
        are kept for the meta of no event (:meth:`empty_predictions`)."""
        self._use_training_camera()
        files, columns = self._catalog(self.prediction_inputs, require_truth=False)
        self._empty_meta = _event_meta(_take(columns, np.arange(0)))
        return files, columns

    def _predict_rows(self, files: list[DL1File], columns: dict[str, np.ndarray], rows: np.ndarray) -> None:
        """``predict_set``: the events ``rows`` that pass the quality cuts; what the cuts removed is kept aside."""
        masks = cut_masks(_take(columns, rows), self.cuts.without_truth())
        keep, self._selection = removed_per_cut(masks, len(rows))
        self._removed_meta = _event_meta(_take(columns, rows[~keep]))
        self.predict_set = self._dataset(files, columns, rows[keep], augment=False)

    def selection_report(self) -> dict[str, int]:
        return dict(self._selection)

    def removed_rows(self) -> dict[str, np.ndarray]:
        """The removed events' ids, truth and pointing, as the predicted events have them, with NaN predictions."""
        return decode_outputs({}, self._removed_meta, self._impact_axes)

    def empty_predictions(self, own_outputs: Mapping[str, np.ndarray] | None = None) -> dict[str, dict[str, np.ndarray]]:
        """The decode of no event, its ids and truth typed as the file being predicted holds them (as in its
        predicted rows), with the predictor's own columns (``hillas_valid`` of Hillas + RF)."""
        if not self._empty_meta:  # no file read yet: nothing says the types
            return super().empty_predictions(own_outputs)
        return {"predictions": decode_outputs(dict(own_outputs or {}), self._empty_meta, self._impact_axes)}

    def _setup_splits(self) -> None:
        paths = self.resolve_files()
        self.simulated_into = paths if self.simulate is not None else []
        self.files, columns = self._catalog(paths, require_truth=True)
        _refuse_repeated_events(paths, self.files, columns)
        selected = select(columns, self.cuts, _describe(paths))
        if self.split.by == "event":
            candidates = np.nonzero(selected)[0]
            parts = [candidates[p] for p in self.split.indices(len(candidates), self.seed)]
        elif self.split.by == "shower":
            candidates = np.nonzero(selected)[0]
            keys = np.stack([columns[name][candidates] for name in ("file_index", "obs_id")]
                            + [columns["event_id"][candidates] // 100], axis=1)  # fmt: skip
            showers, shower_of = np.unique(keys, axis=0, return_inverse=True)
            parts = [candidates[np.isin(shower_of, p)] for p in self.split.indices(len(showers), self.seed)]
        else:
            file_parts = self.split.indices(len(paths), self.seed)
            parts = [np.nonzero(selected & np.isin(columns["file_index"], p))[0] for p in file_parts]
        for name, part, fraction in zip(_SPLITS, parts, self.split.fractions, strict=True):
            if fraction > 0 and len(part) == 0:
                raise EmptySelectionError(
                    f"{_describe(paths)}: the {name} split is empty ({int(selected.sum())} selected events, "
                    f"split by {self.split.by} with fractions {list(self.split.fractions)})"
                )
        self.parts = dict(zip(_SPLITS, parts, strict=True))
        self._columns = columns
        self._weights = self._class_weights(columns, self.parts["train"])
        self.train_set = self._dataset(self.files, columns, self.parts["train"], augment=True)
        self.val_set = self._dataset(self.files, columns, self.parts["val"], augment=False)
        self.test_set = self._dataset(self.files, columns, self.parts["test"], augment=False)

    def sampling_weights(self) -> np.ndarray | None:
        if self.energy_sampling.flatten == 0.0:
            return None
        if self.train_set is None:
            raise RuntimeError("iact data: energy_sampling needs the training split: call setup('fit') first")
        return energy_sampling_weights(self.train_set.meta["true_energy"], self.train_set.targets["particle"], self.energy_sampling)

    def _class_weights(self, columns: dict[str, np.ndarray], train: np.ndarray) -> np.ndarray:
        """Per-class weight lookup (index = class) from ``class_balance`` and the training split."""
        n_classes = len(PARTICLE_CLASSES)
        if self.class_balance == "none":
            return np.ones(n_classes)
        if isinstance(self.class_balance, dict):
            return np.array([self.class_balance.get(name, 1.0) for name in PARTICLE_CLASSES])
        counts = np.bincount(encode_targets(_take(columns, train))[0]["particle"], minlength=n_classes)
        present = counts > 0
        weights = np.ones(n_classes)
        weights[present] = counts[present].sum() / (present.sum() * counts[present])
        return weights

    def _dataset(self, files: list[DL1File], columns: dict[str, np.ndarray], index: np.ndarray, augment: bool) -> IACTDataset:
        events = _take(columns, index)
        targets, masks = encode_targets(events)
        weights = self._weights[targets["particle"]]
        return IACTDataset(
            files,
            events["file_index"],
            events["row"],
            targets,
            masks,
            weights,
            _event_meta(events),
            self.transform,
            self.augmenter if augment else None,
            self.max_open_files,
        )

    # in_memory loads when training asks for the loaders: once in each DDP process, and never for
    # estimators (they take whole splits through arrays()); the test set is read once anyway
    def train_dataloader(self) -> DataLoader:
        self._load(self.train_set, "training split")
        return super().train_dataloader()

    def val_dataloader(self) -> DataLoader:
        self._load(self.val_set, "validation split")
        return super().val_dataloader()

    def _load(self, dataset: IACTDataset | None, name: str) -> None:
        if not self.in_memory or dataset is None or dataset.loaded:
            return
        store = self._input_store(dataset) if self.in_memory == "memmap" else None
        trainer = getattr(self, "trainer", None)
        if store is not None and not store.exists() and trainer is not None and trainer.world_size > 1:
            # one DDP process writes the file, the others wait for it and map it
            if trainer.global_rank == 0:
                dataset.load_into_memory(name, store=store)
            trainer.strategy.barrier("iact memmap inputs")
        dataset.load_into_memory(name, store=store)

    def _input_store(self, dataset: IACTDataset) -> Path:
        """Where ``in_memory: memmap`` keeps ``dataset``'s inputs: named by what they are made of (the files as they
        are now, the events, the camera, the cleaning and transforms), so a change of any makes a new file."""
        recipe = json.dumps({
            "format": INPUTS_FORMAT,
            "files": [[str(file.path.resolve()), *_size_and_time(file.path)] for file in dataset.files],
            "camera": [self.camera.name, self.camera.n_pixels],
            "cleaning": self.cleaning.model_dump(mode="json"),
            "transforms": self.transforms.model_dump(mode="json"),
        }, sort_keys=True)
        digest = hashlib.sha256(recipe.encode())
        digest.update(dataset.file_index.tobytes())
        digest.update(dataset.row.tobytes())
        return self.cache_dir / "inputs" / f"inputs_{digest.hexdigest()[:16]}.npy"

    def teardown(self, stage: str | None = None) -> None:
        """Close this process's file handles (datasets reopen them if used again)."""
        for dataset in (self.train_set, self.val_set, self.test_set, self.predict_set):
            for file in getattr(dataset, "files", []):
                file.close()

    # ------------------------------------------------------------------ contract
    def model_inputs(self) -> dict[str, Any]:
        if not self.files and self.predict_set is None:
            self.setup("fit")
        files = self.files or self.predict_set.files
        return {
            "lattice": Lattice.from_camera(self.camera),
            "camera": self.camera,
            "in_channels": len(self.transform.channels),
            "channel_names": tuple(self.transform.channels),
            "charge_transform": self.transforms.charge,  # what a layer weighing pixels by charge must undo
            "n_classes": len(PARTICLE_CLASSES),
            "focal_length": files[0].focal_length,
            # why training events lack a target (no pointing): for the error of a head left with none to train
            "missing_targets": pointing_gaps(self.files, self._columns, self.parts["train"]) if self.parts else {},
        }

    def camera_examples(self, n: int = 6) -> tuple[Any, np.ndarray, list[str]]:
        """``(camera, images, titles)`` of the first ``n`` test events (raw charge [p.e.]) to draw."""
        inputs, _, _, meta = self.arrays("test", raw=True)
        picked = np.arange(min(n, len(inputs)))
        classes = particle_class(meta["true_shower_primary_id"])
        titles = [
            f"{PARTICLE_CLASSES[classes[i]]}, {meta['true_energy'][i]:.2f} TeV, event {meta['event_id'][i]}"
            for i in picked
        ]
        return self.camera, inputs[picked, 0], titles

    def draw_examples(self, folder: Path, formats: Sequence[str] | None = None) -> bool:
        """The first test images (raw charge) on the camera, as ``camera_examples.png`` (and the other ``formats``)."""
        from showerlearn.iact.viz.camera import camera_images_figure  # matplotlib only when drawing
        from showerlearn.viz.figures import FIGURE_FORMATS, save_figure

        camera, images, titles = self.camera_examples()
        what = f"charge of the first {len(images)} test events, as read (no cleaning)"
        save_figure(camera_images_figure(camera, images, titles, title=what), Path(folder) / "camera_examples",
                    FIGURE_FORMATS if formats is None else formats)
        return True

    def decode_predictions(self, outputs: dict[str, np.ndarray], meta: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return decode_outputs(outputs, meta, self._impact_axes)

    def column_units(self) -> dict[str, dict[str, str]]:
        return {"predictions": dict(COLUMN_UNITS)}

    def evaluation_defaults(self) -> dict[str, Any]:
        """The gamma production the data was simulated from (``simulated``, for the effective area): the run rows of
        every file holding gammas, summed; none where a file lacks them, mixes particles without saying which the
        rows describe, or only part of the files' events is read (``simtel.max_events``, a sim_telarray file cut
        short read with ``simtel.allow_truncated``); and none for files with several telescopes of the type read, whose
        images of one shower the effective area would count as several events."""
        if self.simtel.max_events is not None or self.simtel.allow_truncated or not self.files:
            return {}
        runs = []
        for file in self.files:
            gamma = np.asarray(file.columns["true_shower_primary_id"]) == GAMMA_PRIMARY_ID
            if not gamma.any():
                continue  # a proton production: not the gammas' effective area
            showers = np.stack([file.columns["obs_id"], file.columns["event_id"]], axis=1)
            if len(np.unique(showers, axis=0)) < len(showers):
                log.info("no effective area: %s holds several images of a shower (one per telescope)", file.path)
                return {}
            rows = simulation_runs(file.path)
            if rows is None or not (gamma.all() or production_particle(file.path) == "gamma"):
                log.info("no effective area: %s gives no gamma production (its /configuration/simulation/run)", file.path)
                return {}
            runs.append(rows)
        try:
            return {"simulated": combined_production(runs)} if runs else {}
        except ValueError as error:
            log.warning("no effective area: the files' productions cannot be combined: %s", error)
            return {}

    def describe(self) -> str:
        """The events (simulated, or the files) and the selection cuts, e.g. ``simulated LSTCam events
        (30000 showers, diffuse gammas); cuts: intensity >= 50.0 p.e.``."""
        if self.simulate is not None:
            config = self.simulate.config
            camera = self.camera.name if self.camera is not None else "camera"
            source = (f"simulated {camera} events ({config.n_events} showers, {config.gamma_source} gammas, seed "
                      f"{self._simulation_seed()})")
        else:
            source = files_caption(self.file_patterns)
        return f"{source}; {self.cuts.describe()}"

    def prediction_views(self) -> list[InputView | None]:
        """The event as it is, and with ``augment.test_time`` moved by each symmetry of ``augment.ops``."""
        return [None if view is None else functools.partial(permuted_pixels, perm=torch.as_tensor(view.perm)) for view in self._views]

    def merge_prediction_views(
        self, outputs: Sequence[dict[str, np.ndarray]], meta: dict[str, np.ndarray]
    ) -> dict[str, np.ndarray]:
        return outputs[0] if len(self._views) == 1 else average_views(self._views, outputs)

    @classmethod
    def average_predictions(
        cls, tables: Sequence[Mapping[str, np.ndarray]], names: Sequence[str]
    ) -> dict[str, np.ndarray]:
        return average_prediction_tables(tables, names)

    def arrays(
        self, split: str, raw: bool = False
    ) -> tuple[np.ndarray, dict[str, np.ndarray], dict[str, np.ndarray], dict[str, np.ndarray]]:
        """The whole split in memory (no augmentation): inputs (n, C, n_pixels), targets, masks, meta.

        ``raw``: channels charge [p.e.] and peak time [ns] as in the file, whatever the transforms."""
        self.setup("fit" if split != "predict" else "predict")
        dataset = {"train": self.train_set, "val": self.val_set, "test": self.test_set, "predict": self.predict_set}[split]
        if dataset is None:
            raise RuntimeError(f"iact data: no {split} set")
        if dataset.augmenter is not None or raw:
            transform = ImageTransform(self.camera, RAW_CLEANING, RAW_TRANSFORM) if raw else dataset.transform
            dataset = IACTDataset(
                dataset.files, dataset.file_index, dataset.row, dataset.targets, dataset.masks,
                dataset.weights, dataset.meta, transform, None, dataset.max_open_files,
            )
        batches = list(DataLoader(dataset, batch_size=256, num_workers=self.num_workers, collate_fn=collate_batch))
        inputs = torch.cat([b["inputs"] for b in batches]).numpy()
        gathered = {
            key: {name: torch.cat([b[key][name] for b in batches]).numpy() for name in batches[0][key]}
            for key in ("targets", "masks", "meta")
        }
        return inputs, gathered["targets"], gathered["masks"], gathered["meta"]


def _size_and_time(path: Path) -> tuple[int, int]:
    status = path.stat()
    return status.st_size, status.st_mtime_ns


def _take(columns: dict[str, np.ndarray], index: np.ndarray) -> dict[str, np.ndarray]:
    return {key: values[index] for key, values in columns.items()}


def _event_meta(events: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The per-event columns carried into the predictions and needed to decode them."""
    meta = {name: events[name] for name in (*META_COLUMNS, *_DECODE_COLUMNS)}
    if "intensity" in events:
        meta["hillas_intensity"] = events["intensity"]
    return meta


def _counts(counts: Mapping[str, int]) -> str:
    """``NectarCam: 4, CHEC: 2``."""
    return ", ".join(f"{name}: {count}" for name, count in counts.items())


def _describe(paths: Sequence[Path]) -> str:
    names = [str(p) for p in paths]
    return ", ".join(names) if len(names) <= 3 else f"{', '.join(names[:3])} and {len(names) - 3} more files"
