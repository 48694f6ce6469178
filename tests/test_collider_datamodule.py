"""The collider DataModule on small synthetic files: two padded streams with their masks, preprocessing
fitted on the training split only, weights scaled to each split, classes from processes, every reader
as a source, estimators' arrays, decoding and the average of an ensemble."""

from __future__ import annotations

import logging
import pickle
from functools import partial
from pathlib import Path

import awkward as ak
import h5py
import numpy as np
import pytest
import torch
from pydantic import ValidationError
from sklearn.metrics import roc_auc_score

from collider_events import PROCESSES, synthetic_events, write_event_file
from test_collider_readers import _collection, _delphes_tree, _write_delphes, fixed_size_branches  # noqa: F401 (a fixture)
from showerlearn.collider.baselines import HighLevelBDT
from showerlearn.collider.baselines.features import HIGH_LEVEL_FEATURES
from showerlearn.collider.data.datamodule import ColliderDataModule, ConstituentSettings, ObjectSettings, cross_section_scale
from showerlearn.collider.data.preprocessing import TokenPreprocessor
from showerlearn.collider.data.sources import (
    ColumnarFiles,
    DelphesFiles,
    GeneratedFiles,
    NpzFiles,
    NpzStream,
    SimulatedEvents,
)
from showerlearn.collider.data.streams import object_tokens
from showerlearn.collider.evaluation.evaluator import evaluate_collider
from showerlearn.collider.io import read_npz_classes
from showerlearn.collider.io.errors import ColliderDataError
from showerlearn.collider.models.multiscale import MultiScaleTransformer
from showerlearn.collider.simulation import default_processes


#: three classes of one process each, in class order
CLASSES = {"qcd": ["qcd"], "ttbar": ["ttbar"], "signal": ["signal"]}


@pytest.fixture(scope="module")
def events_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_event_file(tmp_path_factory.mktemp("collider") / "events.h5", 240, seed=0)


def _data(path: Path, **params: object) -> ColliderDataModule:
    settings: dict = {"constituents": {"n_tokens": 20}, "batch_size": 16, "seed": 4, **params}
    data = ColliderDataModule(source={"files": [str(path)]}, **settings)
    data.setup("fit")
    return data


def test_pair_inputs_refuse_an_alignment_that_rewrites_the_absolute_eta_or_phi(events_file: Path) -> None:
    with pytest.raises(ValueError, match=r"pair_inputs.*rewrites eta"):
        ColliderDataModule(source={"files": [str(events_file)]}, constituents={"alignment": {"deta": "eta"}}, pair_inputs=True)


def test_a_batch_holds_both_streams_padded_to_their_size_with_masks(events_file: Path) -> None:
    data = _data(events_file, pair_inputs=True)
    loader = data.train_dataloader()
    assert data.train_set.is_padded  # by the loader, before any worker process could pad its own copy
    # a worker started by spawn gets a pickled copy of the DataModule (collate is its method), every split padded
    copy = pickle.loads(pickle.dumps(loader.collate_fn.__self__))
    assert copy.test_set.is_padded and torch.equal(copy.test_set.features["objects"], data.test_set.features["objects"])
    batch = next(iter(loader))
    inputs = batch["inputs"]
    sizes = data.model_inputs()
    assert inputs["constituents"].shape == (16, 20, sizes["constituent_features"])
    assert inputs["objects"].shape == (16, sizes["n_objects"], sizes["object_features"]) and sizes["n_objects"] == 13
    assert inputs["constituents_p4"].shape == (16, 20, 4)
    # real tokens first, padding exactly zero
    for stream in ("constituents", "objects"):
        mask = inputs[f"{stream}_mask"]
        assert bool((mask[:, :-1] | ~mask[:, 1:]).all())
        assert float(inputs[stream][~mask].abs().sum()) == 0.0
    # the constituents are the hardest 20, by decreasing pT, as the unscaled p4 shows
    pt = inputs["constituents_p4"][..., 0]
    assert bool((pt[:, :-1] >= pt[:, 1:]).all())
    assert set(batch["targets"]["label"].tolist()) <= {0, 1}
    assert {"process", "weight_pb", "file_index", "event", "label"} <= set(batch["meta"])


def test_the_preprocessing_is_fitted_on_the_training_split_only(events_file: Path) -> None:
    data = _data(events_file)
    streams = data.source.read()
    train = streams.take(data.parts["train"])
    expected = TokenPreprocessor(data.constituent_settings.features, 20).fit(train.constituents)
    everything = TokenPreprocessor(data.constituent_settings.features, 20).fit(streams.constituents)
    fitted = data.preprocessors["constituents"]
    assert fitted.mean_ == pytest.approx(expected.mean_) and fitted.std_ == pytest.approx(expected.std_)
    assert fitted.mean_ != pytest.approx(everything.mean_)
    # another seed draws another split, so other training events and other parameters
    assert _data(events_file, split={"seed": 99}).preprocessors["constituents"].mean_ != pytest.approx(fitted.mean_)


def test_each_split_weighs_every_process_to_its_cross_section(events_file: Path) -> None:
    data = _data(events_file)
    for dataset in (data.train_set, data.val_set, data.test_set):
        for code, (_, _, sigma) in enumerate(PROCESSES):
            weights = dataset.meta["weight_pb"][dataset.meta["process"] == code]
            assert weights.sum() == pytest.approx(sigma, rel=1e-6)


