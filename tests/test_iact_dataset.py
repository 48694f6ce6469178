"""The iact DataModule and dataset: splits, cuts, weights, transforms, lazy multi-worker loading."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import default_collate
from ctapipe.image import apply_time_delta_cleaning, tailcuts_clean

from iact_runs import EXAMPLES
from showerlearn.data.files import expand_patterns
from showerlearn.data.sampling import flattening_weights
from showerlearn.iact.data import IACTDataModule, IACTDataset, open_dl1
from showerlearn.iact.data.cuts import Cuts, add_image_parameters, cut_masks
from showerlearn.iact.data.transforms import CleaningConfig, ImageTransform, TransformConfig
from showerlearn.iact.geometry import lst_camera
from showerlearn.registry import DATAMODULES


def all_files(shared_data: Path) -> list[str]:
    return [str(shared_data / "iact/dl1_ctapipe/*.h5"), str(shared_data / "iact/dl1_lstchain/*.h5")]


def test_registered_and_two_worker_loader_sees_every_training_event_once(shared_data: Path) -> None:
    assert DATAMODULES.get("iact") is IACTDataModule
    module = IACTDataModule(files=all_files(shared_data), batch_size=5, num_workers=2, seed=3, cleaning={"as": "channel"})
    module.setup("fit")
    assert sum(len(p) for p in module.parts.values()) == 78  # every image of the six files
    seen = []
    for batch in module.train_dataloader():
        assert batch["inputs"].shape[1:] == (3, 1855)
        assert batch["inputs"].dtype == torch.float32
        assert batch["targets"]["direction"].shape[1:] == (2,)
        assert batch["targets"]["particle"].dtype == torch.int64
        for head in ("energy", "direction", "impact"):  # regression heads only learn from gammas
            np.testing.assert_array_equal(batch["masks"][head].numpy(), batch["meta"]["true_shower_primary_id"].numpy() == 0)
        seen.extend(zip(batch["meta"]["obs_id"].tolist(), batch["meta"]["event_id"].tolist(), batch["meta"]["tel_id"].tolist(), strict=True))
    assert len(seen) == len(set(seen)) == len(module.parts["train"])
    inputs = module.model_inputs()
    assert inputs["in_channels"] == 3 and inputs["n_classes"] == 2
    assert inputs["lattice"].n_pixels == inputs["camera"].n_pixels == 1855


@pytest.mark.slow
def test_splits_are_reproducible_and_by_file_keeps_files_apart(shared_data: Path) -> None:
    def parts(seed: int, by: str, split_seed: int | None = None) -> IACTDataModule:
        split = {"by": by, "fractions": (0.5, 0.25, 0.25), "seed": split_seed}
        module = IACTDataModule(files=all_files(shared_data), seed=seed, split=split)
        module.setup("fit")
        return module

    a, b = parts(1, "event"), parts(1, "event")
    for name in ("train", "val", "test"):
        np.testing.assert_array_equal(a.parts[name], b.parts[name])
    assert not set(a.parts["train"]) & set(a.parts["test"])
    # the experiment seed redraws the split unless the split has its own seed
    assert not np.array_equal(parts(2, "event").parts["test"], a.parts["test"])
    np.testing.assert_array_equal(parts(2, "event", split_seed=1).parts["test"], a.parts["test"])
    by_file = parts(2, "file")
    file_of = by_file._columns["file_index"]
    split_files = [set(file_of[by_file.parts[name]]) for name in ("train", "val", "test")]
    assert not (split_files[0] & split_files[1]) and not (split_files[0] & split_files[2]) and not (split_files[1] & split_files[2])
    # by shower: every image of one shower (its telescopes, its CORSIKA reuses, event_id // 100) in one split
    by_shower = parts(2, "shower")
    columns = by_shower._columns
    shower = {name: {(columns["file_index"][i], columns["obs_id"][i], columns["event_id"][i] // 100)
                     for i in by_shower.parts[name]} for name in ("train", "val", "test")}  # fmt: skip
    assert not (shower["train"] & shower["test"]) and not (shower["train"] & shower["val"]) and not (shower["val"] & shower["test"])
    assert sum(len(by_shower.parts[name]) for name in shower) == sum(len(a.parts[name]) for name in shower)


def test_split_settings_draw_the_same_split_as_the_tabular_module(shared_data: Path, tmp_path: Path) -> None:
    """``split: {fractions, seed}`` means the same for both DataModules: the 78 events of the files are
    drawn like the 78 rows of a table."""
    from showerlearn.data.tabular import TableSource, TabularDataModule

    split = {"fractions": (0.5, 0.25, 0.25), "seed": 11}
    iact = IACTDataModule(files=all_files(shared_data), seed=1, split=split)
    iact.setup("fit")
    table = tmp_path / "rows.csv"
    table.write_text("x,label\n" + "".join(f"{row},{row % 2}\n" for row in range(78)))
    tabular = TabularDataModule(TableSource(path=table), features=["x"], label="label", split=split, seed=2)
    for name in ("train", "val", "test"):
        np.testing.assert_array_equal(iact.parts[name], tabular.parts[name])


def test_raw_arrays_are_the_files_charges_and_peak_times(shared_data: Path) -> None:
    """What estimators computing physics features get (Hillas + RF): p.e. and ns as the files hold them, not the
    network's scaled inputs (a time divided by 10 made lstchain's 2 ns time cleaning act as 20 ns)."""
    source = shared_data / "iact/dl1_lstchain/dl1_gamma_example.h5"
    module = IACTDataModule(files=[str(source)], split={"fractions": (1.0, 0.0, 0.0), "seed": 0})
    module.setup("fit")
    x, _, _, _ = module.arrays("train", raw=True)
    with open_dl1(source) as file:
        events = file.read(module.train_set.row)  # the training split's rows of the one file
    np.testing.assert_allclose(x[:, 0], events["image"], rtol=1e-6)
    np.testing.assert_allclose(x[:, 1], events["peak_time"], rtol=1e-6)


def test_cuts_select_what_they_say(shared_data: Path) -> None:
    module = IACTDataModule(
        files=all_files(shared_data),
        split={"fractions": (1.0, 0.0, 0.0)},
        cuts={"particle_types": ["gamma"], "min_energy": 0.05, "max_energy": 3.0, "min_intensity": 100, "max_leakage": 0.2, "max_n_islands": 1},
    )
    module.setup("fit")
    x, targets, masks, meta = module.arrays("train")
    assert len(x) > 0
    assert np.all(meta["true_shower_primary_id"] == 0)  # the muon file (id 2) is gone
    assert np.all((meta["true_energy"] >= 0.05) & (meta["true_energy"] <= 3.0))
    assert np.all(meta["hillas_intensity"] >= 100)
    columns = module._columns
    expected = (
        (columns["true_shower_primary_id"] == 0) & (columns["true_energy"] >= 0.05) & (columns["true_energy"] <= 3.0)
        & (columns["intensity"] >= 100) & (columns["leakage"] <= 0.2) & (columns["n_islands"] <= 1)
    )
    assert len(x) == expected.sum()
    # each quality cut alone removes some gammas in the energy range: none is checked vacuously on these files
    in_range = (columns["true_shower_primary_id"] == 0) & (columns["true_energy"] >= 0.05) & (columns["true_energy"] <= 3.0)
    fails = {"intensity": columns["intensity"] < 100, "leakage": columns["leakage"] > 0.2, "n_islands": columns["n_islands"] > 1}
    for name, failed in fails.items():
        only_this = failed & ~np.logical_or.reduce([other for key, other in fails.items() if key != name])
        assert (in_range & only_this).any(), f"the {name} cut alone removes nothing here"


def test_image_parameters_computed_like_ctapipe_process(shared_data: Path) -> None:
    """Files without a parameters table get intensity/leakage/islands from our cleaning; with
    ctapipe-process's tailcuts (10, 5) they equal what ctapipe-process wrote."""
    transform = ImageTransform(lst_camera(), CleaningConfig(picture_thresh=10, boundary_thresh=5), TransformConfig())
    with open_dl1(shared_data / "iact/dl1_ctapipe/test_lasercal_v3.lst.ctapipe0.28_v7.1.0.dl1.h5") as file:
        written = {name: file.columns.pop(name) for name in ("intensity", "leakage", "n_islands")}
        add_image_parameters(file, transform, chunk_size=3)
        for name, values in written.items():
            np.testing.assert_allclose(file.columns[name], values, rtol=1e-5, err_msg=name)


