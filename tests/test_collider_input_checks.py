"""Collider inputs that read without a word but give wrong events, or fail with a library's message: negative
momenta, angles in degrees, branches of one collection of different lengths, unordered fat jets, particle-flow
branches given twice, mass points of one process name, files without constituents. Each is refused naming the
file, the branch or setting and the event, or read as it should be."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import awkward as ak
import h5py
import numpy as np
import pytest
from pydantic import ValidationError

from collider_events import write_event_file
from test_collider_readers import _collection, _delphes_tree, _write_delphes, fixed_size_branches  # noqa: F401 (a fixture)
from showerlearn.collider.data.datamodule import ColliderDataModule
from showerlearn.collider.data.sources import DelphesFiles, GeneratedFiles
from showerlearn.collider.io import read_delphes, read_npz_classes
from showerlearn.collider.io.errors import ColliderDataError

pytestmark = pytest.mark.usefixtures("fixed_size_branches")


def _split(tree: dict[str, ak.Array], collection: str, **replaced: list) -> dict[str, ak.Array]:
    """``tree`` with ``collection`` written as separate branches (``Electron.PT``...), each with its own counter,
    some of them ``replaced``: the only way to write fields of one collection with different lengths."""
    fields = {f"{collection}.{name}": tree[collection][name] for name in tree[collection].fields}
    fields.update({f"{collection}.{name}": ak.Array(values) for name, values in replaced.items()})
    return {**{name: branch for name, branch in tree.items() if name != collection}, **fields}


def _fatjet_field(name: str, values: list) -> dict[str, ak.Array]:
    tree = _delphes_tree()
    return {"FatJet": ak.with_field(tree["FatJet"], ak.Array(values), name)}


@pytest.mark.parametrize(
    ("tree", "message"),
    [
        pytest.param(_delphes_tree(Electron=_collection(PT=[[-30.0], []], Eta=[[0.0], []], Phi=[[0.0], []], Charge=[[-1], []])),
                     r"branch 'Electron.PT' holds -30.0 in event 0; expected a value >= 0", id="electron-pt"),
        pytest.param(_delphes_tree(Muon=_collection(PT=[[], [-5.0]], Eta=[[], [0.0]], Phi=[[], [0.0]], Charge=[[], [1]])),
                     r"branch 'Muon.PT' holds -5.0 in event 1", id="muon-pt"),
        pytest.param(_delphes_tree(Jet=_collection(PT=[[50.0, -20.0], []], Eta=[[0.0, 1.0], []], Phi=[[0.0, 1.0], []],
                                                   Mass=[[5.0, 2.0], []], BTag=[[0, 0], []])),
                     r"branch 'Jet.PT' holds -20.0 in event 0", id="jet-pt"),
        pytest.param(_delphes_tree(MissingET=_collection(MET=[[30.0], [-50.0]], Phi=[[1.0], [2.0]])),
                     r"branch 'MissingET.MET' holds -50.0 in event 1", id="met"),
        pytest.param(_delphes_tree(**_fatjet_field("Phi", [[-153.4, 114.6], []])),
                     r"branch 'FatJet.Phi' holds -153.4 in event 0 \(the first of 2 such values\); expected an angle in "
                     r"radians", id="degrees"),
        # B1: fields of one collection of different lengths
        pytest.param(_split(_delphes_tree(), "FatJet", Eta=[[0.0, 1.0, 2.0], []]),
                     r"branches 'FatJet.Tau' and 'FatJet.Eta' differ in length in event 0 \(2 vs 3\)", id="fatjet-eta"),
        pytest.param(_split(_delphes_tree(), "EFlowTrack", Charge=[[1, -1, 1], []]),
                     r"branches 'EFlowTrack.Eta' and 'EFlowTrack.Charge' differ in length in event 1 \(1 vs 0\)", id="track"),
        pytest.param(_split(_delphes_tree(), "MissingET", Phi=[[1.0, 2.0], [2.0]]),
                     r"branches 'MissingET.MET' and 'MissingET.Phi' differ in length in event 0 \(1 vs 2\)", id="met-phi"),
    ],
)  # fmt: skip
def test_delphes_values_no_detector_writes_are_refused_naming_branch_and_event(
    tmp_path: Path, tree: dict[str, ak.Array], message: str
) -> None:
    with pytest.raises(ColliderDataError, match=message) as error:
        read_delphes(_write_delphes(tmp_path / "bad.root", tree))
    assert str(error.value).startswith(str(tmp_path / "bad.root"))


def test_delphes_negative_masses_and_unwrapped_phi_are_read(tmp_path: Path) -> None:
    """TLorentzVector::M() gives -sqrt(-m^2) for a jet that pile-up subtraction (or rounding) leaves at m^2 < 0."""
    tree = _delphes_tree(**_fatjet_field("Mass", [[125.0, -4.0], []]))
    tree["FatJet"] = ak.with_field(tree["FatJet"], ak.Array([[-3.2, 2.0 * np.pi - 0.1], []]), "Phi")  # unwrapped: same angle
    events = read_delphes(_write_delphes(tmp_path / "ok.root", tree))
    assert events.fatjets.mass.tolist()[0] == pytest.approx([125.0, -4.0])
    from showerlearn.collider.data.streams import object_tokens

    # the energy of a jet of m^2 = -16 GeV^2 (ROOT's mass -4): p^2 - 16, not p^2 + 16; p = pT cosh(eta)
    tokens = object_tokens(events, {"fatjets": 2})
    energy = sorted(tokens[0].energy.tolist())  # the object stream orders by pT
    expected = sorted([np.sqrt((400.0 * np.cosh(0.0)) ** 2 + 125.0**2), np.sqrt((300.0 * np.cosh(1.0)) ** 2 - 16.0)])
    assert energy == pytest.approx(expected, rel=1e-9)


def test_delphes_fat_jets_out_of_pt_order_are_ordered_before_their_constituents_are_taken(tmp_path: Path) -> None:
    """A converted tree with the softer fat jet first: the constituents are those of the hardest, as the object
    stream's first fat-jet slot."""
    ordered = read_delphes(_write_delphes(tmp_path / "ordered.root", _delphes_tree()), constituent_jets=1)
    tree = _delphes_tree()
    tree["FatJet"] = tree["FatJet"][:, ::-1]  # 300 GeV, then 400 GeV
    unordered = read_delphes(_write_delphes(tmp_path / "unordered.root", tree), constituent_jets=1)
    assert unordered.fatjets.pt.tolist() == [[400.0, 300.0], []]
    assert unordered.constituents.pt.tolist() == ordered.constituents.pt.tolist() == [[100.0, 80.0, 50.0], []]
    assert unordered.fatjets.tau21.tolist() == ordered.fatjets.tau21.tolist()