def test_several_files_count_each_cross_section_once(events_file: Path, tmp_path: Path) -> None:
    # each file's weights of a process add up to its cross section: two files must not give twice that
    other = write_event_file(tmp_path / "other.h5", 200, seed=1)
    data = ColliderDataModule(source={"files": [str(events_file), str(other)]}, constituents={"n_tokens": 20}, seed=4)
    data.use_prediction_inputs([events_file, other])
    data.setup("fit")
    for dataset in (data.train_set, data.test_set, data.predict_set):
        for code, (_, _, sigma) in enumerate(PROCESSES):
            assert dataset.meta["weight_pb"][dataset.meta["process"] == code].sum() == pytest.approx(sigma, rel=1e-6)


def test_files_of_one_process_each_combine(tmp_path: Path) -> None:
    """``simulate collider --process`` writes one process per file, each numbered 0 there."""
    files = [write_event_file(tmp_path / f"{name}.h5", 120, seed=k, only=name) for k, name in enumerate(("qcd", "signal"))]
    data = ColliderDataModule(source={"files": [str(f) for f in files]}, constituents={"n_tokens": 20}, seed=1)
    data.setup("fit")
    for dataset in (data.train_set, data.val_set, data.test_set):
        process, labels = dataset.meta["process"], dataset.labels
        assert set(process) == {0, 1} and np.array_equal(labels, process)  # qcd 0 (background), signal 1
    both = data.train_set.meta
    for code, sigma in ((0, 100.0), (1, 0.01)):  # each process's weights add up to its own cross section
        assert both["weight_pb"][both["process"] == code].sum() == pytest.approx(sigma)
    contradicting = write_event_file(tmp_path / "flags.h5", 30, seed=4, only="qcd")
    with h5py.File(contradicting, "r+") as h5:
        h5.attrs["processes"] = h5.attrs["processes"].replace('"label": 0', '"label": 1')
        h5["events/label"][...] = 1  # consistent within the file, which the reader checks
    with pytest.raises(ColliderDataError, match=r"flags the process 'qcd' as signal=1, an earlier file as signal=0"):
        GeneratedFiles(files=[str(files[0]), str(contradicting)]).read()


def test_the_cross_section_scale_follows_unequal_weights() -> None:
    # process 0 in two files (sums 3 and 5: cross section 4), process 1 in one file (sum 2); weights unequal
    meta = {"process": np.array([0, 0, 0, 0, 1, 1]), "file_index": np.array([0, 0, 1, 1, 1, 1]),
            "weight_pb": np.array([1.0, 2.0, 4.0, 1.0, 0.5, 1.5])}
    part = np.array([1, 2, 5])
    scaled = meta["weight_pb"][part] * cross_section_scale(meta, part)
    assert scaled[:2].sum() == pytest.approx(4.0) and scaled[2] == pytest.approx(2.0)
    assert scaled[0] / scaled[1] == pytest.approx(2.0 / 4.0)  # the events keep their relative weights
    assert np.isnan(cross_section_scale({**meta, "weight_pb": np.full(6, np.nan)}, part)).all()


def test_decoded_predictions_are_what_the_classification_evaluator_reads(events_file: Path) -> None:
    data = _data(events_file)
    meta = dict(data.test_set.meta)
    logits = np.random.default_rng(0).normal(size=(len(data.test_set), 2))
    table = data.decode_predictions({"label": logits}, meta)
    assert set(table) == {"label", "score", "process", "weight_pb", "file_index", "event"}
    np.testing.assert_allclose(table["score"], 1.0 / (1.0 + np.exp(logits[:, 0] - logits[:, 1])))
    # an ensemble averages the scores of runs that predicted the same events
    other = {**table, "score": 1.0 - table["score"]}
    averaged = data.average_predictions([table, other], ["a", "b"])
    np.testing.assert_allclose(averaged["score"], 0.5)
    with pytest.raises(ValueError, match="did not predict the same events"):
        data.average_predictions([table, {**table, "event": table["event"] + 1}], ["a", "b"])
    fewer = {column: values[:-1] for column, values in table.items()}  # another split's test set
    with pytest.raises(ValueError, match=rf"b: {len(table['score']) - 1} events, a {len(table['score'])}: the members did not"):
        data.average_predictions([table, fewer], ["a", "b"])
    with pytest.raises(ValueError, match="b: no column 'process', which a has"):
        data.average_predictions([table, {k: v for k, v in table.items() if k != "process"}], ["a", "b"])


def test_classes_made_of_processes_give_a_multi_class_head(events_file: Path) -> None:
    data = ColliderDataModule(
        source={"files": [str(events_file)], "classes": {"qcd": ["qcd"], "ttbar": ["ttbar"], "hh": ["signal"]}}, seed=1
    )
    data.setup("fit")
    assert data.model_inputs()["n_classes"] == 3 and data.class_names == ("qcd", "ttbar", "hh")
    # processes signal, qcd, ttbar (codes 0, 1, 2) are the classes hh, qcd, ttbar (2, 0, 1)
    np.testing.assert_array_equal(data.train_set.labels, np.array([2, 0, 1])[data.train_set.meta["process"]])
    columns = data.decode_predictions({"label": np.zeros((len(data.test_set), 3))}, dict(data.test_set.meta))
    assert {"score_qcd", "score_ttbar", "score_hh"} <= set(columns)
    with pytest.raises(ColliderDataError, match=r"the processes \['ttbar'\] belong to no class"):
        GeneratedFiles(files=[str(events_file)], classes={"qcd": ["qcd"], "hh": ["signal"]}).read()


