"""Readers of collider data on small files written here: .npz per class, weaver-style ROOT / parquet /
HDF5 with jagged branches, Delphes trees, the generated event files; and their errors."""

from __future__ import annotations

import io
import logging
import shutil
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import awkward as ak
import h5py
import numpy as np
import pytest
import uproot
import uproot.writing._cascadetree as cascadetree

from collider_events import write_event_file
from showerlearn.collider.io import (
    ColliderDataError,
    ColumnarSource,
    read_columnar,
    read_delphes,
    read_events,
    read_npz_classes,
)
from showerlearn.collider.io.h5columns import ColumnWriter
from showerlearn.collider.particles import CHARGED_HADRON, ELECTRON, MUON, NEUTRAL_HADRON, PHOTON

FEATURES = ("eta", "phi", "pt")


# --- .npz per class -----------------------------------------------------------------------------------
def _padded(n_events: int, n_tokens: int, real: int, seed: int) -> np.ndarray:
    array = np.zeros((n_events, n_tokens, len(FEATURES)), np.float32)
    array[:, :real] = np.random.default_rng(seed).uniform(0.1, 1.0, (n_events, real, len(FEATURES)))
    return array


def test_npz_files_one_per_class(tmp_path: Path) -> None:
    np.savez_compressed(tmp_path / "background.npz", _padded(4, 6, 3, 1))  # stored as arr_0, as the paper's files
    np.savez_compressed(tmp_path / "signal.npz", _padded(2, 6, 5, 2))
    tokens = read_npz_classes([tmp_path / "background.npz", tmp_path / "signal.npz"], FEATURES)
    assert tokens.features.shape == (6, 6, 3) and tokens.labels.tolist() == [0, 0, 0, 0, 1, 1]
    assert tokens.mask.sum(axis=1).tolist() == [3, 3, 3, 3, 5, 5]
    records = tokens.to_awkward()
    assert records.fields == list(FEATURES) and ak.num(records).tolist() == [3, 3, 3, 3, 5, 5]


@pytest.mark.parametrize(
    ("array", "key", "message"),
    [
        (np.zeros((4, 6)), None, r"shape \(4, 6\); expected \(events, tokens, features\)"),
        (np.zeros((4, 6, 2)), None, r"2 features per token but the config names 3 \(eta, phi, pt\)"),
        (np.full((2, 3, 3), np.nan), None, r"18 NaN, infinite or beyond-float32 values, the first in event 0, feature 'eta'"),
        (np.pad(np.full((1, 1, 1), 1e300), ((1, 0), (0, 2), (1, 1))), None, r"1 NaN, infinite or beyond-float32 values, the first in event 1, feature 'phi'"),
        (np.zeros((2, 3, 3)), "particles", r"no array 'particles'; the file has arr_0"),
        (np.full((2, 3, 3), 1 + 1j), None, r"array 'arr_0' holds complex128, expected real numbers"),  # not its real part
    ],
)
def test_npz_errors_name_the_file_and_what_was_expected(
    tmp_path: Path, array: np.ndarray, key: str | None, message: str
) -> None:
    np.savez(tmp_path / "bad.npz", array)
    with pytest.raises(ColliderDataError, match=message) as error:
        read_npz_classes([tmp_path / "bad.npz"], FEATURES, key=key)
    assert "bad.npz" in str(error.value)


def test_npz_classes_must_agree_on_tokens_and_name_their_array(tmp_path: Path) -> None:
    np.savez(tmp_path / "a.npz", _padded(2, 6, 3, 1))
    np.savez(tmp_path / "b.npz", _padded(2, 8, 3, 2))
    with pytest.raises(ColliderDataError, match="different numbers of tokens"):
        read_npz_classes([tmp_path / "a.npz", tmp_path / "b.npz"], FEATURES)
    np.savez(tmp_path / "two.npz", first=_padded(1, 2, 1, 1), second=_padded(1, 2, 1, 1))
    with pytest.raises(ColliderDataError, match=r"holds 2 arrays \(first, second\): name the one to read"):
        read_npz_classes([tmp_path / "two.npz"], FEATURES)
    with pytest.raises(FileNotFoundError, match=r"missing\.npz"):
        read_npz_classes([tmp_path / "missing.npz"], FEATURES)


# --- weaver-style columnar files --------------------------------------------------------------------------
def _jetclass_like() -> dict[str, ak.Array]:
    """Three jets as JetClass stores them: jagged part_* branches, jet_* scalars, one-hot labels."""
    return {
        "part_deta": ak.Array([[0.1, -0.2], [0.0], [0.3, 0.1, -0.1]]),
        "part_dphi": ak.Array([[0.0, 0.1], [0.2], [-0.3, 0.0, 0.1]]),
        "jet_pt": ak.Array([500.0, 620.0, 480.0]),
        "label_QCD": ak.Array([1, 0, 0]),
        "label_Hbb": ak.Array([0, 1, 1]),
    }


