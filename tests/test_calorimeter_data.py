"""The calorimeter DataModule on a tiny simulated hit file: the split, the standardisation (training hits
only), the padded batches and their targets against per-event loops over the file, the pre-clusters against
scikit-learn and hand-computed centroids, ``arrays`` for the estimators and the prediction tables."""

from __future__ import annotations

import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from showerlearn.calorimeter.baselines import AgglomerativeHitClustering, R3BClustering, R3BWindow
from showerlearn.calorimeter.data import CalorimeterDataModule, cluster_features, hit_features
from showerlearn.calorimeter.data.dataset import HIT_META
from showerlearn.calorimeter.data.decoding import average_pair_views
from showerlearn.calorimeter.data.events import HitEvents
from showerlearn.calorimeter.data.features import CLUSTER_FEATURES, HIT_FEATURES, FeatureSpec, turn_azimuth
from showerlearn.calorimeter.data.preclustering import PreclusterSpec, precluster_events
from showerlearn.calorimeter.geometry import califa, unit_vectors, wrap_phi
from showerlearn.calorimeter.io import read_events, read_gammas
from showerlearn.calorimeter.simulation import CalorimeterSimulationConfig, simulate_calorimeter
from showerlearn.config import load_config
from showerlearn.config.components import ComponentProblem, build, own_problems, validate_params
from showerlearn.config.schema import Component
from showerlearn.family import new_run_problems
from showerlearn.registry import DATAMODULES, ESTIMATORS


@pytest.fixture(scope="module")
def hit_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("calorimeter_data") / "hits.h5"
    config = CalorimeterSimulationConfig(n_events=60, n_gammas=3, n_gammas_min=2, energy_max_mev=4.0, chunk_size=30,
                                         background_hits_mean=1.0)
    simulate_calorimeter(config, path, seed=5)
    return path


def _datamodule(hit_file: Path, **params) -> CalorimeterDataModule:
    datamodule = CalorimeterDataModule(files=[str(hit_file)], batch_size=8, seed=3, **params)
    datamodule.setup("fit")
    return datamodule


def test_split_standardisation_and_batches_follow_the_file(hit_file: Path) -> None:
    datamodule = _datamodule(hit_file, split={"fractions": [0.5, 0.25, 0.25]})
    parts = datamodule.parts
    assert sorted(np.concatenate(list(parts.values())).tolist()) == list(range(60))
    events = read_events(hit_file)
    # standardisation: mean and std of the training split's hits only
    train_hits = {key: np.concatenate([np.asarray(events[i][key], float) for i in parts["train"]])
                  for key in ("energy", "theta", "phi", "time")}
    raw = hit_features(train_hits)
    assert np.allclose(datamodule.hit_spec.mean, raw.mean(axis=0)) and np.allclose(datamodule.hit_spec.std, raw.std(axis=0))

    batch = next(iter(datamodule.test_dataloader()))
    hits, mask = batch["inputs"]["hits"], batch["inputs"]["hits_mask"]
    for row, event in enumerate(parts["test"][:8]):
        truth = np.asarray(events[event]["true_gamma"])
        n = len(truth)
        assert mask[row].sum() == n and not mask[row, n:].any()
        theta, phi = np.asarray(events[event]["theta"], float), np.asarray(events[event]["phi"], float)
        direction = hits[row, :n, 5:8].numpy() * datamodule.hit_spec.std[5:8] + datamodule.hit_spec.mean[5:8]
        assert np.allclose(direction, unit_vectors(theta, phi), atol=1e-5)
        assert batch["targets"]["objects"][row, :n].tolist() == truth.tolist()
        for i in range(n):  # same gamma, background pairs with nothing, a hit with itself is not a pair
            for j in range(n):
                assert batch["targets"]["pairs"][row, i, j] == float(truth[i] == truth[j] and truth[i] >= 0)
                assert batch["masks"]["pairs"][row, i, j] == (i != j)
        assert batch["meta"]["event_id"][row] == event and batch["meta"]["gammas_mask"][row].sum() == len(read_gammas(hit_file)[event])


