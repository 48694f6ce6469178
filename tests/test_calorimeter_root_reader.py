"""The ROOT reader's handling of what real exports hold: 64-bit time stamps, per-hit trees of chained runs,
crystals read out twice, branches of booleans or strings, and files or tree names that hold no tree as asked
(trees written here with uproot)."""

from __future__ import annotations

from pathlib import Path

import awkward as ak
import numpy as np
import pytest
import uproot

from root_trees import write_root

from showerlearn.calorimeter.io import CalorimeterFileError, RootHitChunk, RootHitReader, read_root_hits

#: a white-rabbit stamp as R3BRoot stores a crystal's time: uint64 ns since 1970 (a float64 keeps multiples of 256)
STAMP = 1_700_000_000_000_000_123


def _read_mev(*args: object, **options: object) -> ak.Array:
    """The trees below hold energies of a few MeV (the reader refuses a unit that puts them below any threshold)."""
    return read_root_hits(*args, energy_unit="MeV", **options)


def _stamps(*offsets: int, dtype: type = np.uint64) -> np.ndarray:
    return np.array([STAMP + offset for offset in offsets], dtype=dtype)


def test_integer_time_stamps_keep_their_nanoseconds_relative_to_the_event_s_most_energetic_hit(tmp_path: Path) -> None:
    """The simulation's clock: the reaction (a prompt gamma's hit, the most energetic) at 0, not the earliest hit."""
    times = ak.Array([_stamps(3, 0, 150), np.zeros(0, dtype=np.uint64), _stamps(10**12 + 7)])
    path = write_root(tmp_path / "stamps.root", crystal_id=ak.Array([[1, 2, 3], [], [4]]),
                       energy=ak.Array([[500.0, 1000.0, 300.0], [], [200.0]]), time=times)
    events = read_root_hits(path)
    assert ak.to_list(events.time) == [[3.0, 0.0, 150.0], [], [0.0]]
    assert ak.type(events.time).content.content == ak.types.NumpyType("float64")
    path = write_root(tmp_path / "early.root", crystal_id=ak.Array([[1, 2]]), energy=ak.Array([[100.0, 2000.0]]),
                      time=ak.Array([_stamps(0, 900)]))  # a background hit 900 ns before the reaction
    assert ak.to_list(read_root_hits(path).time) == [[-900.0, 0.0]]
    # per-hit tree, signed stamps
    path = write_root(tmp_path / "signed.root", event=np.array([1, 1, 2, 2]), crystal_id=np.array([1, 2, 1, 2]),
                       energy=np.array([1.0, 2.0, 2.0, 1.0]), time=np.array([STAMP - 5, STAMP, STAMP + 2, STAMP], dtype=np.int64))
    assert ak.to_list(_read_mev(path, event="event").time) == [[-5.0, 0.0], [0.0, -2.0]]