SOURCE = ColumnarSource(tokens=["part_deta", "part_dphi"], scalars=["jet_pt"], labels=["label_QCD", "label_Hbb"])


def _write(path: Path, columns: dict[str, ak.Array]) -> Path:
    if path.suffix == ".root":
        with uproot.recreate(path) as file:
            file.mktree("tree", {k: v.type.content for k, v in columns.items()})
            file["tree"].extend(columns)
    elif path.suffix == ".parquet":
        ak.to_parquet(ak.zip(columns, depth_limit=1), path)
    return path


@pytest.mark.parametrize("suffix", [".root", ".parquet"])
def test_columnar_root_and_parquet(tmp_path: Path, suffix: str) -> None:
    events = read_columnar(_write(tmp_path / f"jets{suffix}", _jetclass_like()), SOURCE)
    assert ak.num(events.tokens).tolist() == [2, 1, 3] and events.tokens.fields == ["part_deta", "part_dphi"]
    assert events.scalars["jet_pt"].tolist() == [500.0, 620.0, 480.0] and events.labels.tolist() == [0, 1, 1]


def test_columnar_hdf5_in_the_layout_of_the_generated_files(tmp_path: Path) -> None:
    records = ak.zip({
        "mjj": np.array([900.0, 1000.0]), "label": np.array([1, 0]),
        "constituents": ak.zip({"pt": ak.Array([[50.0, 20.0], [30.0]]), "deta": ak.Array([[0.1, 0.2], [0.0]])}),
    }, depth_limit=1)  # fmt: skip
    with h5py.File(tmp_path / "events.h5", "w") as h5:
        ColumnWriter(h5).append(records)
    source = ColumnarSource(
        tokens=["constituents/pt", "constituents/deta"], scalars=["events/mjj"], labels=["events/label"]
    )
    events = read_columnar(tmp_path / "events.h5", source)
    assert events.tokens["constituents/pt"].tolist() == [[50.0, 20.0], [30.0]] and events.labels.tolist() == [1, 0]
    with pytest.raises(ColliderDataError, match=r"no dataset 'constituents/phi'; the file has .*constituents/pt"):
        read_columnar(tmp_path / "events.h5", ColumnarSource(tokens=["constituents/phi"]))


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (ColumnarSource(tokens=["part_detaa"]), r"no branch in tree 'tree': 'part_detaa' \(did you mean 'part_deta'"),
        (ColumnarSource(tokens=["jet_pt"]), r"branch 'jet_pt' is .*; expected one list of numbers per event"),
        (
            ColumnarSource(tokens=["part_deta"], scalars=["part_dphi"]),
            r"branch 'part_dphi' is .*; expected one number per event",
        ),
        (ColumnarSource(tokens=["part_deta"], tree="Events"), r"no tree 'Events'; the file has tree"),
    ],
)
def test_columnar_errors_name_the_branch(tmp_path: Path, source: ColumnarSource, message: str) -> None:
    path = _write(tmp_path / "jets.root", _jetclass_like())
    with pytest.raises(ColliderDataError, match=message) as error:
        read_columnar(path, source)
    assert "jets.root" in str(error.value)


def test_columnar_nan_ragged_tokens_and_broken_one_hot(tmp_path: Path) -> None:
    columns = _jetclass_like()
    columns["part_deta"] = ak.Array([[0.1, np.nan], [0.0], [0.3, 0.1, -0.1]])
    with pytest.raises(ColliderDataError, match=r"branch 'part_deta' has 1 NaN or infinite values"):
        read_columnar(_write(tmp_path / "nan.parquet", columns), SOURCE)
    columns = _jetclass_like()
    columns["part_dphi"] = ak.Array([[0.0], [0.2], [-0.3, 0.0, 0.1]])
    with pytest.raises(ColliderDataError, match=r"'part_deta' and 'part_dphi' differ in length in event 0 \(2 vs 1\)"):
        read_columnar(_write(tmp_path / "ragged.parquet", columns), SOURCE)
    columns = _jetclass_like()
    columns["label_Hbb"] = ak.Array([1, 1, 1])
    with pytest.raises(
        ColliderDataError,
        match=r"one-hot label branches label_QCD, label_Hbb do not hold exactly one 1 per event \(1 events",
    ):
        read_columnar(_write(tmp_path / "labels.parquet", columns), SOURCE)
    columns = {k: v for k, v in _jetclass_like().items() if k != "label_Hbb"}
    columns["label_QCD"] = ak.Array([0.0, 1.5, 1.0])
    with pytest.raises(ColliderDataError, match=r"label branch 'label_QCD' holds 1\.5 in event 1: class indices"):
        read_columnar(_write(tmp_path / "index.parquet", columns), SOURCE.model_copy(update={"labels": ["label_QCD"]}))
    (tmp_path / "jets.csv").write_text("part_deta\n0.1\n")
    with pytest.raises(ColliderDataError, match=r"unknown columnar format '\.csv'"):
        read_columnar(tmp_path / "jets.csv", SOURCE)