def test_arrays_give_the_estimators_physical_hits_and_padded_meta(hit_file: Path) -> None:
    datamodule = _datamodule(hit_file)
    inputs, targets, masks, meta = datamodule.arrays("test", raw=True)
    events = read_events(hit_file)
    test = datamodule.parts["test"]
    assert len(inputs) == len(test) and meta["hits"].shape[:2] == masks["objects"].shape
    for row, event in enumerate(test):
        assert np.allclose(inputs[row]["energy"], np.asarray(events[event]["energy"]))
        n = len(inputs[row]["energy"])
        assert targets["objects"][row, :n].tolist() == np.asarray(events[event]["true_gamma"]).tolist()
        assert (targets["objects"][row, n:] == -1).all()
    standardised, _, _, _ = datamodule.arrays("test")
    assert standardised.shape == (*masks["objects"].shape, len(datamodule.features))
    # the engine's face of a clustering method: the method's labels per event, padded with -1 like the meta
    for window in ("rectangle", "cone", "sphere"):
        labels = R3BWindow(window=window).fit(inputs, targets, masks).predict(inputs)["labels"]
        assert labels.shape == masks["objects"].shape and (labels[~masks["objects"]] == -1).all()
        for row, hits in enumerate(inputs):
            assert labels[row, : len(hits["energy"])].tolist() == R3BClustering(window=window).cluster(hits).tolist()


def test_a_window_run_by_the_engine_takes_the_files_geometry(tmp_path: Path) -> None:
    """The sphere window needs crystal centres: those of the files' calorimeter (toy-grid ids are CALIFA ids too,
    so a wrong default would cluster silently wrong)."""
    toy = simulate_calorimeter(CalorimeterSimulationConfig(geometry="toy_grid", n_events=30, n_gammas=2, chunk_size=30),
                               tmp_path / "toy.h5", seed=1).path  # fmt: skip
    datamodule = CalorimeterDataModule(files=[str(toy)], batch_size=8, seed=3)
    datamodule.setup("fit")
    window = build(Component(name="r3b_window", params={"window": "sphere"}), ESTIMATORS, "estimator",
                   injected=datamodule.model_inputs())  # fmt: skip
    assert window.geometry == "toy_grid"
    with pytest.raises(ComponentProblem, match="geometry"):
        build(Component(name="r3b_window", params={"geometry": "califa"}), ESTIMATORS, "estimator",
              injected=datamodule.model_inputs())  # fmt: skip


def test_preclusters_are_the_agglomerative_clusters_with_their_centroids(hit_file: Path) -> None:
    spec = {"distance_threshold": 0.15, "linkage": "single"}
    datamodule = _datamodule(hit_file, preclustering=spec)
    dataset = datamodule.train_set
    clusterer = AgglomerativeHitClustering(0.15, "single", None, 20.0, crystal_threshold_mev=0.0)
    for i in range(len(dataset)):
        hits = dataset.events.event(i)
        expected = clusterer.cluster(hits)
        sample = dataset[i]
        assert sample["meta"]["hits"][:, -1].long().tolist() == expected.tolist()
        m = expected.max(initial=-1) + 1
        assert sample["inputs"]["clusters"].shape[0] == m
        physical = sample["inputs"]["clusters"].numpy() * datamodule.cluster_spec.std + datamodule.cluster_spec.mean
        owners = []
        for k in range(m):  # energy sum and energy-weighted direction, by hand
            members = expected == k
            energy, truth = hits["energy"][members], hits["true_gamma"][members]
            centroid = (energy[:, None] * unit_vectors(hits["theta"][members], hits["phi"][members])).sum(0)
            assert physical[k, 0] == pytest.approx(energy.sum(), rel=1e-4)
            assert np.allclose(physical[k, 5:8], centroid / np.linalg.norm(centroid), atol=1e-4)
            owners.append(max(set(truth.tolist()), key=lambda g: energy[truth == g].sum()))
        for k in range(m):
            for j in range(m):
                assert sample["targets"]["cluster_pairs"][k, j] == float(owners[k] == owners[j] and owners[k] >= 0)


