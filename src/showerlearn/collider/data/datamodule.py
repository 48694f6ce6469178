"""The ``collider`` DataModule: events as two token streams, jet constituents and reconstructed objects.

Pipeline: read the source (generated files, Delphes trees, ``.npz`` per class, weaver-style columnar
files; :mod:`~showerlearn.collider.data.sources`) -> draw the train / val / test split -> fit one
:class:`~showerlearn.collider.data.preprocessing.TokenPreprocessor` per stream on the training split
only -> preprocess every split with them -> events served with their real tokens, padded per batch by
:func:`~showerlearn.data.collate.collate_padded`.

A batch's ``inputs`` are ``constituents`` (B, N_c, F_c), ``constituents_mask`` (B, N_c), ``objects``
(B, N_o, F_o), ``objects_mask`` (B, N_o) (True = real token; N_c and N_o the streams' ``n_tokens``), plus ``constituents_p4`` and
``objects_p4`` (pT, eta, phi, E of the same tokens, unscaled) with ``pair_inputs: true``, from which a
network computes pairwise features. The one head is ``label`` (class index: 0 background, 1 signal, or
the classes of ``source.classes``). Decoded predictions carry ``label`` and ``score`` (the signal's
probability, for the two classes ``background`` and ``signal`` in this order) or else one ``score_<class>``
per class (so that no evaluator takes a user's second class for the signal), and the meta ``process``,
``weight_pb``, ``file_index``, ``event``.

``weight_pb`` is each event's cross-section weight scaled to its split (or to the prediction files): the
weights of a process's events in one split add up to the process's selected cross section, so
``sum(weight_pb[cut]) x luminosity`` over a test split is an expected number of events. The cross section
is the mean over the files that hold the process of their weight sums (each generated file's weights of a
process add up to it), so reading k files does not count it k times (:func:`cross_section_scale`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError
from torch.utils.data import DataLoader, Dataset

from showerlearn.collider.baselines.features import high_level_features
from showerlearn.collider.data.dataset import ColliderDataset
from showerlearn.collider.data.preprocessing import JetAlignment, Padded, TokenPreprocessor
from showerlearn.collider.data.sources import (
    BINARY_CLASSES, UNKNOWN_LABEL, ColumnarFiles, EventStreams, NpzFiles, SimulatedEvents, Source,
    check_same_reconstruction,
)
from showerlearn.collider.data.streams import DEFAULT_CONSTITUENT_FEATURES, DEFAULT_OBJECT_FEATURES, object_kinds
from showerlearn.collider.family import FAMILY
from showerlearn.collider.io.checks import UniqueNames
from showerlearn.collider.io.errors import ColliderDataError
from showerlearn.config.base import SettingsModel
from showerlearn.data.base import ShowerDataModule, Split
from showerlearn.data.collate import collate_padded
from showerlearn.data.files import files_caption, missing_file_problems
from showerlearn.data.split import SplitSpec
from showerlearn.family import Family
from showerlearn.io.tables import CLASS_SCORE_PREFIX
from showerlearn.registry import DATAMODULES, Count, NonNegative

__all__ = ["ColliderDataModule", "ConstituentSettings", "ObjectSettings", "P4_FIELDS", "STREAMS", "cross_section_scale"]

#: the two token streams, in the order models read them
STREAMS = ("constituents", "objects")
#: fields of the ``*_p4`` inputs (pairwise features), in order
P4_FIELDS = ("pt", "eta", "phi", "energy")
_SPLITS = ("train", "val", "test")
#: the meta columns decoded predictions carry, with their units (astropy strings; picobarn, not "pb": petabit)
_KEPT_UNITS = {"label": "", "process": "", "weight_pb": "pbarn", "file_index": "", "event": ""}
#: and their types, the same whichever reader gave them (and in the predictions of no event)
_KEPT_TYPES = {"label": np.int64, "process": np.int64, "weight_pb": np.float64, "file_index": np.int64, "event": np.int64}


class _Strict(SettingsModel):
    model_config = ConfigDict(frozen=True)


class ConstituentSettings(_Strict):
    """The constituent stream: which fields, how many tokens, and the jet alignment."""

    n_tokens: int = Field(64, ge=1, description="Hardest constituents kept per event (both jets together).")
    features: UniqueNames = Field(
        default_factory=lambda: list(DEFAULT_CONSTITUENT_FEATURES), min_length=1,
        description="Token features, in order (each once).",
    )
    standardize: list[str] | None = Field(None, description="Features standardised; null: all but the categorical ones.")
    sort_by: str | None = Field("pt", description="Field whose decreasing values order the tokens (null: file order).")
    alignment: JetAlignment | None = Field(
        default_factory=JetAlignment, description="Jet alignment (centre, rotate, flip); null: none."
    )


class ObjectSettings(_Strict):
    """The object stream: which fields and how many tokens."""

    n_tokens: int | None = Field(
        None, ge=1, description="Objects kept per event; null: the sum of the source's object_limits."
    )
    features: UniqueNames = Field(
        default_factory=lambda: list(DEFAULT_OBJECT_FEATURES), min_length=1,
        description="Token features, in order (each once).",
    )
    standardize: list[str] | None = Field(None, description="Features standardised; null: all but the categorical ones.")
    sort_by: str | None = Field(
        None, description="Field whose decreasing values order the tokens; null: the source's order (kind by kind)."
    )


def _coerce(model: type[BaseModel], value: Any) -> Any:
    return value if isinstance(value, model) else model.model_validate(value or {})


#: validates a source given as a mapping (a DataModule built in code rather than from a config; the config check)
SOURCE = TypeAdapter(Source)


def _declared_fields(source: Any, stream: str) -> list[str] | None:
    """The token fields an ``npz`` or ``columnar`` source's ``stream`` holds, as its config names them; None for
    the sources of event records."""
    if isinstance(source, NpzFiles):
        return list(getattr(source, stream).features)
    if isinstance(source, ColumnarFiles):
        return list(getattr(source, stream).tokens)
    return None


def _pad_streams(preprocessors: Mapping[str, TokenPreprocessor], streams: EventStreams) -> dict[str, Padded]:
    """Each preprocessor's padded tokens of its stream (``*_p4``: the same stream's unscaled p4)."""
    return {name: preprocessor.transform(getattr(streams, name.removesuffix("_p4"))) for name, preprocessor in preprocessors.items()}


def _check_absolute_p4(alignment: JetAlignment | None) -> None:
    """Pairwise features read each token's absolute (pT, eta, phi, E): refuse an alignment that rewrites them."""
    rewritten = sorted({alignment.deta, alignment.dphi} & set(P4_FIELDS)) if alignment is not None else []
    if rewritten:
        raise ValueError(
            f"data.params.pair_inputs: the pairwise features read the constituents' absolute {', '.join(P4_FIELDS)}, but "
            f"constituents.alignment rewrites {', '.join(rewritten)} relative to the jet axis: give the alignment "
            "other fields (deta, dphi), or set pair_inputs: false"
        )