# --- Delphes ----------------------------------------------------------------------------------------------
@pytest.fixture
def fixed_size_branches() -> Iterator[None]:
    """uproot 5.7 writes jagged branches of fixed-size arrays (Delphes' FatJet.Tau[5]) with the entry
    offsets of a scalar branch; the files it writes then fail to read. Give the basket writer the array
    shape it drops, for the files written by these tests only."""
    original = cascadetree.Tree.write_jagged_basket

    def write_jagged_basket(
        self: Any, sink: Any, branch_name: str, compression: Any, array: np.ndarray, offsets: Any
    ) -> Any:
        shape = self._branch_data[self._branch_lookup[branch_name]]["shape"]
        return original(self, sink, branch_name, compression, array.reshape(-1, *shape), offsets)

    cascadetree.Tree.write_jagged_basket = write_jagged_basket
    yield
    cascadetree.Tree.write_jagged_basket = original


def _collection(**fields: list) -> ak.Array:
    return ak.zip({name: ak.Array(values) for name, values in fields.items()})


def _delphes_tree(**changes: ak.Array) -> dict[str, ak.Array]:
    """Two events as Delphes' CMS card writes them: two fat jets and five particle-flow objects in the first."""
    tau = ak.values_astype(
        ak.to_regular(ak.Array([[[0.3, 0.1, 0.05, 0.01, 0.0], [0.4, 0.3, 0.1, 0.0, 0.0]], []]), axis=2), np.float32
    )
    fatjet = ak.zip({
        "PT": ak.Array([[400.0, 300.0], []]), "Eta": ak.Array([[0.0, 1.0], []]), "Phi": ak.Array([[0.0, 2.0], []]),
        "Mass": ak.Array([[125.0, 80.0], []]), "Tau": tau, "BTag": ak.Array([[1, 0], []]),
    }, depth_limit=2)  # fmt: skip
    tree = {
        "FatJet": fatjet,
        "EFlowTrack": _collection(PT=[[100.0, 50.0, 5.0], [3.0]], Eta=[[0.1, -0.2, 1.1], [0.0]], Phi=[[0.05, 0.0, 2.1], [1.0]],
                                  Charge=[[1, -1, 1], [1]], PID=[[211, -11, 13], [211]]),
        "EFlowPhoton": _collection(ET=[[80.0], []], Eta=[[0.2], []], Phi=[[-0.1], []], E=[[81.6], []]),
        "EFlowNeutralHadron": _collection(ET=[[20.0, 4.0], [1.0]], Eta=[[1.2, -2.0], [3.0]], Phi=[[1.9, 0.0], [0.0]], E=[[36.2, 15.0], [10.0]]),
        "Electron": _collection(PT=[[50.0], []], Eta=[[-0.2], []], Phi=[[0.0], []], Charge=[[-1], []]),
        "Muon": _collection(PT=[[], []], Eta=[[], []], Phi=[[], []], Charge=[[], []]),
        "MissingET": _collection(MET=[[30.0], [5.0]], Phi=[[1.0], [2.0]]),
    }  # fmt: skip
    return {**tree, **changes}


def _write_delphes(path: Path, tree: dict[str, ak.Array]) -> Path:
    with uproot.recreate(path) as file:
        file.mktree(
            "Delphes",
            {k: v.type.content for k, v in tree.items()},
            field_name=lambda outer, inner: f"{outer}.{inner}",
            counter_name=lambda counted: f"{counted}_size",
        )  # Delphes' names: FatJet.PT, FatJet_size
        file["Delphes"].extend(tree)
    return path


@pytest.mark.usefixtures("fixed_size_branches")
def test_delphes_tree_reads_into_the_generated_event_records(tmp_path: Path) -> None:
    events = read_delphes(_write_delphes(tmp_path / "delphes.root", _delphes_tree()))
    assert events.fatjets.tau21.tolist()[0] == pytest.approx(
        [1 / 3, 0.75], rel=1e-6
    ) and events.fatjets.n_btag.tolist() == [[1, 0], []]
    first = events.constituents[0]
    # the pion, the photon and the electron lie near jet 0; the neutral hadron and the muon near jet 1;
    # the neutral hadron at eta -2 is in neither cone
    assert first.jet_index.tolist() == [0, 0, 0, 1, 1] and first.pt.tolist() == [100.0, 80.0, 50.0, 20.0, 5.0]
    assert first.category.tolist() == [CHARGED_HADRON, PHOTON, ELECTRON, NEUTRAL_HADRON, MUON]
    assert first.energy[0] == pytest.approx(np.hypot(100 * np.cosh(0.1), 0.13957))  # track energy with the pion mass
    assert first.log_pt_rel.tolist()[:2] == pytest.approx([np.log(100 / 400), np.log(80 / 400)])
    assert first.dphi[3] == pytest.approx(-0.1) and events.constituents[1].tolist() == []
    assert events.met.tolist() == [30.0, 5.0] and events.electrons.charge.tolist() == [[-1], []]


