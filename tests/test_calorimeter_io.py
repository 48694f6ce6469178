"""The calorimeter's HDF5 hit files (written streamed, read back as awkward arrays, the same for any number
of workers) and the reader of flat ROOT trees of CALIFA hits (written here with uproot), with their errors."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import awkward as ak
import h5py
import numpy as np
import pytest
import uproot

from root_trees import write_root

from showerlearn.calorimeter.geometry import califa, toy_grid
from showerlearn.calorimeter.data.events import common_geometry, load_hit_files, load_hit_range
from showerlearn.calorimeter.io import (
    CalorimeterFileError, HitFileWriter, geometry_name, has_gammas, iter_events, n_events, read_event_columns, read_events, read_gammas,
    MeasuredHitWriter, read_root_events, read_root_hits, write_measured_hits,
)
from showerlearn.calorimeter.io import hdf5 as hit_files
from showerlearn.calorimeter.io.root import CHUNK_ENTRIES
from showerlearn.calorimeter.simulation import CalorimeterSimulationConfig, simulate_calorimeter, simulate_chunk

CONFIG = CalorimeterSimulationConfig(n_events=120, chunk_size=50, n_gammas=2, background_hits_mean=0.5)


@pytest.fixture(scope="module")
def hit_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("calorimeter") / "hits.h5"
    simulate_calorimeter(CONFIG, path, seed=11, n_jobs=1)
    return path


def test_file_holds_the_simulated_chunks_event_by_event(hit_file: Path) -> None:
    chunks = [simulate_chunk(CONFIG, 11, index, size) for index, size in enumerate((50, 50, 20))]
    events = read_events(hit_file)
    assert n_events(hit_file) == len(events) == 120
    assert ak.to_numpy(ak.num(events)).tolist() == np.concatenate([c["n_hits"] for c in chunks]).tolist()
    flat = {field: ak.to_numpy(ak.flatten(events[field])) for field in events.fields}
    for field in ("crystal_id", "energy", "time", "theta", "phi", "true_gamma", "true_fraction"):
        assert flat[field] == pytest.approx(np.concatenate([c[field] for c in chunks]), rel=1e-6), field
    gammas = read_gammas(hit_file)
    assert ak.to_numpy(ak.num(gammas)).tolist() == [2] * 120
    assert ak.to_numpy(ak.flatten(gammas["energy_rest"])) == pytest.approx(
        np.concatenate([c["gamma_energy_rest"] for c in chunks]), rel=1e-6)
    with h5py.File(hit_file) as file:
        assert file.attrs["geometry"] == "califa" and file.attrs["seed"] == 11
        assert len(file["geometry/crystal_id"]) == 2432
        hit_rows = file["contributions/hit"][:]
        assert hit_rows.max() < len(file["hits/energy"]) and np.all(np.diff(hit_rows) >= 0)


def test_streaming_gives_the_same_events_and_subranges_work(hit_file: Path) -> None:
    streamed = list(iter_events(hit_file, chunk_events=33))
    assert [len(part) for part in streamed] == [33, 33, 33, 21]
    assert ak.to_list(ak.concatenate(streamed)) == ak.to_list(read_events(hit_file))
    assert ak.to_list(read_events(hit_file, 40, 45)) == ak.to_list(read_events(hit_file)[40:45])
    assert read_events(hit_file, truth=False).fields == ["crystal_id", "energy", "time", "theta", "phi"]
    with pytest.raises(IndexError, match="out of range"):
        read_events(hit_file, 100, 200)


def test_the_file_does_not_depend_on_the_number_of_workers(hit_file: Path, tmp_path: Path) -> None:
    parallel = tmp_path / "parallel.h5"
    simulate_calorimeter(CONFIG, parallel, seed=11, n_jobs=2)
    with h5py.File(hit_file) as one, h5py.File(parallel) as two:
        for group in ("events", "hits", "contributions", "gammas"):
            for name in one[group]:
                assert np.array_equal(one[group][name][:], two[group][name][:]), f"{group}/{name}"


def test_format_attribute_written_as_bytes_is_accepted(hit_file: Path, tmp_path: Path) -> None:
    copy = _copy(hit_file, tmp_path)
    with h5py.File(copy, "a") as file:
        file.attrs["format"] = np.bytes_(b"showerlearn-calorimeter-hits")  # a fixed-length string, as C++ writers store it
    assert len(read_events(copy)) == n_events(hit_file)
    with h5py.File(copy, "a") as file:
        file.attrs["version"] = 2
    with pytest.raises(CalorimeterFileError, match="format version 2 is newer than this reader's"):
        read_events(copy)


def test_measured_data_without_truth_load_for_prediction(hit_file: Path, tmp_path: Path) -> None:
    measured = _copy(hit_file, tmp_path)
    with h5py.File(measured, "a") as file:
        for key in ("gammas", "contributions", "events/gamma_start", "events/n_gammas", "events/beta", "hits/true_gamma",
                    "hits/true_energy", "hits/true_fraction"):
            del file[key]
    events = load_hit_files([measured], require_truth=False)
    assert len(events) == n_events(hit_file) and np.isnan(events.beta).all() and len(events.gammas["energy_lab"]) == 0
    assert (events.hits["true_gamma"] == -1).all()
    with pytest.raises(ValueError, match="no truth"):
        load_hit_files([measured])
    stripped = _copy(hit_file, tmp_path)  # the truth removed, the per-event gamma counts left behind
    with h5py.File(stripped, "a") as file:
        del file["gammas"]
    events = load_hit_files([stripped], require_truth=False)
    assert len(events.take(np.arange(3))) == 3 and (np.diff(events.gamma_offsets) == 0).all()


def test_the_oracle_refuses_hits_without_truth_rather_than_leave_them_unclustered(hit_file: Path, tmp_path: Path) -> None:
    """A measured file's true_gamma is -1 throughout: the oracle read it as all background (every hit in no
    cluster, the output reported as written). Its events carry no true_gamma, and the oracle says why it stops."""
    from showerlearn.calorimeter.baselines.engine import HitOracle

    measured = _copy(hit_file, tmp_path)
    with h5py.File(measured, "a") as file:
        del file["gammas"], file["hits/true_gamma"]
    events = load_hit_range(measured, 0, 3, require_truth=False)
    assert not events.truth and not events.take(np.arange(2)).truth and "true_gamma" not in events.event(0)
    with pytest.raises(ValueError, match=r"clusters the hits by their simulation truth \(true_gamma\), which these hits lack"):
        HitOracle().predict([events.event(i) for i in range(len(events))])
    (tmp_path / "per_hit").mkdir()
    per_hit_only = _copy(hit_file, tmp_path / "per_hit")  # the hits' truth without the gammas': the oracle's enough
    with h5py.File(per_hit_only, "a") as file:
        del file["gammas"]
    assert load_hit_range(per_hit_only, 0, 3, require_truth=False).truth
    mixed = load_hit_files([hit_file, measured], require_truth=False)  # one file without truth: none claimed
    assert not mixed.truth and load_hit_range(hit_file, 0, 3).truth
    assert (HitOracle().predict([load_hit_range(hit_file, 0, 3).event(0)])["labels"] >= 0).any()


def test_files_of_different_calorimeters_are_not_mixed(hit_file: Path, tmp_path: Path) -> None:
    toy = _copy(hit_file, tmp_path)
    with h5py.File(toy, "a") as file:
        file.attrs["geometry"] = "toy_grid"
    assert common_geometry([hit_file, hit_file]) == "califa"
    with pytest.raises(ValueError, match="different calorimeters .*copy.h5: toy_grid"):
        common_geometry([hit_file, toy])
    with pytest.raises(ValueError, match="the training files are califa"):
        common_geometry([toy], expected="califa")


def test_a_file_naming_no_geometry_is_known_by_its_crystal_table(hit_file: Path, tmp_path: Path) -> None:
    """A toy-grid file without its ``geometry`` attribute was predicted by a CALIFA network: its table says what it is."""
    unnamed = _copy(hit_file, tmp_path)
    with h5py.File(unnamed, "a") as file:
        del file.attrs["geometry"]
    assert geometry_name(unnamed) == "califa"
    with h5py.File(unnamed, "a") as file:  # the toy grid's crystals in the table
        del file["geometry"]
        for key, value in toy_grid().table().items():
            file.create_dataset(f"geometry/{key}", data=value)
    assert geometry_name(unnamed) == "toy_grid"
    with h5py.File(unnamed, "a") as file:  # azimuths in [0, 2 pi): the same crystals
        file["geometry/phi"][...] = np.mod(file["geometry/phi"][...], 2 * np.pi)
    assert geometry_name(unnamed) == "toy_grid"
    with pytest.raises(ValueError, match="the training files are califa"):
        common_geometry([unnamed], expected="califa")
    with h5py.File(unnamed, "a") as file:  # a calorimeter of its own: nothing to compare with
        file["geometry/theta"][0] += 0.1
    assert geometry_name(unnamed) is None


def test_a_failed_last_write_leaves_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    chunk = simulate_chunk(CalorimeterSimulationConfig(n_events=5), seed=0, index=0, size=5)

    def disk_full(self: HitFileWriter) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(HitFileWriter, "_flush", disk_full)
    with pytest.raises(OSError, match="No space"), HitFileWriter(tmp_path / "out.h5", califa(), {}) as writer:
        writer.append(chunk)
    assert list(tmp_path.iterdir()) == []


def test_a_tree_saved_in_several_cycles_is_one_tree(tmp_path: Path) -> None:
    path = tmp_path / "cycles.root"
    with uproot.recreate(path) as file:
        for _ in range(2):  # califa;1 and califa;2, as ROOT's AutoSave leaves them
            tree = file.mktree("califa", {"crystal_id": "var * int32", "energy": "var * float64", "time": "var * float64"})
            tree.extend({"crystal_id": ak.Array(IDS), "energy": ak.Array(ENERGY_KEV), "time": ak.Array(TIME)})
    assert set(uproot.open(path).classnames()) == {"califa;1", "califa;2"}
    assert len(read_root_hits(path)) == 3


def _copy(hit_file: Path, tmp_path: Path) -> Path:
    return Path(shutil.copy(hit_file, tmp_path / "copy.h5"))


def test_hdf5_errors_name_the_file_and_the_key(hit_file: Path, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="missing.h5"):
        read_events(tmp_path / "missing.h5")
    broken = _copy(hit_file, tmp_path)
    with h5py.File(broken, "a") as file:
        del file["hits/energy"]
    with pytest.raises(CalorimeterFileError, match=r"copy\.h5: missing dataset /hits/energy"):
        read_events(broken)
    broken = _copy(hit_file, tmp_path)
    with h5py.File(broken, "a") as file:
        file["hits/energy"][3] = np.nan
    with pytest.raises(CalorimeterFileError, match="/hits/energy is nan at hit row 3"):
        read_events(broken)
    broken = _copy(hit_file, tmp_path)
    with h5py.File(broken, "a") as file:
        file["hits/time"][4] = np.inf
    with pytest.raises(CalorimeterFileError, match="/hits/time is inf at hit row 4"):
        read_events(broken)
    broken = _copy(hit_file, tmp_path)
    with h5py.File(broken, "a") as file:
        file["hits/crystal_id"][2] = 5000
    with pytest.raises(CalorimeterFileError, match="crystal_id 5000 at hit row 2 is not in the file's /geometry"):
        read_events(broken)
    broken = _copy(hit_file, tmp_path)
    with h5py.File(broken, "a") as file:
        counts = file["events/n_hits"][:]
        del file["events/n_hits"]
        file["events/n_hits"] = counts.astype(float)
    with pytest.raises(CalorimeterFileError, match="/events/n_hits holds float64 values, expected integers"):
        read_events(broken)
    broken = _copy(hit_file, tmp_path)
    with h5py.File(broken, "a") as file:
        del file["hits/energy"]
        file.create_group("hits/energy")
    with pytest.raises(CalorimeterFileError, match="/hits/energy is a Group, expected a dataset"):
        read_events(broken)
    broken = _copy(hit_file, tmp_path)
    with h5py.File(broken, "a") as file:
        file["events/hit_start"][5] += 1
    with pytest.raises(CalorimeterFileError, match="consecutive"):
        read_events(broken)
    truncated = tmp_path / "truncated.h5"
    truncated.write_bytes(hit_file.read_bytes()[: hit_file.stat().st_size // 2])
    with pytest.raises(CalorimeterFileError, match=r"truncated.h5: an HDF5 file that cannot be opened: cut short or damaged\?"):
        read_events(truncated)
    foreign = tmp_path / "foreign.h5"
    with h5py.File(foreign, "w") as file:
        file["x"] = [1]
    with pytest.raises(CalorimeterFileError, match="not a showerlearn-calorimeter-hits file"):
        read_events(foreign)


# ---------------------------------------------------------------------------------------------------
# broken files made from a tiny one: what the reader refuses, what it still reads
# ---------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four events of two gammas, every one with hits, written from memory without compression."""
    path = tmp_path_factory.mktemp("tiny") / "tiny.h5"
    chunk = simulate_chunk(CalorimeterSimulationConfig(n_events=4, n_gammas=2), seed=3, index=0, size=4)
    assert (chunk["n_hits"] > 0).all()
    with HitFileWriter(path, califa(), {"seed": 3}, compression=None) as writer:
        writer.append(chunk)
    return path


