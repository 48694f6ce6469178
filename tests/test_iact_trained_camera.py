"""The camera an IACT network was built on travels in its checkpoint: files of another camera are refused when
predicting, even where the training files are gone or others, and a --set of the telescope type is refused."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from iact_runs import EXAMPLES

from showerlearn.config import load_config
from showerlearn.data.base import FITTED_STATE_KEY
from showerlearn.engine.runner import build_datamodule
from showerlearn.engine.safe_load import load_checkpoint
from showerlearn.iact.data.targets import IMPACT_AXES, LEGACY_IMPACT_AXES
from showerlearn.iact.io.errors import UnknownCameraError

LST_FILE = "iact/dl1_ctapipe/gamma_test.lst.dl1.h5"


def _datamodule(tmp_path: Path, trained_camera: dict, impact_axes: str | None = IMPACT_AXES) -> object:
    """``impact_axes`` None: a checkpoint of before the impact's encoding was recorded."""
    # training files that no longer exist: the checkpoint's camera is what the files to predict are checked against
    config = load_config(EXAMPLES / "gamma_physnet_da_small.yaml", [
        "data.params.simulate=null", f"data.params.files=[{tmp_path / 'gone' / '*.h5'}]", f"data.params.cache_dir={tmp_path}"])
    datamodule = build_datamodule(config, progress=False)
    datamodule.restore_fitted_state({"camera": trained_camera} | ({"impact_axes": impact_axes} if impact_axes else {}))
    return datamodule


