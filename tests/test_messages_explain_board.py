"""Errors that name their cause: a network with nothing to explain (the collider's kinematics MLP), a Hillas
training whose direction targets are all invalid for want of telescope pointing, and a board baseline of another
detector family than the runs shown."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path
from types import SimpleNamespace

import astropy.units as u
import numpy as np
import pytest
import tables
import torch
import yaml
from torch import nn
from typer import Typer
from typer.testing import CliRunner

from showerlearn.cli.board import board
from showerlearn.cli.explain import explain
from showerlearn.config import dump_config, load_config
from showerlearn.engine.run_dir import RunDir
from showerlearn.explain.gradcam import grad_cam
from showerlearn.explain.loading import check_explainable, network_checkpoint
from showerlearn.iact.baselines import HillasRandomForest
from showerlearn.iact.data.pointing import pointing_gaps
from showerlearn.iact.geometry import lst_camera
from showerlearn.iact.io.reader import DL1File
from showerlearn.io.atomic import write_json_atomic
from showerlearn.registry import MODELS

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
LSTCHAIN = "dl1_lstchain/dl1_gamma_example.h5"  # 25 gamma images of telescope 1
LSTCHAIN_PARAMETERS = "/dl1/event/telescope/parameters/LST_LSTCam"
CTAPIPE_POINTING = "/configuration/telescope/pointing"


def _invoke(command: object, *args: str) -> tuple[int, str]:
    """Exit code and output of one command, its words joined (rich wraps long lines anywhere)."""
    app = Typer()
    app.command()(command)
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, " ".join(result.output.split())


def _says(output: str, message: str) -> bool:
    return "".join(message.split()) in "".join(output.split())


# ---------------------------------------------------------------------- 1. nothing to explain
def test_the_kinematics_mlp_declares_why_it_cannot_be_explained_and_the_token_networks_do_not() -> None:
    with pytest.raises(ValueError, match=r"run: KinematicsMLP has no per-position activations to explain") as error:
        check_explainable(MODELS.get("collider_mlp"), "run")
    assert "collider_transformer" in str(error.value) and "any --layer" in str(error.value)
    for name in ("collider_transformer", "collider_multiscale", "collider_one_scale", "collider_concat"):
        check_explainable(MODELS.get(name), "run")  # nothing declared: explained as before


def test_a_declaration_made_in_init_is_read_from_the_built_network() -> None:
    """A declaration that depends on the parameters is an instance attribute: the driver checks the built network."""

    class Pooled(nn.Module):
        def __init__(self, tokens: bool) -> None:
            super().__init__()
            if not tokens:
                self.explain_unavailable = "its tokens are pooled at the input"

    check_explainable(Pooled(tokens=True), "run")
    with pytest.raises(ValueError, match="Pooled has no per-position activations.*its tokens are pooled at the input"):
        check_explainable(Pooled(tokens=False), "run")


def test_explain_of_a_kinematics_mlp_run_says_so_before_any_work(tmp_path: Path) -> None:
    """Up front, by the network's class: not 'no backbone', not 'no checkpoint', no data read."""
    run = tmp_path / "collider_mlp_run"
    run.mkdir()
    (run / "config.yaml").write_text(dump_config(load_config(EXAMPLES / "collider_mlp.yaml")))
    events = tmp_path / "events.h5"
    events.write_bytes(b"")
    with pytest.raises(ValueError, match="KinematicsMLP has no per-position activations"):
        network_checkpoint(RunDir(run))
    code, output = _invoke(explain, str(run), "--input", str(events), "--no-progress", "--layer", "mlp.0")
    assert code == 1, output
    assert _says(output, "KinematicsMLP has no per-position activations to explain, so Grad-CAM and attention maps do not apply")
    assert _says(output, "Explain a token-based collider network trained on the same data instead")
    assert not (run / "plots").exists() and not (run / "explain").exists()