def _edited(source: Path, tmp_path: Path, edit: Callable[[h5py.File], object]) -> Path:
    """A copy of ``source`` changed by ``edit``."""
    path = Path(shutil.copy(source, tmp_path / "edited.h5"))
    with h5py.File(path, "a") as file:
        edit(file)
    return path


def _replace(key: str, values: Callable[[np.ndarray], np.ndarray]) -> Callable[[h5py.File], None]:
    """An edit giving dataset ``key`` the values ``values(old values)`` (a new dataset: dtype and length may change)."""
    def edit(file: h5py.File) -> None:
        old = file[key][:]
        del file[key]
        file[key] = values(old)
    return edit


def _set(key: str, row: int, value: object) -> Callable[[h5py.File], None]:
    """An edit setting row ``row`` of dataset ``key``."""
    def edit(file: h5py.File) -> None:
        file[key][row] = value
    return edit


def _text_version(file: h5py.File) -> None:
    file.attrs["version"] = "abc"


def _unknown_crystal_without_geometry_table(file: h5py.File) -> None:
    file["hits/crystal_id"][0] = 9999
    del file["geometry"]  # the ids are then checked against the geometry the file names


def _attribute(name: str, value: object) -> Callable[[h5py.File], None]:
    def edit(file: h5py.File) -> None:
        file.attrs[name] = value
    return edit


