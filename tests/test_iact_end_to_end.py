"""The IACT chain end to end on a tiny simulated file: simulate -> train gamma-PhysNet-DA and the
Hillas + RF baseline through the same engine -> predictions with the same columns -> metrics ->
predict on real DL1 files."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import tables
import torch
from sklearn.metrics import roc_auc_score
from typer.testing import CliRunner

from showerlearn.cli.main import app
from showerlearn.config import load_config
from showerlearn.engine.run_dir import RunDir
from showerlearn.engine.runner import build_datamodule, build_module, train
from showerlearn.engine.predict import predict_files
from showerlearn.io.tables import read_columns, read_tables
from iact_runs import EXAMPLES, PNG_FIGURES, TINY, TINY_DATA, TINY_RUN

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def network_and_baseline(tiny_small_example: RunDir, iact_workspace: list[str]) -> tuple[RunDir, RunDir]:
    overrides = [*iact_workspace, *TINY_DATA, *TINY_RUN, *PNG_FIGURES]
    baseline = train(load_config(EXAMPLES / "hillas_rf_small.yaml", overrides), progress=False)
    return tiny_small_example, baseline


def test_network_and_baseline_share_data_and_columns(network_and_baseline: tuple[RunDir, RunDir],
                                                    iact_workspace: list[str]) -> None:
    network, baseline = network_and_baseline
    ours, theirs = read_columns(network.predictions_file), read_columns(baseline.predictions_file)
    # same test events, same truth, same prediction columns
    np.testing.assert_array_equal(ours["event_id"], theirs["event_id"])
    np.testing.assert_array_equal(ours["true_energy"], theirs["true_energy"])
    expected = {"gammaness", "reco_energy", "reco_alt", "reco_az", "reco_core_x", "reco_core_y"}
    assert expected <= set(ours) and expected <= set(theirs)
    for run in (network, baseline):
        scalars = run.metrics()["scalars"]
        assert scalars["n_gamma"] > 0 and scalars["n_proton"] > 0
        assert 0.0 <= scalars["auc"] <= 1.0
        assert (run.plots / "angular_resolution_vs_true_energy.png").is_file()
        assert (run.plots / "camera_examples.png").is_file()  # inputs drawn on the hexagonal camera
        assert not (run.plots / "camera_examples.pdf").exists(), "in the run's figure formats only (PNG_FIGURES)"
    # the simulated production comes from the file itself (its run rows): the effective area needs no setting
    simulated = network.status()["evaluation_defaults"]["simulated"]
    cache = Path(next(item for item in iact_workspace if item.startswith("data.params.cache_dir=")).split("=", 1)[1])
    with tables.open_file(next(cache.rglob("*.dl1.h5"))) as file:
        thrown = file.get_node("/configuration/simulation/run").attrs["showerlearn_n_thrown_gamma"]
    assert simulated["n_showers"] == thrown and simulated["max_impact"] > 0
    assert "effective_area_vs_true_energy" in network.metrics()["curves"]
    # the baseline on this toy set is already decent: the chain carries real information
    assert theirs["gammaness"][theirs["true_shower_primary_id"] == 0].mean() > theirs["gammaness"][
        theirs["true_shower_primary_id"] == 101
    ].mean()


def test_ensemble_of_runs_through_the_cli(network_and_baseline: tuple[RunDir, RunDir], tmp_path: Path) -> None:
    network, baseline = network_and_baseline
    output = tmp_path / "ensemble"
    result = CliRunner().invoke(app, ["ensemble", str(network.path), str(baseline.path), "--output", str(output)])
    assert result.exit_code == 0, result.output
    members = [read_columns(run.predictions_file) for run in (network, baseline)]
    averaged = read_columns(output / "predictions.h5")
    np.testing.assert_array_equal(averaged["event_id"], members[0]["event_id"])
    # images Hillas could not parametrise: the baseline's stand-in values do not vote
    valid = members[1]["hillas_valid"].astype(bool)
    mean = (members[0]["gammaness"] + members[1]["gammaness"]) / 2
    np.testing.assert_allclose(averaged["gammaness"], np.where(valid, mean, members[0]["gammaness"]))
    energy = np.sqrt(members[0]["reco_energy"] * members[1]["reco_energy"])
    np.testing.assert_allclose(averaged["reco_energy"], np.where(valid, energy, members[0]["reco_energy"]))
    ensemble_run = RunDir.existing(output)
    is_gamma = averaged["true_shower_primary_id"] == 0
    assert ensemble_run.metrics()["scalars"]["auc"] == pytest.approx(roc_auc_score(is_gamma, averaged["gammaness"]))
    assert (ensemble_run.plots / "angular_resolution_vs_true_energy.png").is_file()
    description = json.loads((output / "ensemble.json").read_text())
    assert [m["path"] for m in description["members"]] == [str(network.path.resolve()), str(baseline.path.resolve())]
    assert description["members"][1]["estimator"] == "hillas_rf"
    assert ensemble_run.status()["test_share"] == network.status()["test_share"] < 1  # the members' test split
    # the board compares it like any run
    board = CliRunner().invoke(app, ["board", str(output), str(network.path), "--output", str(tmp_path / "board.html")])
    assert board.exit_code == 0, board.output

    # an existing result is never overwritten, one run is no ensemble: clear errors, nothing written
    before = (output / "predictions.h5").read_bytes()
    again = CliRunner().invoke(app, ["ensemble", str(network.path), str(baseline.path), "--output", str(output)])
    assert again.exit_code == 1 and "exists and is not an empty folder" in " ".join(again.output.split())
    assert (output / "predictions.h5").read_bytes() == before
    single = CliRunner().invoke(app, ["ensemble", str(network.path), "--output", str(tmp_path / "single")])
    assert single.exit_code == 1 and "at least 2 runs" in " ".join(single.output.split())
    assert not (tmp_path / "single").exists()
    assert not list(tmp_path.glob(".*partial*"))


def test_a_baseline_prediction_of_no_event_has_the_columns_of_any_other(
    network_and_baseline: tuple[RunDir, RunDir], shared_data: Path, tmp_path: Path
) -> None:
    """Hillas + RF's own columns (``hillas_valid``, ``hillas_intensity``) also in an output whose events the cuts
    all removed, kept as invalid rows or not."""
    _, baseline = network_and_baseline
    source = shared_data / "iact/dl1_lstchain/dl1_gamma_example.h5"
    (some,) = predict_files(baseline.path, [source], tmp_path / "some", progress=False)
    expected = read_tables(some.output)["predictions"]
    assert len(expected["hillas_valid"]) > 0
    nothing_passes = ["data.params.cuts.min_intensity=1e12", "data.params.cuts.max_intensity=1e13"]
    for keep_invalid in (False, True):
        (none,) = predict_files(baseline.path, [source], tmp_path / f"none_{keep_invalid}", nothing_passes,
                                keep_invalid=keep_invalid, progress=False)
        assert none.events_predicted == 0
        got = read_tables(none.output)["predictions"]
        flag = got.pop("valid", np.zeros(0, bool))  # the invalid rows' flag
        assert [(name, got[name].dtype) for name in got] == [(name, expected[name].dtype) for name in expected]
        assert len(flag) == len(got["hillas_valid"]) if keep_invalid else not len(flag)
        assert len(got["hillas_valid"]) == (none.events_read if keep_invalid else 0)
        assert not got["hillas_valid"].any()
        assert (got["hillas_intensity"] < 1e12).all()  # the file's intensity: why the cut removed the event


def test_training_steps_reduce_loss_mask_protons_and_move_uncertainty_weights(iact_workspace: list[str]) -> None:
    config = load_config(EXAMPLES / "gamma_physnet_da_small.yaml", [*iact_workspace, *TINY])
    torch.manual_seed(0)
    datamodule = build_datamodule(config)
    datamodule.setup("fit")
    module = build_module(config, datamodule)
    batch = next(iter(datamodule.train_dataloader()))
    protons = batch["targets"]["particle"] == 1
    assert protons.any() and (~protons).any()
    assert not batch["masks"]["energy"][protons].any()  # regression masked to gammas

    # changing the energy target of protons must not change the energy loss
    losses = module.head_losses(module(batch["inputs"]), batch)
    corrupted = {**batch, "targets": {**batch["targets"], "energy": batch["targets"]["energy"].clone()}}
    corrupted["targets"]["energy"][protons] += 100.0
    assert torch.equal(module.head_losses(module(batch["inputs"]), corrupted)["energy"], losses["energy"])

    optimizer = module.configure_optimizers()["optimizer"]
    start = None
    for _ in range(15):
        optimizer.zero_grad()
        total = module.balancer(module.head_losses(module(batch["inputs"]), batch))
        total.backward()
        balancer_grads = [p.grad for p in module.balancer.parameters()]
        assert balancer_grads and all(g is not None and g.abs().sum() > 0 for g in balancer_grads)
        optimizer.step()
        start = total.item() if start is None else start
    assert total.item() < start


def test_predict_on_real_dl1_files(iact_workspace: list[str], shared_data: Path, tmp_path: Path) -> None:
    cache = tmp_path / "training_cache"
    # the paper's flattened heads (the small examples use the translation-invariant ones: next test)
    paper_heads = ["model.params.direction_head=flatten", "model.params.particle_head=flatten"]
    overrides = [*iact_workspace, *TINY, *paper_heads, f"data.params.cache_dir={cache}"]
    network = train(load_config(EXAMPLES / "gamma_physnet_small.yaml", overrides), progress=False)
    shutil.rmtree(cache)  # prediction must not need the training data (nor re-simulate it)
    output = tmp_path / "real"  # one predictions file per input in this folder
    files = [shared_data / "iact/dl1_ctapipe/gamma_test.lst.dl1.h5", shared_data / "iact/dl1_lstchain/dl1_gamma_example.h5"]
    args = ["predict", str(network.path), "--output", str(output)]
    for file in files:
        args += ["--input", str(file)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    for file in files:
        columns = read_columns(output / f"{file.stem}.predictions.h5")
        assert len(columns["event_id"]) > 0
        assert np.isfinite(columns["reco_alt"]).all() and np.isfinite(columns["gammaness"]).all()
        # real LST MC gammas: truth carried through, reconstructed direction near the pointing
        assert (columns["true_shower_primary_id"] == 0).all()
        assert np.abs(columns["reco_alt"] - columns["pointing_alt"]).max() < 10.0
    assert not cache.exists()


def test_voting_and_pooled_heads_train_save_and_predict_real_files(
    tiny_small_example: RunDir, shared_data: Path, tmp_path: Path
) -> None:
    """The translation-invariant heads (the small example's: direction by pixel votes, particle type from
    the pooled features) through the engine: checkpoint, reload with the camera and focal length injected
    from other files, and prediction on real DL1 files."""
    network = tiny_small_example
    heads = load_config(network.config_file).model.params
    assert heads["direction_head"] == "vote" and heads["particle_head"] == "pool"
    predicted = read_columns(network.predictions_file)
    assert np.isfinite(predicted["reco_alt"]).all() and np.isfinite(predicted["gammaness"]).all()
    output = tmp_path / "real"
    real = shared_data / "iact/dl1_lstchain/dl1_gamma_example.h5"
    result = CliRunner().invoke(app, ["predict", str(network.path), "--input", str(real), "--output", str(output)])
    assert result.exit_code == 0, result.output
    columns = read_columns(output / "dl1_gamma_example.predictions.h5")
    assert len(columns["event_id"]) > 0 and np.isfinite(columns["reco_alt"]).all()
    # the vote lies inside the camera's field of view around the pointing (LSTCam: ~2.2 deg radius)
    assert np.abs(columns["reco_alt"] - columns["pointing_alt"]).max() < 3.0

    # again with test-time augmentation, and on the run's own test split: the run's predictions back
    augmented = tmp_path / "real_tta"
    tta = ["--set", "data.params.augment.test_time=true"]
    result = CliRunner().invoke(app, ["predict", str(network.path), "--input", str(real), "--output", str(augmented), *tta])
    assert result.exit_code == 0, result.output
    averaged = read_columns(augmented / "dl1_gamma_example.predictions.h5")
    np.testing.assert_array_equal(averaged["event_id"], columns["event_id"])
    assert np.isfinite(averaged["reco_alt"]).all() and not np.allclose(averaged["reco_alt"], columns["reco_alt"])
    again = tmp_path / "test_split.h5"
    result = CliRunner().invoke(app, ["predict", str(network.path), "--output", str(again)])
    assert result.exit_code == 0, result.output
    np.testing.assert_allclose(read_columns(again)["gammaness"], predicted["gammaness"], rtol=1e-6)


def test_test_time_augmentation_averages_the_views_turned_back(iact_workspace: list[str], tmp_path: Path) -> None:
    """Reference: each view decoded on its own, through the per-event camera orientation of the
    decoder (``camera_rotation``, ``camera_reflected``) rather than the merger's inverse maps."""
    from showerlearn.iact.data.augment import camera_symmetries
    from showerlearn.iact.data.targets import decode_outputs, encode_direction
    from showerlearn.engine.run_dir import RunDir
    from showerlearn.engine.runner import predict_outputs
    from showerlearn.iact.geometry import lst_camera

    symmetries = camera_symmetries(lst_camera())  # LSTCam: rotations by multiples of 60 deg, no mirror
    overrides = [*iact_workspace, *TINY, "data.params.augment.test_time=true", "data.params.augment.ops=[rot60,rot240]"]
    config = load_config(EXAMPLES / "gamma_physnet_da_small.yaml", overrides)
    torch.manual_seed(0)
    datamodule = build_datamodule(config)
    datamodule.setup("fit")
    module = build_module(config, datamodule).eval()
    run = RunDir(tmp_path)
    run.checkpoints.mkdir()
    torch.save({"state_dict": module.state_dict()}, run.checkpoints / "best.ckpt")
    merged = predict_outputs(config, datamodule, run)

    inputs, _, _, meta = datamodule.arrays("test")
    datamodule.teardown("test")
    views = []
    for name in (None, "rot60", "rot240"):
        view_meta = dict(meta)
        if name is not None:  # the decoder's orientation R(rotation) F(reflected), after the view's rotation
            view_meta["camera_rotation"] = meta["camera_rotation"] + float(name[3:]) * np.where(meta["camera_reflected"], -1, 1)
        perm = slice(None) if name is None else torch.as_tensor(symmetries[name].perm)
        with torch.no_grad():
            outputs = {k: v.numpy() for k, v in module(torch.from_numpy(inputs)[..., perm]).items()}
        views.append(decode_outputs(outputs, view_meta))
    fov = [encode_direction(v["reco_alt"], v["reco_az"], meta["pointing_alt"], meta["pointing_az"]) for v in views]
    np.testing.assert_allclose(merged["gammaness"], np.mean([v["gammaness"] for v in views], axis=0), rtol=1e-5)
    np.testing.assert_allclose(np.log10(merged["reco_energy"]), np.mean([np.log10(v["reco_energy"]) for v in views], axis=0), atol=1e-5)
    np.testing.assert_allclose(
        encode_direction(merged["reco_alt"], merged["reco_az"], meta["pointing_alt"], meta["pointing_az"]),
        np.mean(fov, axis=0), atol=1e-4,
    )
    for column in ("reco_core_x", "reco_core_y"):
        np.testing.assert_allclose(merged[column], np.mean([v[column] for v in views], axis=0), atol=1e-3)
    # the views disagree (the lattice kernels are not rotation-symmetric): a merger that kept one would fail
    assert np.abs(fov[1] - fov[0]).max() > 1e-3 and np.abs(views[1]["reco_core_x"] - views[0]["reco_core_x"]).max() > 0.1
