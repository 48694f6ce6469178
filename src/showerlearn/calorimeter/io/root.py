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
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from showerlearn.calorimeter.geometry import CrystalGeometry, UnknownCrystalError, califa
from showerlearn.calorimeter.io.checks import repeated_crystals
from showerlearn.calorimeter.io.errors import CalorimeterFileError
from showerlearn.io.errors import HDF5_SIGNATURE

__all__ = ["ENERGY_UNITS", "read_root_event_numbers", "read_root_event_values", "read_root_hits"]

log = logging.getLogger(__name__)

ENERGY_UNITS = {"keV": 1e-3, "MeV": 1.0, "GeV": 1e3}
#: the range [MeV] the median deposit of a file's gamma hits lies in, whatever the detector's thresholds (above
#: it: the proton range, or a wrong unit)
PLAUSIBLE_MEDIAN_MEV = (0.01, 100.0)
#: ROOT's columnar containers uproot reads alike: TTree, and RNTuple (what uproot 5.7 writes by default)
_TREE_CLASSES = ("TTree", "ROOT::RNTuple")
#: float times beyond a second [ns] are no trigger-relative times but absolute stamps
_MAX_FLOAT_TIME_NS = 1e9
#: beyond 2^53 ns a float64 no longer holds every nanosecond
_MAX_FLOAT_NS = 2.0**53
#: crystal ids are int32 in R3BRoot (both readout ranges stay far below)
_MAX_CRYSTAL_ID = 2**31


def read_root_hits(
    path: str | Path, tree: str | None = None, crystal_id: str = "crystal_id", energy: str = "energy",
    time: str = "time", event: str | None = None, energy_unit: str = "keV", geometry: CrystalGeometry | None = None,
    time_reference: str | None = None,
) -> Any:
    """Read a flat tree of crystal hits as an awkward array of hit lists (fields ``crystal_id``, ``energy``
    [MeV], ``time`` [ns], ``theta``, ``phi`` [rad]), one list per event.

    Args:
        path: the ROOT file.
        tree: the tree's name; None: the file's only tree.
        crystal_id, energy, time: branch names.
        event: branch numbering the event of each entry, for trees with one entry per hit.
        energy_unit: unit of the energy branch: keV, MeV or GeV.
        geometry: maps crystal ids to angles (default: the CALIFA-like geometry).
        time_reference: branch of one reference time per entry [ns] (the trigger's), which the times are read
            relative to; None: see the module docstring.
    """
    if energy_unit not in ENERGY_UNITS:
        raise ValueError(f"energy_unit must be one of {', '.join(ENERGY_UNITS)}, got {energy_unit!r}")
    import awkward as ak

    branches = [crystal_id, energy, time] + [name for name in (event, time_reference) if name]
    columns = _read_branches(Path(path), tree, branches)
    hits, counts, where = _per_event(path, columns, crystal_id, energy, time, event)
    per_event_tree = columns[time].ndim == 2  # a list per entry, whatever ``event`` says
    reference = None if time_reference is None else _per_hit_reference(
        path, columns[time_reference], time_reference, counts if per_event_tree else None)

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
    geometry = geometry or califa()
    ids = hits[crystal_id].astype(np.int64)
    refuse(crystal_id, repeated_crystals(ids, counts), ": that crystal is hit earlier in the same event; a crystal is read out "
           "once per event (a merged export, or both readout ranges mapped to one id?)")
    try:
        theta, phi = geometry.angles(ids)
    except UnknownCrystalError as error:  # named at its first hit, as every other refusal
        refuse(crystal_id, ~np.isin(ids, geometry.table()["crystal_id"]), f": {error}")
        raise
    times = _times(hits[time], counts, hits[energy], reference)
    energies = hits[energy] * ENERGY_UNITS[energy_unit]
    _check_energy_unit(path, energy, energies, energy_unit)
    record = {"crystal_id": ids, "energy": energies, "time": times, "theta": theta, "phi": phi}
    return ak.unflatten(ak.zip(record), counts)