def _group_in_place_of(key: str) -> Callable[[h5py.File], None]:
    """An edit putting an (empty) group where dataset ``key`` was."""
    def edit(file: h5py.File) -> None:
        del file[key]
        file.create_group(key)
    return edit


def _index_cut_to_two_events(file: h5py.File) -> None:
    for name in list(file["events"]):
        _replace(f"events/{name}", lambda values: values[:2])(file)
    del file.attrs["n_events"]


def _crystal_twice_in_event_0(file: h5py.File) -> None:
    assert file["events/n_hits"][0] >= 2
    for key in ("crystal_id", "theta", "phi"):  # the same crystal, where it is
        file[f"hits/{key}"][1] = file[f"hits/{key}"][0]


def test_rows_shared_by_two_events_are_refused_in_any_chunking(tiny_file: Path, tmp_path: Path) -> None:
    # event 2 starts one row early, on event 1's last hit (the later events stay consecutive): each chunk on its own
    # is consistent when the chunks split the file between events 1 and 2
    shifted = np.array([0, 0, 1, 1])
    overlap = _edited(tiny_file, tmp_path, _replace("events/hit_start", lambda starts: starts - shifted))
    match = "/events/hit_start is .* at event 2; expected .*, where event 1 ends .*consecutive rows"
    for read in (lambda: read_events(overlap), lambda: list(iter_events(overlap, 2)), lambda: list(iter_events(overlap, 1)),
                 lambda: load_hit_range(overlap, 2, 4, require_truth=False), lambda: read_events(overlap, 2, 3)):
        with pytest.raises(CalorimeterFileError, match=match):
            read()
    gammas = _edited(tiny_file, tmp_path, _replace("events/gamma_start", lambda starts: starts - shifted))
    with pytest.raises(CalorimeterFileError, match="/events/gamma_start is 3 at event 2; expected 4, where event 1 ends"):
        read_gammas(gammas, 2, 4)
    assert len(read_events(tiny_file, 2, 4)) == 2  # the valid file, read from its middle


