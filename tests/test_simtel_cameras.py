"""Any camera straight from sim_telarray: `train` and `predict` on raw files of several camera types,
each on the lattice built from the file's own geometry; the telescope-type choice; clear errors for
truncated files and for files of another kind.

The shared prod2 file ``gamma_test.simtel.gz`` holds four telescope types (LSTCam, NectarCam, CHEC,
SCTCam). Its sim_telarray content stops at 50 MiB inside an event (ctapipe cut it from a production
file), so it is refused unless ``simtel.allow_truncated`` is set, which reads the complete events.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tables
import yaml
from typer.testing import CliRunner

from showerlearn.engine.run_dir import RunDir
from showerlearn.iact.data import IACTDataError, IACTDataModule, open_dl1
from showerlearn.iact.geometry import Lattice
from showerlearn.iact.io.kinds import HDF5, SIMTEL, file_kind
from showerlearn.iact.io.telescopes import choose_telescope_type, group_telescopes

pytest.importorskip("eventio", reason="sim_telarray files need the optional simtel extra (eventio)")

GAMMA_TEST = "iact/simtel/gamma_test.simtel.gz"
PROD6 = "iact/simtel/gamma_prod6_tel_event_header_v4.simtel.zst"
# camera -> (lattice kind, pixels, images of that type in gamma_test's complete events)
CAMERAS = {"LSTCam": ("hex", 1855, 9), "NectarCam": ("hex", 1855, 19), "CHEC": ("square", 2048, 6)}
TINY_NETWORK = {"depth": 8, "widths": [4, 8, 8], "local_head": "light", "particle_head": "pool", "direction_head": "vote"}


def _config(folder: Path, files: list[str], camera: str, evaluate: bool) -> Path:
    """A seconds-long training on one camera type of ``files`` (all gammas: no class balance, no AUC)."""
    config = {
        "name": f"simtel_{camera.lower()}",
        "seed": 1,
        "output_dir": str(folder / "runs"),
        "data": {
            "name": "iact",
            "params": {
                "files": files,
                "telescope_type": camera,
                "simtel": {"allow_truncated": True},
                "cache_dir": str(folder / "cache"),
                "split": {"fractions": [0.5, 0.25, 0.25]},
                "batch_size": 4,
            },
        },
        "model": {"name": "gamma_physnet", "params": TINY_NETWORK},
        "task": {
            "heads": {
                "particle": {"loss": "cross_entropy", "metrics": ["accuracy"]},
                "energy": {"loss": "l1", "metrics": ["mae"]},
                "direction": {"loss": "l1"},
                "impact": {"loss": "l1"},
            }
        },
        "trainer": {"max_epochs": 1, "accelerator": "cpu", "devices": 1, "threads": 1},
        "evaluation": {"name": "iact", "params": {"n_bootstrap": 10, "figure_formats": ["png"]}} if evaluate else None,
    }
    path = folder / f"{camera}.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Runs and the DL1 files calibrated from gamma_test, shared by every camera's training and prediction."""
    return tmp_path_factory.mktemp("simtel_cameras")


@pytest.fixture(scope="module", params=list(CAMERAS))
def trained(request: pytest.FixtureRequest, workspace: Path, shared_data: Path) -> tuple[str, RunDir]:
    """One camera type of gamma_test trained for one epoch (the square CHEC run also evaluated)."""
    from showerlearn.config import load_config
    from showerlearn.engine.runner import train

    camera = request.param
    config = _config(workspace, [str(shared_data / GAMMA_TEST)], camera, evaluate=camera == "CHEC")
    return camera, train(load_config(config), progress=False)


@pytest.mark.slow
def test_train_and_predict_on_the_cameras_of_a_simtel_file(
    trained: tuple[str, RunDir], workspace: Path, shared_data: Path
) -> None:
    from showerlearn.cli.main import app
    from showerlearn.config import load_config
    from showerlearn.engine.runner import build_datamodule
    from showerlearn.io.tables import read_columns

    camera, run = trained
    kind, n_pixels, n_images = CAMERAS[camera]
    # the model's lattice is the file's own camera (LST cameras: the shipped LSTCam, the same lattice)
    datamodule = build_datamodule(load_config(run.config_file))
    inputs = datamodule.model_inputs()
    assert inputs["camera"].name == camera and inputs["camera"].n_pixels == n_pixels
    assert inputs["lattice"].kind == kind and inputs["lattice"].n_pixels == n_pixels
    file_camera = datamodule.files[0].camera  # as the sim_telarray file describes it
    assert Lattice.from_camera(file_camera).kind == kind
    if camera != "LSTCam":
        assert inputs["camera"] is file_camera
    assert np.isfinite(read_columns(run.predictions_file)["reco_energy"]).all()  # the run's own test split
    if camera == "CHEC":  # evaluated, and its test images drawn on the square camera
        assert run.metrics()["scalars"]["n_gamma"] > 0
        assert (run.plots / "camera_examples.png").is_file()

    # predict on the sim_telarray file, and on the ctapipe DL1 file of that camera made from it
    dl1 = datamodule.files[0].path  # ctapipe's DataWriter wrote it, as ctapipe-process --write-images does
    predicted = {}
    for name, source in (("simtel", shared_data / GAMMA_TEST), ("dl1", dl1)):
        output = workspace / f"predicted_{camera}_{name}"
        result = CliRunner().invoke(app, ["predict", str(run.path), str(source), "--output", str(output)])
        assert result.exit_code == 0, result.output
        (predictions,) = output.glob("*.h5")
        predicted[name] = read_columns(predictions)
    columns = predicted["simtel"]
    assert len(columns["event_id"]) == n_images  # every image of that type, and only those
    assert set(np.unique(columns["tel_id"])) <= set(datamodule.files[0].cameras)
    assert np.isfinite(columns["reco_alt"]).all() and np.isfinite(columns["gammaness"]).all()
    assert (columns["true_shower_primary_id"] == 0).all()
    np.testing.assert_allclose(predicted["dl1"]["reco_energy"], columns["reco_energy"], rtol=1e-6)