def test_particle_flow_branches_given_twice_or_merged_with_split_ones_are_refused() -> None:
    classes = {"background": ["b.root"], "signal": ["s.root"]}
    with pytest.raises(ValidationError, match=r"eflow_branches: 'EFlowTrack' given more than once.*counts its objects twice"):
        DelphesFiles(classes=classes, eflow_branches=["EFlowTrack", "EFlowTrack", "EFlowPhoton"])
    with pytest.raises(ValidationError, match=r"'EFlow' holds every particle-flow object .* 'EFlowTrack' hold too"):
        DelphesFiles(classes=classes, eflow_branches=["EFlow", "EFlowTrack"])
    assert DelphesFiles(classes=classes, eflow_branches=["ParticleFlowCandidate"]).eflow_branches == ["ParticleFlowCandidate"]
    with pytest.raises(ValueError, match="'EFlowPhoton' given more than once"):
        read_delphes("unread.root", eflow_branches=("EFlowPhoton", "EFlowPhoton"))


def test_older_delphes_fat_jets_with_tau1_to_tau5_are_read_and_a_missing_field_lists_the_collection(tmp_path: Path) -> None:
    tree = _delphes_tree()
    fatjet = tree["FatJet"]
    taus = {f"Tau{n}": fatjet.Tau[:, :, n - 1] for n in range(1, 6)}
    tree["FatJet"] = ak.zip({**{name: fatjet[name] for name in fatjet.fields if name != "Tau"}, **taus})
    events = read_delphes(_write_delphes(tmp_path / "old.root", tree))
    assert events.fatjets.tau21.tolist()[0] == pytest.approx([1 / 3, 0.75], rel=1e-6)
    tree["FatJet"] = ak.zip({name: fatjet[name] for name in fatjet.fields if name != "Tau"})
    with pytest.raises(ColliderDataError, match=r"no branch 'FatJet.Tau' in the Delphes tree \(its FatJet branches: "
                                                r"FatJet.BTag, FatJet.Eta, FatJet.Mass, FatJet.PT, FatJet.Phi\)"):
        read_delphes(_write_delphes(tmp_path / "no_tau.root", tree))


def test_a_delphes_training_file_without_constituents_is_named(tmp_path: Path) -> None:
    """Events without fat jets in one class only would make the classes trivially separable."""
    tree = _delphes_tree()
    with_jets = _write_delphes(tmp_path / "bkg.root", tree)
    no_fatjet = _write_delphes(tmp_path / "sig.root", {**tree, "FatJet": tree["FatJet"][:, :0]})
    source = DelphesFiles(classes={"background": [str(with_jets)], "signal": [str(no_fatjet)]})
    with pytest.raises(ColliderDataError, match=r"sig.root: no event has a fat jet \(branch FatJet.PT.* none of its 2 "
                                                r"events has jet constituents"):
        source.read()
    far = _write_delphes(tmp_path / "far.root", {**tree, "FatJet": ak.with_field(tree["FatJet"], ak.Array([[3.0, 3.0], []]), "Eta")})
    with pytest.raises(ColliderDataError, match=r"far.root: no particle-flow object \(EFlowTrack, EFlowPhoton, "
                                                r"EFlowNeutralHadron\) lies within radius 0.8"):
        DelphesFiles(classes={"background": [str(with_jets)], "signal": [str(far)]}).read()
    assert len(source.for_prediction([no_fatjet]).read()) == 2  # a file to predict: its events are scored as they are