@pytest.mark.parametrize(("angle", "mirror"), [(0.7, False), (4.0, True), (0.0, True)])
def test_turning_features_about_the_beam_is_turning_the_hits(hit_file: Path, angle: float, mirror: bool) -> None:
    """Reference: the features computed again from the hits with their azimuths turned."""
    events = read_events(hit_file)
    hits = {key: np.concatenate([np.asarray(events[i][key], float) for i in range(20)]) for key in ("energy", "theta", "phi", "time")}
    turned = {**hits, "phi": wrap_phi((-1.0 if mirror else 1.0) * hits["phi"] + angle)}
    spec = FeatureSpec.fit(HIT_FEATURES, hit_features(hits))
    got = turn_azimuth(spec.standardise(hit_features(hits)), spec, angle, mirror)
    assert np.allclose(got, spec.standardise(hit_features(turned)), atol=1e-5)
    cluster = np.arange(len(hits["energy"])) % 7  # pre-clusters: their centroids turn with their hits
    cluster_spec = FeatureSpec.fit(CLUSTER_FEATURES, cluster_features(hits, cluster, 7))
    got = turn_azimuth(cluster_spec.standardise(cluster_features(hits, cluster, 7)), cluster_spec, angle, mirror)
    assert np.allclose(got, cluster_spec.standardise(cluster_features(turned, cluster, 7)), atol=1e-4)
    # features without x and y: phi alone turns; x alone cannot
    phi_only = FeatureSpec.fit(("energy", "phi"), hit_features(hits, ("energy", "phi")))
    got = turn_azimuth(phi_only.standardise(hit_features(hits, ("energy", "phi"))), phi_only, angle, mirror)
    assert np.allclose(got, phi_only.standardise(hit_features(turned, ("energy", "phi"))), atol=1e-5)
    with pytest.raises(ValueError, match="both features x and y or neither"):
        turn_azimuth(np.zeros((1, 1)), FeatureSpec(("x",), (0.0,), (1.0,)), angle)


def _turn_of(before: np.ndarray, after: np.ndarray, turns: int) -> tuple[int, bool]:
    """The turn k 2 pi / turns (after a mirror or not) that takes the azimuths ``before`` to ``after``; fails if none."""
    found = [(k, mirror) for k in range(turns) for mirror in (False, True)
             if np.allclose(np.cos(after - ((-1) ** mirror * before + 2 * np.pi * k / turns)), 1.0, atol=1e-8)]
    assert len(found) >= 1, (before, after)
    return found[0]


def test_azimuth_augmentation_turns_the_training_inputs_by_the_calorimeter_s_own_turns(hit_file: Path) -> None:
    settings = {"preclustering": {"distance_threshold": 0.15}}
    plain, turned = _datamodule(hit_file, **settings), _datamodule(hit_file, augment_azimuth=True, **settings)
    spec, cluster_spec = plain.hit_spec, plain.cluster_spec
    table = califa().table()
    centres = unit_vectors(table["theta"], table["phi"])
    drawn = set()
    for i in range(12):
        torch.manual_seed(i)
        sample, reference = turned.train_set[i], plain.train_set[i]
        torch.manual_seed(i)
        assert torch.equal(sample["inputs"]["hits"], turned.train_set[i]["inputs"]["hits"])  # a seed gives the same turns
        for key in ("targets", "meta"):
            for name, value in reference[key].items():
                assert torch.equal(sample[key][name], value)
        moved, kept = sample["inputs"]["hits"].numpy(), reference["inputs"]["hits"].numpy()
        unchanged = [spec.names.index(name) for name in ("energy", "log_energy", "theta", "time", "z")]
        assert np.allclose(moved[:, unchanged], kept[:, unchanged])
        phi = spec.physical(moved, "phi")
        direction = np.stack([spec.physical(moved, k) for k in "xyz"], axis=1)
        assert np.allclose(np.arctan2(direction[:, 1], direction[:, 0]), phi, atol=1e-5)
        assert np.allclose((direction @ centres.T).max(axis=1), 1.0, atol=1e-6)  # every turned hit is on a crystal
        turn = _turn_of(spec.physical(kept, "phi"), phi, 32)
        drawn.add(turn)
        # the pre-clusters turn with their hits
        assert _turn_of(cluster_spec.physical(reference["inputs"]["clusters"].numpy(), "phi"),
                        cluster_spec.physical(sample["inputs"]["clusters"].numpy(), "phi"), 32) == turn
    assert len(drawn) > 6 and {mirror for _, mirror in drawn} == {False, True}
    for split in ("val_set", "test_set"):  # never augmented
        for i in range(5):
            assert torch.equal(getattr(turned, split)[i]["inputs"]["hits"], getattr(plain, split)[i]["inputs"]["hits"])