def read_root_event_values(
    path: str | Path, branch: str, tree: str | None = None, event: str | None = None, crystal_id: str = "crystal_id",
) -> np.ndarray:
    """One number per event from ``branch`` (the fragment's velocity from its time of flight, say), in the events'
    order of :func:`read_root_hits` with the same ``tree``, ``event`` and ``crystal_id``. A tree of one entry per event
    (``crystal_id`` a list per entry) holds one value per entry; in a tree of one entry per hit every hit of an event
    (``event``) must repeat its event's value."""
    import awkward as ak

    columns = _read_branches(Path(path), tree, list(dict.fromkeys([branch, crystal_id] + ([event] if event else []))))
    column = columns[branch]
    _check_numbers(path, column, branch)
    if column.ndim != 1:
        raise CalorimeterFileError(path, f"branch {branch!r} holds {ak.type(column)}: expected one value per entry")
    values = ak.to_numpy(column).astype(np.float64)
    if not np.isfinite(values).all():  # before the comparison within events, where NaN != NaN
        entry = int(np.flatnonzero(~np.isfinite(values))[0])
        raise CalorimeterFileError(path, f"branch {branch!r} is {values[entry]} at entry {entry}: expected a value for "
                                         "every event (leave out the events without one)")
    # a tree of one list of hits per entry has one event per entry, whatever ``event`` says (as read_root_hits reads it)
    if event is None or columns[crystal_id].ndim == 2:
        return values
    numbers = _event_numbers(path, columns[event], event)
    starts = _event_starts(path, numbers, event)
    differs = values != np.repeat(values[starts], np.diff(np.append(starts, len(values))))
    if differs.any():
        entry = int(np.flatnonzero(differs)[0])
        raise CalorimeterFileError(path, f"branch {branch!r} is {values[entry]} at entry {entry} ({event} {numbers[entry]}), "
                                         f"another value than at that event's first entry: expected one value per event")
    return values[starts]


def read_root_event_numbers(path: str | Path, event: str, tree: str | None = None, crystal_id: str = "crystal_id") -> np.ndarray:
    """Each event's own number from the branch ``event``, in the events' order of :func:`read_root_hits`: what
    predictions keep, so that clusters can be joined with other detectors' data of the same event (in a tree of one
    entry per hit, an event without hits has no entry, so its place in the tree is not its number)."""
    numbers = read_root_event_values(path, event, tree, event, crystal_id)
    if not (whole := _whole(numbers, 2.0**63)).all():
        entry = int(np.flatnonzero(~whole)[0])
        raise CalorimeterFileError(path, f"branch {event!r} is {numbers[entry]} at event {entry}: event numbers are "
                                         "whole numbers")
    # a tree of one entry per event may repeat a number (a per-hit tree cannot: its events are told by them): kept,
    # since each entry is an event all the same, but a join with other detectors' data would pair one with several
    order = np.argsort(numbers, kind="stable")
    repeated = np.flatnonzero(numbers[order][1:] == numbers[order][:-1])
    if len(repeated):
        first, second = sorted(order[repeated[0]:repeated[0] + 2])
        log.warning("%s: branch %r is %d at events %d and %d (%d repeats in all): a join by event_id would pair each "
                    "with several events of other data (chained runs whose numbering restarts? convert them one by one)",
                    path, event, int(numbers[first]), first, second, len(repeated))
    return numbers.astype(np.int64)


def _check_energy_unit(path: str | Path, branch: str, energies: np.ndarray, unit: str) -> None:
    """A median deposit below 10 keV, which no CALIFA crystal reads out (thresholds are tens of keV), is a wrong
    ``energy_unit`` (MeV read as keV would put every hit 1000 times below any threshold, silently): refused, naming
    the unit that fits. One above 100 MeV may be the proton range, or keV read as MeV: warned of."""
    deposits = energies[energies > 0]
    if not len(deposits):
        return
    median = float(np.median(deposits))
    low, high = PLAUSIBLE_MEDIAN_MEV
    said = f"branch {branch!r} read as {unit} gives a median hit energy of {median:.3g} MeV"
    if median < low:
        fits = [other for other, scale in ENERGY_UNITS.items() if low <= median / ENERGY_UNITS[unit] * scale <= high]
        hint = f": are they in {fits[0]}? give that unit (--energy-unit {fits[0]})" if fits else ""
        raise CalorimeterFileError(path, f"{said}, below the {low * 1e3:g} keV any crystal reads out{hint}")
    if median > high:
        log.warning("%s: %s: the proton range's, or energies in keV read as %s?", path, said, unit)


def _read_branches(path: Path, tree: str | None, branches: list[str]) -> dict[str, Any]:
    import uproot

    if not path.is_file():
        raise FileNotFoundError(f"no such ROOT file: {path}" + (" (it is a folder)" if path.is_dir() else ""))
    try:
        file = uproot.open(path)
    except Exception as error:  # uproot raises many kinds for a cut-off or foreign file
        with open(path, "rb") as head:
            if head.read(len(HDF5_SIGNATURE)) == HDF5_SIGNATURE:
                raise CalorimeterFileError(path, "an HDF5 file, not a ROOT file: convert reads ROOT trees of crystal hits; "
                                                 "a hit file (HDF5, as simulate and convert write) is read by train and "
                                                 "predict as it is") from None
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
        unreadable = f"cannot read tree {tree!r} (truncated or corrupt?)"
        try:  # an RNTuple reads its footer here: a cut-off file fails now
            found = file[tree]
            names = list(found.keys())
        except Exception as error:
            raise CalorimeterFileError(path, f"{unreadable}: {error}") from None
        missing = [name for name in branches if name not in names]
        if missing:
            raise CalorimeterFileError(path, f"tree {tree!r} has no branch {', '.join(map(repr, missing))}; "
                                             f"branches: {', '.join(names)}")
        try:
            return found.arrays(branches, library="ak")
        except Exception as error:
            raise CalorimeterFileError(path, f"{unreadable}: {error}") from None