def test_two_classes_in_another_order_name_their_scores(events_file: Path, tmp_path: Path) -> None:
    # the signal first: one "score" (read as the second class's) would make the background the signal
    data = ColliderDataModule(source={"files": [str(events_file)], "classes": {"signal": ["signal"], "background": ["qcd", "ttbar"]}})
    data.setup("fit")
    logits = np.random.default_rng(1).normal(size=(len(data.test_set), 2))
    table = data.decode_predictions({"label": logits}, dict(data.test_set.meta))
    assert "score" not in table and {"score_signal", "score_background"} <= set(table)
    metrics = evaluate_collider(table, tmp_path, figure_formats=("png",))
    signal = data.test_set.labels == 0
    expected = roc_auc_score(signal, table["score_signal"])
    assert metrics["scalars"]["auc_signal"] == pytest.approx(expected)


def test_estimators_get_the_high_level_features(events_file: Path) -> None:
    data = _data(events_file)
    inputs, targets, masks, meta = data.arrays("train")
    # the token streams are never padded for them (their memory, on 400k events, doubled a BDT's peak)
    assert not any(split.is_padded for split in (data.train_set, data.val_set, data.test_set))
    assert inputs.shape[1] == len(HIGH_LEVEL_FEATURES) and len(targets["label"]) == len(inputs) == len(meta["event"])
    without_btags = tuple(name for name in HIGH_LEVEL_FEATURES if "btag" not in name)
    bdt = HighLevelBDT(features=without_btags, max_iter=5).fit(inputs, targets, masks)
    assert bdt.n_features_in_ == len(without_btags) and bdt.predict(inputs)["label"].shape == (len(inputs), 2)
    with pytest.raises(ValueError, match=r"unknown features \['j1_btag'\]"):
        HighLevelBDT(features=("j1_btag",)).fit(inputs, targets["label"])
    assert bdt.n_iter_ == 5
    with pytest.raises(ValueError, match=r"must hold all \d+ high-level features .* got shape \(\d+, 2\)"):
        HighLevelBDT(features=without_btags[:2]).fit(np.asarray(inputs)[:, :2], targets["label"])


def test_prediction_on_another_file_uses_the_training_preprocessing(events_file: Path, tmp_path: Path) -> None:
    other = write_event_file(tmp_path / "other.h5", 30, seed=5)
    data = ColliderDataModule(source={"files": [str(events_file)]}, constituents={"n_tokens": 20}, seed=2)
    data.use_prediction_inputs([other])
    data.setup("predict")
    assert len(data.predict_set) == 30
    assert data.preprocessors["constituents"].mean_ == _data(events_file, split={"seed": 2}).preprocessors["constituents"].mean_


def test_labelled_files_to_predict_keep_the_trained_classes_in_their_order(tmp_path: Path) -> None:
    """A label is the number of a score column: classes reordered by --set would name other columns."""
    path = write_event_file(tmp_path / "three.h5", 90, seed=1)
    classes = {"qcd": ["qcd"], "ttbar": ["ttbar"], "hh": ["signal"]}
    trained = ColliderDataModule(source={"files": [str(path)], "classes": classes}, constituents={"n_tokens": 20}, seed=2)
    trained.setup("fit")

    def predicted(order: dict) -> ColliderDataModule:
        data = ColliderDataModule(source={"files": [str(path)], "classes": order}, constituents={"n_tokens": 20})
        data.restore_fitted_state(trained.fitted_state())
        data.use_prediction_inputs([path])
        data.setup("predict")
        return data

    assert predicted(classes).predict_set.labels.tolist() == trained.source.read().labels.tolist()
    with pytest.raises(ValueError, match=r"the events' classes \['hh', 'qcd', 'ttbar'\] are not those of the trained "
                                         r"network \['qcd', 'ttbar', 'hh'\] \(in this order\)"):
        predicted({"hh": ["signal"], "qcd": ["qcd"], "ttbar": ["ttbar"]})


