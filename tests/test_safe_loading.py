"""Model files are data, never code: checkpoints load weights-only, estimators through skops with an allow-list,
a crafted file is refused by every command that reads one, and a network loads from its checkpoint alone.

Each crafted file carries a payload that creates a marker file when the file is unpickled (or, for skops, built
with the payload's type trusted); the tests check that the payload is live (loading it the unsafe way runs it)
and that showerlearn's refusal leaves the marker absent.
"""

from __future__ import annotations

import pickle
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import skops.io
import torch
from threadpoolctl import threadpool_limits
from typer.testing import CliRunner

from showerlearn.cli.main import app
from showerlearn.config import resolve_config
from showerlearn.engine.checkpoint_io import AtomicCheckpointIO
from showerlearn.engine.run_dir import RunDir
from showerlearn.engine.runner import train
from showerlearn.engine.safe_load import (
    CONFIG_KEY,
    CheckpointFile,
    ESTIMATOR_FILE,
    LEGACY_ESTIMATOR_FILE,
    UnsafeModelFile,
    load_checkpoint,
    load_estimator,
    save_estimator,
)
from showerlearn.engine.trained import load_network
from showerlearn.explain.loading import load_trained_module
from showerlearn.io.tables import read_columns
from showerlearn.registry import ESTIMATORS


class RunsCode:
    """Unpickled, runs ``code`` (pickle calls ``exec(code)`` to rebuild it)."""

    def __init__(self, code: str) -> None:
        self.code = code

    def __reduce__(self) -> tuple[Any, ...]:
        return exec, (self.code,)


class TouchesOnBuild:
    """Built (skops calls the constructor of a type it trusts with the stored arguments), creates ``path``."""

    def __init__(self, path: str) -> None:
        self.path = path
        Path(path).touch()

    def __reduce__(self) -> tuple[Any, ...]:
        return TouchesOnBuild, (self.path,)


def touch_code(marker: Path) -> str:
    return f"import pathlib; pathlib.Path({str(marker)!r}).touch()"