def _per_event(
    path: str | Path, columns: Any, crystal_id: str, energy: str, time: str, event: str | None,
) -> tuple[dict[str, np.ndarray], np.ndarray, Callable[[int], str]]:
    """Flat hit arrays, hits per event, and where a flat hit row is in the tree (for errors), from either tree shape."""
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
                raise CalorimeterFileError(path, f"branches {crystal_id!r} and {name!r} differ in length at entry {entry} "
                                                 f"({counts[0][entry]} vs {count[entry]})")
        ends = np.cumsum(counts[0])

        def entry_of(row: int) -> str:
            entry = int(np.searchsorted(ends, row, side="right"))
            return f"entry {entry}, hit {row - (ends[entry - 1] if entry else 0)} of that entry"

        return {name: ak.to_numpy(ak.flatten(columns[name])) for name in names}, counts[0], entry_of
    if event is None:
        raise CalorimeterFileError(path, f"branch {crystal_id!r} holds one hit per entry: name the event-number branch (--event; event= in Python)")
    numbers = _event_numbers(path, columns[event], event)
    starts = _event_starts(path, numbers, event)
    counts = np.diff(np.append(starts, len(numbers)))

    def entry_of(row: int) -> str:
        return f"entry {row} ({event} {numbers[row]})"

    return {name: ak.to_numpy(columns[name]) for name in names}, counts, entry_of


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


def _event_starts(path: str | Path, numbers: np.ndarray, name: str) -> np.ndarray:
    """The first entry of each event of a per-hit tree: each run of consecutive entries of one number (grouping
    equal numbers across the tree would merge chained runs whose numbering restarts, so a number that comes back
    after other events is refused)."""
    new = np.ones(len(numbers), dtype=bool)
    new[1:] = numbers[1:] != numbers[:-1]
    starts = np.flatnonzero(new)
    _, first = np.unique(numbers[starts], return_index=True)
    again = np.ones(len(starts), dtype=bool)
    again[first] = False
    if again.any():
        run = int(np.flatnonzero(again)[0])
        number = numbers[starts[run]]
        earlier = int(np.flatnonzero(numbers[starts[:run]] == number)[-1])
        raise CalorimeterFileError(path, f"branch {name!r} is {number} at entry {starts[run]} and at entry "
                                         f"{starts[earlier + 1] - 1}, with other events between: events are read as runs "
                                         "of consecutive entries of one number (chained runs whose numbering restarts "
                                         "must be renumbered or read one by one)")
    return starts


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


def _per_hit_reference(path: str | Path, column: Any, name: str, counts: np.ndarray | None) -> np.ndarray:
    """The time-reference branch ``name``: one finite number per entry, as one value per hit (``counts``: the hits of
    each entry of a tree of one entry per event; None for a tree of one entry per hit)."""
    import awkward as ak

    _check_numbers(path, column, name)
    if column.ndim != 1:
        raise CalorimeterFileError(path, f"branch {name!r} holds {ak.type(column)}: expected one reference time per entry")
    values = ak.to_numpy(column)
    if values.dtype.kind == "f" and not (np.isfinite(values) & (np.abs(values) <= _MAX_FLOAT_NS)).all():
        entry = int(np.flatnonzero(~(np.isfinite(values) & (np.abs(values) <= _MAX_FLOAT_NS)))[0])
        raise CalorimeterFileError(path, f"branch {name!r} is {values[entry]} at entry {entry}: expected a reference time "
                                         f"[ns], finite and, as a float, within 2^53 ns (beyond, a float has lost the "
                                         f"nanoseconds: export the stamps as integers)")
    return values if counts is None else np.repeat(values, counts)


def _event_numbers(path: str | Path, column: Any, name: str) -> np.ndarray:
    """The event-number branch ``name``: one finite whole number per entry (a list per entry, or a NaN, would
    group the hits into other events than the tree's)."""
    import awkward as ak

    numbers = ak.to_numpy(column) if column.ndim == 1 else None
    if numbers is None or numbers.dtype.kind not in "biuf":
        raise CalorimeterFileError(path, f"branch {name!r} holds {ak.type(column)}: expected one event number per entry")
    bad = ~_whole(numbers, np.inf)
    if bad.any():
        entry = int(np.flatnonzero(bad)[0])
        raise CalorimeterFileError(path, f"branch {name!r} is {numbers[entry]} at entry {entry}: event numbers are finite "
                                         "whole numbers")
    return numbers


def _whole(values: np.ndarray, bound: float) -> np.ndarray:
    """Which ``values`` are finite whole numbers of magnitude below ``bound`` (compared as floats: an unsigned
    64-bit id above int64's range must not wrap before the comparison)."""
    if values.dtype.kind in "iub":
        return np.abs(values.astype(np.float64)) < bound
    return np.isfinite(values) & (np.round(values) == values) & (np.abs(values) < bound)