def test_several_telescope_types_need_a_choice(shared_data: Path, tmp_path: Path) -> None:
    module = IACTDataModule(files=[str(shared_data / PROD6)], cache_dir=tmp_path)
    with pytest.raises(IACTDataError, match=r"holds 2 telescope types: LST_LST_LSTcam \(camera LSTcam, 4 telescopes\), "
                       r"MST_MST_NectarCam \(camera NectarCam, 39 telescopes\).*telescope_type"):
        module.setup("fit")
    with pytest.raises(IACTDataError, match="no telescope of type 'FlashCam'; the file holds LST_LST_LSTcam"):
        IACTDataModule(files=[str(shared_data / PROD6)], cache_dir=tmp_path, telescope_type="FlashCam").setup("fit")
    # a network trained on files of one type (its config names none) predicts the type of its own camera
    trained = IACTDataModule(files=[str(shared_data / PROD6)], cache_dir=tmp_path)
    trained.restore_fitted_state({"camera": {"name": "LSTCam", "n_pixels": 1855}})
    trained.use_prediction_inputs([shared_data / PROD6])
    trained.setup("predict")
    assert [file.telescope_type for file in trained.predict_set.files] == ["LST_LST_LSTcam"]


def test_choice_by_type_or_camera_name_in_any_case() -> None:
    types = group_telescopes({1: ("LST_LST_LSTCam", "LSTCam"), 5: ("SST_ASTRI_CHEC", "CHEC"), 6: ("SST_ASTRI_CHEC", "CHEC")})
    assert choose_telescope_type(types, "chec", "f").tel_ids == (5, 6)
    assert choose_telescope_type(types, "lst_lst_lstcam", "f").camera == "LSTCam"
    assert choose_telescope_type({"A": types["SST_ASTRI_CHEC"]}, None, "f").name == "SST_ASTRI_CHEC"
    same_camera = group_telescopes({1: ("SST_ASTRI_CHEC", "CHEC"), 2: ("SST_GCT_CHEC", "CHEC")})
    with pytest.raises(IACTDataError, match="'CHEC' names several types"):
        choose_telescope_type(same_camera, "CHEC", "f")


def test_truncated_simtel_files_are_refused_naming_the_file(shared_data: Path, tmp_path: Path) -> None:
    source = shared_data / GAMMA_TEST
    cut = tmp_path / "cut.simtel.gz"  # a gzip stream that stops (an interrupted copy)
    cut.write_bytes(source.read_bytes()[:8_000_000])
    assert file_kind(cut) == SIMTEL
    with pytest.raises(IACTDataError, match=r"cut.simtel.gz: sim_telarray file is truncated \(Compressed file ended"):
        IACTDataModule(files=[str(cut)], telescope_type="LSTCam", cache_dir=tmp_path).setup("fit")
    zstd = tmp_path / "cut.simtel.zst"
    zstd.write_bytes((shared_data / PROD6).read_bytes()[:2_000_000])
    with pytest.raises(IACTDataError, match=r"cut.simtel.zst: sim_telarray file is truncated"):
        IACTDataModule(files=[str(zstd)], telescope_type="LSTCam", cache_dir=tmp_path).setup("fit")
    # a complete gzip stream whose sim_telarray content stops inside an event: eventio alone only warns
    with pytest.raises(IACTDataError, match=r"gamma_test.simtel.gz: sim_telarray file is truncated \(its last object "
                       r"ends at byte 53354200, the content stops at byte 52428800\); allow_truncated"):
        IACTDataModule(files=[str(source)], telescope_type="LSTCam", cache_dir=tmp_path).setup("fit")
    assert not list(tmp_path.glob("simtel/*.h5"))  # nothing half-converted is left in the cache


