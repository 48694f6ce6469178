"""The ``calorimeter`` DataModule: crystal hits from hit files (given, or simulated and cached) to padded batches.

Pipeline: read every hit file into memory (:mod:`.events`) -> split the events (``SplitSpec``) -> hit features,
standardised with the training split's hits (:mod:`.features`) -> [agglomerative pre-clusters and their features,
for the two-stage method (:mod:`.preclustering`)] -> datasets of per-event samples (:mod:`.dataset`) padded into
batches by :func:`~showerlearn.data.collate.collate_padded`. Predictions go back to a per-event table, a ``hits``
table with each hit's cluster label (:mod:`.decoding`) and a ``gammas`` table with the truth.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field

from showerlearn.calorimeter.data.dataset import HIT_META, AzimuthalTurns, HitEventDataset, turned_inputs
from showerlearn.calorimeter.data.decoding import (
    DECODING_READS, PAIR_OUTPUTS, DecodingSpec, average_pair_views, decode_labels, decoded_output,
)
from showerlearn.calorimeter.data.events import (
    GAMMA_COLUMNS,
    HIT_COLUMNS,
    HitEvents,
    common_geometry,
    load_hit_files,
    load_hit_range,
)
from showerlearn.calorimeter.data.features import HIT_FEATURES, FeatureSpec, check_features, hit_features
from showerlearn.calorimeter.data.preclustering import PreclusterSpec, precluster_events
from showerlearn.calorimeter.evaluation.tables import CLUSTER_UNITS, PREDICTION_UNITS, cluster_table
from showerlearn.calorimeter.family import FAMILY, RESOLUTION_ATTRIBUTE
from showerlearn.calorimeter.geometry import geometry_by_name
from showerlearn.calorimeter.io import n_events, recorded_resolution
from showerlearn.calorimeter.kinematics import doppler_correct
from showerlearn.calorimeter.simulation.config import CalorimeterSimulationConfig
from showerlearn.config.base import SettingsModel
from showerlearn.data.base import InputView, ShowerDataModule
from showerlearn.data.collate import collate_padded
from showerlearn.data.files import (
    cached_simulation, check_source, event_count_validator, expand_patterns, files_caption, missing_file_problems,
    source_problems,
)
from showerlearn.data.split import SplitSpec
from showerlearn.registry import DATAMODULES, Count, NonNegative

__all__ = ["CalorimeterDataModule", "SimulateSpec"]

_SPLITS = ("train", "val", "test")


class SimulateSpec(SettingsModel):
    """Simulate the hit file with ``showerlearn.calorimeter.simulation.simulate_calorimeter`` (cached by settings + seed)."""

    model_config = ConfigDict(frozen=True)

    config: CalorimeterSimulationConfig = Field(
        default_factory=CalorimeterSimulationConfig, description="Simulation settings (docs/calorimeter.md); checked like any key.")
    events: int | None = Field(
        None, ge=1, exclude=True, description="Number of events (a shortcut: sets config.n_events, where a resolved config keeps it)."
    )

    one_event_count = event_count_validator()
    seed: int | None = Field(None, ge=0, lt=2**32, description="Simulation seed; default: the experiment seed.")
    n_jobs: int = Field(1, ge=1, description="Worker processes of the simulator (the output does not depend on it).")


def _coerce(model: type[BaseModel], value: Any) -> Any:
    return value if isinstance(value, model) else model.model_validate(value or {})


def _azimuth_problems(params: Mapping[str, Any], path: str) -> list[str]:
    """What turning about the beam axis (``augment_azimuth``, ``test_time_views``) needs that the settings show:
    the features x and y both or neither (hits and pre-clusters: they turn together), and a simulated
    calorimeter with the turns asked for."""
    augment, views = bool(params.get("augment_azimuth")), int(params.get("test_time_views") or 0)
    if not (augment or views):
        return []
    problems = []
    preclustering = params.get("preclustering")
    named = {"features": params.get("features", HIT_FEATURES)}
    if preclustering is not None:
        named["preclustering.features"] = _coerce(PreclusterSpec, preclustering).features
    for key, names in named.items():
        if ("x" in names) != ("y" in names):
            problems.append(f"{path}.{key}: turning about the beam axis (augment_azimuth, test_time_views) turns x and y "
                            f"together: give both or neither, got {list(names)}")
    if params.get("simulate") is not None:
        name = _coerce(SimulateSpec, params["simulate"]).config.geometry
        problems += [f"{path}.{key}: {problem}" for key, problem in _symmetry_problems(name, augment, views).items()]
    return problems


def _symmetry_problems(name: str, augment: bool, views: int) -> dict[str, str]:
    """Setting -> problem of ``augment_azimuth`` and ``test_time_views`` on the calorimeter ``name``."""
    symmetries = geometry_by_name(name).azimuthal_symmetries
    problems = {}
    # the symmetries the geometry offers, not all it has: the toy grid, a patch, mirrors in phi but offers none
    if augment and symmetries == 1:
        problems["augment_azimuth"] = (f"the {name!r} calorimeter offers no turn or mirror about the beam axis to "
                                       "augment with (they are implemented for rings of crystals closing the circle only)")
    if views >= symmetries:
        problems["test_time_views"] = (f"{views} views asked, but the {name!r} calorimeter offers {symmetries - 1} turns "
                                       "and mirrors about the beam axis besides the identity")
    return problems


@DATAMODULES.register("calorimeter")
class CalorimeterDataModule(ShowerDataModule):
    """Calorimeter crystal hits as padded sets, with per-hit gamma and per-pair same-gamma targets (docs/calorimeter.md)."""

    model_input_names: ClassVar[frozenset[str]] = frozenset({"hit_features", "cluster_features", "geometry"})
    family = FAMILY
    #: the features the restored standardisations were fitted on, and the whole pre-clustering (with it or
    #: not, its threshold, linkage...): it makes the pre-clusters the network reads, whose features were
    #: standardised as they were trained on
    fitted_settings: ClassVar[tuple[str, ...]] = ("features", "preclustering")
    #: the decoding cuts the network's outputs into clusters (the same events, clustered otherwise); where the
    #: simulated file is kept and how many processes write it (the same file); the augmentation and the batches'
    #: grouping (training only); the test-time views (the same events seen otherwise)
    prediction_settings: ClassVar[frozenset[str]] = ShowerDataModule.prediction_settings | {
        "decoding", "cache_dir", "simulate.n_jobs", "augment_azimuth", "test_time_views", "group_by_size"}
    event_id_columns: ClassVar[tuple[str, ...]] = ("file", "event_id")
    #: cluster labels do not average, the same-cluster probabilities of hit (or pre-cluster) pairs do: an ensemble
    #: of networks with pair outputs averages them, then decodes the mean as one network's
    averaged_outputs: ClassVar[frozenset[str]] = PAIR_OUTPUTS
    #: with pre-clustering, the pair outputs are of pre-clusters, which its settings make
    output_settings: ClassVar[tuple[str, ...]] = ("preclustering",)

    @classmethod
    def config_problems(cls, params: Mapping[str, Any], path: str) -> list[str]:
        """What ``config validate`` reports before any work: ``files`` and ``simulate`` both given, or neither, hit
        feature names the hits do not have, and what ``augment_azimuth`` and ``test_time_views`` need. ``params`` are
        validated already: ``features`` is a list of names, and the pre-cluster features are checked by
        :class:`PreclusterSpec` itself."""
        problems = source_problems(params, path)
        try:
            check_features(params.get("features", HIT_FEATURES))
        except ValueError as error:
            problems.append(f"{path}.features: {error}")
        return problems + _azimuth_problems(params, path)

    @classmethod
    def new_run_problems(cls, params: Mapping[str, Any]) -> list[str]:
        """The hit files named are there (:func:`~showerlearn.data.files.missing_file_problems`)."""
        return missing_file_problems(params.get("files"), "data.params.files")

    @classmethod
    def ignored_prediction_settings(
        cls, outputs: frozenset[str], trained: Mapping[str, Any], params: Mapping[str, Any]
    ) -> dict[str, str]:
        """The decoding settings of ``params`` changed from ``trained``'s (a config's ``data.params``, as plain
        data) that the rule of the decoded one of ``outputs`` (the run's model's) does not read, each with why:
        changed at prediction, they would change no label and still be recorded in the output's config."""
        output = decoded_output(outputs)
        if output is None:
            return {}
        before, after = (_coerce(DecodingSpec, settings.get("decoding")) for settings in (trained, params))
        read = DECODING_READS[output]
        reads = f"which reads only {', '.join(sorted(read))}" if read else "which reads no decoding setting"
        return {f"decoding.{key}": f"decoded from its {output!r} output, {reads}"
                for key in DecodingSpec.model_fields if key not in read and getattr(before, key) != getattr(after, key)}

    def __init__(
        self,
        files: list[str] | None = None,
        simulate: SimulateSpec | None = None,
        cache_dir: Path = Path(".showerlearn_cache/calorimeter"),
        split: SplitSpec = SplitSpec(),
        features: tuple[str, ...] = HIT_FEATURES,
        preclustering: PreclusterSpec | None = None,
        decoding: DecodingSpec = DecodingSpec(),
        augment_azimuth: bool = False,
        test_time_views: NonNegative = 0,
        batch_size: Count = 64,
        group_by_size: NonNegative = 0,
        num_workers: NonNegative = 0,
        seed: int = 0,
    ) -> None:
        """
        Args:
            files: hit files (``showerlearn simulate calorimeter``), paths or glob patterns; or else ``simulate``.
            simulate: simulate a hit file once with the built-in simulator and use it (cached in ``cache_dir``).
            cache_dir: where simulated files are kept, named by a digest of the simulation settings and the seed.
            split: how events are divided into train / val / test.
            features: hit features the network sees (standardised with the training split), of ``energy``,
                ``log_energy``, ``theta``, ``phi``, ``time``, ``x``, ``y``, ``z``.
            preclustering: agglomerative pre-clusters of every event as a second input stream ``clusters`` with the
                target ``cluster_pairs`` (the two-stage method); null: none.
            decoding: how outputs become cluster labels (pair threshold, condensation thresholds).
            augment_azimuth: turn every training event about the beam axis by a random one of the turns that map
                the calorimeter onto itself (multiples of 2 pi / 32 for CALIFA), mirrored in azimuth half of the time
                (inputs only): the calorimeter and the physics share these symmetries, so the network learns them
                instead of absolute azimuths. Not for the toy grid (a patch); the features (and the pre-cluster
                features) must hold x and y both or neither.
            test_time_views: test-time augmentation: predict every test (and ``showerlearn predict``) event also
                under this many of the calorimeter's turns and mirrors (spread over them; at most 63 for CALIFA) and
                average the same-cluster probability of every pair over the views, one forward pass each (networks
                with pair outputs). Independent of ``augment_azimuth``.
            batch_size: events per batch.
            group_by_size: training batches of events with similar numbers of hits (of pre-clusters, with
                ``preclustering``): each epoch's shuffled events are sorted by them in pools of this many batches, cut
                into batches, and the batches shuffled. Padded to fewer hits, a batch trains about twice as fast
                (benchmarks/results/calorimeter_batching.md); the losses are divided by a running mean of the pairs
                per event, so that every pair weighs alike. On issue 22's 400,000 events it cost 1 point of the gap
                closed (benchmarks/results/calorimeter_clustering_400k_grouped): for quick studies. 0: plain shuffled
                batches (the default, the examples', and how every run before this setting trained).
            num_workers: DataLoader worker processes.
            seed: the experiment seed (injected): draws the split unless ``split.seed`` is set, and the simulation
                unless ``simulate.seed`` is set.
        """
        super().__init__(batch_size=batch_size, num_workers=num_workers, seed=seed)
        self.group_by_size = group_by_size
        check_source(files, simulate, "calorimeter data")
        check_features(features)  # unknown names fail now, not after reading the files
        self.file_patterns = files
        self.simulate = _coerce(SimulateSpec, simulate) if simulate is not None else None
        self.cache_dir = Path(cache_dir)
        self.split = _coerce(SplitSpec, split)
        self.features = tuple(features)
        self.preclustering = _coerce(PreclusterSpec, preclustering) if preclustering is not None else None
        self.decoding = _coerce(DecodingSpec, decoding)
        if problems := _azimuth_problems({"augment_azimuth": augment_azimuth, "test_time_views": test_time_views,
                                          "features": self.features, "preclustering": self.preclustering,
                                          "simulate": self.simulate}, "data.params"):
            raise ValueError("; ".join(problems))
        self.augment_azimuth = augment_azimuth
        self.test_time_views = test_time_views
        self.hit_spec: FeatureSpec | None = None
        self.cluster_spec: FeatureSpec | None = None
        self.parts: dict[str, np.ndarray] = {}
        #: the calorimeter the training files name (files to predict must name the same)
        self.geometry: str | None = None

    # ------------------------------------------------------------------ files
    def resolve_files(self) -> list[Path]:
        """The hit files: globs expanded (sorted), or the cached simulated file (simulated if absent)."""
        if self.simulate is not None:
            return [self._simulated_file()]
        return expand_patterns(self.file_patterns, "calorimeter data", FileNotFoundError, refuse_copies=True)

    def _simulated_file(self) -> Path:
        from showerlearn.calorimeter.simulation import simulate_calorimeter

        spec = self.simulate
        config = spec.config
        return cached_simulation(
            self.cache_dir, "calorimeter", ".h5", config, self._simulation_seed(),
            lambda config, path, seed, progress: simulate_calorimeter(config, path, seed=seed, n_jobs=spec.n_jobs,
                                                                      progress=progress),
            progress=self.progress,
        )

    def use_prediction_inputs(self, files: Sequence[str | Path]) -> None:
        """Predict on these hit files (truth optional), standardised like the training split."""
        self.prediction_inputs = [Path(f) for f in files]

    # ------------------------------------------------------------------ setup
    def fitted_state(self) -> dict[str, Any]:
        """The training files' calorimeter and the standardisation of the hit (and pre-cluster) features."""
        if self.hit_spec is None:
            return {}
        return {
            "geometry": self.geometry, "hit_features": dataclasses.asdict(self.hit_spec),
            "cluster_features": dataclasses.asdict(self.cluster_spec) if self.cluster_spec is not None else None,
        }  # fmt: skip

    def restore_fitted_state(self, state: dict[str, Any]) -> None:
        self.geometry = state["geometry"]
        self.hit_spec = _feature_spec(state["hit_features"])
        self.cluster_spec = _feature_spec(state["cluster_features"]) if state["cluster_features"] is not None else None

    def setup(self, stage: str | None = None) -> None:
        if self.needs_training_split():
            self._setup_splits()
        if self.prediction_inputs is not None and self.predict_set is None:
            common_geometry(self.prediction_inputs, self.geometry)
            self.predict_set = self._dataset(load_hit_files(self.prediction_inputs, require_truth=False))

    def prediction_parts(self, file: Path, max_events: int) -> Iterator[HitEventDataset]:
        """``file`` read ``max_events`` events at a time: hit files are otherwise held whole in memory."""
        self.prediction_inputs = [Path(file)]
        if self.needs_training_split():
            self._setup_splits()
        common_geometry(self.prediction_inputs, self.geometry)
        total = n_events(file)
        for start in range(0, total, max_events):
            self.predict_set = self._dataset(load_hit_range(Path(file), start, min(start + max_events, total), require_truth=False))
            yield self.predict_set

    def _setup_splits(self) -> None:
        paths = self.resolve_files()
        self.simulated_into = paths if self.simulate is not None else []
        # a state restored from a trained network (max_epochs: 0) names the calorimeter the files must share
        self.geometry = common_geometry(paths, self.geometry)
        events = load_hit_files(paths)
        parts = self.split.indices(len(events), self.seed)
        for name, part, fraction in zip(_SPLITS, parts, self.split.fractions, strict=True):
            if fraction > 0 and len(part) == 0:
                raise ValueError(f"{', '.join(map(str, paths))}: the {name} split is empty ({len(events)} events, "
                                 f"fractions {list(self.split.fractions)})")
        self.parts = dict(zip(_SPLITS, parts, strict=True))
        if self.hit_spec is None:  # else restored from a trained network's checkpoint: evaluated as it was trained
            self._fit_standardisation(events.take(self.parts["train"]), paths)
        self._check_symmetries(paths)
        turns = self._azimuthal_turns() if self.augment_azimuth else None
        self.train_set = self._dataset(events.take(self.parts["train"]), turns)
        self.val_set, self.test_set = (self._dataset(events.take(self.parts[name])) for name in _SPLITS[1:])

    def _fit_standardisation(self, train: HitEvents, paths: Sequence[Path]) -> None:
        if not len(train.hits["energy"]):
            raise ValueError(f"{', '.join(map(str, paths))}: the training split has no hits to standardise with")
        self.hit_spec = FeatureSpec.fit(self.features, hit_features(train.hits, self.features))
        if self.preclustering is not None:
            self.cluster_spec = FeatureSpec.fit(self.preclustering.features, precluster_events(train, self.preclustering).features)

    def _check_symmetries(self, paths: Sequence[Path]) -> None:
        """Before any training: the files' calorimeter has the turns ``augment_azimuth`` and ``test_time_views`` need."""
        if problems := _symmetry_problems(self.geometry, self.augment_azimuth, self.test_time_views):
            raise ValueError("; ".join(f"{', '.join(map(str, paths))}: {key}: {problem}" for key, problem in problems.items()))

    def _azimuthal_turns(self) -> AzimuthalTurns:
        geometry = geometry_by_name(self.geometry)
        return AzimuthalTurns(self.hit_spec, self.cluster_spec, geometry.azimuthal_turns, geometry.azimuthal_mirror)

    def prediction_views(self) -> list[InputView | None]:
        """The events as they are, and with ``test_time_views`` turned and mirrored by the calorimeter's own
        symmetries, spread evenly over them (ordered mirror-major: one view is the mirror; three are a half turn,
        the mirror and the mirror turned by half; seven add the quarter turns; ...)."""
        if not self.test_time_views:
            return [None]
        if problems := _symmetry_problems(self.geometry, False, self.test_time_views):
            raise ValueError(f"data.params.test_time_views: {problems['test_time_views']}")
        geometry = geometry_by_name(self.geometry)
        turns, symmetries = geometry.azimuthal_turns, geometry.azimuthal_symmetries
        views: list[InputView | None] = [None]
        for number in range(1, self.test_time_views + 1):
            mirror, step = divmod(math.floor(number * symmetries / (self.test_time_views + 1) + 0.5), turns)
            views.append(functools.partial(turned_inputs, angle=2 * math.pi * step / turns, mirror=bool(mirror),
                                           hit_spec=self.hit_spec, cluster_spec=self.cluster_spec))
        return views

    def merge_prediction_views(self, outputs: Sequence[dict[str, np.ndarray]], meta: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The views' same-cluster probabilities of every pair averaged (:func:`average_pair_views`)."""
        return outputs[0] if len(outputs) == 1 else average_pair_views(outputs)

    @classmethod
    def average_network_outputs(cls, outputs: Iterable[Mapping[str, np.ndarray]]) -> dict[str, np.ndarray]:
        """The networks' same-cluster probabilities of every pair averaged (:func:`average_pair_views`)."""
        return average_pair_views(outputs)

    def _dataset(self, events: HitEvents, turns: AzimuthalTurns | None = None) -> HitEventDataset:
        features = self.hit_spec.standardise(hit_features(events.hits, self.features))
        preclusters = None
        if self.preclustering is not None:
            raw = precluster_events(events, self.preclustering)
            preclusters = dataclasses.replace(raw, features=self.cluster_spec.standardise(raw.features))
        return HitEventDataset(events, features, preclusters, turns)

    # ------------------------------------------------------------------ contract
    def training_sizes(self) -> np.ndarray | None:
        """The hits of every training event, or its pre-clusters with ``preclustering`` (what the two-stage method's
        network attends over): what its batch is padded to."""
        if self.train_set is None:
            return None
        preclusters = self.train_set.preclusters
        return np.diff(preclusters.offsets) if preclusters is not None else self.train_set.events.n_hits

    def collate(self, samples: list[dict[str, Any]]) -> dict[str, Any]:
        """Hit sets padded to the batch's largest, with at least one slot: a batch whose events all lack hits
        (a chunk of one such event) still has a slot for the networks' attention to fall back on, so that an
        event's clusters do not depend on the batch it came in (in training as in prediction)."""
        elements = ["inputs.hits", "targets.objects", "meta.hits", "meta.gammas"]
        pairs = ["targets.pairs"]
        if self.preclustering is not None:
            elements.append("inputs.clusters")
            pairs.append("targets.cluster_pairs")
        return collate_padded(samples, elements=elements, pairs=pairs, min_size=1)

    def model_inputs(self) -> dict[str, Any]:
        if self.hit_spec is None:
            self.setup("fit")
        # the geometry too: a method that needs crystal positions (the R3B sphere window) takes the files' own
        return {"hit_features": self.hit_spec, "cluster_features": self.cluster_spec, "geometry": self.geometry}

    def arrays(
        self, split: str, raw: bool = False
    ) -> tuple[np.ndarray, dict[str, np.ndarray], dict[str, np.ndarray], dict[str, np.ndarray]]:
        """A whole split in memory: inputs, targets (``objects``, padded with -1), masks and meta (padded as the
        network's batches are).

        Inputs: ``raw`` -> an object array of one mapping of physical hit columns per event (:data:`HIT_COLUMNS`,
        truth included: what the clustering methods' ``cluster`` takes; only the oracle reads the truth);
        else the standardised features padded to ``(events, N, F)``."""
        self.setup("predict" if split == "predict" else "fit")
        dataset = {"train": self.train_set, "val": self.val_set, "test": self.test_set, "predict": self.predict_set}[split]
        if dataset is None:
            raise RuntimeError(f"calorimeter data: no {split} set")
        batch = self.collate([dataset[i] for i in range(len(dataset))])
        meta = {key: _numpy(value) for key, value in batch["meta"].items()}
        objects = _numpy(batch["targets"]["objects"])
        mask = _numpy(batch["masks"]["objects"])
        targets = {"objects": np.where(mask, objects, -1)}
        if raw:
            inputs = np.empty(len(dataset), dtype=object)
            inputs[:] = [dataset.events.event(i) for i in range(len(dataset))]
        else:
            inputs = _numpy(batch["inputs"]["hits"])
        return inputs, targets, {"objects": mask}, meta

    def decode_predictions(self, outputs: dict[str, np.ndarray], meta: dict[str, np.ndarray]) -> dict[str, dict[str, np.ndarray]]:
        """A per-event table (``event_id``, ``file``, ``beta``, ``n_hits``, ``n_gammas``, ``n_clusters``), a ``hits``
        table (the hit, its true gamma, its cluster ``label``) and a ``gammas`` table (the truth), per element
        with the ``event_index`` of their event."""
        real = np.asarray(meta["hits_mask"], dtype=bool)
        hit_meta = np.asarray(meta["hits"])
        precluster = hit_meta[..., HIT_META.index("precluster")].astype(np.int64) if self.preclustering is not None else None
        labels = decode_labels(outputs, real, self.decoding, precluster)
        hit_event, _ = np.nonzero(real)
        columns = {name: hit_meta[..., k][real] for k, name in enumerate(HIT_META)}
        hits = {"event_index": hit_event, **{name: columns[name] for name in HIT_COLUMNS}, "label": labels[real]}
        for name in ("crystal_id", "true_gamma"):
            hits[name] = hits[name].astype(np.int64)
        if precluster is not None:
            hits["precluster"] = columns["precluster"].astype(np.int64)
        gamma_real = np.asarray(meta["gammas_mask"], dtype=bool)
        gamma_event, gamma_index = np.nonzero(gamma_real)
        gammas = {"event_index": gamma_event, "index": gamma_index,
                  **{name: np.asarray(meta["gammas"])[..., k][gamma_real] for k, name in enumerate(GAMMA_COLUMNS)}}
        n_clusters = np.array([len(np.unique(row[row >= 0])) for row in np.where(real, labels, -1)], dtype=np.int64)
        beta = np.asarray(meta["beta"], dtype=np.float64)
        predictions = {
            "event_id": np.asarray(meta["event_id"]).astype(np.int64), "file": np.asarray(meta["file"]).astype(np.int64),
            "beta": beta, "n_hits": real.sum(axis=1), "n_gammas": gamma_real.sum(axis=1), "n_clusters": n_clusters,
        }
        return {"predictions": predictions, "hits": hits, "gammas": gammas, "clusters": _clusters(hits, beta)}

    def empty_predictions(self, own_outputs: Mapping[str, np.ndarray] | None = None) -> dict[str, dict[str, np.ndarray]]:
        """:meth:`decode_predictions` of no event (given as cluster labels, the output every decoding ends in):
        the tables, columns and types of any other prediction, ``precluster`` only with pre-clustering."""
        meta = {
            "hits": np.zeros((0, 1, len(HIT_META))), "hits_mask": np.zeros((0, 1), dtype=bool),
            "gammas": np.zeros((0, 1, len(GAMMA_COLUMNS))), "gammas_mask": np.zeros((0, 1), dtype=bool),
            **{name: np.zeros(0) for name in ("event_id", "file", "beta")},
        }  # fmt: skip
        return self.decode_predictions({**(own_outputs or {}), "labels": np.zeros((0, 1), dtype=np.int64)}, meta)

    def column_units(self) -> dict[str, dict[str, str]]:
        """The columns of :meth:`decode_predictions`: counts and indices are dimensionless, ``beta`` in units of c."""
        return {table: dict(units) for table, units in PREDICTION_UNITS.items()}

    def prediction_attributes(self) -> dict[str, Any]:
        """Of a new hit file predicted, the crystal resolution it records (:data:`RESOLUTION_ATTRIBUTE`, for a
        simulated file), which scoring its predictions checks the photopeak window against
        (``CalorimeterFamily.scored_file_problems``); nothing for the test split (the run's own files are checked
        when it starts) or a file that records none."""
        if self.prediction_inputs is None or len(self.prediction_inputs) != 1:
            return {}
        resolution = recorded_resolution(self.prediction_inputs[0])
        return {} if resolution is None else {RESOLUTION_ATTRIBUTE: resolution}

    def _simulation_seed(self) -> int:
        assert self.simulate is not None
        return self.seed if self.simulate.seed is None else self.simulate.seed

    def describe(self) -> str:
        """``simulated calorimeter events (2000 events, seed 1)`` or the hit files: runs on other events say so."""
        if self.simulate is None:
            return f"hit {files_caption(self.file_patterns)}"
        return f"simulated calorimeter events ({self.simulate.config.n_events} events, seed {self._simulation_seed()})"


def _clusters(hits: Mapping[str, np.ndarray], beta: np.ndarray) -> dict[str, np.ndarray]:
    """One row per cluster of the decoded ``hits`` (``event_index`` and :data:`CLUSTER_UNITS`): summed energy, the
    angles and time of its most energetic hit (R3BRoot's cluster direction and time), and its energy Doppler-corrected
    with that angle and its event's ``beta`` (NaN for files that give no beta)."""
    table = cluster_table({**hits, "event": hits["event_index"]}, hits["label"])
    rest = doppler_correct(table["energy"], table["theta"], beta[table["event"]]) if len(table["event"]) else np.zeros(0)
    return {"event_index": table["event"].astype(np.int64), **{name: table[name] for name in CLUSTER_UNITS if name != "energy_rest"},
            "energy_rest": rest}


def _numpy(value: Any) -> np.ndarray:
    return value.numpy() if torch.is_tensor(value) else np.asarray(value)


def _feature_spec(saved: dict[str, Any]) -> FeatureSpec:
    """A :class:`FeatureSpec` from its saved fields (lists, as a checkpoint keeps them)."""
    return FeatureSpec(tuple(saved["names"]), tuple(saved["mean"]), tuple(saved["std"]))