def test_lstchain_cleaning_defines_the_input_and_the_selected_intensity(shared_data: Path) -> None:
    """With lstchain's time constraint and dynamic cleaning on, the input mask and the intensity the cuts
    read are those of ctapipe's tailcuts followed by ``apply_time_delta_cleaning`` (dynamic: no image here
    is that bright)."""
    cleaning = CleaningConfig(picture_thresh=6, boundary_thresh=3, delta_time=2.0, dynamic_threshold=1e6, **{"as": "mask"})
    camera = lst_camera()
    transform = ImageTransform(camera, cleaning, TransformConfig(charge="none", time="none"))
    with open_dl1(shared_data / "iact/dl1_ctapipe/test_lasercal_v3.lst.ctapipe0.28_v7.1.0.dl1.h5") as file:
        events = file.read(slice(0, 8))
        file.columns.pop("intensity")
        add_image_parameters(file, transform)
        intensity = file.columns["intensity"][:8]
    removed = 0
    for image, time, selected in zip(events["image"], events["peak_time"], intensity, strict=True):
        tailcuts = tailcuts_clean(camera, image, picture_thresh=6, boundary_thresh=3, min_number_picture_neighbors=2)
        expected = apply_time_delta_cleaning(camera, tailcuts, time, min_number_neighbors=1, time_limit=2.0)
        removed += tailcuts.sum() - expected.sum()
        np.testing.assert_array_equal(transform(image, time)[0] != 0, expected & (image != 0))
        assert selected == pytest.approx(image[expected].sum())
    assert removed > 0  # the time constraint acts on these events