def test_azimuth_augmentation_needs_a_calorimeter_that_turns_and_x_with_y(tmp_path: Path, hit_file: Path) -> None:
    toy = simulate_calorimeter(CalorimeterSimulationConfig(geometry="toy_grid", n_events=30, n_gammas=2, chunk_size=30),
                               tmp_path / "toy.h5", seed=1).path  # fmt: skip
    with pytest.raises(ValueError, match=r"toy\.h5: augment_azimuth: the 'toy_grid' calorimeter offers no turn or mirror about the beam axis"):
        _datamodule(toy, augment_azimuth=True)
    with pytest.raises(ValueError, match=r"data\.params\.preclustering\.features: turning about the beam axis \(augment_azimuth, test_time_views\) turns x and y"):
        CalorimeterDataModule(files=[str(hit_file)], preclustering={"features": ["energy", "x"]}, augment_azimuth=True)
    # the config check names them before any work
    params = {"simulate": {"config": {"geometry": "toy_grid"}}, "features": ["energy", "y"], "augment_azimuth": True}
    assert own_problems(CalorimeterDataModule, params, "data.params") == [
        "data.params.features: turning about the beam axis (augment_azimuth, test_time_views) turns x and y together: "
        "give both or neither, got ['energy', 'y']",
        "data.params.augment_azimuth: the 'toy_grid' calorimeter offers no turn or mirror about the beam axis to augment "
        "with (they are implemented for rings of crystals closing the circle only)"]
    assert own_problems(CalorimeterDataModule, {**params, "augment_azimuth": False}, "data.params") == []
    assert "augment_azimuth" in CalorimeterDataModule.prediction_settings  # a run predicts whatever it was trained with


def test_cluster_features_of_one_hit_are_the_hit() -> None:
    hits = {"energy": np.array([2.0]), "theta": np.array([1.0]), "phi": np.array([-0.5]), "time": np.array([3.0])}
    features = cluster_features(hits, np.array([0]), 1)
    assert np.allclose(features[0, :8], hit_features(hits)[0]) and features[0, 8] == 1 and features[0, 9] == pytest.approx(0, abs=1e-6)


def test_cluster_features_of_zero_energy_hits_are_finite() -> None:
    """Measured data may hold zero-energy hits: their pre-cluster weighs them alike (their mean direction)."""
    hits = {"energy": np.array([0.0, 0.0, 1.0]), "theta": np.array([1.0, 1.2, 2.0]), "phi": np.array([0.1, 0.1, 0.0]),
            "time": np.array([1.0, 3.0, 0.0])}
    features = cluster_features(hits, np.array([0, 0, 1]), 2)
    assert np.isfinite(features).all()
    assert features[0, CLUSTER_FEATURES.index("time")] == pytest.approx(2.0)  # the plain mean of 1 and 3 ns
    assert features[0, CLUSTER_FEATURES.index("theta")] == pytest.approx(1.1, abs=1e-3)
    assert np.allclose(features[1, :8], hit_features({key: value[2:] for key, value in hits.items()})[0])


def test_every_hit_gets_a_pre_cluster_zero_energy_ones_too() -> None:
    hits = {"energy": np.array([1.0, 0.0, 0.5]), "theta": np.array([1.0, 1.01, 2.0]), "phi": np.array([0.1, 0.1, 0.0]),
            "time": np.array([0.0, 0.0, 0.0]), "crystal_id": np.array([1, 2, 3]), "true_gamma": np.array([0, 0, 1])}
    gammas = {name: np.array([1.0, 0.5]) for name in ("energy_rest", "energy_lab", "theta", "phi")}
    events = HitEvents(hits, np.array([0, 3]), gammas, np.array([0, 2]), np.array([0.0]), np.array([0]), np.array([0]))
    preclusters = precluster_events(events, PreclusterSpec())
    assert preclusters.hit_cluster.tolist() == [0, 0, 1] and np.isfinite(preclusters.features).all()