def test_times_relative_to_a_reference_branch(tmp_path: Path) -> None:
    """The trigger's stamp, one per entry, in a tree of one entry per event and in one of one entry per hit."""
    path = write_root(tmp_path / "trigger.root", crystal_id=ak.Array([[1, 2], [3]]), energy=ak.Array([[1.0, 2.0], [1.0]]),
                      time=ak.Array([_stamps(7, 9), _stamps(10**9)]), trigger=_stamps(10, 10**9 - 4), evt=np.array([5, 6]))
    assert ak.to_list(_read_mev(path, time_reference="trigger").time) == [[-3.0, -1.0], [4.0]]
    path = write_root(tmp_path / "per_hit.root", event=np.array([1, 1, 2]), crystal_id=np.array([1, 2, 1]),
                      energy=np.ones(3), time=np.array([5.0, 6.0, 7.0]), trigger=np.array([1.0, 1.0, 10.0]))
    assert ak.to_list(_read_mev(path, event="event", time_reference="trigger").time) == [[4.0, 5.0], [-3.0]]
    # a float reference (a Double_t trigger time) to integer stamps keeps their nanoseconds, and its own fraction
    path = write_root(tmp_path / "double.root", crystal_id=ak.Array([[1, 2]]), energy=ak.Array([[1.0, 2.0]]),
                      time=ak.Array([np.array([1000, 1100], dtype=np.uint64)]), trigger=np.array([999.5]))
    assert ak.to_list(_read_mev(path, time_reference="trigger").time) == [[0.5, 100.5]]
    path = write_root(tmp_path / "double_stamp.root", crystal_id=ak.Array([[1]]), energy=ak.Array([[1.0]]),
                      time=ak.Array([_stamps(100)]), trigger=np.array([float(STAMP)]))
    with pytest.raises(CalorimeterFileError, match="branch 'trigger' is .* within 2\\^53 ns"):
        _read_mev(path, time_reference="trigger")
    # --event given for a tree of one entry per event: the reference is still one per entry (event)
    assert ak.to_list(_read_mev(tmp_path / "trigger.root", event="evt", time_reference="trigger").time) == [
        [-3.0, -1.0], [4.0]]
    with pytest.raises(CalorimeterFileError, match="branch 'crystal_id' holds .*: expected one value per entry"):
        _read_mev(tmp_path / "trigger.root", event="crystal_id")  # event numbers are kept: one per entry
    with pytest.raises(CalorimeterFileError, match="branch 'time' holds .*: expected one reference time per entry"):
        _read_mev(tmp_path / "trigger.root", time_reference="time")  # a list per entry
    with pytest.raises(CalorimeterFileError, match="no branch 'start'"):
        _read_mev(tmp_path / "per_hit.root", event="event", time_reference="start")


def test_float_times_are_read_as_written(tmp_path: Path) -> None:
    """Trigger-relative times, as simulation and most exports write them: a network reads them as simulated; an
    absolute stamp written as a double has lost its nanoseconds, and is refused."""
    path = write_root(tmp_path / "float.root", crystal_id=ak.Array([[1, 2], [3]]), energy=ak.Array([[1.0, 2.0], [1.0]]),
                      time=ak.Array([np.array([12.5, -3.0]), np.array([-800.0])]))
    assert ak.to_list(_read_mev(path).time) == [[12.5, -3.0], [-800.0]]
    path = write_root(tmp_path / "absolute.root", crystal_id=ak.Array([[1, 2]]), energy=ak.Array([[1.0, 2.0]]),
                      time=ak.Array([np.array([1.7e18 + 256.0, 1.7e18])]))
    with pytest.raises(CalorimeterFileError, match="an absolute time stamp, whose nanoseconds a float has lost"):
        _read_mev(path)


def test_per_hit_events_are_runs_of_consecutive_entries_in_tree_order(tmp_path: Path) -> None:
    path = write_root(tmp_path / "order.root", event=np.array([5, 5, 3, 7]), crystal_id=np.array([10, 11, 20, 30]),
                       energy=np.array([1.0, 2.0, 3.0, 4.0]), time=np.zeros(4))
    assert ak.to_list(_read_mev(path, event="event").crystal_id) == [[10, 11], [20], [30]]


def test_an_event_number_that_comes_back_after_other_events_is_refused(tmp_path: Path) -> None:
    # two runs chained, their numbering restarting at 0: read as 2 events of both runs' hits before
    path = write_root(tmp_path / "chained.root", event=np.array([0, 0, 1, 0, 0, 1]),
                       crystal_id=np.array([10, 11, 20, 10, 12, 21]), energy=np.arange(1.0, 7.0), time=np.zeros(6))
    with pytest.raises(CalorimeterFileError, match=r"chained\.root: branch 'event' is 0 at entry 3 and at entry 1, with "
                                                   r"other events between: events are read as runs of consecutive "
                                                   r"entries .*renumbered or read one by one"):
        _read_mev(path, event="event")