def test_files_to_predict_made_with_other_jets_are_refused_another_detector_is_warned_of(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A generated file states its jets and detector settings: files reconstructed otherwise than the training
    files (another large-R radius, the constituents of one jet) would be read as the objects the network learnt."""
    from showerlearn.collider.simulation.config import ColliderSimulationConfig

    settings = ColliderSimulationConfig().model_dump(mode="json")

    def written(name: str, seed: int, **changes: dict) -> Path:
        config = {**settings, **{key: {**settings[key], **value} for key, value in changes.items()}}
        return write_event_file(tmp_path / name, 60, seed=seed, config=config)

    trained = ColliderDataModule(source={"files": [str(written("train.h5", 0))]}, constituents={"n_tokens": 20}, seed=2)
    trained.setup("fit")
    assert trained.fitted_state()["reconstruction"] == {"jets": settings["jets"], "detector": settings["detector"]}

    def predicted(path: Path, state: dict | None = None) -> ColliderDataModule:
        data = ColliderDataModule(source={"files": [str(path)]}, constituents={"n_tokens": 20})
        data.restore_fitted_state(state or trained.fitted_state())
        data.use_prediction_inputs([path])
        data.setup("predict")
        return data

    wider = written("wider.h5", 1, jets={"fatjet_radius": 1.5})
    with pytest.raises(ColliderDataError, match=r"wider\.h5: made with other jets than the network's training files: "
                                               r"jets\.fatjet_radius = 1\.5 \(training: 1\.0\)"):
        predicted(wider)
    # a checkpoint written before the settings were kept, and a file that states none: predicted as before
    assert len(predicted(wider, {**trained.fitted_state(), "reconstruction": None}).predict_set) == 60
    assert len(predicted(write_event_file(tmp_path / "silent.h5", 60, seed=3)).predict_set) == 60
    with caplog.at_level(logging.WARNING):  # a systematic variation: predicted, and said
        assert len(predicted(written("field.h5", 4, detector={"magnetic_field_t": 2.0})).predict_set) == 60
    assert "another detector response than the network's training files: detector.magnetic_field_t = 2.0 (training: " \
           "3.8)" in caplog.text
    # training files made with other jets are not one data set, whichever file comes first (one stating no
    # settings is no reference); other detector responses may be mixed on purpose: warned of
    for files in (["train.h5", "wider.h5"], ["silent.h5", "train.h5", "wider.h5"]):
        with pytest.raises(ColliderDataError, match=r"wider\.h5: made with other jets than .*train\.h5: "
                                                   r"jets\.fatjet_radius = 1\.5 \(train\.h5: 1\.0\)"):
            ColliderDataModule(source={"files": [str(tmp_path / name) for name in files]}, seed=2).setup("fit")
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        mixed = ColliderDataModule(source={"files": [str(tmp_path / name) for name in ("train.h5", "field.h5")]}, seed=2)
        mixed.setup("fit")
    assert "field.h5: simulated with another detector response than" in caplog.text
    # a setting one file lacks (written by a version with fewer settings) is no difference
    fewer = {**settings, "jets": {k: v for k, v in settings["jets"].items() if k != "constituent_jets"}}
    assert len(predicted(write_event_file(tmp_path / "older.h5", 60, seed=6, config=fewer)).predict_set) == 60


def test_the_caption_names_the_files_or_the_simulation_seed(events_file: Path) -> None:
    """Runs on other files must not share one caption on the board."""
    assert _data(events_file).describe() == "collider events from generated files events.h5"
    simulated = ColliderDataModule(source={"kind": "simulate", "events": 100, "seed": 4})
    assert simulated.describe() == "simulated collider events (100 selected, seed 4)"


def test_npz_and_columnar_sources(tmp_path: Path) -> None:
    events = synthetic_events(60, seed=3)
    labels = ak.to_numpy(events.label)
    constituents = ak.to_numpy(ak.fill_none(ak.pad_none(events.constituents.pt, 40, clip=True), 0.0))
    objects = ak.to_numpy(ak.fill_none(ak.pad_none(events.fatjets.mass, 2, clip=True), 0.0))
    for name, array in (("c", constituents[..., None]), ("o", objects[..., None])):
        for label in (0, 1):
            np.savez(tmp_path / f"{name}{label}.npz", array[labels == label])
    npz = {
        "kind": "npz", "class_names": ["background", "signal"],
        "constituents": {"files": [str(tmp_path / f"c{i}.npz") for i in (0, 1)], "features": ["pt"]},
        "objects": {"files": [str(tmp_path / f"o{i}.npz") for i in (0, 1)], "features": ["mass"]},
    }  # fmt: skip
    data = ColliderDataModule(source=npz, constituents={"features": ["pt"], "alignment": None}, objects={"features": ["mass"], "n_tokens": 2})
    data.setup("fit")
    assert data.model_inputs() == {"constituent_features": 1, "object_features": 1, "n_classes": 2, "n_constituents": 64, "n_objects": 2}
    assert np.bincount(np.concatenate([d.labels for d in (data.train_set, data.val_set, data.test_set)])).tolist() == np.bincount(labels).tolist()
    assert data.arrays("test")[0].shape[1] == 64 + 2  # no event records: the flattened tokens
    # new events to predict: one .npz per file with both streams, unlabelled, standardised as the training split
    np.savez(tmp_path / "new.npz", constituents=constituents[:5, :, None], objects=objects[:5, :, None])
    data.use_prediction_inputs([tmp_path / "new.npz"])
    data.setup("predict")
    assert len(data.predict_set) == 5 and data.predict_set.labels.tolist() == [-1] * 5
    expected = data.preprocessors["constituents"].transform(ak.Array({"pt": [constituents[3][constituents[3] != 0]]}))
    torch.testing.assert_close(data.predict_set[3]["inputs"]["constituents"],
                               torch.as_tensor(expected.features[0][expected.mask[0]]))
    np.savez(tmp_path / "one_stream.npz", constituents[:5, :, None])
    with pytest.raises(ColliderDataError, match=r"one_stream\.npz: no array 'constituents'; the file has arr_0"):
        data.use_prediction_inputs([tmp_path / "one_stream.npz"])
        data.predict_set = None
        data.setup("predict")

    path = tmp_path / "events.parquet"
    ak.to_parquet(ak.zip({"part_pt": events.constituents.pt, "jet_mass": events.fatjets.mass, "label": labels}, depth_limit=1), path)
    columnar = {
        "kind": "columnar", "files": [str(path)],
        "constituents": {"tokens": ["part_pt"], "labels": ["label"]}, "objects": {"tokens": ["jet_mass"]},
    }  # fmt: skip
    data = ColliderDataModule(source=columnar, constituents={"features": ["part_pt"], "sort_by": "part_pt", "alignment": None},
                              objects={"features": ["jet_mass"], "n_tokens": 2})  # fmt: skip
    data.setup("fit")
    batch = data.collate([data.train_set[i] for i in range(4)])
    assert batch["inputs"]["constituents"].shape == (4, 64, 1) and data.class_names == ("class0", "class1")


def test_clear_errors(events_file: Path, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="matches no file"):
        _data(tmp_path / "none*.h5")
    one_class = write_event_file(tmp_path / "qcd.h5", 20, seed=1, shares=(0.0, 1.0, 0.0))
    with pytest.raises(ValueError, match="only the class"):
        _data(one_class)
    one_signal = write_event_file(tmp_path / "one_signal.h5", 30, seed=1, shares=(0.04, 0.96, 0.0))
    with pytest.raises(ValueError, match=r"the (val|test) split lacks a class \(background \d+, signal 0 of \d+ events"):
        _data(one_signal)
    with pytest.raises(KeyError, match="no field 'momentum'"):
        _data(events_file, constituents={"n_tokens": 20, "features": ["momentum"]})


@pytest.mark.slow
def test_the_simulate_source_generates_once_and_reads_the_cached_file(tmp_path: Path) -> None:
    source = {
        "kind": "simulate", "events": 12, "seed": 3, "n_jobs": 1, "cache_dir": str(tmp_path),
        "config": {"chunk_size": 6, "processes": {
            "signal": {"settings": [*default_processes()["signal"].settings], "signal": True, "fraction": 0.5},
            "ttbar": {"settings": [*default_processes()["ttbar"].settings], "fraction": 0.5},
        }},
    }  # fmt: skip
    data = ColliderDataModule(source=source, constituents={"n_tokens": 8}, split={"fractions": [0.5, 0.25, 0.25]})
    data.setup("fit")
    (path,) = tmp_path.glob("collider_*_seed3.h5")
    assert data.class_names == ("background", "signal") and sum(map(len, (data.train_set, data.val_set, data.test_set))) == 12
    assert data.simulated_files() == [path]  # a run records its fingerprint: predictions of it are its own events
    written = path.stat().st_mtime_ns
    again = ColliderDataModule(source=source, constituents={"n_tokens": 8}, split={"fractions": [0.5, 0.25, 0.25]})
    again.setup("fit")
    assert path.stat().st_mtime_ns == written
    np.testing.assert_array_equal(again.test_set.labels, data.test_set.labels)


@pytest.mark.usefixtures("fixed_size_branches")
def test_delphes_files_per_class_and_events_without_constituents(tmp_path: Path) -> None:
    classes = {
        name: [str(_write_delphes(tmp_path / f"{name}{i}.root", _delphes_tree())) for i in range(3)]
        for name in ("background", "signal")
    }
    data = ColliderDataModule(source={"kind": "delphes", "classes": classes}, split={"fractions": [0.5, 0.25, 0.25]}, seed=0)
    data.setup("fit")
    assert data.simulated_files() == []  # read from the files the config names, which a run records at its start
    assert data.class_names == ("background", "signal") and data.model_inputs()["n_objects"] == 13
    batch = data.collate([data.train_set[i] for i in range(len(data.train_set))])
    empty = ~batch["inputs"]["constituents_mask"].any(dim=1)
    assert empty.any() and not empty.all()  # Delphes' second event has no large-R jet, so no constituents
    sizes = data.model_inputs()
    model = MultiScaleTransformer(sizes["constituent_features"], sizes["object_features"], 2, dim=8, heads=2).eval()
    with torch.no_grad():
        assert torch.isfinite(model(batch["inputs"])["label"]).all()
    assert np.isnan(data.test_set.meta["weight_pb"]).all()  # Delphes files carry no cross sections
    data.use_prediction_inputs(classes["signal"][:1])  # unlabelled files: no process, no weight
    data.setup("predict")
    assert len(data.predict_set) > 0 and np.isnan(data.predict_set.meta["weight_pb"]).all()


@pytest.mark.usefixtures("fixed_size_branches")
def test_files_to_predict_lacking_a_kind_of_object_the_network_learnt_are_refused(tmp_path: Path) -> None:
    """Delphes files without jets read, their object stream without jet tokens; a network trained with jets
    would read other objects in their slots: refused, naming the file and the collection."""
    jets = _collection(PT=[[60.0], [40.0]], Eta=[[0.1], [0.2]], Phi=[[0.0], [1.0]], Mass=[[5.0], [4.0]], BTag=[[1], [0]])
    classes = {name: [str(_write_delphes(tmp_path / f"{name}{i}.root", _delphes_tree(Jet=jets))) for i in range(3)]
               for name in ("background", "signal")}  # fmt: skip
    source = {"kind": "delphes", "classes": classes}
    trained = ColliderDataModule(source=source, split={"fractions": [0.5, 0.25, 0.25]}, seed=0)
    trained.setup("fit")
    assert trained.object_kinds == ("met", "fatjets", "jets", "electrons", "muons")
    no_jets = _write_delphes(tmp_path / "no_jets.root", _delphes_tree())

    def predicted(state: dict, files: list) -> ColliderDataModule:
        data = ColliderDataModule(source=source)
        data.restore_fitted_state(state)
        data.use_prediction_inputs(files)
        data.setup("predict")
        return data

    with pytest.raises(ColliderDataError, match=r"no_jets\.root: has no jets collection, which the network was trained with"):
        predicted(trained.fitted_state(), [no_jets])
    assert len(predicted(trained.fitted_state(), classes["signal"][:1]).predict_set) == 2
    # a checkpoint written before the kinds were kept: predicted as before
    earlier = {key: value for key, value in trained.fitted_state().items() if key != "object_kinds"}
    assert len(predicted(earlier, [no_jets]).predict_set) == 2


def test_object_tokens_come_kind_by_kind_hardest_first_with_every_field() -> None:
    events = synthetic_events(20, seed=6)
    tokens = object_tokens(events, {"met": 1, "fatjets": 2, "jets": 3, "electrons": 2, "muons": 2})
    for event, objects in zip(events, tokens, strict=True):
        n_jets, n_muons = min(len(event.jets), 3), len(event.muons)
        assert ak.to_list(objects.is_met) == [1.0] + [0.0] * (2 + n_jets + n_muons)
        assert ak.to_list(objects.is_fatjet)[1:3] == [1.0, 1.0] and sum(ak.to_list(objects.is_jet)) == n_jets
        jets = ak.to_numpy(objects.pt[objects.is_jet == 1])
        np.testing.assert_allclose(jets, np.sort(ak.to_numpy(event.jets.pt))[::-1][:3])
        np.testing.assert_allclose(ak.to_numpy(objects.pt)[0], event.met)
        np.testing.assert_allclose(ak.to_numpy(objects.btag)[1:3], ak.to_numpy(event.fatjets.n_btag))
        lead = event.fatjets.phi[np.argmax(ak.to_numpy(event.fatjets.pt))]
        expected = (ak.to_numpy(objects.phi) - lead + np.pi) % (2 * np.pi) - np.pi
        np.testing.assert_allclose(ak.to_numpy(objects.dphi_lead), expected, atol=1e-12)
        assert ak.to_numpy(objects.dphi_lead)[1] == pytest.approx(0.0)  # the leading large-R jet itself
    with pytest.raises(ValueError, match=r"unknown object kinds \['photons'\]"):
        object_tokens(events, {"photons": 1})


def test_repeated_feature_names_are_refused(tmp_path: Path) -> None:
    """Tokens become records keyed by name: a repeated name would keep one column under two names."""
    np.savez(tmp_path / "a.npz", np.ones((2, 3, 3)))
    with pytest.raises(ValueError, match=r"feature names: 'pt' given more than once"):
        read_npz_classes([tmp_path / "a.npz"], ("pt", "pt", "phi"))
    for settings in (ConstituentSettings, ObjectSettings, partial(NpzStream, files=["a.npz"])):
        with pytest.raises(ValidationError, match=r"features\n.*'pt' given more than once"):
            settings(features=["pt", "pt", "phi"])


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ({"files": ["x.h5"], "object_limits": {"muons": -1}}, r"object_limits\.muons\n\s+Input should be greater than or equal to 0"),
        ({"kind": "delphes", "classes": {"a": ["x.root"]}, "eflow_branches": []}, r"eflow_branches\n\s+List should have at least 1 item"),
    ],
)  # fmt: skip
def test_settings_that_would_be_silently_wrong_are_refused(source: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        ColliderDataModule(source=source)


def test_columnar_branches_no_network_reads_are_left_unread_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Per-event scalars and object labels were always accepted (and left unread): configs and run folders naming
    them still load, now with a warning. The files need not even hold them."""
    columns = {"part_pt": ak.Array([[1.0], [2.0]]), "obj_pt": ak.Array([[5.0]] * 2), "label": np.array([0, 1])}
    ak.to_parquet(ak.zip(columns, depth_limit=1), tmp_path / "two.parquet")
    source = {"kind": "columnar", "files": [str(tmp_path / "two.parquet")],
              "constituents": {"tokens": ["part_pt"], "labels": ["label"], "scalars": ["mjj"]},
              "objects": {"tokens": ["obj_pt"], "labels": ["obj_label"], "scalars": ["met"]}}  # fmt: skip
    with caplog.at_level(logging.WARNING, logger="showerlearn.collider.data.sources"):
        data = ColliderDataModule(source=source)
    assert "constituents.scalars, objects.scalars, objects.labels not read: no network reads" in caplog.text
    streams = data.source.read()
    assert streams.labels.tolist() == [0, 1] and streams.objects.fields == ["obj_pt"]


@pytest.mark.usefixtures("fixed_size_branches")
def test_a_file_without_events_is_named(tmp_path: Path) -> None:
    for name, events in (("full", 3), ("empty", 0)):
        np.savez(tmp_path / f"{name}.npz", np.ones((events, 2, 1)))
    stream = {"files": [str(tmp_path / "full.npz"), str(tmp_path / "empty.npz")], "features": ["pt"]}
    with pytest.raises(ColliderDataError, match=r"empty\.npz: holds no events"):
        NpzFiles(constituents=stream, objects=stream).read()
    nothing = ak.Array([[1.0]])[:0]
    empty_columns = {"part_pt": nothing, "obj_pt": nothing, "label": np.zeros(0, int)}
    ak.to_parquet(ak.zip(empty_columns, depth_limit=1), tmp_path / "empty.parquet")
    columnar = ColumnarFiles(files=[str(tmp_path / "empty.parquet")], constituents={"tokens": ["part_pt"], "labels": ["label"]},
                             objects={"tokens": ["obj_pt"]})  # fmt: skip
    with pytest.raises(ColliderDataError, match=r"empty\.parquet: holds no events"):
        columnar.read()
    full = _write_delphes(tmp_path / "full.root", _delphes_tree())
    empty = _write_delphes(tmp_path / "empty.root", {name: branch[:0] for name, branch in _delphes_tree().items()})
    with pytest.raises(ColliderDataError, match=r"empty\.root: holds no events"):
        DelphesFiles(classes={"background": [str(full)], "signal": [str(empty)]}).read()


def test_a_class_without_events_is_named(tmp_path: Path) -> None:
    no_ttbar = write_event_file(tmp_path / "no_ttbar.h5", 20, seed=6, shares=(0.5, 0.5, 0.0))
    data = ColliderDataModule(source={"files": [str(no_ttbar)], "classes": CLASSES})
    with pytest.raises(ValueError, match=r"no event of \['ttbar'\] \(ttbar: \['ttbar'\]\): every class needs events"):
        data.setup("fit")  # named with the processes the class holds
    columns = {"part_pt": ak.Array([[1.0], [2.0], [3.0], [4.0]]), "obj_pt": ak.Array([[5.0]] * 4),
               "label": np.array([0, 1, 0, 1])}  # fmt: skip
    ak.to_parquet(ak.zip(columns, depth_limit=1), tmp_path / "two.parquet")
    source = {"kind": "columnar", "files": [str(tmp_path / "two.parquet")], "class_names": ["a", "b", "c"],
              "constituents": {"tokens": ["part_pt"], "labels": ["label"]}, "objects": {"tokens": ["obj_pt"]}}  # fmt: skip
    data = ColliderDataModule(source=source, constituents={"features": ["part_pt"], "alignment": None, "sort_by": None},
                              objects={"features": ["obj_pt"], "n_tokens": 1})  # fmt: skip
    with pytest.raises(ValueError, match=r"hold only the class \['a', 'b'\], no event of \['c'\]"):  # not "use more events"
        data.setup("fit")


@pytest.mark.usefixtures("fixed_size_branches")
def test_empty_files_to_predict_give_no_event_and_empty_predictions(tmp_path: Path) -> None:
    """As for generated files: an empty Delphes or columnar file to predict is read as no event (its output is
    empty), while a training file without events is still refused (test_a_file_without_events_is_named)."""
    classes = {name: [str(_write_delphes(tmp_path / f"{name}{i}.root", _delphes_tree())) for i in range(3)]
               for name in ("background", "signal")}  # fmt: skip
    empty_root = _write_delphes(tmp_path / "empty.root", {name: branch[:0] for name, branch in _delphes_tree().items()})
    events = synthetic_events(60, seed=3)
    full, empty_parquet = tmp_path / "events.parquet", tmp_path / "empty.parquet"
    columns = {"part_pt": events.constituents.pt, "jet_mass": events.fatjets.mass, "label": ak.to_numpy(events.label)}
    ak.to_parquet(ak.zip(columns, depth_limit=1), full)
    ak.to_parquet(ak.zip(columns, depth_limit=1)[:0], empty_parquet)
    columnar = {"kind": "columnar", "files": [str(full)], "constituents": {"tokens": ["part_pt"], "labels": ["label"]},
                "objects": {"tokens": ["jet_mass"]}}  # fmt: skip
    settings = {"constituents": {"features": ["part_pt"], "sort_by": "part_pt", "alignment": None},
                "objects": {"features": ["jet_mass"], "n_tokens": 2}}  # fmt: skip
    for source, params, empty in (({"kind": "delphes", "classes": classes}, {}, empty_root), (columnar, settings, empty_parquet)):
        trained = ColliderDataModule(source=source, split={"fractions": [0.5, 0.25, 0.25]}, **params)
        trained.setup("fit")
        assert len(trained.source.for_prediction([empty]).read()) == 0
        data = ColliderDataModule(source=source, **params)
        data.restore_fitted_state(trained.fitted_state())
        data.use_prediction_inputs([empty])
        data.setup("predict")
        assert len(data.predict_set) == 0
        (table,) = data.empty_predictions().values()
        assert set(data.column_units()["predictions"]) <= set(table) and all(len(column) == 0 for column in table.values())


def test_a_file_to_predict_may_lack_some_of_the_classes_processes(events_file: Path, tmp_path: Path) -> None:
    qcd = write_event_file(tmp_path / "qcd.h5", 20, seed=5, only="qcd")
    source = GeneratedFiles(files=[str(events_file)], classes=CLASSES)
    assert set(source.for_prediction([qcd]).read().labels) == {0}
    assert set(SimulatedEvents(classes=CLASSES).for_prediction([qcd]).read().labels) == {0}
    with pytest.raises(ColliderDataError, match=r"qcd\.h5: classes name the processes \['ttbar'\]"):
        source.model_copy(update={"files": [str(qcd)]}).read()  # training still needs every process of the classes
    with pytest.raises(ColliderDataError, match=r"the processes \['ttbar'\] belong to no class"):
        GeneratedFiles(files=[str(qcd)], classes={"qcd": ["qcd"], "hh": ["signal"]}).for_prediction([events_file]).read()


@pytest.mark.parametrize(("source", "signal", "problem"), [
    # one label branch of class indices: its classes are class0, class1...
    ({"kind": "columnar", "files": ["x.root"], "constituents": {"tokens": ["part_pt"], "labels": ["label"]},
      "objects": {"tokens": ["jet_pt"]}}, "signal", "class0, class1...: name them with class_names"),
    ({"kind": "columnar", "files": ["x.root"], "constituents": {"tokens": ["part_pt"], "labels": ["label"]},
      "objects": {"tokens": ["jet_pt"]}}, "class1", None),
    ({"kind": "columnar", "files": ["x.root"], "constituents": {"tokens": ["part_pt"], "labels": ["label_qcd", "label_hh"]},
      "objects": {"tokens": ["jet_pt"]}}, "signal", "its classes are qcd, hh"),
    ({"kind": "delphes", "classes": {"qcd": ["q.root"], "hh": ["h.root"]}}, "hh", None),
    ({"kind": "generated", "files": ["e.h5"], "classes": {"qcd": ["qcd"], "tt": ["ttbar"]}}, "signal", "its classes are qcd, tt"),
    ({"kind": "generated", "files": ["e.h5"]}, "signal", None),
    ({"kind": "generated", "files": ["e.h5"]}, "top", None),  # background and signal: one score, no signal class read
])  # fmt: skip
def test_a_signal_class_the_source_cannot_have_is_refused_before_training(source: dict, signal: str, problem: str | None) -> None:
    """Not when the trained run is scored: the classes come from the config (or how the files name them)."""
    from showerlearn.config import load_config
    from showerlearn.family import new_run_problems

    # a columnar source's features are its branches: streams that read those
    streams = [] if source["kind"] != "columnar" else [
        *(f"data.params.{name}.features={source[name]['tokens']}".replace("'", '"') for name in ("constituents", "objects")),
        "data.params.constituents.sort_by=null", "data.params.constituents.alignment=null"]
    config = load_config(Path(__file__).parents[1] / "examples" / "collider_multiscale.yaml",
                         [f"data.params.source={source}".replace("'", '"'), f"evaluation.params.signal_class={signal}", *streams])
    # the files are made up: only the class rule is read here
    problems = [line for line in new_run_problems(config) if not line.startswith("data.params.source")]
    if problem is None:
        assert problems == []
    else:
        assert len(problems) == 1 and problems[0].startswith(f"evaluation.params.signal_class: {signal!r} is no class of "
                                                             "data.params.source") and problem in problems[0], problems


def test_config_validate_names_stream_settings_an_npz_or_columnar_source_cannot_read() -> None:
    """Their features are the files' names: the generated files' default features, ordering and alignment fail at
    read time, after any work; the config check names each before."""
    npz = {"kind": "npz", "constituents": {"files": ["c0.npz", "c1.npz"], "features": ["pt", "deta", "dphi"]},
           "objects": {"files": ["o0.npz", "o1.npz"], "features": ["mass"]}}
    problems = ColliderDataModule.config_problems({"source": npz}, "data.params")
    assert any(p.startswith("data.params.constituents.features: reads ['log_pt'") and "its fields: pt, deta, dphi" in p
               for p in problems), problems
    assert any(p.startswith("data.params.constituents.alignment: reads ['jet_index']") and p.endswith("or set it null")
               for p in problems), problems
    assert any(p.startswith("data.params.objects.features: reads ['log_pt'") for p in problems), problems
    fitting = {"source": npz, "constituents": {"features": ["pt", "deta"], "alignment": None},
               "objects": {"features": ["mass"], "n_tokens": 2}}
    assert ColliderDataModule.config_problems(fitting, "data.params") == []
    columnar = {"kind": "columnar", "files": ["a.parquet"], "constituents": {"tokens": ["part_pt"], "labels": ["label"]},
                "objects": {"tokens": ["jet_mass"]}}
    problems = ColliderDataModule.config_problems({"source": columnar, "constituents": {"features": ["part_pt"],
                                                   "alignment": None}, "objects": {"features": ["jet_mass"]}}, "p")
    assert problems == ["p.constituents.sort_by: reads ['pt'], which the columnar source's constituents do not have "
                        "(its fields: part_pt); name them"]
    assert ColliderDataModule.config_problems({"source": {"kind": "generated", "files": ["x.h5"]}}, "p") == []