BROKEN = {
    "negative first row": (_replace("events/hit_start", lambda starts: starts - 1),
                           "/events/hit_start is -1 at event 0; expected a row number >= 0"),
    "negative energy": (_set("hits/energy", 1, -0.5), r"/hits/energy is -0.5 at hit row 1; expected a deposited energy >= 0"),
    "true gamma of no gamma": (_set("hits/true_gamma", 0, 2), r"/hits/true_gamma is 2 at hit row 0; expected -1 \(background\) "
                               r"or the index of one of its event's gammas \(event 0 has 2\)"),
    "true gamma below -1": (_set("hits/true_gamma", 0, -2), "/hits/true_gamma is -2 at hit row 0; expected -1"),
    "fractional true gamma": (_replace("hits/true_gamma", lambda gamma: gamma + 0.5),
                              r"/hits/true_gamma holds float64 values, expected integers \(gamma indices"),
    "saturated flag of 2": (_replace("hits/saturated", lambda flags: np.where(np.arange(len(flags)) == 2, 2, 0)),
                            "/hits/saturated is 2 at hit row 2; expected a flag, 0 or 1"),
    "NaN beta": (_set("events/beta", 1, np.nan), r"/events/beta is nan at event 1; expected a velocity v/c in \[0, 1\)"),
    "infinite true energy": (_set("hits/true_energy", 1, np.inf),
                             r"/hits/true_energy is inf at hit row 1; expected a true deposited energy >= 0 MeV"),
    "NaN true fraction": (_set("hits/true_fraction", 2, np.nan),
                          r"/hits/true_fraction is nan at hit row 2; expected the share of the hit's energy from its gamma"),
    "NaN gamma energy": (_set("gammas/energy_rest", 3, np.nan),
                         "/gammas/energy_rest is nan at gamma row 3; expected an emitted energy >= 0 MeV"),
    "negative gamma energy": (_set("gammas/energy_lab", 1, -5.0),
                              "/gammas/energy_lab is -5.0 at gamma row 1; expected an emitted energy >= 0 MeV"),
    "gamma polar angle of 4 rad": (_set("gammas/theta", 0, 4.0), r"/gammas/theta is 4.0 at gamma row 0; expected a polar angle"),
    "a group for the hit counts": (_group_in_place_of("events/n_hits"), "/events/n_hits is a Group, expected a dataset"),
    "a crystal table column too short": (_replace("geometry/theta_min", lambda values: values[:10]),
                                         "/geometry/theta_min has 10 values for the 2432 crystals of /geometry/crystal_id; "
                                         "expected one per crystal"),
    "a 2-D crystal table": (_replace("geometry/crystal_id", lambda ids: ids.reshape(-1, 2)),
                            r"/geometry/crystal_id has shape \(1216, 2\), expected one value per row"),
    "a group for the crystal ids": (_group_in_place_of("geometry/crystal_id"),
                                    "/geometry/crystal_id is a Group, expected a dataset"),
    "NaN crystal extents": (_replace("geometry/theta_min", lambda values: np.full(len(values), np.nan)),
                            "/geometry/theta_min is nan at crystal row 0; expected a finite angle"),
    "text energies": (_replace("hits/energy", lambda energy: np.full(len(energy), b"x")),
                      r"/hits/energy holds \|S1 values, expected numbers"),
    "text version": (_text_version, "attribute 'version' is 'abc', expected the format version, a whole number"),
    "unknown crystal, no /geometry": (_unknown_crystal_without_geometry_table,
                                      "/hits/crystal_id 9999 at hit row 0 is not in the geometry 'califa' the file names"),
    "polar angle of 10 rad": (_set("hits/theta", 0, 10.0),
                              r"/hits/theta is 10.0 at hit row 0; expected a polar angle in \[0, pi\]"),
    "azimuth of -4 rad": (_set("hits/phi", 1, -4.0), r"/hits/phi is -4.0 at hit row 1; expected an azimuth in \[-pi, pi\]"),
    "fractional crystal id": (_replace("hits/crystal_id", lambda ids: ids + 0.5),
                              r"/hits/crystal_id is \d+.5 at hit row 0; expected a crystal id, a whole number"),
    "boolean crystal ids": (_replace("hits/crystal_id", lambda ids: ids > 0), "/hits/crystal_id is True at hit row 0"),
    "angles outside the crystal": (_replace("hits/theta", lambda theta: np.pi - theta),
                                   r"the hit at row 0 has theta .* outside its crystal \d+ in the file's /geometry"),
    "crystal twice in an event": (_crystal_twice_in_event_0, r"/hits/crystal_id is \d+ at hit row 1; expected each crystal "
                                  "at most once per event"),
    "first event after row 0": (_replace("events/hit_start", lambda starts: starts + 1),
                                "/events/hit_start is 1 at event 0; expected 0: the first event starts at the first row of /hits"),
    "index cut short": (_index_cut_to_two_events, r"the event index ends at row \d+ of /hits, which has \d+ rows; expected every "
                        "row in an event"),
    "column shorter than its table": (_replace("hits/theta", lambda theta: theta[:-1]),
                                      r"the columns of /hits differ in length \(.*theta \d+"),
    "version 0": (_attribute("version", 0), "format version 0 does not exist: versions start at 1"),
    "energies in keV": (_attribute("units", '{"energy": "keV", "time": "ns", "angle": "rad"}'),
                        "attribute 'units' is .*keV.*; expected .*MeV.*: convert the columns"),
}


@pytest.mark.parametrize("case", BROKEN)
def test_broken_files_are_refused_naming_the_key_the_row_and_what_is_expected(case: str, tiny_file: Path,
                                                                             tmp_path: Path) -> None:
    edit, match = BROKEN[case]
    broken = _edited(tiny_file, tmp_path, edit)
    with pytest.raises(CalorimeterFileError, match=f"edited.h5: {match}"):
        load_hit_files([broken])  # hits, per-event columns and gammas


