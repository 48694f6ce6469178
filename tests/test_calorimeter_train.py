"""Calorimeter clustering through the command line, end to end on simulated hit files: the R3B window and the
oracle as estimators, a learned model trained by ``showerlearn train``; ``predict`` writes the same tables
again, ``evaluate`` recomputes the metrics and the board labels them the family's way."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from typer.testing import CliRunner

from showerlearn.calorimeter.baselines import R3BClustering
from showerlearn.calorimeter.data import decode_labels
from showerlearn.calorimeter.data.dataset import turned_inputs
from showerlearn.calorimeter.evaluation import cluster_table, gamma_matches, in_photopeak
from showerlearn.calorimeter.io import read_events
from showerlearn.calorimeter.simulation import CalorimeterSimulationConfig, simulate_calorimeter
from showerlearn.cli.main import app
from showerlearn.explain.attention import capture_attention
from showerlearn.explain.driver import ATTENTION_PREFIX, explain_run
from showerlearn.explain.loading import load_trained_module
from showerlearn.data.base import FITTED_STATE_KEY
from showerlearn.engine.safe_load import load_checkpoint
from showerlearn.engine.run_dir import RunDir
from showerlearn.io.tables import read_tables

pytestmark = pytest.mark.slow

DATA = {
    "name": "calorimeter",
    "params": {
        "simulate": {"events": 160, "seed": 4, "config": {"n_gammas": 4, "n_gammas_min": 3, "chunk_size": 80}},
        "split": {"fractions": [0.6, 0.15, 0.25], "seed": 1},
        "batch_size": 32,
    },
}


def n_hits(path: Path) -> int:
    return int(sum(len(event) for event in read_events(path).energy))


def _train(tmp_path: Path, name: str, **sections) -> RunDir:
    config = {"name": name, "seed": 1, "output_dir": str(tmp_path / "runs"),
              "data": {**DATA, "params": {**DATA["params"], "cache_dir": str(tmp_path / "cache")}},
              "evaluation": {"name": "calorimeter", "params": {"figure_formats": ["png"]}}, **sections}
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config))
    result = CliRunner().invoke(app, ["train", str(path), "--no-progress"])
    assert result.exit_code == 0, result.output
    (run_path,) = (tmp_path / "runs" / name).iterdir()
    return RunDir.existing(run_path)


def test_window_and_oracle_run_as_estimators(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from showerlearn.calorimeter.data.datamodule import CalorimeterDataModule

    read = []  # the splits read into memory: a method that learns nothing never reads the training split
    arrays = CalorimeterDataModule.arrays
    monkeypatch.setattr(CalorimeterDataModule, "arrays",
                        lambda self, split, **options: read.append(split) or arrays(self, split, **options))
    window = _train(tmp_path, "window", estimator={"name": "r3b_window", "params": {"window": "cone", "half_angle": 0.3}})
    assert read == ["test"]
    tables = read_tables(window.predictions_file)
    hits, events = tables["hits"], tables["predictions"]
    # the labels are R3BClustering's, event by event (the engine only carried them)
    method = R3BClustering(window="cone", half_angle=0.3)
    for event in range(len(events["event_id"])):
        rows = hits["event_index"] == event
        expected = method.cluster({key: hits[key][rows] for key in ("energy", "theta", "phi")})
        assert hits["label"][rows].tolist() == expected.tolist()
    metrics = window.metrics()
    assert metrics["evaluator"] == "calorimeter" and metrics["scalars"]["n_events"] == len(events["event_id"])
    # the evaluator's photopeak efficiency is the metric functions' on the tables
    table = {**{k: v for k, v in hits.items() if k != "event_index"}, "event": hits["event_index"]}
    gammas = {**{k: v for k, v in tables["gammas"].items() if k != "event_index"}, "event": tables["gammas"]["event_index"]}
    peak = in_photopeak(gammas, gamma_matches(gammas, cluster_table(table, hits["label"]), table))
    assert metrics["scalars"]["photopeak_efficiency"] == pytest.approx(peak.mean())
    assert "energy_spectra.png" in metrics["figures"]

    # test-time views average pair probabilities, which an estimator has not: refused before predicting
    refused = CliRunner().invoke(app, ["predict", str(window.path), "--output", str(tmp_path / "views.h5"),
                                       "--set", "data.params.test_time_views=3"])
    message = " ".join(refused.output.split())
    assert refused.exit_code != 0 and "data.params.test_time_views: the views average" in message, message
    assert not (tmp_path / "views.h5").exists()
    # the fitted estimator is saved with its parameters: another window is a new run, not an ignored --set
    for key in ("estimator.params.half_angle=0.01", "estimator.name=hit_oracle"):
        refused = CliRunner().invoke(app, ["predict", str(window.path), "--output", str(tmp_path / "other.h5"), "--set", key])
        message = " ".join(refused.output.split())
        assert refused.exit_code != 0 and f"cannot --set {key.partition('=')[0]}" in message, message
        assert "train a new run" in message and not (tmp_path / "other.h5").exists()

    # measured data: a ROOT tree of crystal hits, converted, then predicted as any hit file
    import awkward as ak
    import uproot

    measured = ak.Array({"crystal_id": [[5, 6, 900], [1200]], "energy": [[1500.0, 300.0, 2000.0], [700.0]],
                         "time": [[1.0, 2.0, 3.0], [0.5]], "evt": [1000, 1003]})
    with uproot.recreate(tmp_path / "measured.root") as file:
        file["califa"] = {name: measured[name] for name in measured.fields}
    converted = CliRunner().invoke(app, ["convert", "calorimeter", str(tmp_path / "measured.root"), "-o", str(tmp_path / "measured.h5"),
                                         "--beta", "0.6", "--event", "evt"])
    assert converted.exit_code == 0, converted.output
    predicted = CliRunner().invoke(app, ["predict", str(window.path), str(tmp_path / "measured.h5"), "-o", str(tmp_path / "measured")])
    assert predicted.exit_code == 0, predicted.output
    tables = read_tables(tmp_path / "measured" / "measured.predictions.h5")
    labels = tables["hits"]["label"]
    events = read_events(tmp_path / "measured.h5")
    expected = np.concatenate(method.predict(events))
    assert labels.tolist() == expected.tolist() and len(labels) == 4
    # the clusters, what a measured-data analysis reads: summed the slow way, one event and label at a time
    flat = {name: ak.to_numpy(ak.flatten(events[name])) for name in ("energy", "theta")}
    event_of = np.repeat(np.arange(len(events)), ak.to_numpy(ak.num(events)))
    clusters = tables["clusters"]
    assert len(clusters["energy"]) == tables["predictions"]["n_clusters"].sum()
    for row in range(len(clusters["energy"])):
        members = np.flatnonzero((event_of == clusters["event_index"][row]) & (labels == clusters["label"][row]))
        seed = members[np.argmax(flat["energy"][members])]
        assert clusters["energy"][row] == pytest.approx(flat["energy"][members].sum(), rel=1e-6)
        assert clusters["n_hits"][row] == len(members) and clusters["theta"][row] == pytest.approx(flat["theta"][seed])
        beta = float(np.float32(0.6))  # as the file stores it; E0 = E gamma (1 - beta cos theta), written out
        rest = clusters["energy"][row] / np.sqrt(1 - beta**2) * (1 - beta * np.cos(flat["theta"][seed]))
        assert clusters["energy_rest"][row] == pytest.approx(rest, rel=1e-6)
    assert tables["predictions"]["beta"] == pytest.approx([0.6, 0.6])
    assert tables["predictions"]["event_id"].tolist() == [1000, 1003]  # the tree's numbers, to join other detectors

    oracle = _train(tmp_path, "oracle", estimator={"name": "hit_oracle"}).metrics()["scalars"]
    assert oracle["reconstruction_efficiency"] == 1.0 and oracle["fake_cluster_rate"] == 0.0
    assert oracle["adjusted_rand_index"] == pytest.approx(1.0)
    assert oracle["photopeak_efficiency"] >= metrics["scalars"]["photopeak_efficiency"]
    # cluster labels do not average, and estimators have no network outputs that do: refused, naming each
    (oracle_run,) = (tmp_path / "runs" / "oracle").iterdir()
    refused = CliRunner().invoke(app, ["ensemble", str(window.path), str(oracle_run), "-o", str(tmp_path / "ensemble")])
    message = "".join(refused.output.split())
    assert refused.exit_code != 0 and "thecalorimeterfamily'spredictionsdonotaverage" in message
    assert "".join(f"{oracle_run}: an estimator (hit_oracle) has no network outputs".split()) in message
    assert not (tmp_path / "ensemble").exists()


def test_a_learned_method_trains_predicts_evaluates_and_shows_on_the_board(tmp_path: Path) -> None:
    model = {"name": "hit_transformer", "params": {"dim": 16, "layers": 1, "heads": 2}}
    task = {"heads": {"pairs": {"loss": "pairwise_bce", "loss_params": {"pos_weight": 3.0}, "metrics": ["auroc"]}}}
    run = _train(
        tmp_path, "transformer", model=model, task=task,
        optimizer={"name": "adam", "params": {"lr": 0.003}},
        trainer={"max_epochs": 2, "accelerator": "cpu", "threads": 1, "checkpoint_every_n_steps": None},
    )
    tables = read_tables(run.predictions_file)
    assert set(tables) == {"predictions", "hits", "gammas", "clusters"}
    metrics = run.metrics()
    assert 0.0 <= metrics["scalars"]["photopeak_efficiency"] <= 1.0
    assert "photopeak_efficiency_vs_gamma_energy" in metrics["curves"] and "training_curves.png" in metrics["figures"]

    # re-decode the same outputs with another merge cut: predict takes overrides
    output = tmp_path / "strict.h5"
    runner = CliRunner()
    predicted = runner.invoke(app, ["predict", str(run.path), "--output", str(output),
                                    "--set", "data.params.decoding.pair_threshold=0.999"])
    assert predicted.exit_code == 0, predicted.output
    strict = read_tables(output)
    np.testing.assert_array_equal(strict["hits"]["energy"], tables["hits"]["energy"])
    assert strict["predictions"]["n_clusters"].sum() >= tables["predictions"]["n_clusters"].sum()

    # another hit file: every one of its hits gets a label, standardised like the run's training split
    new_file = tmp_path / "new_hits.h5"
    simulate_calorimeter(CalorimeterSimulationConfig(n_events=30, n_gammas=3, chunk_size=30), new_file, seed=11)
    on_file = tmp_path / "on_file"  # the folder of one predictions file per input
    predicted = runner.invoke(app, ["predict", str(run.path), "--input", str(new_file), "--output", str(on_file)])
    assert predicted.exit_code == 0, predicted.output
    new = read_tables(on_file / "new_hits.predictions.h5")
    assert len(new["hits"]["label"]) == n_hits(new_file) and new["predictions"]["event_id"].tolist() == list(range(30))

    _test_time_views_average_the_pair_probabilities(run, new_file, tmp_path)
    _an_ensemble_averages_the_pair_probabilities(run, tmp_path, model, task)

    # the network as ONNX (checked on the new file, named by a pattern), predicting it as the checkpoint does
    model_file = tmp_path / "transformer.onnx"
    exported = runner.invoke(app, ["export", str(run.path), "--format", "onnx", "--output", str(model_file), "--no-progress",
                                   "--input", str(tmp_path / "new_*.h5")])
    assert exported.exit_code == 0, exported.output
    with_onnx = tmp_path / "with_onnx"
    predicted = runner.invoke(app, ["predict", str(run.path), "--input", str(new_file), "--model", str(model_file),
                                    "--output", str(with_onnx)])
    assert predicted.exit_code == 0, predicted.output
    np.testing.assert_array_equal(read_tables(with_onnx / "new_hits.predictions.h5")["hits"]["label"], new["hits"]["label"])

    run.metrics_file.unlink()
    evaluated = runner.invoke(app, ["evaluate", str(run.path)])
    assert evaluated.exit_code == 0, evaluated.output
    assert run.metrics()["scalars"] == metrics["scalars"]
    assert "photopeak_efficiency" in evaluated.output  # the numbers on the terminal, as train prints them

    board = tmp_path / "board.html"
    shown = runner.invoke(app, ["board", str(run.path), "--output", str(board)])
    assert shown.exit_code == 0, shown.output
    page = board.read_text()
    assert "gamma energy, rest frame [MeV]" in page and "photopeak efficiency" in page
    payload = json.loads(page.split('<script type="application/json" id="board-data">')[1].split("</script>")[0])
    assert any("photopeak_efficiency_vs_gamma_energy" in json.dumps(entry) for entry in payload["entries"])
    again = runner.invoke(app, ["board", str(run.path), "--output", str(board)])  # an existing page is kept
    assert again.exit_code == 1 and "pass --overwrite" in again.output and board.read_text() == page
    assert runner.invoke(app, ["board", str(run.path), "--output", str(board), "--overwrite"]).exit_code == 0

    _explains_attention_over_the_hits(run, new_file)

    # the checkpoint carries the training split's standardisation: without the training files (here their
    # simulation) the new file is predicted alike, and nothing is simulated again
    shutil.rmtree(tmp_path / "cache")
    again = tmp_path / "without_training_files"
    predicted = runner.invoke(app, ["predict", str(run.path), "--input", str(new_file), "--output", str(again)])
    assert predicted.exit_code == 0, predicted.output
    assert not (tmp_path / "cache").exists()
    np.testing.assert_array_equal(read_tables(again / "new_hits.predictions.h5")["hits"]["label"], new["hits"]["label"])
    # a run that trains nothing (init_from, max_epochs 0) on other events evaluates the network with the
    # standardisation it was trained with (not one refitted on these events), and keeps it in its checkpoint
    other_events = {**DATA["params"], "cache_dir": str(tmp_path / "cache"), "simulate": {**DATA["params"]["simulate"], "seed": 5}}
    copy = _train(tmp_path, "copied", init_from=str(run.best_checkpoint()), model=model, task=task,
                  data={"name": "calorimeter", "params": other_events},
                  trainer={"max_epochs": 0, "accelerator": "cpu", "threads": 1})
    saved = load_checkpoint(copy.best_checkpoint())[FITTED_STATE_KEY]
    assert saved == load_checkpoint(run.best_checkpoint())[FITTED_STATE_KEY] and saved["geometry"] == "califa"
    # its networks predict other test events than the first run's: no ensemble of the two
    refused = runner.invoke(app, ["ensemble", str(run.path), str(copy.path), "-o", str(tmp_path / "mixed"), "--no-progress"])
    assert refused.exit_code != 0 and "holds other events than" in " ".join(refused.output.split()), refused.output
    assert not (tmp_path / "mixed").exists()


def _test_time_views_average_the_pair_probabilities(run: RunDir, hit_file: Path, tmp_path: Path) -> None:
    """Reference: the network run on the inputs turned by hand (a half turn, the mirror, both), the mean
    same-gamma probabilities decoded with the run's cut."""
    output = tmp_path / "views"
    predicted = CliRunner().invoke(app, ["predict", str(run.path), "--input", str(hit_file), "--output", str(output),
                                         "--set", "data.params.test_time_views=3"])
    assert predicted.exit_code == 0, predicted.output
    labels = read_tables(output / f"{hit_file.stem}.predictions.h5")["hits"]["label"]
    trained = load_trained_module(run, [hit_file], progress=False)
    datamodule = trained.datamodule
    batch = datamodule.collate([datamodule.predict_set[i] for i in range(len(datamodule.predict_set))])
    inputs = batch["inputs"]
    with torch.no_grad():
        probabilities = [torch.sigmoid(trained.model(view)["pairs"]).numpy() for view in (
            inputs, *(turned_inputs(inputs, np.pi * half, mirror, datamodule.hit_spec) for half, mirror in ((1, False), (0, True), (1, True))))]
    mean = np.mean(probabilities, axis=0)
    expected = decode_labels({"pairs": np.log(mean) - np.log1p(-mean)}, inputs["hits_mask"].numpy(), datamodule.decoding)
    np.testing.assert_array_equal(labels, expected[inputs["hits_mask"].numpy()])