def test_transforms_against_naive_formulas(shared_data: Path) -> None:
    with open_dl1(shared_data / "iact/dl1_ctapipe/lst_muons.lst.dl1.h5") as file:
        event = file.read([0])
    image, time = event["image"][0], event["peak_time"][0]
    camera = lst_camera()
    mask = ImageTransform(camera, CleaningConfig(), TransformConfig()).clean(image, time)
    assert 10 < mask.sum() < 1855
    log = ImageTransform(camera, CleaningConfig(**{"as": "mask"}), TransformConfig(time_scale=2.0))(image, time)
    assert log.shape == (2, 1855)
    np.testing.assert_allclose(log[0][mask], np.sign(image[mask]) * np.log(1 + np.abs(image[mask])), rtol=1e-5)
    assert np.all(log[:, ~mask] == 0)
    np.testing.assert_allclose(log[1][mask], (time[mask] - time[mask].mean()) / 2.0, rtol=1e-4, atol=1e-5)
    scaled = ImageTransform(camera, CleaningConfig(**{"as": "channel"}), TransformConfig(charge="scale", charge_scale=50.0, time="none"))(image, time)
    assert scaled.shape == (3, 1855)
    np.testing.assert_allclose(scaled[0], image / 50.0, rtol=1e-6)
    np.testing.assert_allclose(scaled[1], time / 10.0, rtol=1e-6)
    np.testing.assert_array_equal(scaled[2], mask.astype(np.float32))


def test_class_balance_weights(shared_data: Path) -> None:
    module = IACTDataModule(files=all_files(shared_data), class_balance="balanced", split={"fractions": (1.0, 0.0, 0.0)})
    module.setup("fit")
    _, targets, _, _ = module.arrays("train")
    weights = module.train_set.weights
    n_gamma, n_other = np.sum(targets["particle"] == 0), np.sum(targets["particle"] == 1)
    assert weights[targets["particle"] == 0][0] * n_gamma == pytest.approx(weights[targets["particle"] == 1][0] * n_other)
    assert weights.mean() == pytest.approx(1.0)
    fixed = IACTDataModule(files=all_files(shared_data), class_balance={"proton": 3.0}, split={"fractions": (1.0, 0.0, 0.0)})
    fixed.setup("fit")
    assert set(fixed.train_set.weights[fixed.train_set.targets["particle"] == 1]) == {3.0}