def test_grad_cam_of_a_layer_without_positions_says_what_layer_it_needs() -> None:
    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.mlp = nn.Sequential(nn.Linear(6, 4), nn.ReLU(), nn.Linear(4, 2))

        def forward(self, inputs: torch.Tensor) -> dict[str, torch.Tensor]:
            return {"label": self.mlp(inputs)}

    with pytest.raises(ValueError, match=r"outputs shape \(3, 4\): no positions to explain; .*before any pooling or flattening"):
        grad_cam(Net(), torch.ones(3, 6), "label:0", "mlp.0")


# ---------------------------------------------------------------------- 2. direction without pointing
class _File(SimpleNamespace):
    """A stand-in for a DL1File: its path and format, and the reader's own account of where the pointing is."""

    pointing_source = DL1File.pointing_source


def _columns(file_index: list[int], tel_id: list[int], pointing: list[bool]) -> dict[str, np.ndarray]:
    alt = np.where(pointing, 70.0, np.nan)
    return {"file_index": np.array(file_index), "tel_id": np.array(tel_id), "pointing_alt": alt, "pointing_az": np.zeros(len(alt))}


def test_pointing_gaps_name_the_files_and_where_their_pointing_was_looked_for() -> None:
    files = [_File(path=Path("a.dl1.h5"), format="ctapipe"), _File(path=Path("b.h5"), format="lstchain")]
    columns = _columns([0, 0, 0, 1, 1], [1, 2, 1, 1, 1], [False, False, True, False, True])
    assert pointing_gaps(files, columns, np.array([2, 4])) == {}  # every event of these has its pointing
    assert pointing_gaps(files, columns, np.array([], dtype=int)) == {}
    some = pointing_gaps(files, columns, np.arange(5))
    assert set(some) == {"direction", "impact"}
    assert some["direction"] == (
        "the direction targets need the telescope pointing, which 3 of the 5 training events lack (a.dl1.h5 has none in "
        f"{CTAPIPE_POINTING}/tel_001, {CTAPIPE_POINTING}/tel_002; b.h5 has none in {LSTCHAIN_PARAMETERS} columns "
        "alt_tel, az_tel); train on files that carry the pointing of their telescopes"
    )
    every = pointing_gaps(files, columns, np.array([0, 3]))["impact"]
    assert "2 of the 2 training events lack" in every and "so every event's impact is invalid" in every


def test_pointing_gaps_name_a_few_files_and_count_the_others() -> None:
    files = [_File(path=Path(f"f{i}.h5"), format="ctapipe") for i in range(5)]
    gap = pointing_gaps(files, _columns(list(range(5)), [1] * 5, [False] * 5), np.arange(5))["direction"]
    assert "f0.h5" in gap and "f2.h5" in gap and "f3.h5" not in gap and "; 2 more files)" in gap


def test_hillas_fit_names_the_cause_its_data_gave_for_a_head_without_events() -> None:
    camera = lst_camera()
    images = np.zeros((4, 2, camera.n_pixels), dtype=np.float32)
    targets, masks = {"direction": np.zeros((4, 2))}, {"direction": np.zeros(4, dtype=bool)}
    cause = "the direction targets need the telescope pointing, which 4 of the 4 training events lack (x.h5)"
    with pytest.raises(ValueError, match=r"no event with a valid image is selected for head 'direction'$"):
        HillasRandomForest(camera, 28 * u.m, n_jobs=1).fit(images, targets, masks)  # no cause given: the message as it was
    with pytest.raises(ValueError, match=r"for head 'direction': the direction targets need the telescope pointing, .*\(x\.h5\)"):
        HillasRandomForest(camera, 28 * u.m, missing_targets={"direction": cause}, n_jobs=1).fit(images, targets, masks)


def _without_pointing(shared_data: Path, tmp_path: Path) -> Path:
    """A copy of the lstchain file whose telescope pointing is NaN, as a file written without it reads."""
    path = tmp_path / Path(LSTCHAIN).name
    shutil.copy(shared_data / "iact" / LSTCHAIN, path)
    path.chmod(0o644)
    with tables.open_file(path, "a") as h5:
        table = h5.get_node(LSTCHAIN_PARAMETERS)
        table.modify_column(column=np.full(table.nrows, np.nan), colname="alt_tel")
    return path