def _an_ensemble_averages_the_pair_probabilities(run: RunDir, tmp_path: Path, model: dict, task: dict) -> None:
    """``showerlearn ensemble`` of two networks trained on the same events: reference, each network run on the test
    events of the simulated file, the mean same-gamma probabilities decoded with the first run's cut."""
    other = _train(tmp_path, "transformer_seed2", seed=2, model=model, task=task,
                   optimizer={"name": "adam", "params": {"lr": 0.003}},
                   trainer={"max_epochs": 1, "accelerator": "cpu", "threads": 1, "checkpoint_every_n_steps": None})
    output = tmp_path / "ensemble"
    result = CliRunner().invoke(app, ["ensemble", str(run.path), str(other.path), "-o", str(output), "--no-progress"])
    assert result.exit_code == 0, result.output
    tables = read_tables(RunDir.existing(output).predictions_file)
    assert json.loads((output / "ensemble.json").read_text())["averaged"] == "network outputs"

    (simulated,) = (tmp_path / "cache").glob("*.h5")
    probabilities = []
    for member in (run, other):
        trained = load_trained_module(member.path, [simulated], progress=False)
        datamodule = trained.datamodule
        ids = np.asarray(datamodule.predict_set.events.event_id)
        test = [int(np.flatnonzero(ids == event)[0]) for event in tables["predictions"]["event_id"]]
        batch = datamodule.collate([datamodule.predict_set[i] for i in test])
        with torch.no_grad():
            probabilities.append(torch.sigmoid(trained.model(batch["inputs"])["pairs"]).numpy().astype(np.float64))
    mean = np.mean(probabilities, axis=0)
    mask = batch["inputs"]["hits_mask"].numpy()
    expected = decode_labels({"pairs": np.log(mean) - np.log1p(-mean)}, mask, datamodule.decoding)
    np.testing.assert_array_equal(tables["hits"]["label"], expected[mask])
    assert 0.0 <= RunDir.existing(output).metrics()["scalars"]["photopeak_efficiency"] <= 1.0

    # a copy of a run whose predictions were made again (other bytes) is the same network: it would count twice
    copy = tmp_path / "copied_run"
    shutil.copytree(other.path, copy)
    (copy / "predictions.h5").unlink()
    restored = CliRunner().invoke(app, ["predict", str(copy), "--output", str(copy / "predictions.h5"), "--no-progress"])
    assert restored.exit_code == 0, restored.output
    refused = CliRunner().invoke(app, ["ensemble", str(other.path), str(copy), "-o", str(tmp_path / "twice"), "--no-progress"])
    assert refused.exit_code != 0 and "hold the same network, byte for byte" in " ".join(refused.output.split())
    # networks whose pair outputs index other elements (hits, pre-clusters): refused before any predicts
    described = yaml.safe_load((copy / "config.yaml").read_text())
    described["data"]["params"]["preclustering"] = {"distance_threshold": 0.15}
    (copy / "config.yaml").write_text(yaml.safe_dump(described))
    refused = CliRunner().invoke(app, ["ensemble", str(run.path), str(copy), "-o", str(tmp_path / "mixed"), "--no-progress"])
    message = " ".join(refused.output.split())
    assert refused.exit_code != 0 and "data.params.preclustering is {" in message and "the first member's None" in message