def test_energy_sampling_weights_reach_the_training_loader(shared_data: Path) -> None:
    plain = IACTDataModule(files=all_files(shared_data), split={"fractions": (1.0, 0.0, 0.0)})
    plain.setup("fit")
    assert plain.sampling_weights() is None and plain.train_dataloader().sampler.weights is None
    module = IACTDataModule(files=all_files(shared_data), split={"fractions": (1.0, 0.0, 0.0)},
                            energy_sampling={"flatten": 1.0, "bins": 4})
    module.setup("fit")
    energy, particle = module.train_set.meta["true_energy"], module.train_set.targets["particle"]
    expected = flattening_weights(np.log10(energy), particle, 1.0, bins=4, max_weight=20.0)
    np.testing.assert_allclose(module.train_dataloader().sampler.weights.numpy(), expected)
    high = energy > np.median(energy)
    assert expected[high].mean() > expected[~high].mean()  # the rarer high energies are drawn more often
    with pytest.raises(RuntimeError, match="energy_sampling needs the training split"):
        IACTDataModule(files=all_files(shared_data), energy_sampling={"flatten": 0.5}).sampling_weights()


def test_the_model_learns_which_input_channel_is_the_cleaning_mask(shared_data: Path) -> None:
    from showerlearn.config import load_config
    from showerlearn.engine.runner import build_datamodule, build_module

    module = IACTDataModule(files=all_files(shared_data), cleaning={"as": "channel"})
    assert module.model_inputs()["channel_names"] == ("charge", "peak_time", "cleaning_mask")
    config = load_config(EXAMPLES / "gamma_physnet_da_small.yaml", [
        f"data.params.files=[{','.join(all_files(shared_data))}]", "data.params.simulate=null",
        "data.params.cleaning.as=channel", "model.params.direction_head=axis"])
    assert build_module(config, build_datamodule(config)).model.moments.mask_channel == 2


def test_dataset_keeps_at_most_max_open_files(shared_data: Path) -> None:
    module = IACTDataModule(files=all_files(shared_data), max_open_files=2, split={"fractions": (1.0, 0.0, 0.0)})
    module.setup("fit")
    dataset: IACTDataset = module.train_set
    for i in range(len(dataset)):
        dataset[i]
        assert len(dataset._open_files) <= 2
    open_handles = [f for f in dataset.files if f._h5 is not None]
    assert len(open_handles) <= 2


@pytest.mark.parametrize(("augment", "mode"), [(False, True), (True, True), (True, "memmap")])
def test_in_memory_splits_give_the_same_events_as_reading_from_the_files(
    shared_data: Path, tmp_path: Path, augment: bool, mode: bool | str
) -> None:
    """Six files of two formats, read in chunks out of event order: every item as the lazy read gives it."""
    options = dict(files=all_files(shared_data), seed=5, cleaning={"as": "mask"}, augment={"enabled": augment}, cache_dir=tmp_path)
    lazy, cached = IACTDataModule(**options), IACTDataModule(**options, in_memory=mode)
    lazy.setup("fit")
    cached.setup("fit")
    assert not cached.train_set.loaded  # not before training asks for the loaders
    cached.train_dataloader(), cached.val_dataloader()
    assert cached.train_set.loaded and cached.val_set.loaded and not cached.test_set.loaded
    for name in ("train_set", "val_set"):
        a, b = getattr(lazy, name), getattr(cached, name)
        for i in range(len(a)):
            torch.manual_seed(i)  # the same augmentation draw for both
            x = a[i]
            torch.manual_seed(i)
            y = b[i]
            torch.testing.assert_close(y["inputs"], x["inputs"], rtol=0, atol=0)
            for key in ("targets", "meta"):
                for column in x[key]:
                    torch.testing.assert_close(y[key][column], x[key][column], rtol=0, atol=0, equal_nan=True)
    cached.val_set[0]["inputs"].add_(1.0)  # an item edited in place must not change the stored image
    torch.testing.assert_close(cached.val_set[0]["inputs"], lazy.val_set[0]["inputs"], rtol=0, atol=0)


