"""Flat ROOT trees of CALIFA crystal hits, read through uproot.

R3B users export calibrated crystal hits (R3BRoot's ``R3BCalifaCrystalCalData``: crystal id, energy, time)
to flat trees for analysis outside R3BRoot, in one of two shapes, both read here:

* one entry per event, with variable-length branches of equal length per entry (``crystal_id[n]``,
  ``energy[n]``, ``time[n]``);
* one entry per hit, with an event-number branch (``event``) grouping the entries: an event is a run of
  consecutive entries of one number, events are kept in tree order, and a number that comes back after other
  events is refused (trees of chained runs whose numbering restarts must be renumbered or read one by one).

TTrees and RNTuples are read alike. Branches hold numbers (not booleans or strings); a crystal is read out once
per event, so an id twice in one event is refused.

Times: networks read a hit's time as simulated, relative to the reaction (prompt gammas near 0 ns, background
spread over the readout window), so times are read on that clock. With ``time_reference``, a branch of one
reference time per entry (the trigger's or the event header's time stamp), relative to it. Without it, float
times as written (trigger-relative, as analysis exports write them); integer times (R3BRoot's ``fTime``, a
``ULong64_t``: 64-bit white-rabbit stamps, ~1.7e18 ns, in measured data, nanoseconds since the event's start in
simulation) relative to their event's most energetic hit, which a prompt gamma deposits (not the earliest hit: a
background hit may come up to a microsecond before). Integers are subtracted as integers: a float64 keeps such
stamps only to ~256 ns. Float times beyond a second are refused as absolute stamps, whose nanoseconds a float has
lost (with a reference, floats beyond 2^53 ns).

Crystal ids are mapped to angles with a geometry (the CALIFA-like one by default). Energies are converted to
MeV from ``energy_unit`` (R3BRoot's calibrated data are in keV, its simulated ones in MeV; headers of older
R3BRoot versions said GeV for simulation). R3BRoot numbers the
second (low-gain, "proton") readout range of crystal ``i`` as ``i + 2432``: choose one range before export,
those ids are refused.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from showerlearn.calorimeter.geometry import CrystalGeometry, UnknownCrystalError, califa
from showerlearn.calorimeter.io.checks import repeated_crystals
from showerlearn.calorimeter.io.errors import CalorimeterFileError
from showerlearn.io.errors import HDF5_SIGNATURE

__all__ = ["CHUNK_ENTRIES", "ENERGY_UNITS", "RootHitChunk", "RootHitReader", "read_root_events", "read_root_hits"]

log = logging.getLogger(__name__)

ENERGY_UNITS = {"keV": 1e-3, "MeV": 1.0, "GeV": 1e3}
#: the range [MeV] the median deposit of a tree's gamma hits lies in (of its first :data:`UNIT_SAMPLE_HITS`),
#: whatever the detector's thresholds (above it: the proton range, or a wrong unit)
PLAUSIBLE_MEDIAN_MEV = (0.01, 100.0)
#: the most [MeV] a median deposit can be: a proton stopping in CALIFA's longest (22 cm) CsI crystal leaves about
#: 700 MeV; a median beyond is a wrong unit, not a detector's
MAX_MEDIAN_MEV = 1000.0
#: the four bytes every ROOT file begins with
ROOT_SIGNATURE = b"root"
#: ROOT's columnar containers uproot reads alike: TTree, and RNTuple (what uproot 5.7 writes by default)
_TREE_CLASSES = ("TTree", "ROOT::RNTuple")
#: float times beyond a second [ns] are no trigger-relative times but absolute stamps
_MAX_FLOAT_TIME_NS = 1e9
#: beyond 2^53 ns a float64 no longer holds every nanosecond
_MAX_FLOAT_NS = 2.0**53
#: crystal ids are int32 in R3BRoot (both readout ranges stay far below)
_MAX_CRYSTAL_ID = 2**31


#: tree entries read at once by default: the hits of a tree of one entry per hit, the events of one of one entry per
#: event (a file of any size is converted in bounded memory)
CHUNK_ENTRIES = 200_000
#: deposits the energy unit is judged on: the tree's first so many (all of a smaller tree), whatever the chunks
UNIT_SAMPLE_HITS = 1_000_000


@dataclass(frozen=True)
class RootHitChunk:
    """Consecutive events of a tree: their hit lists (fields ``crystal_id``, ``energy`` [MeV], ``time`` [ns],
    ``theta``, ``phi`` [rad]), their numbers (the event branch; None without one), one value per event of each
    branch asked for, and the tree entries they take."""

    hits: Any
    event_ids: np.ndarray | None
    values: dict[str, np.ndarray]
    entries: int

    @classmethod
    def joined(cls, chunks: Sequence[RootHitChunk]) -> RootHitChunk:
        """The consecutive ``chunks`` (at least one: a reader gives one even for an empty tree) as one."""
        import awkward as ak

        if not chunks:
            raise ValueError("no chunks to join: a reader gives one at least, even for an empty tree")
        head = chunks[0]
        return cls(ak.concatenate([c.hits for c in chunks]),
                   None if head.event_ids is None else np.concatenate([c.event_ids for c in chunks]),
                   {name: np.concatenate([c.values[name] for c in chunks]) for name in head.values},
                   sum(c.entries for c in chunks))


class RootHitReader:
    """The events of a flat tree of crystal hits, chunk by chunk (:class:`RootHitChunk`), in tree order, as a read
    of the whole tree gives them whatever the chunk size; every refusal names the file, the branch and the entry
    (counted over the whole tree; an event's number: its event). A faulty tree is refused whatever the chunks, at
    the first fault of the first chunk that has one (a whole read may name a fault of a later entry first).

    Use as a context manager (the file stays open inside); ``n_entries`` is the tree's. Checks over the whole
    tree run as the chunks come: an event number of a per-hit tree that comes back after other events is refused
    at its chunk, before anything else of it; the energy unit is judged on the tree's first
    :data:`UNIT_SAMPLE_HITS` deposits, once they are read (a refusal may come after chunks were given).

    Args:
        path: the ROOT file.
        tree: the tree's name; None: the file's only tree.
        crystal_id, energy, time: branch names.
        event: branch numbering the events: it groups the entries of a tree of one entry per hit into events, and in
            any tree its numbers are kept (``event_ids``).
        energy_unit: unit of the energy branch: keV, MeV or GeV.
        geometry: maps crystal ids to angles (default: the CALIFA-like geometry).
        time_reference: branch of one reference time per entry [ns] (the trigger's), which the times are read
            relative to; None: see the module docstring.
        values: branches of one number per event (the fragment's velocity from its time of flight, say), one value per
            entry; in a tree of one entry per hit every hit of an event repeats its event's value.
        chunk_entries: tree entries read at once (None: :data:`CHUNK_ENTRIES`).
    """

    def __init__(
        self, path: str | Path, tree: str | None = None, crystal_id: str = "crystal_id", energy: str = "energy",
        time: str = "time", event: str | None = None, energy_unit: str = "keV", geometry: CrystalGeometry | None = None,
        time_reference: str | None = None, values: Sequence[str] = (), chunk_entries: int | None = None,
    ) -> None:
        if energy_unit not in ENERGY_UNITS:
            raise ValueError(f"energy_unit must be one of {', '.join(ENERGY_UNITS)}, got {energy_unit!r}")
        chunk_entries = CHUNK_ENTRIES if chunk_entries is None else chunk_entries
        if chunk_entries < 1:
            raise ValueError(f"chunk_entries must be >= 1, got {chunk_entries}")
        self.path, self.tree, self.event, self.energy_unit = Path(path), tree, event, energy_unit
        self.names = (crystal_id, energy, time)
        self.time_reference, self.value_branches = time_reference, tuple(dict.fromkeys(values))
        self.geometry = geometry or califa()
        self.chunk_entries = chunk_entries
        self._branches = list(dict.fromkeys([*self.names, *(name for name in (event, time_reference) if name),
                                             *self.value_branches]))
        self._stack = ExitStack()
        self.n_entries = 0

    def __enter__(self) -> RootHitReader:
        self._tree = self._stack.enter_context(_open_tree(self.path, self.tree, self._branches))
        self.n_entries = int(self._tree.num_entries)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stack.__exit__(*exc_info)

    def __iter__(self) -> Iterator[RootHitChunk]:
        import awkward as ak

        seen, unit = _SeenNumbers(), _UnitSample(self.path, self.names[1], self.energy_unit)
        repeats = _Repeats(self.path, self.event or "")
        start = events_before = 0
        carried: Any = None  # the last event of a per-hit chunk, which may go on in the next entries
        while True:
            stop = min(start + self.chunk_entries, self.n_entries)
            columns = self._read(start, stop)
            first_entry = start
            if carried is not None:
                first_entry -= len(carried)
                columns = ak.concatenate([carried, columns])
            carried = None
            per_hit = columns[self.names[0]].ndim == 1
            if per_hit and self.event is not None and stop < self.n_entries:
                columns, carried = _last_event_apart(self.path, columns, self.event, first_entry)
            if len(columns) or stop >= self.n_entries:
                chunk = self._chunk(columns, first_entry, events_before, seen)
                unit.add(chunk.hits.energy)
                if chunk.event_ids is not None and not per_hit:
                    repeats.add(seen, chunk.event_ids, events_before)
                events_before += len(chunk.hits)
                yield chunk
            if stop >= self.n_entries:
                break
            start = stop
        unit.check()
        repeats.warn()

    def _read(self, start: int, stop: int) -> Any:
        try:
            return self._tree.arrays(self._branches, entry_start=start, entry_stop=stop, library="ak")
        except Exception as error:  # uproot raises many kinds for a cut-off basket
            raise CalorimeterFileError(self.path, f"cannot read tree {self._tree.name!r} (truncated or corrupt?): {error}") from None

    def _chunk(self, columns: Any, first_entry: int, events_before: int, seen: _SeenNumbers) -> RootHitChunk:
        """The events of the entries ``columns``, the first of them the tree's entry ``first_entry``, after
        ``events_before`` events (``seen``: the event numbers of a per-hit tree so far)."""
        import awkward as ak

        path, (crystal_id, energy, time), event = self.path, self.names, self.event
        hits, counts, where, starts = _per_event(path, columns, crystal_id, energy, time, event, first_entry, seen)
        per_event_tree = starts is None
        reference = None if self.time_reference is None else _per_hit_reference(
            path, columns[self.time_reference], self.time_reference, counts if per_event_tree else None, first_entry)

        def refuse(name: str, bad: np.ndarray, why: str) -> None:
            """An error at the first ``bad`` hit: the branch, the value the file holds there and its entry."""
            if bad.any():
                row = int(np.flatnonzero(bad)[0])
                raise CalorimeterFileError(path, f"branch {name!r} is {hits[name][row]} at {where(row)}{why}")

        refuse(energy, ~np.isfinite(hits[energy]), "; R3BRoot marks saturated crystals so: drop them before export")
        refuse(energy, hits[energy] < 0, ": a crystal's deposited energy is >= 0")
        refuse(time, ~np.isfinite(hits[time]), "")
        if hits[time].dtype.kind == "f":  # beyond a second no trigger-relative time; beyond 2^53 ns no float holds the ns
            limit = _MAX_FLOAT_TIME_NS if reference is None else _MAX_FLOAT_NS
            refuse(time, np.abs(hits[time]) > limit, " ns: an absolute time stamp, whose nanoseconds a float has lost; "
                   "export the stamps as integers" + ("" if reference is not None else ", or give the trigger's time as the "
                                                      "time reference"))
        # checked before the conversion to int64, which would wrap an infinity or a huge id into another number
        refuse(crystal_id, ~_whole(hits[crystal_id], _MAX_CRYSTAL_ID), ": crystal ids are whole numbers "
               "(of magnitude below 2^31)")
        ids = hits[crystal_id].astype(np.int64)
        refuse(crystal_id, repeated_crystals(ids, counts), ": that crystal is hit earlier in the same event; a crystal is "
               "read out once per event (a merged export, or both readout ranges mapped to one id?)")
        try:
            theta, phi = self.geometry.angles(ids)
        except UnknownCrystalError as error:  # named at its first hit, as every other refusal
            refuse(crystal_id, ~np.isin(ids, self.geometry.table()["crystal_id"]), f": {error}")
            raise
        times = _times(hits[time], counts, hits[energy], reference)
        energies = hits[energy] * ENERGY_UNITS[self.energy_unit]
        record = {"crystal_id": ids, "energy": energies, "time": times, "theta": theta, "phi": phi}
        values = {name: _values_per_event(path, columns, name, event, starts, first_entry) for name in self.value_branches}
        event_ids = None if event is None else _event_ids(path, columns, event, starts, first_entry, events_before)
        return RootHitChunk(ak.unflatten(ak.zip(record), counts), event_ids, values, len(columns))


def read_root_events(
    path: str | Path, tree: str | None = None, crystal_id: str = "crystal_id", energy: str = "energy",
    time: str = "time", event: str | None = None, energy_unit: str = "keV", geometry: CrystalGeometry | None = None,
    time_reference: str | None = None, values: Sequence[str] = (),
) -> RootHitChunk:
    """The whole tree in memory, as one :class:`RootHitChunk` (arguments as :class:`RootHitReader`'s)."""
    with RootHitReader(path, tree, crystal_id, energy, time, event, energy_unit, geometry, time_reference, values) as reader:
        return RootHitChunk.joined(list(reader))


def read_root_hits(
    path: str | Path, tree: str | None = None, crystal_id: str = "crystal_id", energy: str = "energy",
    time: str = "time", event: str | None = None, energy_unit: str = "keV", geometry: CrystalGeometry | None = None,
    time_reference: str | None = None,
) -> Any:
    """The whole tree's hit lists, one per event, as an awkward array (fields ``crystal_id``, ``energy`` [MeV],
    ``time`` [ns], ``theta``, ``phi`` [rad]); arguments as :class:`RootHitReader`'s."""
    return read_root_events(path, tree, crystal_id, energy, time, event, energy_unit, geometry, time_reference).hits


class _SeenNumbers:
    """Event numbers of the chunks so far, each once, with where its first event is (a per-hit tree: the last entry
    of its run; a per-event tree: its event), in sorted runs of merged chunks, merged as a binary counter merges (a
    run joins the one before it once that one is no longer): a tree of n chunks keeps at most log2(n) + 1 runs to
    search, and each number is merged log2(n) times at most, whatever order the numbers come in."""

    def __init__(self) -> None:
        self._runs: list[tuple[np.ndarray, np.ndarray]] = []  # (sorted numbers, their places), oldest first
        self._high: Any = None

    def earlier(self, numbers: np.ndarray, places: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Which of one chunk's ``numbers`` (in tree order, ``places`` theirs) an earlier event has, in an earlier
        chunk or earlier in this one, and where the first such event is; the chunk's numbers are kept."""
        unique, first_row, inverse = np.unique(numbers, return_index=True, return_inverse=True)
        found, found_places = np.zeros(len(unique), dtype=bool), np.zeros(len(unique), dtype=np.int64)
        if len(unique) and self._high is not None and unique[0] <= self._high:  # increasing numbers need no search
            for run_numbers, run_places in self._runs:
                index = np.searchsorted(run_numbers, unique).clip(max=len(run_numbers) - 1)
                new = (run_numbers[index] == unique) & ~found
                found_places[new] = run_places[index[new]]
                found |= new
        first_places = np.where(found, found_places, places[first_row])
        self._keep(unique[~found], first_places[~found])
        repeated = found[inverse] | (first_row[inverse] != np.arange(len(numbers)))
        return repeated, first_places[inverse]

    def _keep(self, numbers: np.ndarray, places: np.ndarray) -> None:
        if not len(numbers):
            return
        self._high = numbers[-1] if self._high is None else max(self._high, numbers[-1])
        run = (numbers, places)
        while self._runs and len(self._runs[-1][0]) <= len(run[0]):
            older = self._runs.pop()
            merged, places = np.concatenate([older[0], run[0]]), np.concatenate([older[1], run[1]])
            if older[0][-1] > run[0][0]:  # increasing numbers (most trees) stay sorted as they are joined
                order = np.argsort(merged)
                merged, places = merged[order], places[order]
            run = (merged, places)
        self._runs.append(run)


class _Repeats:
    """Numbers repeated in a tree of one entry per event: each entry is an event all the same, but a join with other
    detectors' data would pair one with several; warned of once, at the first repeat in tree order."""

    def __init__(self, path: Path, name: str) -> None:
        self.path, self.name = path, name
        self.count = 0
        self._first: tuple[int, int, int] | None = None  # the number, its first event, the first event repeating it

    def add(self, seen: _SeenNumbers, numbers: np.ndarray, events_before: int) -> None:
        repeated, earlier = seen.earlier(numbers, events_before + np.arange(len(numbers)))
        self.count += int(repeated.sum())
        if self._first is None and repeated.any():
            row = int(np.flatnonzero(repeated)[0])
            self._first = (int(numbers[row]), int(earlier[row]), events_before + row)

    def warn(self) -> None:
        if self._first is not None:
            number, earlier, event = self._first
            log.warning("%s: branch %r is %d at events %d and %d (%d repeats in all): a join by event_id would pair each "
                        "with several events of other data (chained runs whose numbering restarts? convert them one by "
                        "one)", self.path, self.name, number, earlier, event, self.count)


class _UnitSample:
    """The first :data:`UNIT_SAMPLE_HITS` deposits of the tree (all of a smaller one), whatever the chunks: what
    :func:`_check_energy_unit` judges the energy unit on."""

    def __init__(self, path: Path, branch: str, unit: str) -> None:
        self.path, self.branch, self.unit = path, branch, unit
        self._parts: list[np.ndarray] = []
        self._size = 0
        self._checked = False

    def add(self, energies: Any) -> None:
        import awkward as ak

        if self._checked:
            return
        flat = ak.to_numpy(ak.flatten(energies))
        deposits = flat[flat > 0]
        self._parts.append(deposits[: UNIT_SAMPLE_HITS - self._size])
        self._size += len(self._parts[-1])
        if self._size >= UNIT_SAMPLE_HITS:
            self.check()

    def check(self) -> None:
        if not self._checked:
            self._checked = True
            _check_energy_unit(self.path, self.branch, np.concatenate(self._parts) if self._parts else np.zeros(0), self.unit)
            self._parts = []


def _check_energy_unit(path: str | Path, branch: str, energies: np.ndarray, unit: str) -> None:
    """A median deposit (of ``energies``, a tree's first :data:`UNIT_SAMPLE_HITS`) below 10 keV, which no
    CALIFA crystal reads out (thresholds are tens of keV), is a wrong ``energy_unit`` (MeV read as keV would put
    every hit 1000 times below any threshold, silently): refused, naming the unit that fits; so is one above
    :data:`MAX_MEDIAN_MEV`, more than a crystal can take. One above 100 MeV may be the proton range, or keV read as
    MeV: warned of."""
    deposits = energies[energies > 0]
    if not len(deposits):
        return
    median = float(np.median(deposits))
    low, high = PLAUSIBLE_MEDIAN_MEV
    said = f"branch {branch!r} read as {unit} gives a median hit energy of {median:.3g} MeV"
    fits = [other for other, scale in ENERGY_UNITS.items() if low <= median / ENERGY_UNITS[unit] * scale <= high]
    hint = f": are they in {fits[0]}? give that unit (--energy-unit {fits[0]})" if fits else ""
    if median < low:
        raise CalorimeterFileError(path, f"{said}, below the {low * 1e3:g} keV any crystal reads out{hint}")
    if median > MAX_MEDIAN_MEV:
        raise CalorimeterFileError(path, f"{said}, above the {MAX_MEDIAN_MEV:g} MeV any crystal can take{hint}")
    if median > high:
        log.warning("%s: %s: the proton range's, or energies in keV read as %s?", path, said, unit)


@contextmanager
def _open_tree(path: Path, tree: str | None, branches: list[str]) -> Iterator[Any]:
    """The tree ``tree`` of the ROOT file ``path`` (None: its only tree), open inside the block, once it is known to
    hold ``branches``."""
    import uproot

    if not path.is_file():
        raise FileNotFoundError(f"no such ROOT file: {path}" + (" (it is a folder)" if path.is_dir() else ""))
    try:
        file = uproot.open(path)
    except Exception as error:  # uproot raises many kinds for a cut-off or foreign file
        with open(path, "rb") as head:
            start = head.read(16)  # both signatures, and enough of a foreign file to show what it is
        if start.startswith(HDF5_SIGNATURE):
            raise CalorimeterFileError(path, "an HDF5 file, not a ROOT file: convert reads ROOT trees of crystal hits; "
                                             "a hit file (HDF5, as simulate and convert write) is read by train and "
                                             "predict as it is") from None
        if not start:
            raise CalorimeterFileError(path, "an empty file (0 bytes), not a ROOT file") from None
        if not start.startswith(ROOT_SIGNATURE):  # uproot's own words would be about chunks of bytes
            raise CalorimeterFileError(path, f"not a ROOT file: it starts with {start!r}, a ROOT file with "
                                             f"{ROOT_SIGNATURE!r}") from None
        raise CalorimeterFileError(path, f"not a readable ROOT file (truncated or corrupt?): {error}") from None
    with file:
        # a tree saved several times (ROOT's AutoSave) has one key per cycle: name;1, name;2
        trees = list(dict.fromkeys(key.split(";")[0] for key, cls in file.classnames().items() if cls in _TREE_CLASSES))
        if not trees:
            held = ", ".join(dict.fromkeys(f"{key.split(';')[0]} ({cls})" for key, cls in file.classnames().items()))
            raise CalorimeterFileError(path, "holds no TTree or RNTuple " + (f"(it holds {held})" if held else "(it is empty)"))
        if tree is not None:  # the cycles of a tree are one tree: a name with one reads it as the name without
            name, semicolon, cycle = tree.rpartition(";")
            tree = name if semicolon and cycle.isdigit() else tree
        if tree is None:
            if len(trees) != 1:
                raise CalorimeterFileError(path, f"holds {len(trees)} trees ({', '.join(trees) or 'none'}): name one (--tree; tree= in Python)")
            tree = trees[0]
        if tree not in trees:
            raise CalorimeterFileError(path, f"no tree {tree!r}; trees: {', '.join(trees) or 'none'}")
        try:  # an RNTuple reads its footer here: a cut-off file fails now
            found = file[tree]
            names = list(found.keys())
        except Exception as error:
            raise CalorimeterFileError(path, f"cannot read tree {tree!r} (truncated or corrupt?): {error}") from None
        missing = [name for name in branches if name not in names]
        if missing:
            raise CalorimeterFileError(path, f"tree {tree!r} has no branch {', '.join(map(repr, missing))}; "
                                             f"branches: {', '.join(names)}")
        yield found


def _per_event(
    path: Path, columns: Any, crystal_id: str, energy: str, time: str, event: str | None, first_entry: int,
    seen: _SeenNumbers,
) -> tuple[dict[str, np.ndarray], np.ndarray, Callable[[int], str], np.ndarray | None]:
    """Flat hit arrays, hits per event, where a flat hit row is in the tree (for errors), and, in a tree of one entry
    per hit, the entry of each event's first hit within ``columns`` (None in a tree of one entry per event), from
    entries of either tree shape, the first of them the tree's entry ``first_entry``. A per-hit tree's event number
    that an earlier event has (``seen``: those of earlier chunks) is refused first, as a read of the whole tree
    refuses it before any other fault of its entries."""
    import awkward as ak

    names = [crystal_id, energy, time]
    for name in names:
        _check_numbers(path, columns[name], name)
    depth = {name: columns[name].ndim for name in names}
    if len(set(depth.values())) != 1 or max(depth.values()) > 2:
        shapes = ", ".join(f"{name!r}: {str(ak.type(columns[name]))}" for name in names)
        raise CalorimeterFileError(path, f"branches must all be one value per entry or all one list per entry; got {shapes}")
    if depth[crystal_id] == 2:
        counts = [ak.to_numpy(ak.num(columns[name])) for name in names]
        for name, count in zip(names[1:], counts[1:]):
            if not np.array_equal(count, counts[0]):
                entry = int(np.flatnonzero(count != counts[0])[0])
                raise CalorimeterFileError(path, f"branches {crystal_id!r} and {name!r} differ in length at entry "
                                                 f"{first_entry + entry} ({counts[0][entry]} vs {count[entry]})")
        ends = np.cumsum(counts[0])

        def entry_of(row: int) -> str:
            entry = int(np.searchsorted(ends, row, side="right"))
            return f"entry {first_entry + entry}, hit {row - (ends[entry - 1] if entry else 0)} of that entry"

        return {name: ak.to_numpy(ak.flatten(columns[name])) for name in names}, counts[0], entry_of, None
    if event is None:
        raise CalorimeterFileError(path, f"branch {crystal_id!r} holds one hit per entry: name the event-number branch (--event; event= in Python)")
    numbers = _event_numbers(path, columns[event], event, first_entry)
    starts = _event_starts(numbers)
    counts = np.diff(np.append(starts, len(numbers)))
    _refuse_coming_back(path, event, numbers[starts], first_entry + starts, first_entry + starts + counts - 1, seen)

    def entry_of(row: int) -> str:
        return f"entry {first_entry + row} ({event} {numbers[row]})"

    return {name: ak.to_numpy(columns[name]) for name in names}, counts, entry_of, starts


def _last_event_apart(path: Path, columns: Any, event: str, first_entry: int) -> tuple[Any, Any]:
    """The entries of a per-hit tree's chunk before its last event, and those of that event, which may go on in the
    next entries (all of them, when the chunk is one event)."""
    numbers = _event_numbers(path, columns[event], event, first_entry)
    changes = np.flatnonzero(numbers[1:] != numbers[:-1])
    last = int(changes[-1]) + 1 if len(changes) else 0
    return columns[:last], columns[last:]


def _entry_values(path: Path, columns: Any, branch: str, first_entry: int) -> np.ndarray:
    """The branch ``branch`` as written: numbers, one per entry, each finite (an event without one is refused)."""
    import awkward as ak

    column = columns[branch]
    _check_numbers(path, column, branch)
    if column.ndim != 1:
        raise CalorimeterFileError(path, f"branch {branch!r} holds {ak.type(column)}: expected one value per entry")
    values = ak.to_numpy(column)
    if values.dtype.kind == "f" and not np.isfinite(values).all():  # before any comparison, where NaN != NaN
        entry = int(np.flatnonzero(~np.isfinite(values))[0])
        raise CalorimeterFileError(path, f"branch {branch!r} is {values[entry]} at entry {first_entry + entry}: expected a "
                                         "value for every event (leave out the events without one)")
    return values


def _values_per_event(path: Path, columns: Any, branch: str, event: str | None, starts: np.ndarray | None,
                      first_entry: int) -> np.ndarray:
    """One number per event from ``branch``: one per entry; in a tree of one entry per hit (events starting at the
    entries ``starts``) every hit of an event repeats its event's value."""
    values = _entry_values(path, columns, branch, first_entry).astype(np.float64)
    if starts is None:
        return values
    differs = values != np.repeat(values[starts], np.diff(np.append(starts, len(values))))
    if differs.any():
        import awkward as ak

        entry = int(np.flatnonzero(differs)[0])
        number = ak.to_numpy(columns[event])[entry]
        raise CalorimeterFileError(path, f"branch {branch!r} is {values[entry]} at entry {first_entry + entry} ({event} {number}), "
                                         f"another value than at that event's first entry: expected one value per event")
    return values[starts]


def _event_ids(path: Path, columns: Any, event: str, starts: np.ndarray | None, first_entry: int,
               events_before: int) -> np.ndarray:
    """Each event's own number from the branch ``event`` (one per entry; a per-hit tree's events start at the entries
    ``starts``), exactly as written (not through a float, which keeps 64-bit stamps only to 256): what predictions
    keep so that clusters can be joined with other detectors' data of the same event."""
    values = _entry_values(path, columns, event, first_entry)
    numbers = values if starts is None else values[starts]
    if not (whole := _whole(numbers, 2.0**63)).all():
        row = int(np.flatnonzero(~whole)[0])
        raise CalorimeterFileError(path, f"branch {event!r} is {numbers[row]} at event {events_before + row}: event "
                                         "numbers are whole numbers of magnitude below 2^63")
    return numbers.astype(np.int64)


def _check_numbers(path: str | Path, column: Any, name: str) -> None:
    """Refuse a crystal-id, energy or time branch that does not hold numbers: a string would fail in numpy's checks
    without naming the branch, and a boolean would pass as crystal 1 or 1 keV."""
    import awkward as ak

    content = ak.type(column).content
    while isinstance(content, (ak.types.ListType, ak.types.RegularType)) and content.parameter("__array__") is None:
        content = content.content
    if not (isinstance(content, ak.types.NumpyType) and content.parameter("__array__") is None
            and np.dtype(content.primitive).kind in "iuf"):
        raise CalorimeterFileError(path, f"branch {name!r} holds {ak.type(column)}: expected numbers (not booleans or "
                                         "strings)")


def _event_starts(numbers: np.ndarray) -> np.ndarray:
    """The first entry of each event of a per-hit tree's entries: each run of consecutive entries of one number
    (grouping equal numbers across the tree would merge chained runs whose numbering restarts: a number that comes
    back after other events is refused, :func:`_refuse_coming_back`)."""
    new = np.ones(len(numbers), dtype=bool)
    new[1:] = numbers[1:] != numbers[:-1]
    return np.flatnonzero(new)


def _refuse_coming_back(path: Path, name: str, numbers: np.ndarray, starts: np.ndarray, ends: np.ndarray,
                        seen: _SeenNumbers) -> None:
    """Refuse the first event (numbered ``numbers``, from the tree's entry ``starts`` to ``ends``) whose number an
    earlier event has, in this chunk or an earlier one (``seen``, which keeps these)."""
    repeated, earlier_end = seen.earlier(numbers, ends)
    if repeated.any():
        row = int(np.flatnonzero(repeated)[0])
        raise CalorimeterFileError(path, f"branch {name!r} is {numbers[row]} at entry {starts[row]} and at entry "
                                         f"{earlier_end[row]}, with other events between: events are read as runs of "
                                         "consecutive entries of one number (chained runs whose numbering restarts "
                                         "must be renumbered or read one by one)")


def _times(times: np.ndarray, counts: np.ndarray, energies: np.ndarray, reference: np.ndarray | None) -> np.ndarray:
    """Hit times [ns] as float64 on the simulation's clock (see the module docstring): relative to ``reference`` (one
    per hit) if given, else integer stamps relative to their event's most energetic hit, else as written."""
    if reference is None and times.dtype.kind == "f":
        return times.astype(np.float64)
    if reference is None:
        order = np.lexsort((energies, np.repeat(np.arange(len(counts)), counts)))  # per event, its most energetic last
        last = np.cumsum(counts)[counts > 0] - 1
        reference = np.repeat(times[order[last]], counts[counts > 0])
    if times.dtype.kind == "f":
        return times.astype(np.float64) - reference.astype(np.float64)
    fraction = np.zeros(len(times))
    if reference.dtype.kind == "f":  # to integer stamps: t - r = (t - round(r)) + (round(r) - r), each part exact
        whole = np.round(reference)
        reference, fraction = whole.astype(np.int64), whole - reference
    # modulo 2^64 the difference is exact for any integer types, read back as signed (a hit may precede the reference;
    # differences beyond 2^63 ns, 292 years, do not occur within an event)
    return (times.astype(np.uint64) - reference.astype(np.uint64)).view(np.int64).astype(np.float64) + fraction


def _per_hit_reference(path: Path, column: Any, name: str, counts: np.ndarray | None, first_entry: int) -> np.ndarray:
    """The time-reference branch ``name``: one finite number per entry, as one value per hit (``counts``: the hits of
    each entry of a tree of one entry per event; None for a tree of one entry per hit)."""
    import awkward as ak

    _check_numbers(path, column, name)
    if column.ndim != 1:
        raise CalorimeterFileError(path, f"branch {name!r} holds {ak.type(column)}: expected one reference time per entry")
    values = ak.to_numpy(column)
    if values.dtype.kind == "f" and not (np.isfinite(values) & (np.abs(values) <= _MAX_FLOAT_NS)).all():
        entry = int(np.flatnonzero(~(np.isfinite(values) & (np.abs(values) <= _MAX_FLOAT_NS)))[0])
        raise CalorimeterFileError(path, f"branch {name!r} is {values[entry]} at entry {first_entry + entry}: expected a "
                                         "reference time [ns], finite and, as a float, within 2^53 ns (beyond, a float "
                                         "has lost the nanoseconds: export the stamps as integers)")
    return values if counts is None else np.repeat(values, counts)


def _event_numbers(path: Path, column: Any, name: str, first_entry: int) -> np.ndarray:
    """The event-number branch ``name``: one finite whole number per entry (a list per entry, or a NaN, would
    group the hits into other events than the tree's)."""
    import awkward as ak

    numbers = ak.to_numpy(column) if column.ndim == 1 else None
    if numbers is None or numbers.dtype.kind not in "biuf":
        raise CalorimeterFileError(path, f"branch {name!r} holds {ak.type(column)}: expected one event number per entry")
    bad = ~_whole(numbers, np.inf)
    if bad.any():
        entry = int(np.flatnonzero(bad)[0])
        raise CalorimeterFileError(path, f"branch {name!r} is {numbers[entry]} at entry {first_entry + entry}: event numbers are "
                                         "finite whole numbers")
    return numbers


def _whole(values: np.ndarray, bound: float) -> np.ndarray:
    """Which ``values`` are finite whole numbers of magnitude below ``bound`` (compared as floats: an unsigned
    64-bit id above int64's range must not wrap before the comparison)."""
    if values.dtype.kind in "iub":
        return np.abs(values.astype(np.float64)) < bound
    return np.isfinite(values) & (np.round(values) == values) & (np.abs(values) < bound)