def test_valid_variants_read_as_before(tiny_file: Path, tmp_path: Path) -> None:
    expected = ak.to_list(read_events(tiny_file))

    def variant(file: h5py.File) -> None:
        file.attrs["version"] = np.bytes_(b"1")  # as text, as a C++ writer may store it
        file.attrs["geometry"] = "another_calorimeter"  # unknown here, and no /geometry: the ids are not checked
        del file["geometry"]
        file["hits/phi"][0] = np.float32(2 * np.pi - 0.1)  # an azimuth in [0, 2 pi)
        file["hits/theta"][1] = np.float32(np.pi)  # above numpy's pi in float32
        file["hits/energy"][2] = 0.0  # a crystal threshold of 0
        flags = file["hits/saturated"][:].astype(np.int8)
        flags[3] = 1
        del file["hits/saturated"]
        file["hits/saturated"] = flags  # 0/1 integers, as a C++ writer may store a flag
        ids = file["hits/crystal_id"][:].astype(np.float64)
        del file["hits/crystal_id"]
        file["hits/crystal_id"] = ids  # whole numbers stored as floats, as some writers do
        file["hits/run_numbers"] = np.arange(2)  # a dataset of the writer's own, of another length: not the format's
        file["events/comment"] = "scalar"
        file.attrs["n_events"] = 99  # a count left over from a file cut down: the index is what counts
    events = read_events(_edited(tiny_file, tmp_path, variant))
    assert len(events) == len(expected) and ak.to_list(events.crystal_id) == ak.to_list(read_events(tiny_file).crystal_id)
    assert float(events.phi[0][0]) == pytest.approx(-0.1, abs=1e-6)  # read in (-pi, pi], as every other azimuth
    assert ak.flatten(events.saturated).tolist() == [index == 3 for index in range(int(ak.sum(ak.num(events))))]
    assert ak.flatten(events.saturated).type.content == ak.types.NumpyType("bool")  # read back as booleans
    with h5py.File(tiny_file) as file:
        assert (file["hits/energy"][:] >= CalorimeterSimulationConfig().crystal_threshold_mev).all()  # never negative


# ---------------------------------------------------------------------------------------------------
# ROOT trees
# ---------------------------------------------------------------------------------------------------
IDS = [[1, 33, 2432], [], [1000]]
ENERGY_KEV = [[150.0, 2300.0, 820.5], [], [5000.0]]
TIME = [[1.0, 2.5, -3.0], [], [0.0]]


def test_root_tree_with_one_entry_per_event(tmp_path: Path) -> None:
    path = write_root(tmp_path / "hits.root", crystal_id=ak.Array(IDS), energy=ak.Array(ENERGY_KEV), time=ak.Array(TIME))
    events = read_root_hits(path)
    assert ak.to_list(events.crystal_id) == IDS
    assert ak.to_list(ak.num(events)) == [3, 0, 1]
    assert ak.to_numpy(ak.flatten(events.energy)) == pytest.approx([0.15, 2.3, 0.8205, 5.0])
    theta, phi = califa().angles(np.concatenate([np.asarray(e, dtype=np.int64) for e in IDS]))
    assert ak.to_numpy(ak.flatten(events.theta)) == pytest.approx(theta)
    assert ak.to_numpy(ak.flatten(events.phi)) == pytest.approx(phi)


