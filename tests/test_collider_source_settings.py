"""The collider sources' settings that would otherwise mislabel or drop events without a word: a partial
object_limits keeps the other kinds, a process or file in two classes, files given to a simulate source."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from showerlearn.collider.data.sources import DelphesFiles, GeneratedFiles, SimulatedEvents


def test_a_partial_object_limits_keeps_the_other_kinds_and_an_empty_stream_is_refused() -> None:
    limits = GeneratedFiles(files=["x.h5"], object_limits={"jets": 4, "muons": 0}).object_limits
    assert limits == {"met": 1, "fatjets": 2, "jets": 4, "electrons": 2, "muons": 0}
    with pytest.raises(ValidationError, match="every kind is 0, which leaves the object stream empty"):
        GeneratedFiles(files=["x.h5"], object_limits={"met": 0, "fatjets": 0, "jets": 0, "electrons": 0, "muons": 0})


def test_a_process_in_two_classes_is_refused() -> None:
    with pytest.raises(ValidationError, match="the process ttbar is in the classes 'background' and 'signal'"):
        GeneratedFiles(files=["x.h5"], classes={"background": ["qcd", "ttbar"], "signal": ["signal", "ttbar"]})


def test_a_simulate_source_refuses_files_it_would_not_read() -> None:
    with pytest.raises(ValidationError, match=r"files: a simulate source generates its events .* read them with kind: generated"):
        SimulatedEvents(files=["mine.h5"])
    assert SimulatedEvents().files == []


def test_a_delphes_file_under_two_classes_is_refused_before_it_is_read(tmp_path: Path) -> None:
    for name in ("bkg.root", "sig.root"):
        (tmp_path / name).write_bytes(b"")  # never opened: the classes are checked first
    source = DelphesFiles(classes={"background": [str(tmp_path / "bkg.root"), str(tmp_path / "sig.root")],
                                   "signal": [str(tmp_path / "s*.root")]})
    with pytest.raises(ValueError, match=r"the file .*sig.root is in the classes 'background' and 'signal'"):
        source.read()


def test_files_to_predict_give_the_object_stream_of_the_kinds_the_network_was_trained_with() -> None:
    """A collection the training files lacked (Delphes small-R jets) stays out of the files to predict: its objects
    would fill slots the network learned for others."""
    from showerlearn.collider.data.datamodule import ColliderDataModule

    data = ColliderDataModule(source={"files": ["train.h5"]})
    data.object_kinds = ("met", "fatjets", "electrons")  # as a checkpoint of a network trained without jets restores
    data.use_prediction_inputs(["new.h5"])
    assert data._prediction_source().object_limits == {"met": 1, "fatjets": 2, "jets": 0, "electrons": 2, "muons": 0}
    data.object_kinds = None  # a checkpoint of an earlier version: the run's limits as they are
    assert data._prediction_source().object_limits == {"met": 1, "fatjets": 2, "jets": 6, "electrons": 2, "muons": 2}


def test_a_copy_of_a_class_file_under_another_class_is_refused(tmp_path: Path) -> None:
    """Each class's files were searched for copies apart: a copy under another class gave its events both labels."""
    import numpy as np

    from showerlearn.collider.data.sources import NpzFiles

    (tmp_path / "sig.root").write_bytes(b"a Delphes file")  # never opened: the copies are found first
    (tmp_path / "copy_of_sig.root").write_bytes(b"a Delphes file")
    source = DelphesFiles(classes={"background": [str(tmp_path / "copy_of_sig.root")], "signal": [str(tmp_path / "sig.root")]})
    with pytest.raises(ValueError, match=r"sig\.root holds the same bytes as .*copy_of_sig\.root"):
        source.read()
    np.savez(tmp_path / "a.npz", np.ones((3, 2, 1)))
    (tmp_path / "b.npz").write_bytes((tmp_path / "a.npz").read_bytes())
    stream = {"files": [str(tmp_path / "a.npz"), str(tmp_path / "b.npz")], "features": ["pt"]}
    with pytest.raises(ValueError, match=r"constituents\.files: .*b\.npz holds the same bytes as .*a\.npz"):
        NpzFiles(constituents=stream, objects=stream).read()