def test_decoded_tables_hold_every_hit_and_gamma(hit_file: Path) -> None:
    datamodule = _datamodule(hit_file)
    _, targets, masks, meta = datamodule.arrays("test", raw=True)
    tables = datamodule.decode_predictions({"labels": targets["objects"]}, meta)
    hits, gammas, events = tables["hits"], tables["gammas"], tables["predictions"]
    assert len(hits["label"]) == masks["objects"].sum() == events["n_hits"].sum()
    assert np.array_equal(hits["label"], hits["true_gamma"])  # the truth as labels comes back as it went in
    assert len(gammas["energy_lab"]) == events["n_gammas"].sum()
    assert np.all(np.diff(hits["event_index"]) >= 0) and events["event_id"].tolist() == datamodule.parts["test"].tolist()


def test_bad_settings_are_named(hit_file: Path) -> None:
    with pytest.raises(ValueError, match="calorimeter data: files, simulate: neither given; give exactly one: `files`"):
        CalorimeterDataModule()  # the config check's rule (source_problems)
    with pytest.raises(ValueError, match="unknown features"):
        CalorimeterDataModule(files=[str(hit_file)], features=("energy", "colour"))
    with pytest.raises(FileNotFoundError, match="matches no file"):
        CalorimeterDataModule(files=[str(hit_file.parent / "nothing*.h5")]).setup("fit")


def test_the_config_check_names_unknown_features() -> None:
    # what `config validate` asks every component (own_problems), with its resolved params
    params = {"files": ["hits.h5"], "features": ["energy", "foo"], "preclustering": {"features": ["spread", "bar"]}}
    problems = own_problems(CalorimeterDataModule, params, "data.params")
    assert [problem.split(":")[0] for problem in problems] == ["data.params.features"]
    assert "unknown features ['foo']" in problems[0]
    # checked before it, by the params' validation: the pre-cluster features (PreclusterSpec), and a name for a list
    for given, problem in ((params, r"data\.params\.preclustering\.features: .*unknown features \['bar'\]"),
                           ({"files": ["hits.h5"], "features": "energy"}, r"data\.params\.features: Input should be a valid tuple")):
        with pytest.raises(ComponentProblem, match=problem):
            validate_params(Component(name="calorimeter", params=given), DATAMODULES, {"seed"}, "data")
    assert own_problems(CalorimeterDataModule, {"files": ["hits.h5"], "features": ["energy", "x"]}, "data") == []


def test_simulated_data_is_cached_by_settings_and_seed(tmp_path: Path) -> None:
    params = {"simulate": {"events": 20, "config": {"chunk_size": 20}}, "cache_dir": tmp_path}
    first = CalorimeterDataModule(seed=1, **params)
    path = first.resolve_files()[0]
    assert path.parent == tmp_path and "seed1" in path.name
    assert CalorimeterDataModule(seed=1, **params).resolve_files() == [path]
    assert CalorimeterDataModule(seed=2, **params).resolve_files() != [path]
    first.setup("fit")
    assert len(first.train_set) + len(first.val_set) + len(first.test_set) == 20


def test_no_prediction_on_files_of_another_calorimeter(hit_file: Path, tmp_path: Path) -> None:


    other = tmp_path / "other.h5"
    shutil.copy(hit_file, other)
    with h5py.File(other, "a") as file:
        file.attrs["geometry"] = "toy_grid"
    datamodule = _datamodule(hit_file)
    assert datamodule.geometry == "califa"
    datamodule.use_prediction_inputs([other])
    with pytest.raises(ValueError, match="the training files are califa"):
        datamodule.setup("predict")
    with pytest.raises(ValueError, match="the training files are califa"):
        next(datamodule.prediction_parts(other, 10))


