"""Where the collider DataModule's events come from: one settings class per reader, each reading its
files into the same :class:`EventStreams` (two token streams, class labels, per-event meta).

=============  ==========================================================================================
``generated``  files of ``showerlearn simulate collider``: labels signal / background (or classes made
               of processes), cross-section weights, the full event records (for high-level features)
``simulate``   a file generated once with those settings and kept in a cache folder, then read as above
``delphes``    Delphes ROOT trees, one list of files per class; event records as the generated files'
``npz``        NumPy ``.npz`` files, one per class and per stream (the paper's public layout)
``columnar``   weaver-style ROOT / parquet / HDF5 files with jagged branches, one set per stream
=============  ==========================================================================================

The ``kind`` key chooses the reader (``source: {kind: delphes, classes: {...}}``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, Self

import awkward as ak
import numpy as np
from pydantic import (
    AfterValidator, ConfigDict, Discriminator, Field, NonNegativeInt, PrivateAttr, Tag, field_validator,
    model_validator,
)  # fmt: skip

from showerlearn.collider.data.streams import OBJECT_KINDS, constituent_tokens, object_tokens
from showerlearn.collider.io import (
    ColumnarSource,
    PaddedTokens,
    ProcessSummary,
    check_eflow_branches,
    read_columnar,
    read_delphes,
    read_events,
    read_npz_classes,
)
from showerlearn.collider.io.checks import UniqueNames
from showerlearn.collider.io.errors import ColliderDataError
from showerlearn.collider.simulation.config import ColliderSimulationConfig
from showerlearn.config.base import SettingsModel
from showerlearn.data.base import setting_differences
from showerlearn.data.files import cached_simulation, check_copies, event_count_validator, expand_patterns

__all__ = [
    "ColumnarFiles",
    "DelphesFiles",
    "EventStreams",
    "GeneratedFiles",
    "NpzFiles",
    "NpzStream",
    "SimulatedEvents",
    "Source",
    "UNKNOWN_LABEL",
]

#: label of events whose class is not known (new files given for prediction)
UNKNOWN_LABEL = -1
log = logging.getLogger(__name__)
_DEFAULT_LIMITS = {"met": 1, "fatjets": 2, "jets": 6, "electrons": 2, "muons": 2}


@dataclass
class EventStreams:
    """Events read by a source: both token streams as records ``[event][token]``, labels and meta.

    ``meta`` holds one value per event: ``process`` (the file's process code, else the class),
    ``weight_pb`` (cross-section weight; NaN where the source has none), ``file_index`` and ``event``
    (position in its file). ``records``: the full event records where the source has them (generated,
    Delphes), from which estimators compute high-level features. ``reconstruction``: the settings that made the
    events' objects (:data:`RECONSTRUCTION_SETTINGS` of generated files); None where the files do not say.
    ``process_names``: the name of each ``process`` code (generated files'); None where the codes are the classes.
    """

    constituents: ak.Array
    objects: ak.Array
    labels: np.ndarray
    class_names: tuple[str, ...]
    meta: dict[str, np.ndarray]
    records: ak.Array | None = None
    reconstruction: dict[str, Any] | None = None
    process_names: tuple[str, ...] | None = None

    def __len__(self) -> int:
        return len(self.labels)

    def take(self, index: np.ndarray) -> EventStreams:
        """The events at ``index``."""
        return EventStreams(
            self.constituents[index], self.objects[index], self.labels[index], self.class_names,
            {name: values[index] for name, values in self.meta.items()},
            None if self.records is None else self.records[index], self.reconstruction, self.process_names,
        )  # fmt: skip


#: the sections of a generated file's settings that define its objects and constituents (jet clustering, detector
#: response), as opposed to which events were generated
RECONSTRUCTION_SETTINGS = ("jets", "detector")

def reconstruction_settings(config: Mapping[str, Any]) -> dict[str, Any]:
    """The :data:`RECONSTRUCTION_SETTINGS` a generated file's settings hold (an earlier or a hand-made file may
    hold none)."""
    return {key: config[key] for key in RECONSTRUCTION_SETTINGS if key in config}


def reconstruction_differences(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[tuple[str, Any, Any]]:
    """``(dotted key, before, after)`` of the reconstruction settings that both state and that differ (a setting
    one of them lacks, from a version with fewer settings, is no difference)."""
    return setting_differences(before, after, shared_only=True)


def check_same_reconstruction(
    where: str | Path, settings: Mapping[str, Any], reference: Mapping[str, Any], against: str, short: str
) -> None:
    """Events made with other jets than ``reference``'s (``against``, ``short`` in the list of values) are refused:
    their objects are not the same objects, to train on together or to predict with a network trained on the
    others. Another detector response, a systematic variation a study may mix or predict on purpose, is warned of."""
    changed = reconstruction_differences(reference, settings)
    listed = "; ".join(f"{key} = {now!r} ({short}: {then!r})" for key, then, now in changed)
    if any(key.startswith("jets.") for key, _, _ in changed):
        raise ColliderDataError(where, f"made with other jets than {against}: {listed}; objects made otherwise are "
                                "other objects (regenerate with the same jets settings)")
    if changed:
        log.warning("%s: simulated with another detector response than %s: %s", where, against, listed)


#: the classes whose predictions are one ``score``, the probability of the second (the generated files' default)
BINARY_CLASSES = ("background", "signal")


class _Strict(SettingsModel):
    model_config = ConfigDict(frozen=True)


class _Source(_Strict):
    """A reader of events; its ``for_prediction`` copy reads new files to predict."""

    #: True for a copy reading new files to predict: a file may hold no event, and may lack the labels or some
    #: of the classes' processes (the output of an empty file is empty, as for any input without events)
    _prediction: bool = PrivateAttr(False)

    def prepare(self, progress: bool = True) -> None:
        """Make the events ready for :meth:`read`: a source that generates them does it here (``progress``: with a
        progress bar on a terminal); a source of given files has nothing to do."""

    def class_name_problem(self, name: str) -> str | None:
        """Why no class of these events can be called ``name``, from the config alone (the classes it names, or
        how the files name them); None when it can be, or when only the files tell."""
        return None

    def _as_prediction(self) -> Self:
        """This source, marked as reading new files to predict; called on a fresh copy (``for_prediction``), so
        that the training source itself stays unmarked."""
        self._prediction = True
        return self

    def _not_empty(self, path: Path, n_events: int) -> None:
        """An error naming a file that holds no events (a class without events, or a job that wrote nothing);
        a file to predict may be empty."""
        if n_events == 0 and not self._prediction:
            raise ColliderDataError(path, "holds no events")


class _RecordSource(_Source):
    """Sources of full event records: the object stream is built from them (:func:`object_tokens`)."""

    object_limits: dict[str, NonNegativeInt] = Field(
        default_factory=lambda: dict(_DEFAULT_LIMITS),
        description=f"Most objects of each kind in the object stream ({', '.join(OBJECT_KINDS)}); 0 leaves a kind out, "
                    f"a kind not named keeps its default ({', '.join(f'{k} {v}' for k, v in _DEFAULT_LIMITS.items())}).",
    )

    @field_validator("object_limits")
    @classmethod
    def _kinds(cls, limits: dict[str, int]) -> dict[str, int]:
        unknown = sorted(set(limits) - set(OBJECT_KINDS))
        if unknown:
            raise ValueError(f"unknown kinds {unknown}; known: {', '.join(OBJECT_KINDS)}")
        # raising one limit keeps the other kinds (replacing the dict would drop MET, fat jets and leptons unsaid)
        merged = {**_DEFAULT_LIMITS, **limits}
        if not any(merged.values()):
            raise ValueError("every kind is 0, which leaves the object stream empty; keep at least one")
        return merged

    @property
    def n_objects(self) -> int:
        return sum(self.object_limits.values())

    def _streams(
        self, records: ak.Array, labels: np.ndarray, class_names: tuple[str, ...], meta: dict[str, np.ndarray]
    ) -> EventStreams:
        return EventStreams(
            constituent_tokens(records), object_tokens(records, self.object_limits), labels, class_names, meta, records
        )


class GeneratedFiles(_RecordSource):
    """Event files written by ``showerlearn simulate collider``."""

    kind: Literal["generated"] = "generated"
    files: list[str] = Field(min_length=1, description="Event files (paths or glob patterns).")
    classes: dict[str, list[str]] | None = Field(
        None,
        description="Class name -> the processes it holds, in class-index order (e.g. {qcd: [qcd], ttbar: [ttbar], "
        "signal: [signal]}); null: background (0) and signal (1) from each process's signal flag.",
    )

    @model_validator(mode="after")
    def _one_class_each(self) -> GeneratedFiles:
        if self.classes is not None and (twice := _in_two_classes(self.classes)):
            raise ValueError(f"classes: the process {twice}")
        return self

    def read(self) -> EventStreams:
        return self._read(expand_patterns(self.files, "collider data: event files", FileNotFoundError, refuse_copies=True))

    def class_name_problem(self, name: str) -> str | None:
        return _not_among(name, tuple(self.classes) if self.classes is not None else BINARY_CLASSES)

    def for_prediction(self, files: Sequence[str | Path]) -> GeneratedFiles:
        # built, not model_copy'd: a copy of SimulatedEvents would read its cache instead of ``files``
        copy = GeneratedFiles(files=[str(f) for f in files], classes=self.classes, object_limits=self.object_limits)
        return copy._as_prediction()

    def _read(self, paths: Sequence[Path]) -> EventStreams:
        """The files' events, their process codes renumbered into one list of process names (files of one
        process each, ``simulate collider --process``, combine)."""
        parts = []
        # process name -> the file first giving it, the process there and its cross section given by hand, in that order
        first: dict[str, tuple[Path, ProcessSummary, float | None]] = {}
        reconstruction: tuple[Path, dict[str, Any]] | None = None  # the first file stating it: the others' reference
        for index, path in enumerate(paths):
            file = read_events(path, allow_empty=self._prediction)  # a file to predict may hold no event
            settings = reconstruction_settings(file.config)
            if reconstruction is None and settings:
                reconstruction = (path, settings)
            elif reconstruction is not None:
                check_same_reconstruction(path, settings, reconstruction[1], str(reconstruction[0]), reconstruction[0].name)
            for process in file.processes:
                given = _given_cross_section(file.config, process.name)
                _check_same_process(path, process, given, *first.setdefault(process.name, (path, process, given)))
            names = list(first)
            codes = np.array([names.index(process.name) for process in file.processes], dtype=np.int64)
            events = file.events
            if len(events):
                events = ak.with_field(events, codes[ak.to_numpy(events.process).astype(np.int64)], "process")
            parts.append((events, index))
        names = tuple(first)
        records = ak.concatenate([events for events, _ in parts])
        process = ak.to_numpy(records.process).astype(np.int64)
        class_names, labels = self._labels(paths, names, process, ak.to_numpy(records.label).astype(np.int64))
        meta = {
            "process": process,
            "weight_pb": ak.to_numpy(records.weight_pb).astype(np.float64),
            "file_index": np.concatenate([np.full(len(events), index) for events, index in parts]),
            "event": np.concatenate([np.arange(len(events)) for events, _ in parts]),
        }
        streams = self._streams(records, labels, class_names, meta)
        streams.reconstruction = reconstruction[1] if reconstruction is not None else None
        streams.process_names = tuple(names)
        return streams

    def _labels(
        self, paths: Sequence[Path], processes: tuple[str, ...], process: np.ndarray, signal: np.ndarray
    ) -> tuple[tuple[str, ...], np.ndarray]:
        """The class of each event: its process's signal flag, or the class of ``classes`` holding its process.
        Training needs every process of ``classes`` in the files (events of every class: the DataModule's
        check); new files to predict need only each of their processes in a class."""
        if self.classes is None:
            return BINARY_CLASSES, signal
        files = _files(paths)
        lookup = {name: code for code, name in enumerate(processes)}
        labels = np.full(len(process), UNKNOWN_LABEL)
        for label, members in enumerate(self.classes.values()):
            unknown = [name for name in members if name not in lookup]
            if unknown and not self._prediction:
                raise ColliderDataError(
                    files, f"classes name the processes {unknown}; the files have {', '.join(processes)}"
                )
            labels[np.isin(process, [lookup[name] for name in members if name in lookup])] = label
        left = sorted({processes[code] for code in np.unique(process[labels == UNKNOWN_LABEL])})
        if left:
            raise ColliderDataError(files, f"the processes {left} belong to no class of 'classes': add them or remove them")
        return tuple(self.classes), labels


def _given_cross_section(config: Mapping[str, Any], name: str) -> float | None:
    """The cross section [pb] a generated file's settings gave the process ``name`` instead of Pythia's (None)."""
    process = (config.get("processes") or {}).get(name)
    return process.get("cross_section_pb") if isinstance(process, Mapping) else None


def _check_same_process(path: Path, process: ProcessSummary, given: float | None, earlier_path: Path,
                        earlier: ProcessSummary, earlier_given: float | None) -> None:
    """The files giving one process name describe one process: the events of a name are one process, whose cross
    section is the mean over its files (chunks of it), so two mass points of one name, or one normalised by hand and
    one by Pythia, would be averaged. ``given``: the cross section the file's settings set (None: Pythia's)."""
    if given != earlier_given:
        said = {key: "Pythia's" if value is None else f"{value:g} pb" for key, value in (("here", given), ("there", earlier_given))}
        raise ColliderDataError(
            path, f"normalises the process {process.name!r} with {said['here']} cross section (cross_section_pb), "
            f"{earlier_path} with {said['there']}: files of one process name are read as parts of one process (its "
            "cross section the mean of theirs); generate them with one cross_section_pb, or give each its own process name"
        )
    if process.label != earlier.label:
        raise ColliderDataError(path, f"flags the process {process.name!r} as signal={process.label}, an earlier file "
                                      f"as signal={earlier.label} ({earlier_path})")
    if process.settings != earlier.settings:
        here = [setting for setting in process.settings if setting not in earlier.settings]
        there = [setting for setting in earlier.settings if setting not in process.settings]
        raise ColliderDataError(
            path, f"generated the process {process.name!r} with the settings {here or process.settings}, "
            f"{earlier_path} with {there or earlier.settings}: files of one process name are read as parts of one "
            "process (its cross section the mean of theirs); give each setting (a mass point) its own process name, or "
            "read them apart"
        )


def _in_two_classes(classes: Mapping[str, Sequence[Any]]) -> str | None:
    """What is listed under two classes, said; None when nothing is (its events would take both labels, or the
    last one)."""
    seen: dict[Any, str] = {}
    for name, members in classes.items():
        for member in members:
            if member in seen and seen[member] != name:
                return f"{member} is in the classes {seen[member]!r} and {name!r}: each belongs to one class"
            seen[member] = name
    return None


def _files(paths: Sequence[Path]) -> str:
    """The files read, for an error about all of them."""
    return str(paths[0]) if len(paths) == 1 else f"{paths[0]} (and {len(paths) - 1} other files)"


class SimulatedEvents(GeneratedFiles):
    """Events generated with ``showerlearn.collider.simulation`` once, kept in ``cache_dir`` under a digest
    of the settings and the seed, then read like any generated file (``files`` is not given)."""

    kind: Literal["simulate"] = "simulate"  # type: ignore[assignment]
    files: list[str] = Field(default_factory=list, description="Filled in: the cached file (leave empty).")
    config: ColliderSimulationConfig = Field(
        default_factory=ColliderSimulationConfig, description="Generator settings (docs/collider.md)."
    )
    events: int | None = Field(
        None, ge=1, exclude=True, description="Selected events (a shortcut: sets config.n_events, where a resolved config keeps it)."
    )

    one_event_count = event_count_validator()

    seed: int = Field(0, ge=0, description="Generator seed (fixed: the repeats of a sweep share the events).")
    n_jobs: int = Field(2, ge=1, description="Worker processes of the generator (the file does not depend on it).")
    cache_dir: str = Field(".showerlearn_cache/collider", description="Where the generated file is kept.")

    @model_validator(mode="after")
    def _no_files(self) -> SimulatedEvents:
        # a simulate source reads its cached file only: files given here would be left unread without a word
        if self.files:
            raise ValueError(f"files: a simulate source generates its events (files {self.files} would be ignored): "
                             "read them with kind: generated")
        return self

    def prepare(self, progress: bool = True) -> None:
        self.path(progress)

    def read(self) -> EventStreams:
        return self._read([self.path()])

    def path(self, progress: bool = True) -> Path:
        """The cached file, generated first if absent (``progress``: with a progress bar on a terminal)."""
        from showerlearn.collider.simulation import simulate_collider

        config = self.config
        return cached_simulation(
            Path(self.cache_dir), "collider", ".h5", config, self.seed,
            lambda settings, path, seed, progress: simulate_collider(settings, path, seed=seed, n_jobs=self.n_jobs,
                                                                    progress=progress),
            progress=progress,
        )  # fmt: skip


class DelphesFiles(_RecordSource):
    """Delphes ROOT trees, one list of files per class (Delphes files carry no label)."""

    kind: Literal["delphes"] = "delphes"
    classes: dict[str, list[str]] = Field(
        min_length=1, description="Class name -> its files (paths or glob patterns), in class-index order."
    )
    tree: str = Field("Delphes", description="The TTree.")
    eflow_branches: Annotated[list[str], AfterValidator(check_eflow_branches)] = Field(
        default_factory=lambda: ["EFlowTrack", "EFlowPhoton", "EFlowNeutralHadron"],
        min_length=1,
        description="Particle-flow branches, each once (or one merged 'EFlow' branch alone).",
    )
    radius: float = Field(0.8, gt=0.0, description="The card's large-R jet radius (CMS card's FatJet: 0.8).")

    def read(self) -> EventStreams:
        classes = {
            name: expand_patterns(files, f"collider data: Delphes files of class {name!r}", FileNotFoundError, find_copies=False)
            for name, files in self.classes.items()
        }
        if twice := _in_two_classes({name: [path.resolve() for path in paths] for name, paths in classes.items()}):
            raise ValueError(f"collider data: classes: the file {twice}")
        # over every class at once: a copy under another class would give its events both labels
        check_copies([path for paths in classes.values() for path in paths], "collider data: classes", ValueError, refuse=True)
        return self._read(classes)

    def class_name_problem(self, name: str) -> str | None:
        return _not_among(name, tuple(self.classes))

    def for_prediction(self, files: Sequence[str | Path]) -> DelphesFiles:
        # the files of a prediction have no class: one pseudo-class, labelled unknown below
        return self.model_copy(update={"classes": {"unknown": [str(f) for f in files]}})._as_prediction()

    def _read(self, classes: Mapping[str, list[Path]]) -> EventStreams:
        events, labels, files, rows = [], [], [], []
        for label, paths in enumerate(classes.values()):
            for path in paths:
                records = read_delphes(path, self.tree, tuple(self.eflow_branches), self.radius)
                self._not_empty(path, len(records))
                self._has_constituents(path, records)
                events.append(records)
                labels.append(np.full(len(records), label))
                files.append(np.full(len(records), len(files)))
                rows.append(np.arange(len(records)))
        records = ak.concatenate(events)
        label = np.concatenate(labels)
        names = tuple(classes)
        if self._prediction:
            label = np.full_like(label, UNKNOWN_LABEL)
        meta = {"process": label.copy(), "weight_pb": np.full(len(label), np.nan), "file_index": np.concatenate(files),
                "event": np.concatenate(rows)}  # fmt: skip
        return self._streams(records, label, names, meta)

    def _has_constituents(self, path: Path, records: ak.Array) -> None:
        """An error naming a training file of which no event has a constituent: its class's constituent stream would
        be empty, which tells that class apart trivially (or leaves nothing to fit, if every file is so)."""
        if self._prediction or ak.any(ak.num(records.constituents) > 0):
            return
        if not ak.any(ak.num(records.fatjets) > 0):
            why = "no event has a fat jet (branch FatJet.PT, fat jets of pT <= 0 dropped)"
        else:
            why = (f"no particle-flow object ({', '.join(self.eflow_branches)}) lies within radius {self.radius} of a "
                   "leading fat jet")  # fmt: skip
        raise ColliderDataError(path, f"{why}, so none of its {len(records)} events has jet constituents and the "
                                      "constituent stream of its class would be empty (check the card's collections, "
                                      "eflow_branches and radius)")


class NpzStream(_Strict):
    """One token stream as ``.npz`` files, one per class in class order."""

    files: list[str] = Field(min_length=1, description="One .npz file per class, in class-index order.")
    features: UniqueNames = Field(min_length=1, description="Name of each entry of the arrays' last axis (each once).")
    key: str | None = Field(None, description="Array inside each file (default: its only array).")


class NpzFiles(_Source):
    """Zero-padded ``.npz`` arrays (events, tokens, features), one file per class for each stream."""

    kind: Literal["npz"] = "npz"
    constituents: NpzStream
    objects: NpzStream
    class_names: list[str] | None = Field(None, description="Name of each class (default: class0, class1...).")

    @model_validator(mode="after")
    def _classes(self) -> NpzFiles:
        n_constituents, n_objects = len(self.constituents.files), len(self.objects.files)
        if n_constituents != n_objects:
            raise ValueError(f"constituents has {n_constituents} class files, objects {n_objects}: one per class each")
        if self.class_names is not None and len(self.class_names) != n_constituents:
            raise ValueError(f"class_names names {len(self.class_names)} classes for {n_constituents} class files")
        return self

    def class_name_problem(self, name: str) -> str | None:
        return _not_among(name, self.class_names or [f"class{i}" for i in range(len(self.constituents.files))])

    def read(self) -> EventStreams:
        for name in ("constituents", "objects"):  # a class file copied under another class: its events twice labelled
            check_copies([Path(file) for file in getattr(self, name).files], f"collider data: {name}.files", ValueError,
                         refuse=True)
        streams = {name: self._stream(getattr(self, name)) for name in ("constituents", "objects")}
        constituents, objects = streams["constituents"], streams["objects"]
        if len(constituents.labels) != len(objects.labels) or np.any(constituents.labels != objects.labels):
            counts = [np.bincount(stream.labels).tolist() for stream in (constituents, objects)]
            held = (f"the arrays constituents and objects hold {counts[0]} and {counts[1]} events (per file)"
                    if self._prediction else
                    f"the constituent files hold {counts[0]} events per class, the object files {counts[1]}")
            raise ColliderDataError(self.constituents.files[0], f"{held}: the streams must describe the same events")
        files = constituents.labels  # a file per class: its index; of the files to predict, one per file
        labels = np.full(len(files), UNKNOWN_LABEL) if self._prediction else files
        # the events of files to predict have no class: one pseudo-process, as the other sources' unlabelled files
        names = ("unknown",) if self._prediction else tuple(
            self.class_names or (f"class{i}" for i in range(len(self.constituents.files))))
        meta = {"process": np.zeros_like(files) if self._prediction else files.copy(),
                "weight_pb": np.full(len(files), np.nan), "file_index": files.copy(), "event": _rank_within(files)}
        return EventStreams(constituents.to_awkward(), objects.to_awkward(), labels, names, meta)

    def for_prediction(self, files: Sequence[str | Path]) -> NpzFiles:
        """New events to predict: each file one ``.npz`` holding both streams, the arrays ``constituents`` and
        ``objects`` (the tokens of the same events, with the training files' features and padding), unlabelled."""
        paths = [str(f) for f in files]
        return self.model_copy(update={
            "constituents": self.constituents.model_copy(update={"files": paths, "key": "constituents"}),
            "objects": self.objects.model_copy(update={"files": paths, "key": "objects"}),
            "class_names": None,
        })._as_prediction()  # fmt: skip

    def _stream(self, stream: NpzStream) -> PaddedTokens:
        paths = [Path(f) for f in stream.files]
        tokens = read_npz_classes(paths, stream.features, stream.key)
        for path, n_events in zip(paths, np.bincount(tokens.labels, minlength=len(paths)), strict=True):
            self._not_empty(path, int(n_events))  # its class would have no events
        return tokens


#: the branches a columnar source may name that the DataModule does not read: (stream, key of ColumnarSource)
_UNREAD = (("constituents", "scalars"), ("objects", "scalars"), ("objects", "labels"))


class ColumnarFiles(_Source):
    """Weaver-style columnar files (ROOT, parquet, HDF5): jagged branches for each stream."""

    kind: Literal["columnar"] = "columnar"
    files: list[str] = Field(min_length=1, description="Files (paths or glob patterns), all with the same branches.")
    constituents: ColumnarSource = Field(
        description="Constituent branches (tokens; scalars are not read); its labels give the classes."
    )
    objects: ColumnarSource = Field(description="Object branches (tokens only; labels and scalars are not read).")
    class_names: list[str] | None = Field(None, description="Name of each class (default: the label branches).")

    @model_validator(mode="after")
    def _warn_unread(self) -> ColumnarFiles:
        """The streams are token branches and the classes come from ``constituents.labels``: per-event scalars
        and object labels feed no network. Configs (and run folders) that name them were always accepted, and
        stay so: the branches are left unread (:meth:`_read`), with a warning rather than silently."""
        if unread := [f"{stream}.{key}" for stream, key in _UNREAD if getattr(getattr(self, stream), key)]:
            log.warning(
                "collider data: %s not read: no network reads per-event scalars or object labels (the classes come "
                "from constituents.labels); remove them from the source", ", ".join(unread)
            )
        return self

    def read(self) -> EventStreams:
        return self._read(expand_patterns(self.files, "collider data: columnar files", FileNotFoundError, refuse_copies=True))

    def class_name_problem(self, name: str) -> str | None:
        if self.class_names is not None or len(self.constituents.labels) > 1:
            return _not_among(name, self.class_names or _label_names(self.constituents.labels, np.zeros(0, np.int64)))
        if re.fullmatch(r"class\d+", name):
            return None
        return (f"one label branch of class indices names its classes class0, class1...: name them with class_names "
                f"(e.g. class_names: [background, {name}])")

    def for_prediction(self, files: Sequence[str | Path]) -> ColumnarFiles:
        # a file to predict may lack the label branches: read unlabelled
        return self.model_copy(update={"files": [str(f) for f in files]})._as_prediction()

    def _read(self, paths: Sequence[Path]) -> EventStreams:
        constituents, objects, labels, files = [], [], [], []
        # without the branches of _UNREAD: neither read nor required in the files
        read_constituents = self.constituents.model_copy(update={"scalars": []})
        read_objects = self.objects.model_copy(update={"labels": [], "scalars": []})
        for index, path in enumerate(paths):
            first = read_columnar(path, read_constituents, labels_required=not self._prediction)
            second = read_columnar(path, read_objects)
            if len(first.tokens) != len(second.tokens):
                raise ColliderDataError(
                    path, f"the constituents hold {len(first.tokens)} events and the objects {len(second.tokens)}: "
                    "their trees must hold the same events"
                )
            self._not_empty(path, len(first.tokens))
            constituents.append(first.tokens)
            objects.append(second.tokens)
            labels.append(first.labels if first.labels is not None else np.full(len(first.tokens), UNKNOWN_LABEL))
            files.append(np.full(len(first.tokens), index))
        label = np.concatenate(labels).astype(np.int64)
        names = tuple(self.class_names or _label_names(self.constituents.labels, label))
        self._check_class_names(paths, label, np.concatenate(files), names)
        meta = {"process": label.copy(), "weight_pb": np.full(len(label), np.nan), "file_index": np.concatenate(files),
                "event": np.concatenate([np.arange(len(c)) for c in constituents])}  # fmt: skip
        return EventStreams(ak.concatenate(constituents), ak.concatenate(objects), label, names, meta)

    def _check_class_names(self, paths: Sequence[Path], label: np.ndarray, file: np.ndarray, names: tuple[str, ...]) -> None:
        one_hot = len(self.constituents.labels) > 1
        if one_hot and len(names) != len(self.constituents.labels):
            raise ColliderDataError(paths[0], f"class_names names {len(names)} classes but there are "
                                              f"{len(self.constituents.labels)} one-hot label branches")
        unnamed = label >= len(names)
        if unnamed.any():
            first = int(np.argmax(unnamed))
            raise ColliderDataError(paths[file[first]], f"label {int(label[first])} in branch {self.constituents.labels[0]!r} "
                                                        f"has no class name: class_names names {len(names)} classes {list(names)}")


def _not_among(name: str, names: Sequence[str]) -> str | None:
    """:meth:`_Source.class_name_problem` of a source whose config names its classes; background and signal give
    one score, which needs no signal class."""
    return None if name in names or tuple(names) == BINARY_CLASSES else f"its classes are {', '.join(names)}"


def _label_names(branches: Sequence[str], labels: np.ndarray) -> list[str]:
    """One-hot label branches name their classes; one branch of indices gives class0, class1..."""
    if len(branches) > 1:
        return [branch.removeprefix("label_") for branch in branches]
    return [f"class{i}" for i in range(max(int(labels.max(initial=0)) + 1, 2))]


def _rank_within(labels: np.ndarray) -> np.ndarray:
    """Each event's position among the events of its class (its row in the class's file)."""
    ranks = np.empty(len(labels), np.int64)
    for label in np.unique(labels):
        where = labels == label
        ranks[where] = np.arange(where.sum())
    return ranks


def _kind(value: Any) -> str:
    """The reader a source names (``kind``); generated files when it names none."""
    return value.get("kind", "generated") if isinstance(value, Mapping) else getattr(value, "kind", "generated")


#: the ``source`` of the collider DataModule: one of the readers, chosen by ``kind`` (default: generated)
Source = Annotated[
    Annotated[GeneratedFiles, Tag("generated")]
    | Annotated[SimulatedEvents, Tag("simulate")]
    | Annotated[DelphesFiles, Tag("delphes")]
    | Annotated[NpzFiles, Tag("npz")]
    | Annotated[ColumnarFiles, Tag("columnar")],
    Discriminator(_kind),
]