def test_files_of_another_camera_than_the_trained_one_are_refused(shared_data: Path, tmp_path: Path,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    datamodule = _datamodule(tmp_path, {"name": "NectarCam", "n_pixels": 1855})  # the lattice LSTCam has too
    datamodule.use_prediction_inputs([shared_data / LST_FILE])
    with pytest.raises(UnknownCameraError, match=r"gamma_test.lst.dl1.h5 gives the camera LSTCam \(1855 pixels\), but the "
                                                  r"network was trained on NectarCam \(1855 pixels\)"):
        datamodule.setup("predict")
    unnamed = _datamodule(tmp_path, {"name": "unknown", "n_pixels": 1855})  # trained on a file naming no camera
    unnamed.use_prediction_inputs([shared_data / LST_FILE])
    with caplog.at_level(logging.WARNING):
        unnamed.setup("predict")  # the pixels are all there is to compare: said, not refused
    assert "gives the camera LSTCam, the network's is unknown: taken as the same by their 1855 pixels" in caplog.text
    fewer = _datamodule(tmp_path, {"name": "unknown", "n_pixels": 1039})
    fewer.use_prediction_inputs([shared_data / LST_FILE])
    with pytest.raises(UnknownCameraError, match=r"LSTCam \(1855 pixels\), but the network was trained on unknown \(1039"):
        fewer.setup("predict")
    same = _datamodule(tmp_path, {"name": "LSTCam", "n_pixels": 1855})
    same.use_prediction_inputs([shared_data / LST_FILE])
    same.setup("predict")  # read without the training files, which are gone
    assert same.camera.name == "LSTCam" and len(same.predict_set) > 0


@pytest.mark.slow
def test_a_trained_run_keeps_its_camera_and_refuses_another_telescope_type(tiny_small_example, tmp_path: Path) -> None:
    from showerlearn.engine.predict import predict_split

    checkpoint = load_checkpoint(tiny_small_example.best_checkpoint())
    assert checkpoint[FITTED_STATE_KEY]["camera"] == {"name": "LSTCam", "n_pixels": 1855}
    with pytest.raises(ValueError, match=r"cannot --set data.params.telescope_type: .* predicts with the data preprocessing"):
        predict_split(tiny_small_example, tmp_path / "other.h5", ["data.params.telescope_type=NectarCam"], progress=False)
    assert not (tmp_path / "other.h5").exists()


@pytest.mark.slow
def test_predicting_with_other_transforms_or_cleaning_says_the_inputs_changed(
    tiny_small_example, shared_data: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Another charge transform turned a 7 TeV shower into 72 TeV without a word: allowed (a study of the network
    under another cleaning), and said."""
    from showerlearn.engine.predict import predict_files

    with caplog.at_level(logging.WARNING):
        predict_files(tiny_small_example, [shared_data / LST_FILE], tmp_path / "same", progress=False)
    assert "reads its inputs otherwise" not in caplog.text
    with caplog.at_level(logging.WARNING):
        predict_files(tiny_small_example, [shared_data / LST_FILE], tmp_path / "other",
                      ["data.params.transforms.charge=log1p", "data.params.batch_size=8"], progress=False)
    assert ("predict --set data.params.transforms.charge: the network reads its inputs otherwise than it was trained to "
            "(data.params.transforms.charge)") in caplog.text


def test_the_impact_encoding_travels_in_the_checkpoint(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A checkpoint records how its impact output is encoded; one of an earlier version (which says nothing) is
    decoded as it was trained, with a warning that its cores hold at its training's azimuth only."""
    lst = {"name": "LSTCam", "n_pixels": 1855}
    with caplog.at_level(logging.WARNING):
        current = _datamodule(tmp_path, lst)
    assert not caplog.text and current.fitted_state()["impact_axes"] == IMPACT_AXES
    with caplog.at_level(logging.WARNING):
        earlier = _datamodule(tmp_path, lst, impact_axes=None)
    assert "its reco_core_x/y hold only at the pointing azimuth of its training events" in caplog.text
    assert earlier.fitted_state()["impact_axes"] == LEGACY_IMPACT_AXES  # and a resumed run keeps it so


def test_a_checkpoint_without_any_fitted_state_is_decoded_as_trained(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Checkpoints from before fitted states were kept are older than the camera-axes impact too: ground axes."""
    config = load_config(EXAMPLES / "gamma_physnet_da_small.yaml", [
        "data.params.simulate=null", f"data.params.files=[{tmp_path / 'gone' / '*.h5'}]", f"data.params.cache_dir={tmp_path}"])
    datamodule = build_datamodule(config, progress=False)
    with caplog.at_level(logging.WARNING):
        assert datamodule.restore_from_checkpoint({"state_dict": {}}) is False
    assert datamodule._impact_axes == LEGACY_IMPACT_AXES and "hold only at the pointing azimuth" in caplog.text


def test_the_shipped_network_encodes_the_impact_on_camera_axes() -> None:
    """Its impact head was converted exactly (trained at one pointing): its checkpoint says so."""
    from showerlearn.iact.pretrained import CPU_BENCHMARK

    state = load_checkpoint(CPU_BENCHMARK.checkpoint)
    assert state[FITTED_STATE_KEY] == {"camera": {"name": "LSTCam", "n_pixels": 1855}, "impact_axes": IMPACT_AXES}


def test_a_run_of_the_ground_encoded_impact_is_not_continued(tiny_small_example, tmp_path: Path) -> None:
    """Continuing a run whose checkpoint learnt the impact on ground axes (before 2026-12-06) would train its impact
    head on camera-axis targets under the old label: refused before the run is touched, with the way on."""
    import json
    import shutil

    import torch

    from showerlearn.config import ConfigError
    from showerlearn.engine.runner import train
    from showerlearn.iact.data import IACTDataModule

    assert IACTDataModule.resume_problems(lambda: {FITTED_STATE_KEY: {"impact_axes": IMPACT_AXES}}, {"impact", "energy"}) == []
    assert IACTDataModule.resume_problems(lambda: {}, {"energy", "particle"}) == []  # no impact head: nothing to mislabel
    copy = tmp_path / "earlier"
    shutil.copytree(tiny_small_example.path, copy)
    last = copy / "checkpoints" / "last.ckpt"
    state = torch.load(last, weights_only=False)
    del state[FITTED_STATE_KEY]["impact_axes"]
    torch.save(state, last)
    before = json.loads((copy / "run.json").read_text())
    config = load_config(copy / "config.yaml", ["trainer.max_epochs=2"])
    with pytest.raises(ConfigError, match="learnt the impact point on ground axes .*start a new run"):
        train(config, resume=copy, progress=False)
    assert json.loads((copy / "run.json").read_text()) == before


def test_a_network_loaded_for_its_test_split_decodes_as_it_was_trained(tiny_small_example, tmp_path: Path) -> None:
    """explain and export read a run's test split through load_network: the checkpoint's impact encoding holds
    there too, not only for new files (review)."""
    import torch

    from showerlearn.engine.trained import load_network

    state = torch.load(tiny_small_example.best_checkpoint(), weights_only=False)
    assert load_network(tiny_small_example.best_checkpoint(), progress=False).datamodule._impact_axes == IMPACT_AXES
    del state[FITTED_STATE_KEY]["impact_axes"]
    earlier = tmp_path / "run" / "checkpoints" / "best.ckpt"
    earlier.parent.mkdir(parents=True)
    torch.save(state, earlier)
    assert load_network(earlier, progress=False).datamodule._impact_axes == LEGACY_IMPACT_AXES
