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

from showerlearn.collider.io.errors import ColliderDataError
from showerlearn.collider.io.h5columns import read_columns

__all__ = ["FORMAT", "FORMAT_VERSION", "EventFile", "ProcessSummary", "read_events", "write_metadata"]

FORMAT = "showerlearn-collider-events"
FORMAT_VERSION = 1


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


def read_events(path: str | Path, collections: list[str] | None = None) -> EventFile:
    """Read a generated file; ``collections`` limits the list fields read (default: all of them)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such event file: {path}")
    try:
        with h5py.File(path, "r") as h5:
            attributes = dict(h5.attrs)
    except OSError as error:
        raise ColliderDataError(path, f"not an HDF5 file ({error})") from None
    if attributes.get("format") != FORMAT:
        raise ColliderDataError(
            path,
            f"not a showerlearn collider event file (root attribute format={attributes.get('format')!r}, expected {FORMAT!r})",
        )
    if int(attributes.get("format_version", -1)) > FORMAT_VERSION:
        raise ColliderDataError(
            path, f"format version {attributes['format_version']} is newer than this reader's ({FORMAT_VERSION})"
        )
    try:
        processes = [ProcessSummary(**entry) for entry in json.loads(attributes["processes"])]
        config, seed = json.loads(attributes["config"]), int(attributes["seed"])
    except (KeyError, TypeError, ValueError) as error:  # an attribute missing, or not what the writer stores
        raise ColliderDataError(path, f"root attributes processes / config / seed missing or malformed ({error!r})") from None
    return EventFile(read_columns(path, collections), processes, config, seed)