@pytest.mark.usefixtures("fixed_size_branches")
def test_delphes_fat_jet_b_tags_count_the_tagged_jets_inside_as_the_generator_does(tmp_path: Path) -> None:
    """Two b-tagged jets inside the first fat jet (a Higgs candidate), one outside both, an untagged one inside
    the second: 2 and 0, not the fat jets' own 0/1 flags (1 and 0 here)."""
    jets = _collection(PT=[[150.0, 120.0, 60.0, 40.0], []], Eta=[[0.2, -0.3, 3.0, 1.1], []], Phi=[[0.1, -0.2, 0.0, 2.0], []],
                       Mass=[[10.0, 8.0, 5.0, 4.0], []], BTag=[[1, 1, 1, 0], []])  # fmt: skip
    events = read_delphes(_write_delphes(tmp_path / "delphes.root", _delphes_tree(Jet=jets)))
    assert events.fatjets.n_btag.tolist() == [[2, 0], []]
    fat = events.fatjets[0]
    inside = [sum(1 for k in range(4) if jets.BTag[0][k] and np.hypot(fat.eta[j] - jets.Eta[0][k],
                                                                        fat.phi[j] - jets.Phi[0][k]) < 0.8) for j in range(2)]
    assert inside == [2, 0]  # the same count, by hand


@pytest.mark.usefixtures("fixed_size_branches")
@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"FatJet": None},
            r"no branch 'FatJet.Tau' in the Delphes tree \(collections: EFlowNeutralHadron, EFlowPhoton",
        ),
        (
            {"MissingET": _collection(MET=[[30.0, 1.0], [5.0]], Phi=[[1.0, 2.0], [2.0]])},
            "must hold one value per event",
        ),
        (
            {"Electron": _collection(PT=[[50.0], [np.nan]], Eta=[[0.0], [0.0]], Phi=[[0.0], [0.0]], Charge=[[-1], [1]])},
            r"'Electron.PT' has 1 NaN or infinite values, the first in event 1",
        ),
        (
            {"Jet": _collection(PT=[[50.0], []], Eta=[[0.0], []], Phi=[[0.0], []], Mass=[[5.0], []], BTag=[[0.5], []])},
            r"branch 'Jet.BTag' holds 0.5 in event 0; expected whole numbers",
        ),
        (  # a PDG id is an integer: 211.5 is no particle, and truncating it would call it a pion
            {"EFlowTrack": _collection(PT=[[100.0], [3.0]], Eta=[[0.1], [0.0]], Phi=[[0.05], [1.0]], Charge=[[1], [1]],
                                       PID=[[211.0], [211.5]])},
            r"branch 'EFlowTrack.PID' holds 211.5 in event 1; expected whole numbers",
        ),
        (
            {"Jet": _collection(PT=[[50.0], []], Eta=[[0.0], []], Phi=[[0.0], []], Mass=[[5.0], []], BTag=[[0], []],
                                Flavor=[[5.5], []])},
            r"branch 'Jet.Flavor' holds 5.5 in event 0; expected whole numbers",
        ),
    ],
)
def test_delphes_errors_name_the_branch(tmp_path: Path, change: dict, message: str) -> None:
    tree = _delphes_tree()
    for name, value in change.items():  # None: the collection is missing
        if value is None:
            del tree[name]
        else:
            tree[name] = value
    with pytest.raises(ColliderDataError, match=message) as error:
        read_delphes(_write_delphes(tmp_path / "bad.root", tree))
    assert "bad.root" in str(error.value)


@pytest.mark.usefixtures("fixed_size_branches")
def test_delphes_wrong_tree_and_wrong_tau_shape(tmp_path: Path) -> None:
    path = _write_delphes(tmp_path / "d.root", _delphes_tree())
    with pytest.raises(ColliderDataError, match=r"no tree 'Events'; the file has Delphes"):
        read_delphes(path, tree="Events")
    tree = _delphes_tree()
    tree["FatJet"] = ak.with_field(
        tree["FatJet"], ak.to_regular(ak.Array([[[0.3, 0.1, 0.0], [0.4, 0.3, 0.1]], []]), axis=2), "Tau"
    )
    with pytest.raises(
        ColliderDataError, match=r"branch 'FatJet.Tau' is .*; expected a list of 5 numbers per object per event"
    ):
        read_delphes(_write_delphes(tmp_path / "tau.root", tree))