def test_files_of_another_kind_say_what_they_are(tmp_path: Path) -> None:
    text = tmp_path / "events.simtel.gz"  # the name does not decide: the content does
    text.write_text("energy,alt,az\n1.0,70,0\n")
    hdf5 = tmp_path / "table.h5"
    with tables.open_file(hdf5, "w") as h5:
        h5.create_array("/", "energy", np.ones(3))
    root = tmp_path / "events.root"
    root.write_bytes(b"root\x00\x00\xf4\x3c" + bytes(100))
    assert file_kind(hdf5) == HDF5
    expected = {
        text: r"events.simtel.gz: text file starting with 'energy,alt,az', not a DL1 HDF5",
        hdf5: r"table.h5: not a DL1 file with images: .* this HDF5 file's top-level nodes are \['energy'\]",
        root: r"events.root: ROOT file, not a DL1 HDF5 \(ctapipe or lstchain\) nor a sim_telarray file",
    }
    for path, message in expected.items():
        with pytest.raises(IACTDataError, match=message):
            IACTDataModule(files=[str(path)], cache_dir=tmp_path).setup("fit")


def test_image_extractor_is_configurable(shared_data: Path) -> None:
    from showerlearn.iact.io.simtel import SimtelOptions, read_simtel

    path = shared_data / "iact/simtel/lst_with_photons.simtel.zst"
    default = read_simtel(path)  # ctapipe's NeighborPeakWindowSum
    narrow = read_simtel(path, options=SimtelOptions(image_extractor="LocalPeakWindowSum", extractor_params={"window_width": 2}))
    assert default["image"].shape == narrow["image"].shape == (1, 1855)
    assert not np.allclose(narrow["image"], default["image"])  # another extraction, same pixels
    np.testing.assert_array_equal(narrow["true_image"], default["true_image"])
    with pytest.raises(ValueError, match="'Foo' is not a ctapipe ImageExtractor") as refused:
        SimtelOptions(image_extractor="Foo")
    assert "'LocalPeakWindowSum'" in str(refused.value) and "VarianceExtractor" not in str(refused.value)
    with pytest.raises(ValueError, match="'VarianceExtractor' gives each pixel's waveform variance"):
        SimtelOptions(image_extractor="VarianceExtractor")
    with pytest.raises(ValueError, match=r"\['width'\] are not settings of NeighborPeakWindowSum"):
        SimtelOptions(extractor_params={"width": 3})


def test_a_dl1_file_and_the_simtel_file_it_was_made_from_are_not_one_training_set(shared_data: Path, tmp_path: Path) -> None:
    """Their bytes differ (the copy check passes them) but they hold the same events, which would count twice and
    could land in both the training and the test split. Files that only share ids (two simulations numbering their
    runs alike) are not refused: their images differ."""
    dl1, simtel = shared_data / "iact/dl1_ctapipe/lst_with_photons.lst.dl1.h5", shared_data / "iact/simtel/lst_with_photons.simtel.zst"
    twins = IACTDataModule(files=[str(dl1), str(simtel)], cache_dir=tmp_path, telescope_type="LSTCam",
                           split={"fractions": [0.5, 0.25, 0.25]})
    with pytest.raises(IACTDataError, match=r"lst_with_photons\.simtel\.zst holds the events of .*lst_with_photons\.lst"
                                            r"\.dl1\.h5, with the same images \(obs_id=5 event_id=100 tel_id=1\): a DL1 file "
                                            r"and the sim_telarray file it was made from\?"):
        twins.setup("fit")
    from showerlearn.iact.simulation import IACTSimulationConfig, simulate_iact

    simulated = [simulate_iact(IACTSimulationConfig(n_events=60, chunk_size=60), tmp_path / f"sim{seed}.dl1.h5", seed=seed)
                 for seed in (1, 2)]  # both number their run 1 and their events from 0
    others = IACTDataModule(files=[str(path) for path in simulated], cache_dir=tmp_path, split={"fractions": [0.5, 0.25, 0.25]})
    others.setup("fit")
    columns = [file.columns for file in others.files]
    assert {(int(c["obs_id"][0]), int(c["event_id"][0])) for c in columns} == {(int(columns[0]["obs_id"][0]),
                                                                                int(columns[0]["event_id"][0]))}


def test_a_damaged_cached_conversion_is_converted_again(shared_data: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """The cache is written atomically, so a file there that does not open was damaged since (a disk, a user): it is
    converted again, with a warning, rather than refused on every later run."""
    from showerlearn.iact.io.simtel import cached_dl1

    source = shared_data / "iact/simtel/lst_with_photons.simtel.zst"
    cached = cached_dl1(source, tmp_path)
    with open_dl1(cached) as file:
        images = file.read(slice(None))["image"]
    cached.write_bytes(cached.read_bytes()[:20_000])
    with caplog.at_level("WARNING"):
        assert cached_dl1(source, tmp_path) == cached
    assert "cannot be read (damaged?): converting it again" in caplog.text
    with open_dl1(cached) as file:
        np.testing.assert_array_equal(file.read(slice(None))["image"], images)