def _explains_attention_over_the_hits(run: RunDir, hit_file: Path) -> None:
    """``showerlearn explain``: each head's attention over an event's hits, padded to the file's largest event,
    equals the network's on that event alone; the criteria's chance level is counted from the file's truth."""
    explanation = explain_run(run.path, hit_file, events=[0, 3])
    assert explanation.maps and all(name.startswith(ATTENTION_PREFIX) for name in explanation.maps)  # no Grad-CAM
    trained = load_trained_module(run.path, [hit_file], progress=False)
    assert trained.datamodule.progress is False  # `explain --no-progress`: no bars from reading its events either
    sample = trained.datamodule.collate([trained.datamodule.predict_set[3]])
    with torch.no_grad(), capture_attention(trained.model) as records:
        trained.model(sample["inputs"])
    (alone,) = [r.weights[0] for r in records if r.name == "encoder.encoder.layers.0.self_attn"]
    n = alone.shape[-1]
    for head in range(alone.shape[0]):
        padded = explanation.maps[f"{ATTENTION_PREFIX}self-attention, layer 1, head {head}"][1]
        side = int(np.sqrt(padded.size))
        np.testing.assert_allclose(padded.reshape(side, side)[:n, :n], alone[head].numpy(), atol=1e-6)

    events = read_events(hit_file)
    chance = []
    for gamma in events.true_gamma:
        gamma = np.asarray(gamma)
        shares = [((gamma == g).sum() - 1) / (len(gamma) - 1) for g in gamma
                  if g >= 0 and 0 < (gamma == g).sum() - 1 < len(gamma) - 1]  # fmt: skip
        chance.append(np.mean(shares) if shares else np.nan)
    uniform = explanation.criteria[f"{ATTENTION_PREFIX}self-attention, layer 1, head 0"]["same_gamma_uniform"]
    np.testing.assert_allclose(uniform, chance, atol=1e-12)

    # a pattern matching two files is refused (events are positions in one file); one matching one is read
    twin = hit_file.with_name(f"twin_{hit_file.name}")
    twin.write_bytes(b"")
    refused = CliRunner().invoke(app, ["explain", str(run.path), "--input", str(hit_file.parent / f"*{hit_file.name}")])
    assert refused.exit_code != 0 and "matches2files" in "".join(refused.output.split()), refused.output
    twin.unlink()
    # a Grad-CAM method that does not exist is refused, though this network is explained by attention alone
    refused = CliRunner().invoke(app, ["explain", str(run.path), "--input", str(hit_file), "--method", "gradcma"])
    assert refused.exit_code != 0 and "method must be one of ('gradcam', 'hirescam'), got 'gradcma'" in " ".join(refused.output.split())
    # a few events: their inputs are padded to their own largest, the maps to the file's
    result = CliRunner().invoke(app, ["explain", str(run.path), "--input", str(hit_file.parent / f"*{hit_file.name}"),
                                      "--events", "0", "--max-events", "2", "--method", "hirescam", "--dilation", "2"])
    assert result.exit_code == 0, result.output
    # Grad-CAM's settings shape nothing of attention maps, nor the signal's definition the same-gamma share:
    # said, and not recorded as if they had
    assert "--method, --reference and --layer shape Grad-CAM only" in " ".join(result.output.split())
    assert "do not read --dilation: not used" in " ".join(result.output.split())
    criteria = json.loads((run.path / "explain" / "criteria.json").read_text())
    assert criteria["settings"]["method"] is None and criteria["settings"]["reference"] is None
    assert {criteria["settings"][name] for name in ("signal_threshold", "dilation", "level", "whole_cells")} == {None}
    assert "same_gamma" in json.dumps(criteria) and "same_gamma_uniform" in json.dumps(criteria)
    (model,) = criteria["models"].values()
    assert model["n_events"] == 2  # the events counted (--max-events), not the columns of a prediction table
    assert criteria["settings"]["randomized_control"] is False  # attention maps: no Grad-CAM control computed
    figures = {path.name for path in (run.path / "plots" / "explain").iterdir()}
    assert "attention_vs_angle.png" in figures and any(name.startswith("event00000") for name in figures)