# --- generated event files --------------------------------------------------------------------------------
def test_read_events_refuses_other_files(tmp_path: Path) -> None:
    with h5py.File(tmp_path / "other.h5", "w") as h5:
        h5.attrs["format"] = "something else"
    with pytest.raises(ColliderDataError, match="not a showerlearn collider event file"):
        read_events(tmp_path / "other.h5")
    (tmp_path / "text.h5").write_text("no")
    with pytest.raises(ColliderDataError, match="not an HDF5 file"):
        read_events(tmp_path / "text.h5")
    # an HDF5 file cut short (a copy that stopped) is said to be one
    whole = write_event_file(tmp_path / "whole.h5", 30, seed=1).read_bytes()
    (tmp_path / "cut.h5").write_bytes(whole[: int(0.9 * len(whole))])
    with pytest.raises(ColliderDataError, match=r"cut\.h5: an HDF5 file that cannot be opened: cut short or damaged\?"):
        read_events(tmp_path / "cut.h5")
    from showerlearn.collider.io.events import FORMAT

    with h5py.File(tmp_path / "bare.h5", "w") as h5:  # the format attribute, nothing else
        h5.attrs["format"] = FORMAT
    with pytest.raises(ColliderDataError, match=r"bare\.h5: root attributes processes / config / seed missing"):
        read_events(tmp_path / "bare.h5")


def test_npz_reader_refuses_what_is_not_an_npz_of_numbers(tmp_path: Path) -> None:
    np.save(tmp_path / "single.npy", _padded(2, 3, 2, 1))
    (tmp_path / "single.npy").rename(tmp_path / "single.npz")
    (tmp_path / "empty.npz").write_bytes(b"")
    np.savez(tmp_path / "whole.npz", _padded(2, 3, 2, 1))
    (tmp_path / "cut.npz").write_bytes((tmp_path / "whole.npz").read_bytes()[:200])
    with zipfile.ZipFile(tmp_path / "bytes.npz", "w") as archive:  # numpy hands back such a member's raw bytes
        archive.writestr("arr_0.npy", b"not an array")
    # a damaged .npy header (its checksum right), which numpy parses as a Python literal: a tokenizer error
    npy = io.BytesIO()
    np.save(npy, _padded(2, 3, 2, 1))
    with zipfile.ZipFile(tmp_path / "header.npz", "w") as archive:
        archive.writestr("arr_0.npy", npy.getvalue().replace(b"{'descr'", b"({descr'", 1))
    for name, message in (("single", "single .npy array"), ("empty", "not a NumPy .npz file"),
                          ("cut", "not a NumPy .npz file|cannot be read as numbers"),
                          ("header", "array 'arr_0' cannot be read as numbers \\(damaged file\\?"),
                          ("bytes", r"member 'arr_0' is not a NumPy array \(\.npy\) but bytes")):
        with pytest.raises(ColliderDataError, match=message) as error:
            read_npz_classes([tmp_path / f"{name}.npz"], FEATURES)
        assert f"{name}.npz" in str(error.value)