def test_a_crystal_twice_in_one_event_is_refused(tmp_path: Path) -> None:
    path = write_root(tmp_path / "twice.root", crystal_id=ak.Array([[7, 8], [3, 5, 7, 5]]),
                       energy=ak.Array([[1.0, 2.0], [1.0, 2.0, 3.0, 4.0]]), time=ak.Array([[0.0, 0.0], [0.0, 0.0, 0.0, 0.0]]))
    with pytest.raises(CalorimeterFileError, match=r"twice\.root: branch 'crystal_id' is 5 at entry 1, hit 3 of that "
                                                   "entry: that crystal is hit earlier in the same event"):
        _read_mev(path)
    per_hit = write_root(tmp_path / "twice_per_hit.root", event=np.array([1, 1, 2, 2, 2]),
                          crystal_id=np.array([4, 5, 4, 6, 4]), energy=np.ones(5), time=np.zeros(5))
    with pytest.raises(CalorimeterFileError, match=r"'crystal_id' is 4 at entry 4 \(event 2\): that crystal is hit"):
        _read_mev(per_hit, event="event")


GOOD = {"crystal_id": ak.Array([[1, 2]]), "energy": ak.Array([[1.0, 2.0]]), "time": ak.Array([[0.0, 1.0]])}


@pytest.mark.parametrize("name", GOOD)
def test_boolean_branches_are_refused(name: str, tmp_path: Path) -> None:
    path = write_root(tmp_path / "bool.root", **{**GOOD, name: ak.Array([[True, True]])})
    with pytest.raises(CalorimeterFileError, match=rf"bool\.root: branch '{name}' holds 1 \* var \* bool: expected numbers"):
        _read_mev(path)


@pytest.mark.parametrize("name", GOOD)
def test_string_branches_are_refused(name: str, tmp_path: Path) -> None:
    path = tmp_path / "strings.root"
    with uproot.recreate(path) as file:  # an RNTuple: uproot writes no strings into TTrees
        file["califa"] = {"event": np.array([0, 0]), "crystal_id": np.array([1, 2]), "energy": np.array([1.0, 2.0]),
                          "time": np.array([1.0, 2.0]), name: np.array(["1", "2"])}
    with pytest.raises(CalorimeterFileError, match=rf"strings\.root: branch '{name}' holds 2 \* string: expected numbers"):
        _read_mev(path, event="event")


def test_a_file_without_trees_says_what_it_holds(tmp_path: Path) -> None:
    path = tmp_path / "histograms.root"
    with uproot.recreate(path) as file:
        file["energy"] = np.histogram([1.0, 2.0])
    with pytest.raises(CalorimeterFileError, match=r"histograms\.root: holds no TTree or RNTuple \(it holds energy \(TH1D\)\)"):
        _read_mev(path)
    with pytest.raises(CalorimeterFileError, match=r"histograms\.root: holds no TTree or RNTuple"):
        _read_mev(path, tree="califa")
    with uproot.recreate(tmp_path / "empty.root"):
        pass
    with pytest.raises(CalorimeterFileError, match=r"empty\.root: holds no TTree or RNTuple \(it is empty\)"):
        _read_mev(tmp_path / "empty.root")


def test_a_folder_is_named_as_one(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"no such ROOT file: .* \(it is a folder\)"):
        _read_mev(tmp_path)


def test_a_tree_named_with_its_cycle_is_read(tmp_path: Path) -> None:
    path = write_root(tmp_path / "hits.root", **GOOD)
    assert ak.to_list(_read_mev(path, tree="califa;1").crystal_id) == [[1, 2]]
    with pytest.raises(CalorimeterFileError, match="no tree 'hits'; trees: califa"):
        _read_mev(path, tree="hits;1")