def test_a_run_of_size_grouped_batches_resumes_as_if_never_interrupted(tmp_path: Path) -> None:
    """Batches grouped by hits (pools of 2 batches of 16 events: 6 batches an epoch), killed mid-epoch after a
    checkpoint and resumed: the same batches in the same order, the same running loss denominator, the same
    network as a run never interrupted."""
    from showerlearn.config import resolve_config
    from showerlearn.engine.runner import train

    def config(record: str, *callbacks: dict) -> dict:
        return resolve_config({
            "name": "grouped", "seed": 1, "output_dir": str(tmp_path / "runs"),
            "data": {**DATA, "params": {**DATA["params"], "cache_dir": str(tmp_path / "cache"), "batch_size": 16,
                                        "group_by_size": 2}},
            "model": {"name": "hit_transformer", "params": {"dim": 16, "layers": 1, "heads": 2}},
            "task": {"heads": {"pairs": {"loss": "pairwise_bce"}}},
            "trainer": {"max_epochs": 2, "accelerator": "cpu", "threads": 1, "checkpoint_every_n_steps": 2},
            "callbacks": [{"name": "engine_plugins:RecordBatches", "params": {"path": str(tmp_path / record)}}, *callbacks],
            "evaluation": {"name": "calorimeter", "params": {"figure_formats": ["png"]}},
        })  # fmt: skip

    uninterrupted = train(config("a.txt"), progress=False)
    with pytest.raises(RuntimeError, match="simulated crash"):
        train(config("b.txt", {"name": "engine_plugins:CrashAtStep", "params": {"step": 9}}), progress=False)
    (interrupted,) = [p for p in uninterrupted.path.parent.iterdir() if p != uninterrupted.path]
    resumed = train(config("b.txt", {"name": "engine_plugins:CrashAtStep", "params": {"step": 9}}), resume=interrupted,
                    progress=False)
    records = [{(step, total) for _, step, _, total in (line.split() for line in (tmp_path / name).read_text().splitlines())}
               for name in ("a.txt", "b.txt")]
    assert records[0] == records[1] and len(records[0]) == 12
    checkpoints = [load_checkpoint(run.checkpoints / "last.ckpt") for run in (uninterrupted, resumed)]
    assert checkpoints[0]["showerlearn_running_selection"] == checkpoints[1]["showerlearn_running_selection"]
    for name, weights in checkpoints[0]["state_dict"].items():
        torch.testing.assert_close(checkpoints[1]["state_dict"][name], weights, msg=name)