@pytest.mark.parametrize("augment", [False, True])
def test_a_batch_read_at_once_equals_its_events_read_one_by_one(shared_data: Path, augment: bool) -> None:
    """Events of several files out of order: the stacked batch of ``__getitems__`` (one read per file, cleaned
    together) holds what the events give one by one, and the loaders pass it through as it is."""
    module = IACTDataModule(files=all_files(shared_data), seed=5, cleaning={"as": "mask"}, augment={"enabled": augment})
    module.setup("fit")
    dataset = module.train_set
    order = np.random.default_rng(0).permutation(len(dataset))[:40]
    assert len(np.unique(dataset.file_index[order])) > 2
    torch.manual_seed(3)
    batch = dataset.__getitems__(order.tolist())
    torch.manual_seed(3)  # the same augmentation draws, event after event
    events = default_collate([dataset[int(i)] for i in order])
    torch.testing.assert_close(batch, events, rtol=0, atol=0, equal_nan=True)
    loaded = next(iter(module.train_dataloader()))
    n = min(module.batch_size, len(dataset))
    assert loaded["inputs"].shape == (n, 2, 1855) and loaded["weights"].shape == (n,)


def test_memmap_inputs_are_written_once_reused_and_checked(shared_data: Path, tmp_path: Path) -> None:
    options = dict(files=all_files(shared_data), seed=5, cleaning={"as": "mask"}, cache_dir=tmp_path, in_memory="memmap")
    first = IACTDataModule(**options)
    first.setup("fit")
    first.train_dataloader()
    stores = sorted((tmp_path / "inputs").glob("*.npy"))
    assert len(stores) == 1 and not list((tmp_path / "inputs").glob(".*"))  # no temporary file left
    written = stores[0].stat().st_mtime_ns
    again = IACTDataModule(**options)
    again.setup("fit")
    again.train_dataloader()
    assert stores[0].stat().st_mtime_ns == written  # mapped, not written again
    torch.testing.assert_close(again.train_set[3], first.train_set[3], rtol=0, atol=0, equal_nan=True)
    # pickled as for a loader worker started by spawn: the store's path travels, not its images
    assert again.train_set.__getstate__()["_inputs"] is None
    unpickled = pickle.loads(pickle.dumps(again.train_set))
    assert isinstance(unpickled._inputs, np.memmap)
    torch.testing.assert_close(unpickled[3], first.train_set[3], rtol=0, atol=0, equal_nan=True)
    other = IACTDataModule(**{**options, "transforms": {"charge": "scale"}})  # other inputs: another file
    other.setup("fit")
    other.train_dataloader()
    assert len(list((tmp_path / "inputs").glob("*.npy"))) == 2
    np.save(stores[0], np.zeros((2, 2), dtype=np.float32))  # not this split's inputs
    broken = IACTDataModule(**options)
    broken.setup("fit")
    with pytest.raises(ValueError, match=r"inputs_.*\.npy: holds float32 inputs of shape \(2, 2\).*delete it"):
        broken.train_dataloader()


def test_prediction_inputs_without_truth(shared_data: Path, tmp_path: Path) -> None:
    import shutil

    import tables

    path = tmp_path / "real_like.h5"
    shutil.copy(shared_data / "iact/dl1_ctapipe/gamma_test.lst.dl1.h5", path)
    path.chmod(0o644)
    with tables.open_file(path, "a") as h5:
        h5.remove_node("/simulation", recursive=True)
    module = IACTDataModule(files=all_files(shared_data), cuts={"particle_types": ["gamma"]})
    module.use_prediction_inputs([path])
    module.setup("predict")
    batch = next(iter(module.predict_dataloader()))
    assert len(batch["inputs"]) == 9
    assert not batch["masks"]["particle"].any()
    assert torch.isnan(batch["meta"]["true_energy"]).all()