def test_columnar_parquet_written_by_pyarrow_with_nullable_columns(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = {"part_deta": pa.array([[0.1, -0.2], [0.0]]), "part_dphi": pa.array([[0.0, 0.1], [0.2]]), "label": pa.array([0, 1])}
    pq.write_table(pa.table(table), tmp_path / "plain.parquet")  # every column nullable, as pandas and pyarrow write them
    source = ColumnarSource(tokens=["part_deta", "part_dphi"], labels=["label"])
    events = read_columnar(tmp_path / "plain.parquet", source)
    assert ak.num(events.tokens).tolist() == [2, 1] and events.labels.tolist() == [0, 1]
    table["part_deta"] = pa.array([[0.1, -0.2], [0.0]], type=pa.list_(pa.float32()))
    pq.write_table(pa.table(table), tmp_path / "float32.parquet")
    assert str(read_columnar(tmp_path / "float32.parquet", source).tokens.type).count("float32") == 1  # not widened
    table["part_dphi"] = pa.array([[0.0, None], [0.2]])
    pq.write_table(pa.table(table), tmp_path / "missing.parquet")
    with pytest.raises(ColliderDataError, match="'part_dphi' has missing values"):
        read_columnar(tmp_path / "missing.parquet", source)


def test_columnar_refuses_fixed_size_padded_arrays_and_rntuples(tmp_path: Path) -> None:
    with h5py.File(tmp_path / "padded.h5", "w") as file:
        file["part_pt"] = np.array([[5.0, 3.0, 0.0], [7.0, 0.0, 0.0]])
        file["label"] = np.array([0, 1])
    with pytest.raises(ColliderDataError, match=r"'part_pt' holds the same number of values \(3\) in every event"):
        read_columnar(tmp_path / "padded.h5", ColumnarSource(tokens=["part_pt"], labels=["label"]))
    with uproot.recreate(tmp_path / "rntuple.root") as file:
        file["tree"] = {"part_pt": ak.Array([[1.0, 2.0], [3.0]]), "label": np.array([0, 1])}
    if "ROOT::RNTuple" in uproot.open(tmp_path / "rntuple.root").classnames().values():
        with pytest.raises(ColliderDataError, match="RNTuple 'tree' and no TTree"):
            read_columnar(tmp_path / "rntuple.root", ColumnarSource(tokens=["part_pt"], labels=["label"]))


def test_columnar_class_names_must_name_every_label(tmp_path: Path) -> None:
    from showerlearn.collider.data.sources import ColumnarFiles

    columns = {"part_deta": ak.Array([[0.1], [0.2], [0.3]]), "obj_pt": ak.Array([[50.0], [60.0], [70.0]]),
               "label": ak.Array([0, 1, 2])}
    path = _write(tmp_path / "three.root", columns)
    source = {"files": [str(path)], "constituents": {"tokens": ["part_deta"], "labels": ["label"]},
              "objects": {"tokens": ["obj_pt"]}}
    assert ColumnarFiles(**source).read().class_names == ("class0", "class1", "class2")
    with pytest.raises(ColliderDataError, match=r"label 2 in branch 'label' has no class name: class_names names 2"):
        ColumnarFiles(**source, class_names=["a", "b"]).read()


def test_columnar_files_to_predict_need_no_labels(tmp_path: Path) -> None:
    from showerlearn.collider.data.sources import UNKNOWN_LABEL, ColumnarFiles

    columns = {"part_deta": ak.Array([[0.1], [0.2, 0.0]]), "obj_pt": ak.Array([[50.0], [60.0]]), "label": ak.Array([0, 1])}
    labelled = _write(tmp_path / "labelled.root", columns)
    new = _write(tmp_path / "new.root", {key: value for key, value in columns.items() if key != "label"})
    source = ColumnarFiles(files=[str(labelled)], constituents={"tokens": ["part_deta"], "labels": ["label"]},
                           objects={"tokens": ["obj_pt"]})
    with pytest.raises(ColliderDataError, match="no branch in tree 'tree': 'label'"):
        source.model_copy(update={"files": [str(new)]}).read()
    assert source.for_prediction([new]).read().labels.tolist() == [UNKNOWN_LABEL, UNKNOWN_LABEL]
    assert source.for_prediction([labelled]).read().labels.tolist() == [0, 1]  # labels kept where the files have them


@pytest.mark.usefixtures("fixed_size_branches")
def test_delphes_whole_float_flags_are_read_and_zero_pt_objects_dropped(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    photons = _collection(ET=[[80.0, 0.0], []], Eta=[[0.2, 0.1], []], Phi=[[-0.1, 0.0], []], E=[[81.6, 0.0], []])
    tree = _delphes_tree(EFlowPhoton=photons)
    tree["FatJet"] = ak.with_field(tree["FatJet"], ak.Array([[1.0, 0.0], []]), "BTag")  # floats, as some conversions write
    with caplog.at_level(logging.WARNING, logger="showerlearn.collider.io.delphes"):
        events = read_delphes(_write_delphes(tmp_path / "photon.root", tree))
        assert events.fatjets.n_btag.tolist() == [[1, 0], []]
        assert events.constituents[0].pt.tolist() == [100.0, 80.0, 50.0, 20.0, 5.0]  # the zero-ET photon left out
        assert "photon.root: 1 EFlowPhoton objects with pT <= 0 or E <= 0 dropped" in caplog.text
        tree = _delphes_tree()
        tree["FatJet"] = ak.with_field(tree["FatJet"], ak.Array([[0.0, 300.0], []]), "PT")
        events = read_delphes(_write_delphes(tmp_path / "jet.root", tree))
        assert events.fatjets.pt.tolist() == [[300.0], []]  # its constituents' log(pT / pT_jet) would be inf
        assert np.isfinite(ak.to_numpy(ak.flatten(events.constituents.log_pt_rel))).all()
        assert "jet.root: 1 FatJet objects with pT <= 0 dropped" in caplog.text
    with pytest.raises(ValueError, match="names no particle-flow branch"):
        read_delphes(tmp_path / "jet.root", eflow_branches=())


# --- broken generated event files ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def event_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_event_file(tmp_path_factory.mktemp("events") / "events.h5", 8, seed=1)


Change = Callable[[h5py.File], None]


def _set(key: str, event: int, value: float) -> Change:
    """``value`` into ``key`` at ``event`` (a collection's field: the event's first entry)."""

    def change(h5: h5py.File) -> None:
        group = key.split("/")[0]
        entry = event if group == "events" or key.endswith("/counts") else int(h5[f"{group}/counts"][:event].sum())
        h5[key][entry] = value

    return change


def _shorten(key: str) -> Change:
    def change(h5: h5py.File) -> None:
        values = h5[key][:-1]
        del h5[key]
        h5[key] = values

    return change


def _delete(key: str) -> Change:
    return lambda h5: h5.__delitem__(key)


def _replaced(key: str, make: Callable[[np.ndarray], np.ndarray]) -> Change:
    """The dataset ``key`` replaced by ``make`` of its values (another shape, another type)."""

    def change(h5: h5py.File) -> None:
        values = h5[key][()]
        del h5[key]
        h5[key] = make(values)

    return change


def _emptied(h5: h5py.File) -> None:
    h5.visititems(lambda _, item: item.resize((0,)) if isinstance(item, h5py.Dataset) else None)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        pytest.param(_delete("constituents/counts"), r"lacks the datasets constituents/counts of a generated event file", id="counts"),
        pytest.param(_delete("fatjets"), r"lacks the datasets fatjets/counts, fatjets/pt, ", id="fatjets"),
        pytest.param(_delete("events/process"), r"lacks the datasets events/process ", id="process"),
        pytest.param(_shorten("constituents/pt"), r"'constituents/pt' has \d+ entries but 'constituents/counts' adds up to", id="values"),
        pytest.param(_shorten("events/mjj"), r"the datasets hold different numbers of events: .*'events/mjj': 7", id="events"),
        pytest.param(_replaced("constituents/pt", lambda v: np.stack([v, v], axis=1)),
                     r"dataset 'constituents/pt' holds float\d+ of shape \(\d+, 2\); expected one number", id="2-d"),
        pytest.param(_replaced("constituents/pt", lambda v: np.array([b"a"] * len(v))),
                     r"dataset 'constituents/pt' holds \|S1 of shape \(\d+,\); expected one number", id="text"),
        pytest.param(_set("fatjets/counts", 1, -2), r"'fatjets/counts' is negative \(-2\) in event 1", id="negative-count"),
        pytest.param(_set("constituents/category", 2, 9), r"'constituents/category' holds 9 in event 2; expected a particle "
                     r"category code, 0 to 4", id="category"),
        pytest.param(_set("constituents/jet_index", 1, 7), r"'constituents/jet_index' holds 7 in event 1; expected the index "
                     r"of one of the event's large-R jets", id="jet-index"),
        pytest.param(_set("events/process", 0, -1), r"'events/process' holds -1 in event 0; the file's processes are "
                     r"\['signal', 'qcd', 'ttbar'\]", id="code"),
        pytest.param(_set("events/process", 1, 3), r"'events/process' holds 3 in event 1", id="code-beyond"),
        pytest.param(_set("events/label", 2, 5), r"'events/label' holds 5 in event 2, but its process", id="label"),
        pytest.param(_set("events/weight_pb", 3, np.nan), r"'events/weight_pb' has 1 NaN or infinite values, the first in event 3", id="nan"),
        pytest.param(_set("constituents/pt", 5, np.inf), r"'constituents/pt' has 1 NaN or infinite values, the first in event 5", id="inf"),
        pytest.param(lambda h5: h5.attrs.__setitem__("format_version", "one"), r"format_version='one' is not a whole number", id="version"),
        pytest.param(_emptied, r"holds no events$", id="empty"),
        pytest.param(_set("constituents/pt", 5, 0.0), r"'constituents/pt' holds 0.0 in event 5; expected a value > 0", id="pt-0"),
        pytest.param(_set("constituents/energy", 2, -1.0), r"'constituents/energy' holds -1.0 in event 2; expected a value > 0",
                     id="energy"),
        pytest.param(_set("fatjets/pt", 3, -300.0), r"'fatjets/pt' holds -300.0 in event 3", id="fatjet-pt"),
        pytest.param(_set("events/met", 4, -50.0), r"'events/met' holds -50.0 in event 4; expected a value >= 0", id="met"),
        pytest.param(_replaced("events/weight_pb", lambda v: -v), r"'events/weight_pb': the weights of process '\w+' add up "
                     r"to -[\d.e+-]+ pb over its \d+ events; expected its selected cross section, above 0", id="weights-negative"),
        pytest.param(_replaced("events/weight_pb", np.zeros_like), r"the weights of process '\w+' add up to 0 pb", id="weights-0"),
        pytest.param(_set("muons/pt", 0, -5.0), r"'muons/pt' holds -5.0 in event \d+; expected a value >= 0", id="muon-pt"),
        pytest.param(_set("jets/pt", 2, -5.0), r"'jets/pt' holds -5.0 in event 2; expected a value >= 0", id="jet-pt"),
        pytest.param(_replaced("constituents/category", lambda v: np.where(np.arange(len(v)) == 0, 2.5, v)),
                     r"'constituents/category' holds 2.5 in event 0; expected a whole number >= 0", id="category-fraction"),
        pytest.param(_replaced("constituents/jet_index", lambda v: v + 0.5),
                     r"'constituents/jet_index' holds 0.5 in event 0 \(the first of \d+ such values\); expected a whole number >= 0", id="jet-index-fraction"),
        pytest.param(_replaced("fatjets/n_btag", lambda v: v - 3), r"'fatjets/n_btag' holds -3 in event 0 \(the first of \d+ such "
                     r"values\); expected a whole number >= 0", id="n-btag"),
        pytest.param(lambda h5: h5.attrs.__setitem__("config", "[1, 2]"), r"root attribute config is not the generator "
                     r"settings \(a JSON mapping", id="config-list"),
        pytest.param(lambda h5: h5.attrs.__setitem__("config", '{"processes": ["signal", "qcd"]}'),
                     r"root attribute config is not the generator settings", id="config-processes-list"),
    ],
)  # fmt: skip
def test_broken_event_files_say_what_is_wrong_where(tmp_path: Path, event_file: Path, change: Change, message: str) -> None:
    path = Path(shutil.copy(event_file, tmp_path / "broken.h5"))
    with h5py.File(path, "r+") as h5:
        change(h5)
    with pytest.raises(ColliderDataError, match=message) as error:
        read_events(path)
    assert str(error.value).startswith(str(path))


