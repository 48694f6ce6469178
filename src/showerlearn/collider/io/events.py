"""The generated event files (``showerlearn simulate collider``): columnar HDF5 read as awkward arrays.

Layout (:mod:`showerlearn.collider.io.h5columns`): per-event fields in ``/events`` (``process``,
``label``, ``weight_pb``, ``generator_weight``, ``mjj``, ``met``, ``met_phi``) and one group per
collection (``fatjets``, ``jets``, ``electrons``, ``muons``, ``constituents``) with ``counts`` and one
flat dataset per field. The root attributes hold the format name and version, the seed, the full
generator config (JSON), the versions of Pythia and FastJet, and one summary per process (JSON):
settings, events written, events generated, Pythia's generated cross section and the selected one.

``weight_pb`` is each event's share of its process's selected cross section: the weights of a process
add up to sigma_selected, so ``sum(weight_pb[selection]) x luminosity`` is an expected event count.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import awkward as ak
import h5py
import numpy as np

from showerlearn.collider.io.checks import check_values
from showerlearn.collider.io.errors import ColliderDataError
from showerlearn.collider.io.h5columns import COUNTS, EVENTS, collections_of, read_open_columns
from showerlearn.collider.kinematics import CONSTITUENT_FIELDS, FATJET_FIELDS, JET_FIELDS, LEPTON_FIELDS
from showerlearn.collider.particles import CATEGORY_NAMES
from showerlearn.io.errors import hdf5_open_problem

__all__ = ["FORMAT", "FORMAT_VERSION", "REQUIRED_FIELDS", "EventFile", "ProcessSummary", "read_events", "write_metadata"]

FORMAT = "showerlearn-collider-events"
FORMAT_VERSION = 1
#: the datasets every generated file holds (the writer's layout since format version 1), by group; each
#: collection also has its ``counts``
REQUIRED_FIELDS: dict[str, tuple[str, ...]] = {
    EVENTS: ("process", "label", "weight_pb", "generator_weight", "mjj", "met", "met_phi"),
    "fatjets": FATJET_FIELDS,
    "jets": JET_FIELDS,
    "electrons": LEPTON_FIELDS,
    "muons": LEPTON_FIELDS,
    "constituents": CONSTITUENT_FIELDS,
}
#: (group, field, whether 0 is allowed) of the values that cannot be negative: the logarithms of a constituent's pT
#: and energy are token features, its pT and energy are taken relative to its fat jet's, a missing pT is a magnitude
_SIGNLESS = (
    ("constituents", "pt", False), ("constituents", "energy", False), ("fatjets", "pt", False), (EVENTS, "met", True),
    ("jets", "pt", True), ("electrons", "pt", True), ("muons", "pt", True),
)  # fmt: skip
#: (group, field, lowest value or None) of the codes, indices and counts, which are whole numbers: a fraction would
#: be read as no code at all (a token of no particle kind) or as an index between two jets
_WHOLE = (
    ("constituents", "category", 0), ("constituents", "jet_index", 0), ("constituents", "charge", None),
    ("jets", "btag", 0), ("jets", "flavour", None), ("fatjets", "n_btag", 0), ("fatjets", "n_constituents", 0),
    ("electrons", "charge", None), ("muons", "charge", None),
)  # fmt: skip


@dataclass(frozen=True)
class ProcessSummary:
    """One process of a file: what was generated and its cross sections [pb]."""

    name: str
    label: int  #: 1 signal, 0 background
    settings: list[str]  #: the Pythia settings it was generated with
    n_events: int  #: events written
    n_generated: int  #: Pythia events reconstructed to select them
    sum_weights: float  #: sum of the generator weights of the generated events
    sigma_generated_pb: float
    sigma_generated_error_pb: float
    sigma_selected_pb: float

    @property
    def efficiency(self) -> float:
        return self.n_events / self.n_generated if self.n_generated else 0.0


@dataclass(frozen=True)
class EventFile:
    """A generated file in memory: the events and what describes them."""

    events: ak.Array
    processes: list[ProcessSummary]  #: in the order of the ``process`` codes
    config: dict[str, Any]
    seed: int


def write_metadata(
    h5: h5py.File, processes: list[ProcessSummary], config: dict[str, Any], seed: int, versions: dict[str, str]
) -> None:
    """The root attributes of an event file."""
    h5.attrs["format"] = FORMAT
    h5.attrs["format_version"] = FORMAT_VERSION
    h5.attrs["seed"] = seed
    h5.attrs["config"] = json.dumps(config, sort_keys=True, default=str)
    h5.attrs["processes"] = json.dumps([asdict(process) for process in processes])
    h5.attrs["versions"] = json.dumps(versions, sort_keys=True)


def read_events(path: str | Path, collections: list[str] | None = None, *, allow_empty: bool = False) -> EventFile:
    """Read a generated file; ``collections`` limits the list fields read (default: all of them); ``allow_empty``:
    a file without events is read (a file to predict, whose output is then empty), not refused.

    The layout is checked before the events are used (:func:`_check_layout`, :func:`_check_processes`, and
    :func:`~showerlearn.collider.io.h5columns.read_open_columns`): every problem names the file, the dataset and,
    where one event is at fault, its number in the file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such event file: {path}")
    try:
        h5 = h5py.File(path, "r")
    except OSError as error:
        raise ColliderDataError(path, hdf5_open_problem(path, error)) from None
    with h5:
        attributes = dict(h5.attrs)
        _check_format(path, attributes)
        try:
            processes = [ProcessSummary(**entry) for entry in json.loads(attributes["processes"])]
            config, seed = json.loads(attributes["config"]), int(attributes["seed"])
        except (KeyError, TypeError, ValueError) as error:  # an attribute missing, or not what the writer stores
            raise ColliderDataError(
                path, f"root attributes processes / config / seed missing or malformed ({error!r})"
            ) from None
        # the generator settings: a mapping, whose processes are one (the cross sections they set are read there)
        if not isinstance(config, dict) or not isinstance(config.get("processes", {}), dict):
            raise ColliderDataError(path, "root attribute config is not the generator settings (a JSON mapping, its "
                                          f"processes a mapping of process names): {str(attributes['config'])[:80]}")
        _check_layout(path, h5, _required(collections))  # the collections read among them: checked here only
        events = read_open_columns(h5, path, collections_of(h5) if collections is None else collections)
    if len(events) or not allow_empty:
        _check_processes(path, events, processes)
        _check_weights(path, events, processes)
        _check_signless(path, events)
        _check_whole(path, events)
        _check_constituent_codes(path, events)
    return EventFile(events, processes, config, seed)