def test_a_root_tree_converts_into_a_hit_file_for_prediction(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from showerlearn.cli.main import app

    path = write_root(tmp_path / "hits.root", crystal_id=ak.Array(IDS), energy=ak.Array(ENERGY_KEV), time=ak.Array(TIME))
    with pytest.raises(CalorimeterFileError, match="a ROOT file, not a hit file: convert .*showerlearn convert calorimeter"):
        read_events(path)
    output = tmp_path / "hits.h5"
    result = CliRunner().invoke(app, ["convert", "calorimeter", str(path), "-o", str(output)])
    assert result.exit_code == 0, result.output
    assert "3 events, 4 hits" in result.output
    converted, expected = read_events(output), read_root_hits(path)
    assert not has_gammas(output) and len(converted) == 3
    for field in ("crystal_id", "energy", "time", "theta", "phi"):  # float32 columns, as simulated files
        assert ak.to_numpy(ak.flatten(converted[field])) == pytest.approx(ak.to_numpy(ak.flatten(expected[field])), rel=1e-6)
    # an existing output is kept unless --overwrite; a bad tree leaves nothing behind
    again = CliRunner().invoke(app, ["convert", "calorimeter", str(path), "-o", str(output)])
    assert again.exit_code != 0 and "exists; pass --overwrite" in " ".join(again.output.split())
    # nor is the tree replaced by its own conversion, --overwrite or not
    before = path.read_bytes()
    itself = CliRunner().invoke(app, ["convert", "calorimeter", str(path), "-o", str(path), "--overwrite"])
    assert itself.exit_code != 0 and "is the file this command reads" in " ".join(itself.output.split())
    assert path.read_bytes() == before
    broken = write_root(tmp_path / "broken.root", crystal_id=ak.Array([[1, 9999]]), energy=ak.Array([[1.0, 2.0]]),
                         time=ak.Array([[0.0, 0.0]]))
    refused = CliRunner().invoke(app, ["convert", "calorimeter", str(broken), "-o", str(tmp_path / "broken.h5")])
    assert refused.exit_code != 0 and "branch 'crystal_id'" in " ".join(refused.output.split())
    assert not (tmp_path / "broken.h5").exists()
    helped = CliRunner().invoke(app, ["convert", "calorimeter", "--help"], terminal_width=200)
    assert f"(default {CHUNK_ENTRIES:,})" in " ".join(helped.output.replace("│", " ").split())
    wrong = CliRunner().invoke(app, ["convert", "calorimeter", str(path), "-o", str(tmp_path / "x.h5"), "--geometry", "agata"])
    assert wrong.exit_code != 0 and "--geometry: unknown calorimeter geometry 'agata'" in " ".join(wrong.output.split())
    light = CliRunner().invoke(app, ["convert", "calorimeter", str(path), "-o", str(tmp_path / "x.h5"), "--beta", "1.2"])
    assert light.exit_code != 0 and "--beta is 1.2: expected the fragments' velocity v/c, in [0, 1)" in " ".join(light.output.split())
    assert not (tmp_path / "x.h5").exists()


def test_hits_below_the_simulated_crystal_threshold_are_warned_of_or_left_out(tmp_path: Path,
                                                                             caplog: pytest.LogCaptureFixture) -> None:
    """Measured hits softer than any simulated one (0 keV, 50 keV) would become clusters of learned methods, which
    never saw them: warned of, and left out with --crystal-threshold (hits at the threshold too, as R3BRoot)."""
    from typer.testing import CliRunner

    from showerlearn.cli.main import app

    soft = [[0.0, 2300.0, 50.0], [], [100.0, 5000.0]]
    path = write_root(tmp_path / "soft.root", crystal_id=ak.Array([[1, 33, 2432], [], [1000, 5]]),
                      energy=ak.Array(soft), time=ak.Array([[0.0, 1.0, 2.0], [], [0.0, 1.0]]))
    with caplog.at_level("WARNING"):
        kept = CliRunner().invoke(app, ["convert", "calorimeter", str(path), "-o", str(tmp_path / "all.h5")])
    assert kept.exit_code == 0 and "3 events, 5 hits" in kept.output
    assert "2 of 5 hits are below 0.1 MeV, the crystal threshold of the simulations" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING"):
        cut = CliRunner().invoke(app, ["convert", "calorimeter", str(path), "-o", str(tmp_path / "cut.h5"),
                                       "--crystal-threshold", "0.1"])
    assert cut.exit_code == 0 and "3 events, 2 hits" in cut.output and "below 0.1 MeV" not in caplog.text
    assert ak.to_list(read_events(tmp_path / "cut.h5").crystal_id) == [[33], [], [5]]


def test_root_tree_with_one_entry_per_hit_and_custom_names(tmp_path: Path) -> None:
    path = write_root(tmp_path / "flat.root", evt=np.array([4, 4, 7]), cid=np.array([10, 11, 12]),
                       e=np.array([1.5, 0.3, 2.0]), t=np.array([0.0, 1.0, 2.0]))
    events = read_root_hits(path, crystal_id="cid", energy="e", time="t", event="evt", energy_unit="MeV")
    assert ak.to_list(events.crystal_id) == [[10, 11], [12]] and ak.to_list(events.energy) == [[1.5, 0.3], [2.0]]
    with pytest.raises(CalorimeterFileError, match=r"name the event-number branch \(--event; event= in Python\)"):
        read_root_hits(path, crystal_id="cid", energy="e", time="t")


def test_root_errors_name_file_tree_branch_and_entry(tmp_path: Path) -> None:
    good = {"crystal_id": ak.Array(IDS), "energy": ak.Array(ENERGY_KEV), "time": ak.Array(TIME)}
    path = write_root(tmp_path / "good.root", **good)
    with pytest.raises(CalorimeterFileError, match="no branch 'energy_kev'"):
        read_root_hits(path, energy="energy_kev")
    with pytest.raises(CalorimeterFileError, match="no tree 'hits'; trees: califa"):
        read_root_hits(path, tree="hits")
    shorter = write_root(tmp_path / "shape.root", **{**good, "time": ak.Array([[1.0, 2.5], [], [0.0]])})
    with pytest.raises(CalorimeterFileError, match="'crystal_id' and 'time' differ in length at entry 0"):
        read_root_hits(shorter)
    nan = write_root(tmp_path / "nan.root", **{**good, "energy": ak.Array([[150.0, 1.0, 1.0], [], [np.nan]])})
    with pytest.raises(CalorimeterFileError, match=r"'energy' is nan at entry 2, hit 0 of that entry; R3BRoot marks"):
        read_root_hits(nan)
    nan = write_root(tmp_path / "nan_time.root", **{**good, "time": ak.Array([[1.0, np.nan, 1.0], [], [0.0]])})
    with pytest.raises(CalorimeterFileError, match=r"'time' is nan at entry 0, hit 1 of that entry$"):
        read_root_hits(nan)
    fractional = write_root(tmp_path / "fractional.root", **{**good, "crystal_id": ak.Array([[1.0, 33.0, 2.5], [], [1000.0]])})
    with pytest.raises(CalorimeterFileError, match="'crystal_id' is 2.5 at entry 0, hit 2 of that entry: crystal ids are whole"):
        read_root_hits(fractional)
    per_hit = write_root(tmp_path / "per_hit.root", event=np.array([7, 7, 3, 9]), crystal_id=np.array([1, 2, 3, 4]),
                          energy=np.array([1.0, 2.0, np.nan, 3.0]), time=np.zeros(4))
    with pytest.raises(CalorimeterFileError, match=r"'energy' is nan at entry 2 \(event 3\)"):
        read_root_hits(per_hit, event="event")
    dual_range = write_root(tmp_path / "ids.root", **{**good, "crystal_id": ak.Array([[1, 33, 4000], [], [1000]])})
    with pytest.raises(CalorimeterFileError, match="'crystal_id' is 4000 at entry 0, hit 2 of that entry: geometry .*unknown "
                                                   "ids: \\[4000\\]"):
        read_root_hits(dual_range)
    negative = write_root(tmp_path / "negative.root", **{**good, "energy": ak.Array([[150.0, 1.0, 1.0], [], [-5.0]])})
    with pytest.raises(CalorimeterFileError, match="'energy' is -5.0 at entry 2, hit 0 of that entry: a crystal's deposited "
                                                   "energy is >= 0"):
        read_root_hits(negative)
    truncated = tmp_path / "truncated.root"
    truncated.write_bytes(path.read_bytes()[:400])
    with pytest.raises(CalorimeterFileError, match="truncated"):
        read_root_hits(truncated)
    # an RNTuple (what uproot writes from a plain dict) cut in its footer: found when its fields are listed
    ntuple = tmp_path / "ntuple.root"
    with uproot.recreate(ntuple) as file:
        file["califa"] = {name: values for name, values in good.items()}
    cut = tmp_path / "ntuple_cut.root"
    cut.write_bytes(ntuple.read_bytes()[:-300])
    with pytest.raises(CalorimeterFileError, match=r"ntuple_cut\.root.*cannot read tree 'califa' \(truncated or corrupt\?\)"):
        read_root_hits(cut)
    with pytest.raises(ValueError, match="energy_unit"):
        read_root_hits(path, energy_unit="eV")


def test_measured_hits_appended_chunk_by_chunk_make_the_file_one_write_makes(tmp_path: Path) -> None:
    """What convert streams: the event index runs on over the chunks, a velocity out of range is named at its event
    of the whole file, and a failed chunk leaves no file."""
    events = read_root_hits(write_root(tmp_path / "hits.root", crystal_id=ak.Array(IDS), energy=ak.Array(ENERGY_KEV),
                                       time=ak.Array(TIME)))
    beta, numbers = np.array([0.5, 0.6, 0.7]), np.array([7, 9, 12])
    write_measured_hits(events, tmp_path / "once.h5", califa(), beta=beta, event_ids=numbers)
    with MeasuredHitWriter(tmp_path / "chunks.h5", califa(), beta=True, event_ids=True) as writer:
        for start, stop in ((0, 2), (2, 2), (2, 3)):
            writer.append(events[start:stop], beta[start:stop], numbers[start:stop])
    assert (writer.n_events, writer.n_hits) == (3, 4)
    # compressed event columns: a small file holds no whole empty HDF5 chunks (of 65,536 rows)
    assert (tmp_path / "once.h5").stat().st_size < 300_000
    for name in ("crystal_id", "energy", "time", "theta", "phi"):
        assert ak.to_list(read_events(tmp_path / "chunks.h5")[name]) == ak.to_list(read_events(tmp_path / "once.h5")[name])
    for name, values in read_event_columns(tmp_path / "once.h5").items():
        assert read_event_columns(tmp_path / "chunks.h5")[name].tolist() == values.tolist(), name
    with pytest.raises(ValueError, match="beta is 1.5 at event 2; expected a velocity"):
        with MeasuredHitWriter(tmp_path / "failed.h5", califa(), beta=True) as writer:
            writer.append(events[:2], 0.5)
            writer.append(events[2:], 1.5)
    assert not (tmp_path / "failed.h5").exists()
    with pytest.raises(ValueError, match="event_id: the writer was opened without it"):
        with MeasuredHitWriter(tmp_path / "failed.h5", califa()) as writer:
            writer.append(events, event_ids=numbers)


def test_measured_hits_are_written_whenever_a_chunk_fills_events_without_hits_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rows wait until an HDF5 chunk's worth of hits or events is pending (4 here): events without hits alone
    fill one, as a stretch of empty readouts does; what is written equals one write of all the events."""
    monkeypatch.setattr(hit_files, "_ROWS_PER_CHUNK", 4)
    events = read_root_hits(write_root(tmp_path / "hits.root", crystal_id=ak.Array(IDS), energy=ak.Array(ENERGY_KEV),
                                       time=ak.Array(TIME)))
    empty = events[:, :0]  # the same events without their hits
    written = []
    with MeasuredHitWriter(tmp_path / "chunks.h5", califa(), event_ids=True) as writer:
        for number, part in enumerate((empty, empty[:1], events[:1], events[1:])):
            writer.append(part, event_ids=np.arange(len(part)) + 10 * number)
            written.append((len(writer._file["events/n_hits"]), len(writer._file["hits/energy"])))
    # 3 empty events wait; the 4th fills a chunk; an event of 3 hits waits; 1 more hit fills the next
    assert written == [(0, 0), (4, 0), (4, 0), (7, 4)]
    whole = ak.concatenate([empty, empty[:1], events])
    numbers = np.concatenate([np.arange(3), [10], [20], [30, 31]])
    write_measured_hits(whole, tmp_path / "once.h5", califa(), event_ids=numbers)
    for name, values in read_event_columns(tmp_path / "once.h5").items():  # (beta: NaN in both, none given)
        np.testing.assert_array_equal(read_event_columns(tmp_path / "chunks.h5")[name], values, err_msg=name)
    assert ak.to_list(read_events(tmp_path / "chunks.h5")["energy"]) == ak.to_list(read_events(tmp_path / "once.h5")["energy"])


PER_HIT = {"crystal_id": np.array([1, 2, 3]), "energy": np.array([1.0, 2.0, 3.0]), "time": np.zeros(3)}
BROKEN_TREES = {
    "event numbers as lists": ({"event": ak.Array([[1], [1, 2], [2]])},
                               r"branch 'event' holds 3 \* var \* int64: expected one event number per entry"),
    "NaN event number": ({"event": np.array([np.nan, np.nan, 1.0])},
                         "branch 'event' is nan at entry 0: event numbers are finite"),
    "fractional event number": ({"event": np.array([1.0, 1.5, 2.0])}, "branch 'event' is 1.5 at entry 1: event numbers are"),
    "infinite crystal id": ({"crystal_id": np.array([1.0, np.inf, 3.0])}, r"branch 'crystal_id' is inf at entry 1 \(event 1\)"),
    "huge crystal id": ({"crystal_id": np.array([1.0, 2.0, 1e20])}, r"branch 'crystal_id' is 1e\+20 at entry 2 \(event 2\)"),
    "crystal id above int64": ({"crystal_id": np.array([1, 2**64 - 1, 3], dtype=np.uint64)},
                               "branch 'crystal_id' is 18446744073709551615 at entry 1 .*: crystal ids are whole numbers"),
}


@pytest.mark.parametrize("case", BROKEN_TREES)
def test_per_hit_trees_with_bad_event_numbers_or_ids_are_refused(case: str, tmp_path: Path) -> None:
    changed, match = BROKEN_TREES[case]
    branches = {"event": np.array([1, 1, 2]), **PER_HIT, **changed}
    with pytest.raises(CalorimeterFileError, match=f"tree.root: {match}"):
        read_root_hits(write_root(tmp_path / "tree.root", **branches), event="event")


def test_a_velocity_per_event_is_read_from_a_branch_and_converted(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from typer.testing import CliRunner

    from showerlearn.cli.main import app

    # one entry per hit: every hit repeats its event's velocity
    path = write_root(tmp_path / "flat.root", evt=np.array([4, 4, 7]), crystal_id=np.array([10, 11, 12]),
                      energy=np.array([1500.0, 300.0, 2000.0]), time=np.array([0.0, 1.0, 2.0]),
                      tof_beta=np.array([0.61, 0.61, 0.58]))
    assert read_root_events(path, event="evt", values=["tof_beta"]).values["tof_beta"].tolist() == [0.61, 0.58]
    output = tmp_path / "measured.h5"
    result = CliRunner().invoke(app, ["convert", "calorimeter", str(path), "-o", str(output), "--event", "evt",
                                      "--beta-branch", "tof_beta", "--chunk-entries", "1", "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "beta from branch 'tof_beta'" in " ".join(result.output.split())
    assert read_event_columns(output)["beta"] == pytest.approx([0.61, 0.58])
    # the tree's event numbers are kept: an event without hits has no entry, so a row is no event number
    assert read_event_columns(output)["event_id"].tolist() == [4, 7]
    assert load_hit_files([output], require_truth=False).event_id.tolist() == [4, 7]
    assert read_event_columns(output, 1)["event_id"].tolist() == [7]  # a part of the file, as predict streams it
    with pytest.raises(CalorimeterFileError, match="branch 'tof_beta' is 0.61 at entry 0: event numbers are finite whole"):
        read_root_events(path, event="tof_beta")
    # a velocity that changes within an event, beyond light, or both options: refused, nothing written
    changing = write_root(tmp_path / "changing.root", evt=np.array([4, 4]), crystal_id=np.array([10, 11]),
                          energy=np.array([1500.0, 300.0]), time=np.array([0.0, 1.0]), tof_beta=np.array([0.61, 0.6]))
    with pytest.raises(CalorimeterFileError, match="branch 'tof_beta' is 0.6 at entry 1 \\(evt 4\\), another value"):
        read_root_events(changing, event="evt", values=["tof_beta"])
    unmeasured = write_root(tmp_path / "unmeasured.root", evt=np.array([4, 4]), crystal_id=np.array([10, 11]),
                            energy=np.array([1500.0, 300.0]), time=np.array([0.0, 1.0]), tof_beta=np.array([np.nan, np.nan]))
    with pytest.raises(CalorimeterFileError, match="branch 'tof_beta' is nan at entry 0: expected a value for every event"):
        read_root_events(unmeasured, event="evt", values=["tof_beta"])
    # one list of hits per entry: one event per entry, whatever the event branch repeats (as read_root_hits reads it)
    jagged = write_root(tmp_path / "jagged.root", evt=np.array([4, 4]), crystal_id=ak.Array([[10], [11]]),
                        energy=ak.Array([[1500.0], [300.0]]), time=ak.Array([[0.0], [1.0]]), tof_beta=np.array([0.5, 0.6]))
    assert read_root_events(jagged, event="evt", values=["tof_beta"]).values["tof_beta"].tolist() == [0.5, 0.6]
    with caplog.at_level("WARNING"):  # kept as the tree numbers its entries, but a join by them is said to be ambiguous
        assert read_root_events(jagged, event="evt").event_ids.tolist() == [4, 4]
    assert "branch 'evt' is 4 at events 0 and 1 (1 repeats in all): a join by event_id would pair" in caplog.text
    with pytest.raises(CalorimeterFileError, match="branch 'tof_beta' is 0.5 at event 0: event numbers are whole numbers"):
        read_root_events(jagged, event="tof_beta")
    # a velocity stored as a 32-bit float: 0.99999999 would be 1
    with pytest.raises(ValueError, match="beta is 1.0 at event 0; expected a velocity"):
        write_measured_hits(read_root_hits(path, crystal_id="crystal_id", event="evt"), tmp_path / "light.h5", califa(), beta=0.99999999)
    fast = write_root(tmp_path / "fast.root", crystal_id=ak.Array(IDS), energy=ak.Array(ENERGY_KEV), time=ak.Array(TIME),
                      tof_beta=np.array([0.5, 1.5, 0.5]))
    for source, options, message in (
        (fast, ["--beta-branch", "tof_beta"], "fast.root: branch 'tof_beta': beta is 1.5 at event 1; expected a velocity"),
        (path, ["--beta", "0.5", "--beta-branch", "tof_beta", "--event", "evt"], "--beta and --beta-branch: give one"),
    ):
        refused = CliRunner().invoke(app, ["convert", "calorimeter", str(source), "-o", str(tmp_path / "x.h5"), *options])
        assert refused.exit_code != 0 and message.replace(" ", "") in "".join(refused.output.split()), refused.output
        assert not (tmp_path / "x.h5").exists()


def test_a_narrow_toy_shower_loads_its_escaped_energy_at_least_zero(tmp_path: Path) -> None:
    """The toy's escaped energy is the emitted energy less the cells' shares, which sum to 1 up to rounding: never
    below 0 (the reader refuses negative energies, beyond a rounding's worth for files written before)."""
    config = CalorimeterSimulationConfig(geometry="toy_grid", beta=0.0, toy_spread_cells=0.5, n_events=2000, chunk_size=2000)
    path = simulate_calorimeter(config, tmp_path / "toy.h5", seed=1).path
    escaped = ak.to_numpy(ak.flatten(read_gammas(path).escaped))
    assert len(escaped) and escaped.min() >= 0.0
    with h5py.File(path, "a") as file:  # as the toy wrote it before: a rounding below 0
        file["gammas/escaped"][0] = -2e-15
    assert ak.flatten(read_gammas(path).escaped)[0] == pytest.approx(0.0, abs=1e-14)