def test_params_are_validated() -> None:
    with pytest.raises(ValueError, match="iact data: files, simulate: neither given; give exactly one: `files`"):
        IACTDataModule()
    with pytest.raises(ValueError, match="sum to 1"):
        IACTDataModule(files=["x.h5"], split={"fractions": (0.5, 0.2, 0.2)})
    with pytest.raises(ValueError, match="unknown particle type"):
        IACTDataModule(files=["x.h5"], cuts={"particle_types": ["photon"]})
    with pytest.raises(ValueError, match="not symmetries"):  # the simulator's camera is known at once
        IACTDataModule(simulate={"events": 10}, augment={"enabled": True, "ops": ["flip45"]})


def test_simulated_data_is_generated_once_and_cached(tmp_path: Path) -> None:
    pytest.importorskip("showerlearn.iact.simulation", reason="the IACT simulator is not available")
    spec = {"events": 40, "config": {"chunk_size": 20}}
    module = IACTDataModule(simulate=spec, cache_dir=tmp_path, seed=5, cuts={"min_intensity": 1})
    module.setup("fit")
    (path,) = tmp_path.glob("iact_*_seed5.dl1.h5")
    assert module.files[0].path == path and module.files[0].has_truth
    stamp = path.stat().st_mtime_ns
    again = IACTDataModule(simulate=spec, cache_dir=tmp_path, seed=5)
    assert again.resolve_files() == [path] and path.stat().st_mtime_ns == stamp  # reused, not re-simulated
    other = IACTDataModule(simulate=spec, cache_dir=tmp_path, seed=6).resolve_files()[0]
    assert other != path and other.is_file()
    batch = next(iter(module.train_dataloader()))
    assert batch["inputs"].shape[1:] == (2, 1855)


def test_overlapping_file_patterns_read_each_file_once(shared_data: Path, tmp_path: Path) -> None:
    """Two patterns naming one file (a glob and the file itself, or a path written two ways) must not read its
    events twice, into two splits."""
    folder = shared_data / "iact/dl1_lstchain"
    patterns = [str(folder / "*.h5"), str(folder / "dl1_gamma_example.h5"), str(folder / ".." / "dl1_lstchain" / "dl1_gamma_example.h5")]
    assert expand_patterns(patterns, "test") == sorted(folder.glob("*.h5"))


def test_an_image_without_islands_fails_the_islands_cut() -> None:
    """ctapipe writes n_islands = -1 for an image no pixel survived cleaning: nothing there to keep."""
    (passes,) = cut_masks({"n_islands": np.array([-1, 0, 1, 2, 3])}, Cuts(max_n_islands=2)).values()
    assert passes.tolist() == [False, False, True, True, False]


def test_files_to_predict_keep_the_quality_cuts_and_drop_the_truth_cuts() -> None:
    """A file to predict has no truth: its events are selected by the image cuts alone."""
    cuts = Cuts(min_intensity=50.0, max_leakage=0.2, particle_types=["gamma"], min_energy=0.1, max_energy=10.0)
    assert cuts.without_truth() == Cuts(min_intensity=50.0, max_leakage=0.2)
    assert cuts.without_truth().describe() == "cuts: intensity >= 50.0 p.e., leakage <= 0.2"


def test_the_cleaning_setting_as_is_one_setting_by_either_name() -> None:
    """``as_`` (its Python name) in a config extending one that sets ``as`` (every IACT example) was refused as an
    unknown key "did you mean 'as_'"."""
    assert CleaningConfig.model_validate({"as": "mask", "as_": "mask"}).as_ == "mask"
    assert CleaningConfig.model_validate({"as_": "channel"}).as_ == "channel"
    with pytest.raises(ValueError, match=r"`as` \('mask'\) and `as_` \('channel'\) name one setting and both are given"):
        CleaningConfig.model_validate({"as": "mask", "as_": "channel"})