def _check_format(path: Path, attributes: dict[str, Any]) -> None:
    """The root attributes name this format, in a version this reader knows (files without a version: the first)."""
    if attributes.get("format") != FORMAT:
        raise ColliderDataError(
            path,
            f"not a showerlearn collider event file (root attribute format={attributes.get('format')!r}, expected {FORMAT!r})",
        )
    value = attributes.get("format_version", FORMAT_VERSION)
    try:
        version = int(value)
        if version != value:  # "1" or 1.5: not what the writer stores
            raise ValueError(value)
    except (TypeError, ValueError):
        raise ColliderDataError(path, f"root attribute format_version={value!r} is not a whole number") from None
    if version > FORMAT_VERSION:
        raise ColliderDataError(path, f"format version {version} is newer than this reader's ({FORMAT_VERSION})")


def _required(collections: list[str] | None) -> dict[str, tuple[str, ...]]:
    """The datasets a file must hold to read ``collections`` (None: all of the format's): the event fields, and each
    collection's fields (its ``counts`` only, for a collection the format does not define)."""
    if collections is None:
        return REQUIRED_FIELDS
    return {EVENTS: REQUIRED_FIELDS[EVENTS], **{name: REQUIRED_FIELDS.get(name, ()) for name in collections}}


def _check_layout(path: Path, h5: h5py.File, required: dict[str, tuple[str, ...]]) -> None:
    """Every dataset of ``required`` is there (checked before anything is read, so that a broken file fails at
    once and says what it lacks)."""
    if not any(group in h5 for group in required):
        raise ColliderDataError(path, f"holds no events: none of the groups {', '.join(required)}")
    missing = [
        f"{group}/{field}"
        for group, fields in required.items()
        for field in (fields if group == EVENTS else (COUNTS, *fields))
        if not isinstance(h5.get(f"{group}/{field}"), h5py.Dataset)
    ]
    if missing:
        shown = ", ".join(missing[:10]) + (f" and {len(missing) - 10} more" if len(missing) > 10 else "")
        raise ColliderDataError(
            path, f"lacks the datasets {shown} of a generated event file: cut short, or not written by "
            "showerlearn simulate collider"
        )


def _check_whole(path: Path, events: ak.Array) -> None:
    """The values of :data:`_WHOLE` are whole numbers, at least their lowest: the error names the dataset and the event."""
    for group, name, lowest in _WHOLE:
        if group not in events.fields or name not in events[group].fields:
            continue  # a collection not read
        column = events[group][name]
        values = ak.to_numpy(ak.flatten(column))
        bad = values != np.round(values)  # NaN too
        if lowest is not None:
            bad |= values < lowest
        expected = "a whole number" + (f" >= {lowest}" if lowest is not None else "")
        check_values(path, f"dataset '{group}/{name}'", values, bad, expected, ak.to_numpy(ak.num(column)))