# --- damaged compressed blocks, columnar HDF5 counts ------------------------------------------------------
def _damage(path: Path, offset: int, size: int) -> None:
    """Flip eight bytes in the middle of the block at ``offset`` (a compressed chunk, page or basket)."""
    data = bytearray(path.read_bytes())
    middle = offset + size // 2
    data[middle : middle + 8] = bytes(byte ^ 0x5A for byte in data[middle : middle + 8])
    path.write_bytes(bytes(data))


@pytest.mark.usefixtures("fixed_size_branches")
def test_damaged_compressed_blocks_name_the_file_and_the_column(tmp_path: Path, event_file: Path) -> None:
    import pyarrow.parquet as pq

    h5_path = Path(shutil.copy(event_file, tmp_path / "damaged.h5"))
    with h5py.File(h5_path) as h5:
        chunk = h5["constituents/pt"].id.get_chunk_info(0)
    _damage(h5_path, chunk.byte_offset, chunk.size)
    with pytest.raises(ColliderDataError, match=r"damaged\.h5: dataset 'constituents/pt' cannot be read \(OSError"):
        read_events(h5_path)
    with pytest.raises(ColliderDataError, match=r"damaged\.h5: dataset 'constituents/pt' cannot be read \(OSError"):
        read_columnar(h5_path, ColumnarSource(tokens=["constituents/pt"]))

    parquet = _write(tmp_path / "damaged.parquet", {k: v[np.zeros(300, int)] for k, v in _jetclass_like().items()})
    column = pq.ParquetFile(parquet).metadata.row_group(0).column(1)  # part_dphi's list items
    _damage(parquet, column.data_page_offset, column.total_compressed_size)
    with pytest.raises(ColliderDataError, match=r"damaged\.parquet: column 'part_dphi' cannot be read"):
        read_columnar(parquet, SOURCE)

    tree = {name: branch[np.zeros(200, int)] for name, branch in _delphes_tree().items()}  # compressible: zlib baskets
    root = _write_delphes(tmp_path / "damaged.root", tree)
    with uproot.open(root) as file:
        branch = file["Delphes"]["FatJet.PT"]
        offset, size = int(branch.member("fBasketSeek")[0]), int(branch.member("fBasketBytes")[0])
    _damage(root, offset, size)
    with pytest.raises(ColliderDataError, match=r"damaged\.root: branch 'FatJet\.PT' cannot be read \(zlib\.error"):
        read_delphes(root)