def test_test_time_views_are_the_calorimeter_s_turns_spread_over_them(hit_file: Path) -> None:
    datamodule = _datamodule(hit_file, test_time_views=3, preclustering={"distance_threshold": 0.15})
    batch = next(iter(datamodule.test_dataloader()))
    inputs, meta = batch["inputs"], batch["meta"]["hits"]
    views = datamodule.prediction_views()
    assert views[0] is None and len(views) == 4
    # 64 symmetries (32 turns, with and without the mirror) spread: a half turn, the mirror, both
    for view, (step, mirror) in zip(views[1:], [(16, False), (0, True), (16, True)], strict=True):
        seen = view(inputs)
        for row in range(len(meta)):
            n = int(inputs["hits_mask"][row].sum())
            hits = {key: meta[row, :n, HIT_META.index(key)].numpy() for key in ("energy", "theta", "phi", "time")}
            turned = {**hits, "phi": wrap_phi((-1.0 if mirror else 1.0) * hits["phi"] + 2 * np.pi * step / 32)}
            expected = datamodule.hit_spec.standardise(hit_features(turned))
            assert np.allclose(seen["hits"][row, :n].numpy(), expected, atol=1e-5)
            assert torch.equal(seen["hits"][row, n:], inputs["hits"][row, n:])  # padding as it was
        moved = seen["clusters"][inputs["clusters_mask"]].numpy()
        kept = inputs["clusters"][inputs["clusters_mask"]].numpy()
        assert _turn_of(datamodule.cluster_spec.physical(kept, "phi"), datamodule.cluster_spec.physical(moved, "phi"), 32) == (step, mirror)
    assert len(_datamodule(hit_file, test_time_views=63).prediction_views()) == 64
    with pytest.raises(ValueError, match="test_time_views: 64 views asked, but the 'califa' calorimeter offers 63 turns"):
        _datamodule(hit_file, test_time_views=64)


def test_views_average_the_pair_probabilities() -> None:
    logits = [np.array([[[0.0, 2.0], [-1.0, 30.0]]]), np.array([[[1.0, -2.0], [-1.0, 60.0]]])]
    merged = average_pair_views([{"pairs": value} for value in logits])["pairs"]
    expected = np.mean([1 / (1 + np.exp(-value)) for value in logits], axis=0)
    assert np.allclose(1 / (1 + np.exp(-merged.astype(np.float64))), expected, atol=1e-6)
    with pytest.raises(ValueError, match=r"the outputs \['objects'\] have no such average"):
        average_pair_views([{"objects": logits[0]}, {"objects": logits[1]}])
    # read one after the other (an ensemble's networks predict when asked): the same mean from a generator
    made = []
    streamed = average_pair_views(made.append(k) or {"pairs": value} for k, value in enumerate(logits))["pairs"]
    assert made == [0, 1] and np.array_equal(streamed, merged)
    with pytest.raises(ValueError, match=r"the outputs to average differ: \['cluster_pairs'\] against \['pairs'\]"):
        average_pair_views([{"pairs": logits[0]}, {"cluster_pairs": logits[1]}])
    with pytest.raises(ValueError, match=r"'pairs' outputs to average differ in shape: \(1, 3, 3\) against \(1, 2, 2\)"):
        average_pair_views([{"pairs": logits[0]}, {"pairs": np.zeros((1, 3, 3))}])


def test_test_time_views_are_refused_before_training_where_they_cannot_work() -> None:
    toy = {"simulate": {"config": {"geometry": "toy_grid"}}, "test_time_views": 2}
    assert own_problems(CalorimeterDataModule, toy, "data.params") == [
        "data.params.test_time_views: 2 views asked, but the 'toy_grid' calorimeter offers 0 turns and mirrors about the "
        "beam axis besides the identity"]
    examples = Path(__file__).resolve().parents[1] / "examples"
    assert new_run_problems(load_config(examples / "calorimeter_transformer.yaml", ["data.params.test_time_views=3"])) == []
    assert new_run_problems(load_config(examples / "calorimeter_condensation.yaml", ["data.params.test_time_views=3"])) == [
        "data.params.test_time_views: the views average the same-cluster probabilities of pairs; the network "
        "hit_condensation returns ['objects']: set it to 0"]
    assert "an estimator does not give" in new_run_problems(
        load_config(examples / "calorimeter_r3b_window.yaml", ["data.params.test_time_views=3"]))[0]


def test_the_caption_names_the_simulation_seed_or_the_files(hit_file: Path) -> None:
    """Runs on other events (another simulation seed) must not share one caption on the board."""
    simulated = {"events": 100, "config": {"n_gammas": 3}}
    assert CalorimeterDataModule(simulate=simulated, seed=3).describe() == "simulated calorimeter events (100 events, seed 3)"
    assert CalorimeterDataModule(simulate={**simulated, "seed": 7}, seed=3).describe().endswith("(100 events, seed 7)")
    assert CalorimeterDataModule(files=[str(hit_file)]).describe() == f"hit files {hit_file.name}"