def _check_constituent_codes(path: Path, events: ak.Array) -> None:
    """Each constituent's ``category`` is a particle category and its ``jet_index`` one of its event's large-R jets
    (another would pass as a number: a token of no known kind, or aligned on the axis of a jet that is not there)."""
    fields = events.fields
    tokens = events.constituents if "constituents" in fields else None
    if tokens is None:
        return
    checks = []
    if "category" in tokens.fields:
        checks.append(("category", (tokens.category < 0) | (tokens.category >= len(CATEGORY_NAMES)),
                       f"a particle category code, 0 to {len(CATEGORY_NAMES) - 1} ({', '.join(CATEGORY_NAMES)})"))
    if "jet_index" in tokens.fields and "fatjets" in fields:
        checks.append(("jet_index", (tokens.jet_index < 0) | (tokens.jet_index >= ak.num(events.fatjets)),
                       "the index of one of the event's large-R jets"))
    for name, bad, expected in checks:
        per_event = ak.to_numpy(ak.any(bad, axis=1))
        if per_event.any():
            event = int(np.argmax(per_event))
            value = ak.to_list(tokens[name][event][bad[event]])[0]
            raise ColliderDataError(path, f"dataset 'constituents/{name}' holds {value} in event {event}; expected {expected}")


def _check_processes(path: Path, events: ak.Array, processes: list[ProcessSummary]) -> None:
    """At least one event; each event's process code indexes the root attribute ``processes`` and its label is
    that process's signal flag."""
    if len(events) == 0:
        raise ColliderDataError(path, "holds no events")
    codes = ak.to_numpy(events.process)
    if codes.dtype.kind not in "iu":
        raise ColliderDataError(path, f"dataset 'events/process' is {codes.dtype}; expected whole process codes")
    bad = (codes < 0) | (codes >= len(processes))
    if bad.any():
        event = int(np.argmax(bad))
        raise ColliderDataError(
            path, f"dataset 'events/process' holds {codes[event]} in event {event}; the file's processes are "
            f"{[process.name for process in processes]} (codes 0 to {len(processes) - 1})"
        )
    flags = np.array([process.label for process in processes])[codes]
    labels = ak.to_numpy(events.label)
    wrong = labels != flags
    if wrong.any():
        event = int(np.argmax(wrong))
        raise ColliderDataError(
            path, f"dataset 'events/label' holds {labels[event]} in event {event}, but its process "
            f"{processes[codes[event]].name!r} has signal={flags[event]} (root attribute processes)"
        )


def _check_weights(path: Path, events: ak.Array, processes: list[ProcessSummary]) -> None:
    """The weights of each process add up to its selected cross section, above 0: single weights may be negative
    (NLO generators), but a sum of 0 or below would make every expected event count of the metrics 0 or negative."""
    codes = ak.to_numpy(events.process).astype(np.int64)
    n_events = np.bincount(codes, minlength=len(processes))
    totals = np.bincount(codes, ak.to_numpy(events.weight_pb).astype(np.float64), minlength=len(processes))
    bad = (n_events > 0) & ~(totals > 0)
    if bad.any():
        code = int(np.argmax(bad))
        process = processes[code]
        raise ColliderDataError(
            path, f"dataset 'events/weight_pb': the weights of process {process.name!r} add up to {totals[code]:g} pb "
            f"over its {n_events[code]} events; expected its selected cross section, above 0 (root attribute "
            f"processes: sigma_selected_pb={process.sigma_selected_pb:g}); single weights may be negative, not their "
            "sum"
        )


def _check_signless(path: Path, events: ak.Array) -> None:
    """The values of :data:`_SIGNLESS` are above 0 (or 0 where allowed): the error names the dataset and the event."""
    for group, name, zero_allowed in _SIGNLESS:
        if group != EVENTS and group not in events.fields:
            continue  # a collection not read
        parent = events if group == EVENTS else events[group]
        column = parent[name]
        values = ak.to_numpy(column if group == EVENTS else ak.flatten(column))
        counts = None if group == EVENTS else ak.to_numpy(ak.num(column))
        bad = values < 0 if zero_allowed else values <= 0
        expected = f"a value {'>=' if zero_allowed else '>'} 0"
        check_values(path, f"dataset '{group}/{name}'", values, bad, expected, counts)