@pytest.mark.parametrize(
    ("counts", "values", "message"),
    [
        (np.array([4, -1, 3]), np.arange(6.0), r"'constituents/counts' is negative \(-1\) in event 1"),
        (np.array([2.5, 0.5, 3.0]), np.arange(6.0), r"'constituents/counts' is float64 of shape \(3,\); expected one whole number per event"),
        (np.array([[2], [1], [3]]), np.arange(6.0), r"'constituents/counts' is int64 of shape \(3, 1\)"),
        (np.array([2, 1, 3]), np.float64(5.0), r"dataset 'constituents/pt' is a single value"),
        (None, np.arange(6.0), r"'constituents/counts' is a group; expected a dataset"),
    ],
)  # fmt: skip
def test_columnar_hdf5_counts_are_whole_non_negative_numbers_per_event(
    tmp_path: Path, counts: np.ndarray | None, values: np.ndarray, message: str
) -> None:
    with h5py.File(tmp_path / "counts.h5", "w") as h5:
        h5["constituents/pt"] = values
        if counts is None:  # a group where the counts should be
            h5["constituents/counts/entries"] = [6]
        else:
            h5["constituents/counts"] = counts
    with pytest.raises(ColliderDataError, match=message) as error:
        read_columnar(tmp_path / "counts.h5", ColumnarSource(tokens=["constituents/pt"]))
    assert "counts.h5" in str(error.value)


@pytest.mark.usefixtures("fixed_size_branches")
def test_delphes_and_columnar_root_files_cut_short_name_the_file(tmp_path: Path) -> None:
    """A ROOT file cut short fails, in uproot, where its directory or tree header is read as much as where a basket
    is: each such failure is an error naming the file, not a library's (a cut that leaves all a reader needs reads)."""
    whole = _write_delphes(tmp_path / "whole.root", _delphes_tree()).read_bytes()
    cut, refused = tmp_path / "cut.root", 0
    for size in range(len(whole) // 20, len(whole), len(whole) // 20):
        cut.write_bytes(whole[:size])
        for read in (lambda: read_delphes(cut), lambda: read_columnar(cut, ColumnarSource(tokens=["FatJet.PT"], tree="Delphes"))):
            try:
                read()
            except ColliderDataError as error:
                assert str(error).startswith(str(cut)), error
                refused += 1
    assert refused >= 20
