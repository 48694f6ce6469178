"""Events of hit files in memory as flat columns with offsets: what the DataModule splits and serves.

A hit file of a few hundred thousand events is tens of MB: held whole, an event is a slice of each column,
with no per-event file access while training.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from showerlearn.calorimeter.io import geometry_name, has_gammas, read_event_chunk, read_gammas

__all__ = ["GAMMA_COLUMNS", "HIT_COLUMNS", "HitEvents", "load_hit_files", "load_hit_range"]

#: per-hit columns kept (``true_gamma`` -1 for background hits, and for every hit of a file without truth)
HIT_COLUMNS = ("energy", "theta", "phi", "time", "crystal_id", "true_gamma")
#: per-gamma columns kept
GAMMA_COLUMNS = ("energy_rest", "energy_lab", "theta", "phi")


@dataclass(frozen=True)
class HitEvents:
    """Events as flat columns: ``hits`` (:data:`HIT_COLUMNS`) and ``gammas`` (:data:`GAMMA_COLUMNS`) with the
    offsets of each event's rows, and per event its ``beta``, ``file`` (index into the list of files) and
    ``event_id`` (its number in that file: the one a converted ROOT tree gave it, else its row). ``truth``: whether the hits carry their true gammas (False: of a file
    without truth, or of several files one of which has none, whose ``true_gamma`` is -1 throughout)."""

    hits: dict[str, np.ndarray]
    hit_offsets: np.ndarray
    gammas: dict[str, np.ndarray]
    gamma_offsets: np.ndarray
    beta: np.ndarray
    file: np.ndarray
    event_id: np.ndarray
    truth: bool = True

    def __len__(self) -> int:
        return len(self.beta)

    @property
    def n_hits(self) -> np.ndarray:
        return np.diff(self.hit_offsets)

    def hit_rows(self, index: np.ndarray) -> np.ndarray:
        """Flat hit rows of the events ``index``, event after event."""
        return _rows(self.hit_offsets, index)

    def take(self, index: np.ndarray) -> HitEvents:
        """The events ``index`` (in that order) as a new :class:`HitEvents`."""
        index = np.asarray(index, dtype=np.int64)
        hit_rows, gamma_rows = self.hit_rows(index), _rows(self.gamma_offsets, index)
        return HitEvents(
            {key: values[hit_rows] for key, values in self.hits.items()}, _offsets(np.diff(self.hit_offsets)[index]),
            {key: values[gamma_rows] for key, values in self.gammas.items()}, _offsets(np.diff(self.gamma_offsets)[index]),
            self.beta[index], self.file[index], self.event_id[index], self.truth,
        )

    def event(self, i: int) -> dict[str, np.ndarray]:
        """The hit columns of event ``i``; ``true_gamma`` only with ``truth``: the -1 of hits without truth
        would read as background to a method that clusters by the truth (the oracle), which must refuse them."""
        a, b = self.hit_offsets[i], self.hit_offsets[i + 1]
        return {key: values[a:b] for key, values in self.hits.items() if self.truth or key != "true_gamma"}


def load_hit_files(paths: Sequence[Path], require_truth: bool = True) -> HitEvents:
    """All events of the hit files ``paths``, one after the other. ``require_truth``: a file without the
    per-hit truth (``true_gamma``) is refused (training and evaluation need it)."""
    parts = [_load(path, number, require_truth) for number, path in enumerate(paths)]
    return HitEvents(
        {key: np.concatenate([p.hits[key] for p in parts]) for key in HIT_COLUMNS},
        _offsets(np.concatenate([p.n_hits for p in parts])),
        {key: np.concatenate([p.gammas[key] for p in parts]) for key in GAMMA_COLUMNS},
        _offsets(np.concatenate([np.diff(p.gamma_offsets) for p in parts])),
        *(np.concatenate([getattr(p, key) for p in parts]) for key in ("beta", "file", "event_id")),
        all(p.truth for p in parts),
    )


def common_geometry(paths: Sequence[Path], expected: str | None = None) -> str | None:
    """The geometry the hit files ``paths`` all name (and ``expected``: the training files'), or None if none does.

    Raises:
        ValueError: the files name different calorimeters (a crystal id of one means another crystal in another).
    """
    names = {Path(path): geometry_name(path) for path in paths}
    known = {name for name in names.values() if name is not None} | ({expected} if expected else set())
    if len(known) > 1:
        found = ", ".join(f"{path}: {name}" for path, name in names.items())
        trained = f"; the training files are {expected}" if expected else ""
        raise ValueError(f"hit files of different calorimeters ({found}{trained}): their crystal ids cannot be mixed")
    return next(iter(known), None)


def load_hit_range(path: Path, start: int, stop: int, require_truth: bool = True) -> HitEvents:
    """Events ``start..stop`` of one hit file (``event_id``: their numbers in the file), to stream a large file."""
    return _load(path, 0, require_truth, start, stop)


def _load(path: Path, number: int, require_truth: bool, start: int = 0, stop: int | None = None) -> HitEvents:
    import awkward as ak

    events, columns = read_event_chunk(path, start, stop)
    with_gammas = has_gammas(path)
    truth = "true_gamma" in events.fields  # the hits' own truth (the oracle's); training needs the gammas too
    if not (truth and with_gammas) and require_truth:
        raise ValueError(f"{path}: the hits have no truth (/hits/true_gamma, /gammas): only simulated files can train "
                         "and be evaluated")
    gammas = read_gammas(path, start, stop) if with_gammas else None
    hits = {key: ak.to_numpy(ak.flatten(events[key], axis=1)) for key in HIT_COLUMNS if key in events.fields}
    hits.setdefault("true_gamma", np.full(len(hits["energy"]), -1))
    n_events = len(columns["beta"])
    return HitEvents(
        {key: hits[key].astype(np.int64 if key in ("crystal_id", "true_gamma") else np.float64) for key in HIT_COLUMNS},
        _offsets(columns["n_hits"]),
        {key: (np.zeros(0) if gammas is None else ak.to_numpy(ak.flatten(gammas[key], axis=1))).astype(np.float64)
         for key in GAMMA_COLUMNS},
        _offsets(columns["n_gammas"] if gammas is not None else np.zeros(n_events, np.int64)),
        columns["beta"].astype(np.float64), np.full(n_events, number), columns["event_id"], truth,
    )


def _offsets(counts: np.ndarray) -> np.ndarray:
    return np.r_[0, np.cumsum(counts)].astype(np.int64)


def _rows(offsets: np.ndarray, index: np.ndarray) -> np.ndarray:
    """Rows ``offsets[i] .. offsets[i + 1]`` of every ``i`` in ``index``, concatenated."""
    starts, counts = offsets[:-1][index], np.diff(offsets)[index]
    return np.repeat(starts - np.r_[0, np.cumsum(counts)[:-1]], counts) + np.arange(int(counts.sum()))