def test_energies_in_another_unit_than_the_one_given_are_refused_naming_the_right_one(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """R3BRoot's simulated crystal energies are in MeV, its calibrated data in keV: MeV read as keV would put every
    hit 1000 times below any threshold, silently; so would MeV read as GeV put them above what a crystal takes. A
    median above 100 MeV (the proton range, or keV read as MeV) is converted with a warning."""
    path = write_root(tmp_path / "mev.root", crystal_id=ak.Array([[1, 2], [3]]), energy=ak.Array([[0.4, 2.5], [1.2]]),
                      time=ak.Array([[0.0, 0.0], [0.0]]))
    with pytest.raises(CalorimeterFileError, match=r"branch 'energy' read as keV gives a median hit energy of 0\.0012 MeV, "
                                                   r"below the 10 keV any crystal reads out: are they in MeV\? give that "
                                                   r"unit \(--energy-unit MeV\)"):
        read_root_hits(path)
    assert ak.to_list(read_root_hits(path, energy_unit="MeV").energy) == [[0.4, 2.5], [1.2]]
    with pytest.raises(CalorimeterFileError, match=r"read as GeV gives a median hit energy of 1\.2e\+03 MeV, above the "
                                                   r"1000 MeV any crystal can take: are they in MeV\? give that unit"):
        read_root_hits(path, energy_unit="GeV")
    protons = write_root(tmp_path / "protons.root", crystal_id=ak.Array([[1, 2], [3]]),
                         energy=ak.Array([[150.0, 250.0], [200.0]]), time=ak.Array([[0.0, 0.0], [0.0]]))
    with caplog.at_level("WARNING"):
        assert ak.to_list(read_root_hits(protons, energy_unit="MeV").energy) == [[150.0, 250.0], [200.0]]
    assert "median hit energy of 200 MeV: the proton range's, or energies in keV read as MeV?" in caplog.text


def test_an_hdf5_file_given_to_convert_is_named_as_one(tmp_path: Path) -> None:
    """A hit file (HDF5) given where a ROOT tree is read: said, not 'truncated or corrupt'."""
    import h5py

    hit_file = tmp_path / "hits.h5"
    with h5py.File(hit_file, "w") as file:
        file["energy"] = np.ones(3)
    with pytest.raises(CalorimeterFileError, match=r"hits\.h5: an HDF5 file, not a ROOT file: convert reads ROOT trees"):
        _read_mev(hit_file)


def test_an_empty_or_text_file_given_to_convert_is_named_as_such(tmp_path: Path) -> None:
    """Not uproot's words about chunks of bytes: what the file is."""
    empty, text = tmp_path / "empty.root", tmp_path / "hits.csv"
    empty.touch()
    text.write_text("crystal_id,energy\n5,1.2\n")
    with pytest.raises(CalorimeterFileError, match=r"empty\.root: an empty file \(0 bytes\), not a ROOT file"):
        _read_mev(empty)
    with pytest.raises(CalorimeterFileError, match=r"hits\.csv: not a ROOT file: it starts with b'crystal_id,energ', a ROOT file with b'root'"):
        _read_mev(text)


def _chunked(path: Path, chunk_entries: int, **options: object) -> RootHitChunk:
    with RootHitReader(path, energy_unit="MeV", chunk_entries=chunk_entries, **options) as reader:
        chunks = list(reader)
        assert sum(chunk.entries for chunk in chunks) == reader.n_entries
    return RootHitChunk.joined(chunks)


def _same(read: RootHitChunk, whole: RootHitChunk) -> None:
    assert ak.to_list(read.hits) == ak.to_list(whole.hits)
    assert (read.event_ids is None) == (whole.event_ids is None)
    if whole.event_ids is not None:
        assert read.event_ids.tolist() == whole.event_ids.tolist()
    assert {k: v.tolist() for k, v in read.values.items()} == {k: v.tolist() for k, v in whole.values.items()}


def test_a_tree_read_in_chunks_gives_the_events_of_the_whole_tree(tmp_path: Path) -> None:
    """Events of a per-hit tree run over chunk ends (one longer than a chunk); integer times are relative to the
    event's most energetic hit wherever its hits fall; per-event values and numbers come along."""
    rng = np.random.default_rng(3)
    sizes = [3, 1, 7, 2, 2, 1, 4]
    event = np.repeat(np.array([10, 11, 15, 16, 20, 21, 30]), sizes)
    n = len(event)
    ids = np.concatenate([rng.choice(1900, size, replace=False) for size in sizes])
    per_hit = write_root(tmp_path / "per_hit.root", event=event, crystal_id=ids, energy=rng.uniform(0.2, 5.0, n),
                         time=_stamps(*rng.integers(0, 1000, n)), beta=np.repeat(rng.uniform(0.5, 0.7, len(sizes)), sizes))
    lists = ak.unflatten(ids, sizes)
    per_event = write_root(tmp_path / "per_event.root", evt=np.array([4, 4, 5, 6, 7, 4, 8]), crystal_id=lists,
                           energy=ak.unflatten(rng.uniform(0.2, 5.0, n), sizes), time=ak.unflatten(rng.normal(0, 5, n), sizes),
                           beta=rng.uniform(0.5, 0.7, len(sizes)))
    for path, event_branch in ((per_hit, "event"), (per_event, "evt")):
        options = {"event": event_branch, "values": ["beta"]}
        with RootHitReader(path, energy_unit="MeV", **options) as reader:  # the default chunk holds the whole tree
            whole = RootHitChunk.joined(list(reader))
        assert len(whole.hits) == len(sizes) and ak.num(whole.hits).tolist() == sizes
        for chunk_entries in (1, 2, 3, 5, 8):
            _same(_chunked(path, chunk_entries, **options), whole)


def test_chunks_name_the_tree_s_own_entries_and_see_numbers_of_earlier_chunks(tmp_path: Path,
                                                                              caplog: pytest.LogCaptureFixture) -> None:
    path = write_root(tmp_path / "chained.root", event=np.array([0, 0, 1, 1, 2, 0]),
                       crystal_id=np.array([10, 11, 20, 21, 30, 10]), energy=np.arange(1.0, 7.0), time=np.zeros(6))
    for chunk_entries in (1, 2, 4, 6):
        with pytest.raises(CalorimeterFileError, match=r"branch 'event' is 0 at entry 5 and at entry 1, with other events"):
            _chunked(path, chunk_entries, event="event")
    nan = write_root(tmp_path / "nan.root", event=np.array([1, 1, 2, 3, 3]), crystal_id=np.array([1, 2, 3, 4, 5]),
                     energy=np.array([1.0, 1.0, 1.0, 1.0, np.nan]), time=np.zeros(5))
    for chunk_entries in (1, 2, 3):
        with pytest.raises(CalorimeterFileError, match=r"'energy' is nan at entry 4 \(event 3\)"):
            _chunked(nan, chunk_entries, event="event")
    jagged = write_root(tmp_path / "jagged.root", evt=np.array([4, 5, 4, 4]), crystal_id=ak.Array([[1], [2], [3], [4]]),
                        energy=ak.Array([[1.0], [1.0], [1.0], [np.nan]]), time=ak.Array([[0.0], [0.0], [0.0], [0.0]]))
    with pytest.raises(CalorimeterFileError, match=r"'energy' is nan at entry 3, hit 0 of that entry"):
        _chunked(jagged, 1, event="evt")
    # numbers repeated in a tree of one entry per event: read, and warned of once, counted over every chunk
    repeated = write_root(tmp_path / "repeated.root", evt=np.array([4, 5, 4, 4, 5]), crystal_id=ak.Array([[1]] * 5),
                          energy=ak.Array([[1.0]] * 5), time=ak.Array([[0.0]] * 5))
    for chunk_entries in (1, 2, 5):
        caplog.clear()
        with caplog.at_level("WARNING"):
            assert _chunked(repeated, chunk_entries, event="evt").event_ids.tolist() == [4, 5, 4, 4, 5]
        assert caplog.text.count("a join by event_id") == 1
        assert "branch 'evt' is 4 at events 0 and 2 (3 repeats in all)" in caplog.text, (chunk_entries, caplog.text)


def test_an_rntuple_is_read_in_chunks(tmp_path: Path) -> None:
    path = tmp_path / "ntuple.root"
    with uproot.recreate(path) as file:  # uproot writes a dict of arrays as an RNTuple
        file["califa"] = {"crystal_id": ak.Array([[1, 2], [], [3]]), "energy": ak.Array([[1.0, 2.0], [], [3.0]]),
                          "time": ak.Array([[0.0, 1.0], [], [2.0]])}
    read = _chunked(path, 1)
    assert ak.to_list(read.hits.crystal_id) == [[1, 2], [], [3]] and read.event_ids is None


def test_what_a_whole_read_refuses_first_every_chunk_size_refuses_first(tmp_path: Path) -> None:
    """The first event whose number came earlier, in tree order, and before any other fault of its chunk."""
    back = write_root(tmp_path / "back.root", event=np.array([7, 8, 7, 9, 7]), crystal_id=np.array([1, 2, 3, 4, 5]),
                      energy=np.ones(5), time=np.zeros(5))
    runs = write_root(tmp_path / "runs.root", event=np.repeat([7, 19, 7, 10, 7], [3, 1, 4, 3, 3]),
                      crystal_id=np.arange(1, 15), energy=np.ones(14), time=np.zeros(14))
    nan = write_root(tmp_path / "nan.root", event=np.array([1.0, 2.0, 1.0]), crystal_id=np.array([1, 2, 3]),
                     energy=np.array([1.0, 1.0, np.nan]), time=np.zeros(3))
    for path, message in ((back, "is 7 at entry 2 and at entry 0,"), (runs, "is 7 at entry 4 and at entry 2,"),
                          (nan, "is 1.0 at entry 2 and at entry 0,")):
        for chunk_entries in range(1, 8):
            with pytest.raises(CalorimeterFileError, match=f"branch 'event' {message}"):
                _chunked(path, chunk_entries, event="event")


def test_event_numbers_are_kept_exactly_and_the_unit_judged_alike_whatever_the_chunks(tmp_path: Path) -> None:
    # white-rabbit stamps as event numbers: beyond 2^53, where a float would merge neighbours
    path = write_root(tmp_path / "stamps.root", event=_stamps(0, 0, 1, 300), crystal_id=np.array([1, 2, 1, 2]),
                      energy=np.ones(4), time=np.zeros(4))
    for chunk_entries in (1, 2, 3, 4):
        assert _chunked(path, chunk_entries, event="event").event_ids.tolist() == [STAMP, STAMP + 1, STAMP + 300]
    # the unit is judged on the tree's deposits, not on its first chunk's: a soft first hit does not refuse a keV
    # tree, a plausible first hit does not let a wrong unit pass
    kev = write_root(tmp_path / "kev.root", crystal_id=ak.Array([[1], [2, 3], [4], [5, 6]]),
                     energy=ak.Array([[8.0], [1500.0, 300.0], [2000.0], [700.0, 1200.0]]),
                     time=ak.Array([[0.0], [0.0, 0.0], [0.0], [0.0, 0.0]]))
    wrong = write_root(tmp_path / "wrong.root", crystal_id=ak.Array([[1], [2, 3], [4]]),
                       energy=ak.Array([[1500.0], [0.003, 0.002], [0.004]]), time=ak.Array([[0.0], [0.0, 0.0], [0.0]]))
    for chunk_entries in (1, 2, 3, 4):
        with RootHitReader(kev, chunk_entries=chunk_entries) as reader:
            assert ak.num(RootHitChunk.joined(list(reader)).hits).tolist() == [1, 2, 1, 2]
        with pytest.raises(CalorimeterFileError, match="median hit energy of 3.5e-06 MeV"):
            with RootHitReader(wrong, chunk_entries=chunk_entries) as reader:
                list(reader)


def test_the_numbers_seen_across_chunks_match_a_naive_search() -> None:
    """The sorted runs, merged as the chunks come, find what a search of every earlier number finds."""
    from showerlearn.calorimeter.io.root import _SeenNumbers

    rng = np.random.default_rng(5)
    for trial in range(20):
        numbers = rng.integers(0, 60, rng.integers(1, 300))
        bounds = np.unique(np.r_[0, rng.integers(0, len(numbers), rng.integers(0, 12)), len(numbers)])
        seen = _SeenNumbers()
        for start, stop in zip(bounds[:-1], bounds[1:]):
            places = np.arange(start, stop) * 10  # what each number is known by
            repeated, earlier = seen.earlier(numbers[start:stop], places)
            for row, number in enumerate(numbers[start:stop]):
                before = np.flatnonzero(numbers[: start + row] == number)
                assert repeated[row] == bool(len(before)), (trial, start + row)
                assert earlier[row] == (before[0] * 10 if len(before) else places[row]), (trial, start + row)