def test_training_hillas_on_a_file_without_pointing_says_the_direction_needs_it(
    shared_data: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from showerlearn.engine.runner import train

    path = _without_pointing(shared_data, tmp_path)
    overrides = ["data.params.simulate=null", f"data.params.files=[{path}]", f"output_dir={tmp_path / 'runs'}",
                 "estimator.params.n_jobs=1", "trainer.threads=1"]  # fmt: skip
    with caplog.at_level(logging.WARNING), pytest.raises(ValueError) as error:
        train(load_config(EXAMPLES / "hillas_rf_small.yaml", overrides), progress=False)
    message = str(error.value)
    assert message.startswith("hillas_rf.fit: no event with a valid image is selected for head 'direction': ")
    assert f"the direction targets need the telescope pointing, which 18 of the 18 training events lack ({path} has none " \
           f"in {LSTCHAIN_PARAMETERS} columns alt_tel, az_tel), so every event's direction is invalid" in message
    assert "no telescope pointing for 25 of 25 images" in caplog.text  # the reader's warning, as before


# ---------------------------------------------------------------------- 3. a baseline of another family
def _run(path: Path, evaluator: str) -> Path:
    """A completed run directory whose family is that of the evaluator its metrics.json names."""
    path.mkdir(parents=True)
    write_json_atomic(path / "metrics.json", {"evaluator": evaluator, "n_events": 10, "curves": {}, "scalars": {"auc": 0.8}})
    (path / "config.yaml").write_text(yaml.safe_dump({"name": path.name, "seed": 0, "model": {"name": "m"}}))
    write_json_atomic(path / "run.json", {"state": "completed", "train_seconds": 1.0})
    return path


def test_a_baseline_of_another_family_than_the_runs_is_refused_naming_both(tmp_path: Path) -> None:
    calorimeter, iact = _run(tmp_path / "califa" / "run", "calorimeter"), _run(tmp_path / "hillas" / "rf", "iact")
    output = tmp_path / "board.html"
    code, said = _invoke(board, str(calorimeter), "--baseline", str(iact), "--output", str(output))
    assert code == 1, said
    assert _says(said, "the baseline hillas/rf is a run of the iact (Cherenkov telescope images) family, the runs shown "
                       "are of the calorimeter (calorimeter crystal hits (CALIFA)) family")
    assert _says(said, "Give a baseline of the calorimeter family, or show hillas/rf as one of the runs")
    assert not output.exists()


def test_a_baseline_of_the_family_of_the_runs_or_of_one_of_them_is_drawn(tmp_path: Path) -> None:
    calorimeter, other = _run(tmp_path / "califa" / "a", "calorimeter"), _run(tmp_path / "califa" / "b", "calorimeter")
    iact = _run(tmp_path / "hillas" / "rf", "iact")
    for runs in ([calorimeter], [calorimeter, iact]):  # a board of two families compares each with its own kind
        output = tmp_path / f"board{len(runs)}.html"
        code, said = _invoke(board, *map(str, runs), "--baseline", str(other), "--output", str(output))
        assert code == 0, said
        page = output.read_text()
        data = json.loads(page.split('<script type="application/json" id="board-data">')[1].split("</script>")[0])
        assert data["baseline"]["family"] == "calorimeter"


def test_explain_given_several_runs_says_it_explains_one(tmp_path: Path) -> None:
    """A README glob matching two runs (after training twice) gave click's "unexpected extra argument"."""
    from typer.testing import CliRunner

    from showerlearn.cli.main import app

    result = CliRunner().invoke(app, ["explain", str(tmp_path / "a"), str(tmp_path / "b"), "--input", "x.h5"])
    assert result.exit_code == 2
    assert "one run or sweep is explained at a time, got 2" in " ".join(result.output.split())