@pytest.fixture(scope="module")
def runs(tabular_csv: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A completed tiny network run and estimator run (read-only: tests tamper with copies)."""
    root = tmp_path_factory.mktemp("trained")
    base = {
        "name": "tabular", "seed": 3, "output_dir": str(root / "runs"),
        "data": {"name": "tabular", "params": {"source": {"path": str(tabular_csv)}, "features": ["a", "b", "c"],
                                               "label": "cls", "batch_size": 64}},
        "evaluation": {"name": "classification"},
    }  # fmt: skip
    network = {
        **base,
        "model": {"name": "engine_plugins:TinyClassifier", "params": {"hidden": 8}},
        "task": {"heads": {"label": {"loss": "cross_entropy"}}},
        "trainer": {"max_epochs": 2},
    }
    estimator = {**base, "name": "forest", "estimator": {"name": "random_forest", "params": {"n_estimators": 5}}}
    return {
        "network": train(resolve_config(network), progress=False),
        "estimator": train(resolve_config(estimator), progress=False),
        "network_config": network,
    }


@pytest.fixture
def copy_run(tmp_path: Path) -> Callable[[RunDir], RunDir]:
    def copy(run: RunDir) -> RunDir:
        return RunDir(Path(shutil.copytree(run.path, tmp_path / run.path.name)))

    return copy


def craft_checkpoint(path: Path, marker: Path) -> None:
    """Rewrite a real checkpoint with a code-running object inside: loads as usual with weights_only=False."""
    state = load_checkpoint(path)
    state["callbacks"]["Extra"] = RunsCode(touch_code(marker))
    torch.save(state, path)


def predict_command(run: RunDir, output: Path) -> Any:
    return CliRunner().invoke(app, ["predict", str(run.path), "--output", str(output)])


# ------------------------------------------------------------------------------------------- checkpoints
def test_checkpoints_hold_tensors_plain_data_and_their_config(runs: dict[str, Any]) -> None:
    run = runs["network"]
    for name in ("best.ckpt", "last.ckpt"):
        state = load_checkpoint(run.checkpoints / name)
        assert state[CONFIG_KEY] == resolve_config(runs["network_config"]).model_dump(mode="json")


def test_a_cut_checkpoint_is_refused_by_name(runs: dict[str, Any], tmp_path: Path) -> None:
    whole = (runs["network"].checkpoints / "best.ckpt").read_bytes()
    for size in (100, 5000, len(whole) // 2, len(whole) - 1000):
        cut = tmp_path / f"cut{size}.ckpt"
        cut.write_bytes(whole[:size])
        with pytest.raises(ValueError, match=rf"cut{size}.ckpt: not a readable checkpoint"):
            load_checkpoint(cut)
        # read first, then loaded from the bytes in memory (predict, export, explain): torch fails otherwise there
        with pytest.raises(ValueError, match=rf"cut{size}.ckpt: not a readable checkpoint"):
            CheckpointFile.read(cut).load()
    with pytest.raises(FileNotFoundError, match="absent.ckpt"):
        load_checkpoint(tmp_path / "absent.ckpt")


def test_weights_that_do_not_fit_the_config_are_refused_by_name(runs: dict[str, Any], tmp_path: Path) -> None:
    run = runs["network"]
    result = CliRunner().invoke(app, ["predict", str(run.path), "--output", str(tmp_path / "p.h5"),
                                      "--set", "model.params.hidden=16"])
    assert result.exit_code != 0 and "best.ckpt" in result.output and "do not fit the network" in result.output
    assert "size mismatch" in result.output and "Traceback" not in result.output


def test_an_estimator_run_without_its_file_says_so(runs: dict[str, Any], copy_run: Callable, tmp_path: Path) -> None:
    run = copy_run(runs["estimator"])
    (run.checkpoints / ESTIMATOR_FILE).unlink()
    result = predict_command(run, tmp_path / "again.h5")
    text = " ".join(result.output.split())  # the console's line wrapping undone
    assert result.exit_code != 0 and "no estimator.skops in" in text and "says completed" in text


def test_a_network_loads_from_its_checkpoint_alone(runs: dict[str, Any], copy_run: Callable, tmp_path: Path) -> None:
    run = copy_run(runs["network"])
    alone = tmp_path / "elsewhere" / "model.ckpt"
    alone.parent.mkdir()
    shutil.copy(run.best_checkpoint(), alone)
    shutil.rmtree(run.path)  # no config.yaml, no run folder: only the checkpoint (and the data it was trained on)
    config, datamodule, module = load_network(alone)
    assert config.model is not None and config.model.params["hidden"] == 8
    with torch.no_grad():
        logits = torch.cat([module(batch["inputs"])["label"] for batch in datamodule.test_dataloader()])
    expected = read_columns(runs["network"].predictions_file)["score"]
    np.testing.assert_allclose(torch.softmax(logits, dim=1)[:, 1].numpy(), expected, rtol=1e-6)


def test_a_checkpoint_written_before_it_carried_its_config_takes_its_run_folders(
    runs: dict[str, Any], copy_run: Callable, tmp_path: Path
) -> None:
    run = copy_run(runs["network"])
    state = load_checkpoint(run.best_checkpoint())
    del state[CONFIG_KEY]
    torch.save(state, run.best_checkpoint())
    assert load_network(run.best_checkpoint(), overrides=["data.params.batch_size=7"]).config.data.params["batch_size"] == 7
    alone = shutil.copy(run.best_checkpoint(), tmp_path / "model.ckpt")
    with pytest.raises(ValueError, match="holds no config .* and lies in no run folder"):
        load_network(alone)


def test_a_crafted_checkpoint_is_refused_everywhere_and_runs_nothing(
    runs: dict[str, Any], copy_run: Callable, tmp_path: Path
) -> None:
    run, marker = copy_run(runs["network"]), tmp_path / "ran.txt"
    for name in ("best.ckpt", "last.ckpt"):
        craft_checkpoint(run.checkpoints / name, marker)
    refusal = "refused: the checkpoint holds objects other than tensors and plain data (it names exec)"

    result = predict_command(run, tmp_path / "out.h5")
    assert result.exit_code == 1 and "UnsafeModelFile" in result.output, result.output
    assert refusal in " ".join(result.output.split())  # the console wraps long lines
    with pytest.raises(UnsafeModelFile, match=r"best\.ckpt: refused"):
        load_network(run.best_checkpoint())
    with pytest.raises(UnsafeModelFile, match=refusal.replace("(", r"\(").replace(")", r"\)")):
        load_trained_module(run, [tmp_path / "new.csv"])
    warm = {**runs["network_config"], "output_dir": str(tmp_path / "runs"), "init_from": str(run.path)}
    with pytest.raises(UnsafeModelFile, match=r"best\.ckpt: refused"):
        train(resolve_config(warm), progress=False)
    # --resume: a raised budget reads last.ckpt first; Lightning's own restore reads it through the plugin
    more = {**runs["network_config"], "trainer": {"max_epochs": 3}}
    with pytest.raises(UnsafeModelFile, match=r"last\.ckpt: refused"):
        train(resolve_config(more), resume=run.path, progress=False)
    with pytest.raises(UnsafeModelFile, match=r"last\.ckpt: refused"):
        AtomicCheckpointIO({}, {}).load_checkpoint(run.checkpoints / "last.ckpt")
    assert not marker.exists()

    torch.load(run.best_checkpoint(), weights_only=False)  # the payload is live: unpickled, it runs
    assert marker.exists()


def test_resuming_reads_the_last_checkpoint_weights_only(tabular_config: dict, tmp_path: Path) -> None:
    """Lightning restores ``--resume``'s last.ckpt through the run's checkpoint plugin: refused there too."""
    # a crash after the mid-epoch last.ckpt of step 2
    tabular_config["callbacks"] = [{"name": "engine_plugins:CrashAtStep", "params": {"step": 3}}]
    config, marker = resolve_config(tabular_config), tmp_path / "ran.txt"
    with pytest.raises(RuntimeError, match="simulated crash"):
        train(config, progress=False)
    (run_path,) = (Path(tabular_config["output_dir"]) / "tabular").iterdir()
    craft_checkpoint(run_path / "checkpoints" / "last.ckpt", marker)
    with pytest.raises(UnsafeModelFile, match=r"last\.ckpt: refused"):
        train(config, resume=run_path, progress=False)
    assert not marker.exists()


# ------------------------------------------------------------------------------------------- estimators
def test_an_estimator_run_writes_skops_and_predicts_from_it(runs: dict[str, Any], tmp_path: Path) -> None:
    run = runs["estimator"]
    assert (run.checkpoints / ESTIMATOR_FILE).is_file() and not (run.checkpoints / LEGACY_ESTIMATOR_FILE).exists()
    result = predict_command(run, tmp_path / "again.h5")
    assert result.exit_code == 0, result.output
    np.testing.assert_array_equal(read_columns(tmp_path / "again.h5")["score"], read_columns(run.predictions_file)["score"])


def test_a_crafted_estimator_file_is_refused_and_runs_nothing(
    runs: dict[str, Any], copy_run: Callable, tmp_path: Path
) -> None:
    run, marker = copy_run(runs["estimator"]), tmp_path / "ran.txt"
    stored = run.checkpoints / ESTIMATOR_FILE
    estimator = load_estimator(stored)
    estimator.extra_ = TouchesOnBuild(str(marker))  # creates the marker now: removed before loading
    save_estimator(estimator, stored)
    marker.unlink()

    result = predict_command(run, tmp_path / "out.h5")
    assert result.exit_code == 1, result.output
    output = " ".join(result.output.split())
    assert "refused: it holds types outside showerlearn's allow-list (test_safe_loading.TouchesOnBuild)" in output
    assert not marker.exists()

    skops.io.load(stored, trusted=skops.io.get_untrusted_types(file=stored))  # trusted blindly, it runs
    assert marker.exists()


def test_an_estimator_pickle_is_never_opened(runs: dict[str, Any], copy_run: Callable, tmp_path: Path) -> None:
    """A pickle posing as the skops file."""
    run, marker = copy_run(runs["estimator"]), tmp_path / "ran.txt"
    payload = pickle.dumps(RunsCode(touch_code(marker)))
    (run.checkpoints / ESTIMATOR_FILE).write_bytes(payload)

    result = predict_command(run, tmp_path / "out.h5")
    assert result.exit_code == 1, result.output
    output = " ".join(result.output.split())
    assert f"{ESTIMATOR_FILE}: refused: not a skops estimator file" in output, output
    assert not marker.exists()

    pickle.loads(payload)  # the payload is live
    assert marker.exists()


def test_the_estimator_pickle_of_older_versions_is_refused_unopened(
    runs: dict[str, Any], copy_run: Callable, tmp_path: Path
) -> None:
    run, marker = copy_run(runs["estimator"]), tmp_path / "ran.txt"
    (run.checkpoints / ESTIMATOR_FILE).unlink()
    (run.checkpoints / LEGACY_ESTIMATOR_FILE).write_bytes(pickle.dumps(RunsCode(touch_code(marker))))
    with pytest.raises(UnsafeModelFile, match=r"estimator\.joblib: refused: an estimator pickle, written by an older"):
        load_estimator(run.checkpoints / ESTIMATOR_FILE)
    assert not marker.exists()


def test_the_allow_list_takes_estimator_classes_defined_where_named_only() -> None:
    from showerlearn.engine.safe_load import _trusted

    assert _trusted("showerlearn.baselines.random_forest.RandomForest", None)
    assert _trusted("sklearn.tree._tree.Tree", None)
    refused = [
        "sklearn.datasets._base.clear_data_home",  # a function of a trusted package (deletes a folder)
        "sklearn.base.defaultdict",  # another package's class, imported by a trusted module
        "numpy.memmap",  # a numpy class whose constructor creates files
        "showerlearn.io.atomic.Path",
        "os.system",
        "test_safe_loading.TouchesOnBuild",
    ]
    assert [name for name in refused if _trusted(name, None)] == []


# ------------------------------------------------------------------------- every estimator round-trips
def _tabular(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    X = rng.normal(size=(120, 3))
    return X, (X[:, 0] > 0).astype(int)


def _hits(rng: np.random.Generator) -> list[dict[str, np.ndarray]]:
    def event(n: int) -> dict[str, np.ndarray]:
        return {
            "energy": rng.uniform(0.05, 3.0, n), "theta": rng.uniform(0.5, 2.0, n), "phi": rng.uniform(-3, 3, n),
            "time": rng.normal(0, 5, n), "crystal_id": rng.integers(0, 100, n), "true_gamma": rng.integers(-1, 3, n),
        }  # fmt: skip

    return [event(n) for n in (5, 9, 1)]


def _random_forest(rng: np.random.Generator) -> tuple[Any, Any]:
    X, y = _tabular(rng)
    return ESTIMATORS.get("random_forest")(n_estimators=5).fit(X, {"label": y}), X


def _collider_bdt(rng: np.random.Generator) -> tuple[Any, Any]:
    from showerlearn.collider.baselines import HIGH_LEVEL_FEATURES

    X = rng.normal(size=(200, len(HIGH_LEVEL_FEATURES)))
    return ESTIMATORS.get("collider_bdt")(max_iter=5).fit(X, {"label": (X[:, 0] > 0).astype(int)}), X


def _hillas_rf(rng: np.random.Generator) -> tuple[Any, Any]:
    from test_baseline_hillas_rf import FOCAL_LENGTH, toy_events

    from showerlearn.iact.geometry import lst_camera

    camera, small = lst_camera(), {"n_estimators": 5}
    X, targets, masks = toy_events(camera, 120, rng, proton_fraction=0.35, noise=False)
    kinds = ("energy_regressor", "disp_regressor", "disp_classifier", "particle_classifier", "impact_regressor")
    forests = {f"{kind}_args": small for kind in kinds}
    return ESTIMATORS.get("hillas_rf")(camera=camera, focal_length=FOCAL_LENGTH, **forests).fit(X, targets, masks), X


def _clustering(name: str) -> Callable[[np.random.Generator], tuple[Any, Any]]:
    return lambda rng: (ESTIMATORS.get(name)().fit(), _hits(rng))


#: a tiny fitted instance and inputs of every registered estimator (a new estimator needs a case here)
CASES: dict[str, Callable[[np.random.Generator], tuple[Any, Any]]] = {
    "random_forest": _random_forest,
    "collider_bdt": _collider_bdt,
    "hillas_rf": _hillas_rf,
    "r3b_window": _clustering("r3b_window"),
    "hit_agglomerative": _clustering("hit_agglomerative"),
    "hit_oracle": _clustering("hit_oracle"),
}


def test_every_registered_estimator_has_a_round_trip_case() -> None:
    assert set(ESTIMATORS.names()) <= set(CASES), "add a case to CASES for the new estimator"


@pytest.mark.parametrize("name", sorted(CASES))
def test_every_estimator_round_trips_through_its_skops_file(name: str, tmp_path: Path) -> None:
    if name not in ESTIMATORS:
        pytest.skip(f"{name}: its family's extra is not installed")
    with threadpool_limits(1):  # OpenMP threads of the boosted trees spin for seconds on a busy machine
        estimator, inputs = CASES[name](np.random.default_rng(0))
        before = estimator.predict(inputs)
        save_estimator(estimator, tmp_path / ESTIMATOR_FILE)
        again = load_estimator(tmp_path / ESTIMATOR_FILE, ESTIMATORS.get(name))
        after = again.predict(inputs)
    assert type(again) is type(estimator)
    assert before.keys() == after.keys()
    for key in before:
        np.testing.assert_array_equal(after[key], before[key], err_msg=key)