def cross_section_scale(meta: Mapping[str, np.ndarray], part: np.ndarray) -> np.ndarray:
    """Per event of ``part`` (indices into ``meta``'s columns, every event read): the factor that makes the
    ``weight_pb`` of each process in ``part`` add up to the process's cross section, the mean over the files
    holding the process of the sum of its weights there. Sources without weights, or events of no known process
    (unlabelled files to predict on), give NaN.
    """
    process, files, weight = meta["process"], meta["file_index"], np.asarray(meta["weight_pb"], dtype=float)
    if not np.isfinite(weight).any() or np.any(process < 0):
        return np.full(len(part), np.nan)
    n = int(process.max(initial=-1)) + 1
    totals = np.bincount(process, weight, minlength=n)
    pairs = np.unique(np.stack([process, files]), axis=1)
    sigma = totals / np.maximum(np.bincount(pairs[0], minlength=n), 1)
    in_part = np.bincount(process[part], weight[part], minlength=n)[process[part]]
    return np.divide(sigma[process[part]], in_part, out=np.full(len(part), np.nan), where=in_part != 0)


@DATAMODULES.register("collider")
class ColliderDataModule(ShowerDataModule):
    """Collider events as two token streams with a class label (docs/collider.md)."""

    family: ClassVar[Family] = FAMILY
    model_input_names: ClassVar[frozenset[str]] = frozenset(
        {"constituent_features", "object_features", "n_classes", "n_constituents", "n_objects"}
    )
    #: a restored preprocessor carries its stream's settings; the p4 streams are among them or not; the objects
    #: kept of each kind decide which object fills which input slot the network learnt
    fitted_settings: ClassVar[tuple[str, ...]] = ("constituents", "objects", "pair_inputs", "source.object_limits")
    #: where a generated file is kept and how many processes write it (the same file)
    prediction_settings: ClassVar[frozenset[str]] = ShowerDataModule.prediction_settings | {
        "source.cache_dir", "source.n_jobs"}
    event_id_columns: ClassVar[tuple[str, ...]] = ("file_index", "event")

    def __init__(
        self,
        source: Source,
        constituents: ConstituentSettings = ConstituentSettings(),
        objects: ObjectSettings = ObjectSettings(),
        pair_inputs: bool = False,
        split: SplitSpec = SplitSpec(),
        max_events: int | None = None,
        batch_size: Count = 128,
        num_workers: NonNegative = 0,
        seed: int = 0,
    ) -> None:
        """
        Args:
            source: where the events come from (``kind``: generated, simulate, delphes, npz, columnar; docs/collider.md).
            constituents: the constituent stream (features, tokens kept, alignment).
            objects: the object stream (features, tokens kept).
            pair_inputs: also give each stream's unscaled (pT, eta, phi, E) as ``<stream>_p4``, from which
                networks compute Particle-Transformer pairwise features.
            split: train / val / test fractions and seed (null: the experiment seed, so that the repeats of
                a sweep also draw other splits).
            max_events: use this many events drawn at random (a fixed draw, whatever the seed); null: all.
            batch_size: events per batch.
            num_workers: DataLoader worker processes.
            seed: the experiment seed (injected): draws the split unless ``split.seed`` is set.
        """
        super().__init__(batch_size=batch_size, num_workers=num_workers, seed=seed)
        self.source = source if isinstance(source, BaseModel) else SOURCE.validate_python(source)
        self.constituent_settings = _coerce(ConstituentSettings, constituents)
        self.object_settings = _coerce(ObjectSettings, objects)
        self.split = _coerce(SplitSpec, split)
        if max_events is not None and max_events < 3:
            raise ValueError(f"max_events must be >= 3 (one event per split at least), got {max_events}")
        self.pair_inputs = pair_inputs
        if pair_inputs:
            _check_absolute_p4(self.constituent_settings.alignment)
        self.max_events = max_events
        self.class_names: tuple[str, ...] = ()
        self.preprocessors: dict[str, TokenPreprocessor] = {}
        #: the kinds of objects the object stream was fitted with (None: a source of tokens, not of event records)
        self.object_kinds: tuple[str, ...] | None = None
        #: the jets and detector settings of the training files (generated files say them; None otherwise)
        self.reconstruction: dict[str, Any] | None = None
        self.parts: dict[str, np.ndarray] = {}
        #: the name of each ``process`` code of the events set up last (the training files', or a file's to predict)
        self.process_names: tuple[str, ...] = ()

    # ------------------------------------------------------------------ setup
    def use_prediction_inputs(self, files: Sequence[str | Path]) -> None:
        """Predict on these files, read like the training source (generated, Delphes, columnar)."""
        self.source.for_prediction(files)  # fails now for a source that cannot read new files
        self.prediction_inputs = [Path(f) for f in files]

    def fitted_state(self) -> dict[str, Any]:
        """The class names, each stream's preprocessing (its settings and the training split's statistics) and
        the kinds of objects of the object stream."""
        if not self.preprocessors:
            return {}
        return {
            "class_names": list(self.class_names), "preprocessors": {n: p.state() for n, p in self.preprocessors.items()},
            "object_kinds": None if self.object_kinds is None else list(self.object_kinds),
            "reconstruction": self.reconstruction,
        }  # fmt: skip

    def restore_fitted_state(self, state: dict[str, Any]) -> None:
        self.class_names = tuple(state["class_names"])
        # a checkpoint written before the kinds were kept has none: its files to predict are not checked for them
        kinds = state.get("object_kinds")
        self.object_kinds = None if kinds is None else tuple(kinds)
        self.reconstruction = state.get("reconstruction")  # None in checkpoints written before it was kept
        self.preprocessors = {
            name: TokenPreprocessor.from_state(saved, f"the checkpoint's {name} preprocessing")
            for name, saved in state["preprocessors"].items()
        }

    def setup(self, stage: str | None = None) -> None:
        # the preprocessing of any events is the one fitted on the training split: read it first
        if self.needs_training_split():
            self._setup_splits()
        if self.prediction_inputs is not None and self.predict_set is None:
            streams = self._prediction_source().read()
            if np.any(streams.labels != UNKNOWN_LABEL):  # labelled files: their labels must mean the network's classes
                self._check_trained_classes(streams)
            self.process_names = streams.process_names or streams.class_names
            self._check_object_kinds(streams)
            self._check_reconstruction(streams)
            self.predict_set = self._dataset(streams, cross_section_scale(streams.meta, np.arange(len(streams))))

    def _setup_splits(self) -> None:
        self.source.prepare(self.progress)
        streams = self.source.read()
        self.simulated_into = [self.source.path()] if isinstance(self.source, SimulatedEvents) else []
        self._check_labels(streams)
        meta = streams.meta  # the cross sections come from all events of the files, before any draw
        chosen = np.arange(len(streams))
        if self.max_events is not None and self.max_events < len(streams):
            chosen = np.sort(np.random.default_rng(0).choice(len(streams), self.max_events, replace=False))
            streams = streams.take(chosen)
        parts = self.split.indices(len(streams), self.seed)
        for name, part, fraction in zip(_SPLITS, parts, self.split.fractions, strict=True):
            if fraction > 0 and len(part) == 0:
                raise ValueError(f"collider data: the {name} split is empty ({len(streams)} events, fractions {list(self.split.fractions)})")
        self.parts = dict(zip(_SPLITS, parts, strict=True))
        self._check_trained_classes(streams)
        self.class_names = streams.class_names
        self.process_names = streams.process_names or streams.class_names
        self._check_split_classes(streams.labels)
        if not self.preprocessors:  # else restored from a trained network's checkpoint: evaluated as it was trained
            self.preprocessors = self._fit(streams.take(self.parts["train"]))
            self.object_kinds = self._object_kinds(streams)
            self.reconstruction = streams.reconstruction
        datasets = []
        for part in parts:
            datasets.append(self._dataset(streams.take(part), cross_section_scale(meta, chosen[part])))
        self.train_set, self.val_set, self.test_set = datasets

    def _check_trained_classes(self, streams: EventStreams) -> None:
        """Refuse events whose classes, or their order, are not the trained network's (restored from a checkpoint):
        a label would name another class than the score column of its number (``--set ...classes`` reordered)."""
        if self.preprocessors and tuple(self.class_names) != tuple(streams.class_names):
            raise ValueError(f"collider data: the events' classes {list(streams.class_names)} are not those of the trained "
                             f"network {list(self.class_names)} (in this order)")  # fmt: skip

    def _prediction_source(self) -> Any:
        """The source of the files to predict, its object stream made of the kinds the network was trained with
        only: a collection its training files lacked (Delphes' small-R jets) would fill slots it learned for
        other objects, and change its scores without a word."""
        source = self.source.for_prediction(self.prediction_inputs)
        limits = getattr(source, "object_limits", None)
        if self.object_kinds is None or limits is None:
            return source
        return source.model_copy(update={"object_limits": {
            kind: limit if kind in self.object_kinds else 0 for kind, limit in limits.items()}})

    def _object_kinds(self, streams: EventStreams) -> tuple[str, ...] | None:
        """The kinds of objects in the events' object stream; None for sources of tokens rather than records."""
        if streams.records is None:
            return None
        return object_kinds(streams.records.fields, getattr(self.source, "object_limits", {}))

    def _check_object_kinds(self, streams: EventStreams) -> None:
        """Refuse files to predict that lack a kind of object the network was trained with: the object stream
        leaves a kind the records lack out, so the network would read other objects in its slots, silently."""
        found = self._object_kinds(streams)
        if self.object_kinds is None or found is None:
            return
        if missing := [kind for kind in self.object_kinds if kind not in found]:
            files = ", ".join(str(path) for path in self.prediction_inputs or [])
            raise ColliderDataError(
                files, f"has no {', '.join(missing)} collection, which the network was trained with (its object "
                f"stream: {', '.join(self.object_kinds)}); it cannot predict events without them"
            )

    def _check_reconstruction(self, streams: EventStreams) -> None:
        """Refuse files to predict whose jets were made otherwise than the training files' (another radius, the
        constituents of fewer jets): the network would read other objects as the ones it learnt, silently. Another
        detector response is a systematic variation a physicist may well study: warned of, not refused."""
        if self.reconstruction is None or streams.reconstruction is None:
            return
        files = ", ".join(str(path) for path in self.prediction_inputs or [])
        check_same_reconstruction(files, streams.reconstruction, self.reconstruction, "the network's training files",
                                  "training")

    def _check_labels(self, streams: EventStreams) -> None:
        if np.any(streams.labels == UNKNOWN_LABEL):
            raise ValueError(
                f"collider data: {int(np.sum(streams.labels == UNKNOWN_LABEL))} events have no class label "
                "(a columnar source without label branches?): training needs the classes"
            )
        names = list(streams.class_names)
        counts = np.bincount(streams.labels, minlength=len(names))[: len(names)]
        present = [name for name, count in zip(names, counts, strict=True) if count]
        if len(names) < 2:
            raise ValueError(f"collider data: the events hold only the class {present}; a classifier needs two")
        if len(present) < len(names):  # named here: the split check below would advise more events, which cannot help
            empty = [name for name in names if name not in present]
            raise ValueError(
                f"collider data: the events hold only the class {present}, no event of {empty}{self._members(empty)}: "
                "every class needs events (check its files or processes)"
            )

    def _members(self, classes: Sequence[str]) -> str:
        """What the source's ``classes`` put in each of ``classes`` (processes or files), for an error about them;
        nothing for sources whose classes are labels in the files."""
        members = getattr(self.source, "classes", None)
        if not isinstance(members, Mapping):
            return ""
        return " (" + "; ".join(f"{name}: {members[name]}" for name in classes if name in members) + ")"

    def _check_split_classes(self, labels: np.ndarray) -> None:
        """Every split holds every class: a training split without signal trains nothing, a test split
        without it has no ROC (the split is drawn at random, not per class)."""
        for name, part in self.parts.items():
            counts = np.bincount(labels[part], minlength=len(self.class_names))
            if len(part) and not counts.all():
                per_class = ", ".join(f"{c} {n}" for c, n in zip(self.class_names, counts, strict=True))
                raise ValueError(
                    f"collider data: the {name} split lacks a class ({per_class} of {len(part)} events; fractions "
                    f"{list(self.split.fractions)}): use more events or larger fractions"
                )

    def _fit(self, train: EventStreams) -> dict[str, TokenPreprocessor]:
        """One preprocessor per stream, fitted on the training events (and unscaled p4 ones, if asked)."""
        c, o = self.constituent_settings, self.object_settings
        n_objects = o.n_tokens or getattr(self.source, "n_objects", None)
        if n_objects is None:
            raise ValueError("collider data: objects.n_tokens is needed for an npz or columnar source")
        fitted = {
            "constituents": TokenPreprocessor(c.features, c.n_tokens, c.sort_by, c.standardize, c.alignment,
                                              settings="data.params.constituents"),
            "objects": TokenPreprocessor(o.features, n_objects, o.sort_by, o.standardize, alignment=None,
                                         settings="data.params.objects"),
        }  # fmt: skip
        if self.pair_inputs:
            for stream, settings in (("constituents", c), ("objects", o)):
                # the same alignment, order and truncation as the stream's features (the alignment changes no p4
                # field, but a sort by deta, dphi or dr sees its results); nothing to scale
                stream_features = fitted[stream]
                fitted[f"{stream}_p4"] = TokenPreprocessor(
                    P4_FIELDS, stream_features.n_tokens, settings.sort_by, [], stream_features.alignment
                )
        for name, preprocessor in fitted.items():
            preprocessor.fit(getattr(train, name.removesuffix("_p4")))
        return fitted

    def _dataset(self, streams: EventStreams, weight_scale: np.ndarray) -> ColliderDataset:
        meta = {**streams.meta, "weight_pb": streams.meta["weight_pb"] * weight_scale}
        # padded on first use (a partial, not a closure: a dataset may be pickled for a loader's workers)
        return ColliderDataset(partial(_pad_streams, dict(self.preprocessors), streams), streams.labels, meta, streams.records)

    def _loader(self, dataset: Dataset | None, split: Split, shuffle: bool) -> DataLoader:
        if isinstance(dataset, ColliderDataset):
            dataset.pad()  # here, once: the loader's worker processes would each pad their own copy
        return super()._loader(dataset, split, shuffle)

    # ------------------------------------------------------------------ contract
    def collate(self, samples: list[dict[str, Any]]) -> dict[str, Any]:
        """Streams padded to their full preprocessed length (``n_tokens``), whatever the batch: a token's
        position means the same in every batch (explanation maps, networks with fixed slots)."""
        batch = collate_padded(samples, elements=[f"inputs.{name}" for name in samples[0]["inputs"]])
        inputs = batch["inputs"]
        for name in samples[0]["inputs"]:
            missing = self.preprocessors[name].n_tokens - inputs[name].shape[1]
            inputs[name] = torch.nn.functional.pad(inputs[name], (0, 0, 0, missing))
            inputs[f"{name}_mask"] = torch.nn.functional.pad(inputs[f"{name}_mask"], (0, missing))
        return batch

    def model_inputs(self) -> dict[str, Any]:
        if not self.preprocessors:
            self.setup("fit")
        c, o = self.preprocessors["constituents"], self.preprocessors["objects"]
        return {
            "constituent_features": len(c.features), "object_features": len(o.features),
            "n_classes": len(self.class_names), "n_constituents": c.n_tokens, "n_objects": o.n_tokens,
        }  # fmt: skip

    def feature_names(self, stream: str) -> tuple[str, ...]:
        """The features of ``stream``'s tokens, in the order of their last axis."""
        if not self.preprocessors:
            self.setup("fit")
        return tuple(self.preprocessors[stream].features)

    def decode_predictions(self, outputs: dict[str, np.ndarray], meta: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        probabilities = torch.softmax(torch.as_tensor(outputs["label"], dtype=torch.float64), dim=-1).numpy()
        columns = self._score_columns()
        scores = {columns[0]: probabilities[:, 1]} if len(columns) == 1 else dict(zip(columns, probabilities.T, strict=True))
        return {**scores, **{name: np.asarray(meta[name], dtype=_KEPT_TYPES[name]) for name in _KEPT_UNITS}}

    def empty_predictions(self, own_outputs: Mapping[str, np.ndarray] | None = None) -> dict[str, dict[str, np.ndarray]]:
        """:meth:`decode_predictions` of no event."""
        outputs = {**(own_outputs or {}), "label": np.zeros((0, len(self.class_names)), dtype=np.float32)}
        return {"predictions": self.decode_predictions(outputs, {name: np.zeros(0) for name in _KEPT_UNITS})}

    def column_units(self) -> dict[str, dict[str, str]]:
        return {"predictions": {**dict.fromkeys(self._score_columns(), ""), **_KEPT_UNITS}}

    prediction_attribute_names: ClassVar[tuple[str, ...]] = ("process_names",)

    def prediction_attributes(self) -> dict[str, Any]:
        """``process_names``: the process of each ``process`` code, which a file to predict numbers its own way."""
        return {"process_names": list(self.process_names)} if self.process_names else {}

    def _score_columns(self) -> list[str]:
        if tuple(self.class_names) == BINARY_CLASSES:
            return ["score"]
        return [f"{CLASS_SCORE_PREFIX}{name}" for name in self.class_names]

    def describe(self) -> str:
        """``simulated collider events (20000 selected, seed 0)``, or the kind of files read and their names: runs on
        other events say so."""
        if self.source.kind == "simulate":
            return f"simulated collider events ({self.source.config.n_events} selected, seed {self.source.seed})"
        named = self.input_files(self.source.model_dump(mode="json"))
        return f"collider events from {self.source.kind} {files_caption(named) if named else 'files'}"

    @classmethod
    def config_problems(cls, params: Mapping[str, Any], path: str) -> list[str]:
        """What ``config validate`` reports before any work: stream settings that read fields an ``npz`` or
        ``columnar`` source does not have (their features are the files' names: the default features, ordering and
        jet alignment are the generated files'), which would fail only once the files are read."""
        try:
            source = SOURCE.validate_python(params.get("source"))
            streams = {"constituents": _coerce(ConstituentSettings, params.get("constituents")),
                       "objects": _coerce(ObjectSettings, params.get("objects"))}
        except (ValidationError, ValueError):  # reported by the schema's own check
            return []
        problems = []
        for name, settings in streams.items():
            held = _declared_fields(source, name)
            if held is None:  # a source of event records: the fields are derived from them
                continue
            alignment = getattr(settings, "alignment", None)
            reads = {"features": list(settings.features), "sort_by": [settings.sort_by] if settings.sort_by else [],
                     "alignment": list(alignment.fields) if alignment is not None else []}
            for key, fields in reads.items():
                if missing := [field for field in fields if field not in held]:
                    problems.append(f"{path}.{name}.{key}: reads {missing}, which the {source.kind} source's {name} do "
                                    f"not have (its fields: {', '.join(held)}); name them"
                                    + ("" if key != "alignment" else ", or set it null"))
        return problems

    @classmethod
    def new_run_problems(cls, params: Mapping[str, Any]) -> list[str]:
        """The files the source names are there (:func:`~showerlearn.data.files.missing_file_problems`): generated
        and columnar files, each Delphes class's files, the npz streams' files."""
        source, key = params.get("source") or {}, "data.params.source"
        lists = {f"{key}.files": source.get("files")} if source.get("kind") in ("generated", "columnar") else {}
        if source.get("kind") == "delphes":
            lists = {f"{key}.classes.{name}": files for name, files in (source.get("classes") or {}).items()}
        for stream in ("constituents", "objects"):
            if source.get("kind") == "npz" and isinstance(source.get(stream), Mapping):
                lists[f"{key}.{stream}.files"] = source[stream].get("files")
        return [problem for name, files in lists.items() for problem in missing_file_problems(files, name)]

    @classmethod
    def average_predictions(cls, tables: Sequence[Mapping[str, np.ndarray]], names: Sequence[str]) -> dict[str, np.ndarray]:
        """The members' mean class probabilities; every other column must be equal in all of them (the
        same events in the same order: a fixed ``split.seed``)."""
        if not tables or len(tables) != len(names):
            raise ValueError(f"an ensemble averages at least one table, one name each: got {len(tables)} and {len(names)}")
        reference = tables[0]
        scores = [column for column in reference if column == "score" or column.startswith(CLASS_SCORE_PREFIX)]
        averaged = {}
        for column in reference:
            for table, name in zip(tables, names, strict=True):
                if column not in table:
                    raise ValueError(f"{name}: no column {column!r}, which {names[0]} has: members must be runs of one task")
                if len(table[column]) != len(reference[column]):
                    raise ValueError(
                        f"{name}: {len(table[column])} events, {names[0]} {len(reference[column])}: the members did not "
                        "predict the same events (the same split: data.params.split, with a fixed split.seed)"
                    )
                if column not in scores and not np.array_equal(table[column], reference[column], equal_nan=True):
                    raise ValueError(
                        f"{name}: column {column!r} differs from {names[0]}'s: the members did not predict the same events "
                        "(runs on other files, or of a sweep without a fixed data.params.split.seed, which would give "
                        "them one test set)"
                    )
            stacked = np.stack([np.asarray(table[column], dtype=np.float64) for table in tables])
            averaged[column] = stacked.mean(axis=0) if column in scores else np.asarray(reference[column])
        return averaged

    def arrays(
        self, split: str, raw: bool = False
    ) -> tuple[np.ndarray, dict[str, np.ndarray], dict[str, np.ndarray], dict[str, np.ndarray]]:
        """A split for estimators: the high-level features (:mod:`showerlearn.collider.baselines.features`)
        where the source has event records (generated, Delphes), else both streams' preprocessed tokens
        flattened (padding zero). ``raw`` changes nothing: high-level features are in physical units."""
        self.setup("predict" if split == "predict" else "fit")
        dataset = {"train": self.train_set, "val": self.val_set, "test": self.test_set, "predict": self.predict_set}[split]
        if dataset is None:
            raise RuntimeError(f"collider data: no {split} set")
        if dataset.records is not None:
            inputs = high_level_features(dataset.records)
        else:
            inputs = np.concatenate(
                [dataset.padded[name].features.reshape(len(dataset), -1) for name in STREAMS], axis=1
            )
        return inputs, {"label": dataset.labels}, {}, dict(dataset.meta)