def _set_process(path: Path, **changes: object) -> None:
    with h5py.File(path, "r+") as h5:
        processes = json.loads(h5.attrs["processes"])
        processes[0].update(changes)
        h5.attrs["processes"] = json.dumps(processes)


def test_files_of_one_process_name_generated_with_other_settings_are_refused(tmp_path: Path) -> None:
    """Two mass points under one name would be read as parts of one process, their cross sections averaged."""
    light, heavy = (write_event_file(tmp_path / f"{name}.h5", 20, seed=k, only="signal") for k, name in enumerate(("m800", "m1000")))
    qcd = write_event_file(tmp_path / "qcd.h5", 20, seed=3, only="qcd")
    _set_process(light, settings=["Beams:eCM = 13000", "35:m0 = 800"])
    _set_process(heavy, settings=["Beams:eCM = 13000", "35:m0 = 1000"])
    with pytest.raises(ColliderDataError, match=r"m1000.h5: generated the process 'signal' with the settings "
                                                r"\['35:m0 = 1000'\], .*m800.h5 with \['35:m0 = 800'\]: .*its own process name"):
        GeneratedFiles(files=[str(light), str(qcd), str(heavy)]).read()
    _set_process(heavy, settings=["Beams:eCM = 13000", "35:m0 = 800"])  # two parts of one process: combined
    assert set(GeneratedFiles(files=[str(light), str(qcd), str(heavy)]).read().meta["process"]) == {0, 1}
    # one part normalised by hand (cross_section_pb), the other by Pythia: their mean would be neither
    by_hand = write_event_file(tmp_path / "by_hand.h5", 20, seed=4, only="signal",
                               config={"processes": {"signal": {"cross_section_pb": 0.01}}})
    _set_process(by_hand, settings=["Beams:eCM = 13000", "35:m0 = 800"])
    with pytest.raises(ColliderDataError, match=r"by_hand.h5: normalises the process 'signal' with 0.01 pb cross section "
                                                r"\(cross_section_pb\), .*m800.h5 with Pythia's: .*one cross_section_pb"):
        GeneratedFiles(files=[str(light), str(by_hand)]).read()


def test_a_missing_token_field_names_the_setting_to_change(tmp_path: Path) -> None:
    path = write_event_file(tmp_path / "events.h5", 80, seed=1)
    data = ColliderDataModule(source={"files": [str(path)]}, constituents={"features": ["pt", "momentum"], "sort_by": "p"})
    with pytest.raises(KeyError, match=r"no field 'momentum' \(data.params.constituents.features\), 'p' "
                                       r"\(data.params.constituents.sort_by\); they have .*; set those settings"):
        data.setup("fit")


@pytest.mark.parametrize(("start", "found"), [(b"root\x00\x00\xf3\xc0", "a ROOT file"), (b"\x89HDF\r\n\x1a\n", "an HDF5 file"),
                                              (b"hello", "a file beginning with b'hello___'")])  # fmt: skip
def test_a_file_of_another_format_given_as_npz_is_named_as_such(tmp_path: Path, start: bytes, found: str) -> None:
    """numpy takes any such file for a pickle, and advises loading it unsafely."""
    path = tmp_path / "sig.root"
    path.write_bytes(start.ljust(72, b"_"))
    with pytest.raises(ColliderDataError, match=rf"sig.root: not a NumPy .npz file but {found}; expected a zip archive"):
        read_npz_classes([path], ["pt"])


def test_delphes_branches_of_fixed_size_members_are_known_by_the_member_s_name() -> None:
    """Real Delphes files name them with their size (``FatJet/FatJet.Tau[5]``), which uproot keeps in the key: the
    reader looked for ``FatJet.Tau`` and refused every real file with fat jets."""
    from showerlearn.collider.io.delphes import _DelphesTree

    class _File:
        def classnames(self) -> dict[str, str]:
            return {"Delphes;1": "TTree"}

        def __getitem__(self, name: str) -> Any:
            return self

        def keys(self, recursive: bool = True) -> list[str]:
            return ["FatJet", "FatJet/FatJet.PT", "FatJet/FatJet.Tau[5]", "FatJet/FatJet.FracPt[5]", "FatJet_size"]

    tree = _DelphesTree(Path("delphes.root"), _File(), "Delphes")
    assert tree.has("FatJet", "Tau") and tree.branches["FatJet.Tau"] == "FatJet/FatJet.Tau[5]"
    assert tree.branches["FatJet.PT"] == "FatJet/FatJet.PT" and tree.has("FatJet", "FracPt")
