"""DL1 readers against independent reads (ctapipe's read_table / TableLoader) of every shared file."""

from __future__ import annotations

import shutil
from pathlib import Path

import astropy.units as u
import numpy as np
from numpy.lib import recfunctions as rfn
import pytest
import tables
from astropy.table import QTable, join, vstack
from ctapipe.image import hillas_parameters
from ctapipe.io import TableLoader, read_table

from showerlearn.iact.data import (
    EmptySelectionError,
    IACTDataError,
    IACTDataModule,
    MissingTruthError,
    UnknownCameraError,
    open_dl1,
)
from showerlearn.iact.data.cuts import Cuts, select
from showerlearn.iact.data.targets import camera_matrices
from showerlearn.iact.geometry import lst_camera

N_PIXELS = 1855
LSTCHAIN_PARAMETERS = "/dl1/event/telescope/parameters/LST_LSTCam"


def dl1_files(shared_data: Path) -> list[Path]:
    files = sorted((shared_data / "iact").glob("dl1_ctapipe/*.h5")) + sorted((shared_data / "iact").glob("dl1_lstchain/*.h5"))
    assert len(files) >= 6, f"expected the 6 shared DL1 files, found {files}"
    return files


def reference_tables(path: Path) -> tuple:
    """Images and truth read independently: (image table, truth table with units), via ctapipe's read_table."""
    with tables.open_file(path) as h5:
        lstchain = "/dl1/event/telescope/image/LST_LSTCam" in h5
        image_paths = (
            ["/dl1/event/telescope/image/LST_LSTCam"]
            if lstchain
            else [n._v_pathname for n in h5.walk_nodes("/dl1/event/telescope/images", "Table")]
        )
    images = vstack([read_table(path, p) for p in sorted(image_paths)])
    if lstchain:
        params = read_table(path, LSTCHAIN_PARAMETERS)
        truth = params["obs_id", "event_id", "tel_id"]
        for ours, theirs in [("true_energy", "mc_energy"), ("true_alt", "mc_alt"), ("true_az", "mc_az"),
                             ("true_core_x", "mc_core_x"), ("true_core_y", "mc_core_y"),
                             ("true_shower_primary_id", "mc_type")]:
            truth[ours] = params[theirs]
        truth = join(images["obs_id", "event_id", "tel_id"], truth, keys=["obs_id", "event_id", "tel_id"])
    else:
        shower = read_table(path, "/simulation/event/subarray/shower")
        truth = join(images["obs_id", "event_id", "tel_id"], shower, keys=["obs_id", "event_id"])
    return images, QTable(truth)


def test_every_shared_file_reads_with_counts_and_truth(shared_data: Path) -> None:
    for path in dl1_files(shared_data):
        images, truth = reference_tables(path)
        with open_dl1(path) as file:
            data = file.read(slice(None))
            assert file.n_events == len(images), path
            assert file.has_truth, path
        assert data["image"].shape == (len(images), N_PIXELS), path
        assert data["peak_time"].shape == (len(images), N_PIXELS), path
        # match our events to the independent read by (obs_id, event_id, tel_id)
        ours = {(o, e, t): i for i, (o, e, t) in enumerate(zip(data["obs_id"], data["event_id"], data["tel_id"], strict=True))}
        assert len(ours) == len(images), path
        for row in truth:
            i = ours[(row["obs_id"], row["event_id"], row["tel_id"])]
            assert data["true_energy"][i] == pytest.approx(row["true_energy"].to_value(u.TeV), rel=1e-6), path
            for name in ("true_alt", "true_az"):
                assert data[name][i] == pytest.approx(row[name].to_value(u.deg), abs=1e-6), (path, name)
            for name in ("true_core_x", "true_core_y"):
                assert data[name][i] == pytest.approx(row[name].to_value(u.m), abs=1e-4), (path, name)
            assert data["true_shower_primary_id"][i] == row["true_shower_primary_id"], path
        for row in images:
            i = ours[(row["obs_id"], row["event_id"], row["tel_id"])]
            # a mapping is a permutation: same charges, reordered
            np.testing.assert_array_equal(np.sort(data["image"][i]), np.sort(row["image"]), err_msg=str(path))
            np.testing.assert_array_equal(np.sort(data["peak_time"][i]), np.sort(row["peak_time"]), err_msg=str(path))


def test_tableloader_cross_check_of_ctapipe_028_file(shared_data: Path) -> None:
    path = shared_data / "iact/dl1_ctapipe/test_lasercal_v3.lst.ctapipe0.28_v7.1.0.dl1.h5"
    with TableLoader(path, dl1_images=True, simulated=True, instrument=False, pointing=True) as loader:
        events = QTable(loader.read_telescope_events())
    with open_dl1(path) as file:
        data = file.read(np.arange(file.n_events))
    assert len(events) == file.n_events
    for row in events:
        i = np.nonzero((data["event_id"] == row["event_id"]) & (data["tel_id"] == row["tel_id"]))[0][0]
        assert data["true_energy"][i] == pytest.approx(row["true_energy"].to_value(u.TeV))
        assert data["pointing_alt"][i] == pytest.approx(row["telescope_pointing_altitude"].to_value(u.deg))
        assert data["pointing_az"][i] == pytest.approx(row["telescope_pointing_azimuth"].to_value(u.deg))
        assert data["image"][i].sum() == pytest.approx(row["image"].sum(), rel=1e-6)


def test_images_land_on_the_right_pixels(shared_data: Path) -> None:
    """Hillas centroids of mapped images equal the file's own parameters, turned by the file's camera
    orientation (the rotated gamma_test file included) and scaled by the focal length the file used."""
    reference = lst_camera()
    checked = set()
    for path in dl1_files(shared_data):
        with open_dl1(path) as file:
            data = file.read(slice(None))
            focal = file.focal_length.to_value(u.m)
        matrix = camera_matrices(data["camera_rotation"], data["camera_reflected"])
        parameter_tables: dict[str, QTable] = {}
        for i in range(len(data["event_id"])):
            mask = data["image_mask"][i]
            if mask.sum() < 3:
                continue
            hillas = hillas_parameters(reference[mask], data["image"][i][mask])
            key = LSTCHAIN_PARAMETERS if file.format == "lstchain" else f"/dl1/event/telescope/parameters/tel_{data['tel_id'][i]:03d}"
            if key not in parameter_tables:
                parameter_tables[key] = QTable(read_table(path, key))
            params = parameter_tables[key]
            row = params[params["event_id"] == data["event_id"][i]][0]
            if file.format == "ctapipe":
                # TelescopeFrame (fov_lat, fov_lon) = camera (x, y) / focal length
                centroid = np.array([row["hillas_fov_lat"].to_value(u.rad), row["hillas_fov_lon"].to_value(u.rad)]) * focal
                intensity = row["hillas_intensity"]
            else:  # lstchain stores the centroid in the camera frame [m]
                centroid, intensity = np.array([row["x"].to_value(u.m), row["y"].to_value(u.m)]), row["intensity"]
            expected = matrix[i] @ centroid
            assert hillas.intensity == pytest.approx(intensity, rel=1e-6), path
            np.testing.assert_allclose([hillas.x.to_value(u.m), hillas.y.to_value(u.m)], expected, atol=2e-5, err_msg=str(path))
            checked.add(path.name)
    assert "gamma_test.lst.dl1.h5" in checked
    assert len(checked) == 6


def test_gamma_test_camera_is_rotated(shared_data: Path) -> None:
    with open_dl1(shared_data / "iact/dl1_ctapipe/gamma_test.lst.dl1.h5") as file:
        assert abs(abs(file.columns["camera_rotation"][0]) - 90) < 0.01
        assert not file.columns["camera_reflected"][0]
    with open_dl1(shared_data / "iact/dl1_ctapipe/lst_muons.lst.dl1.h5") as file:
        assert abs(file.columns["camera_rotation"][0]) < 0.01


def test_true_image_is_read_when_present(shared_data: Path) -> None:
    path = shared_data / "iact/dl1_ctapipe/lst_with_photons.lst.dl1.h5"
    raw = read_table(path, "/simulation/event/telescope/images/tel_001")
    with open_dl1(path) as file:
        assert file.has_true_image
        data = file.read([0])
    assert data["true_image"].shape == (1, N_PIXELS)
    assert data["true_image"].sum() == raw["true_image"][0].sum() == raw["true_image_sum"][0]
    # the true Cherenkov light sits where the reconstructed charge is
    assert np.corrcoef(data["true_image"][0], data["image"][0])[0, 1] > 0.8


def test_lazy_read_of_one_event_equals_full_read(shared_data: Path) -> None:
    with open_dl1(shared_data / "iact/dl1_ctapipe/lst_muons.lst.dl1.h5") as file:
        full = file.read(slice(None))
        some = file.read([7, 2])
    np.testing.assert_array_equal(some["image"], full["image"][[7, 2]])
    assert list(some["event_id"]) == list(full["event_id"][[7, 2]])


# ---------------------------------------------------------------------- bad input
def copy(shared_data: Path, tmp_path: Path, name: str = "dl1_ctapipe/lst_muons.lst.dl1.h5") -> Path:
    target = tmp_path / Path(name).name
    shutil.copy(shared_data / "iact" / name, target)
    target.chmod(0o644)
    return target


def test_truncated_and_corrupt_files_raise_naming_the_file(shared_data: Path, tmp_path: Path) -> None:
    source = shared_data / "iact/dl1_ctapipe/lst_muons.lst.dl1.h5"
    truncated = tmp_path / "truncated.h5"
    truncated.write_bytes(source.read_bytes()[: source.stat().st_size // 2])
    with pytest.raises(IACTDataError, match="truncated.h5"):
        open_dl1(truncated).read(slice(None))
    garbage = tmp_path / "garbage.h5"
    garbage.write_bytes(b"not an hdf5 file" * 100)
    with pytest.raises(IACTDataError, match="garbage.h5.*HDF5"):
        open_dl1(garbage)
    with pytest.raises(IACTDataError, match="no such file"):
        open_dl1(tmp_path / "missing.h5")


def test_file_without_images_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "empty.h5"
    with tables.open_file(path, "w") as h5:
        h5.create_group("/", "dl1")
    with pytest.raises(IACTDataError, match="empty.h5.*not a DL1 file with images"):
        open_dl1(path)


def test_missing_truth_is_reported_for_training(shared_data: Path, tmp_path: Path) -> None:
    path = copy(shared_data, tmp_path)
    with tables.open_file(path, "a") as h5:
        h5.remove_node("/simulation", recursive=True)
    with open_dl1(path) as file:
        assert not file.has_truth
        assert np.all(np.isnan(file.read([0])["true_energy"]))
    with pytest.raises(MissingTruthError, match="lst_muons.lst.dl1.h5.*no simulation truth"):
        IACTDataModule(files=[str(path)]).setup("fit")


def test_a_truth_table_without_the_particle_column_is_named(shared_data: Path, tmp_path: Path) -> None:
    path = copy(shared_data, tmp_path)
    with tables.open_file(path, "a") as h5:
        shower = h5.get_node("/simulation/event/subarray/shower")
        data, parent, name = shower.read(), shower._v_parent, shower._v_name
        shower.remove()
        h5.create_table(parent, name, rfn.drop_fields(data, ["true_shower_primary_id"], usemask=False))
    with pytest.raises(IACTDataError, match=r"shower lacks column\(s\) \['true_shower_primary_id'\]"):
        open_dl1(path).read([0])


def test_unknown_camera_is_rejected(shared_data: Path, tmp_path: Path) -> None:
    geometry = "/configuration/instrument/telescope/camera/geometry_0"
    scaled = copy(shared_data, tmp_path)
    with tables.open_file(scaled, "a") as h5:  # same pixel count, positions of another camera
        node = h5.get_node(geometry)
        node.modify_column(colname="pix_x", column=node.col("pix_x") * 1.7)
    with pytest.raises(UnknownCameraError, match="lst_muons.lst.dl1.h5: telescope 1.*does not match"):
        open_dl1(scaled)
    (tmp_path / "nectar").mkdir()
    renamed = copy(shared_data, tmp_path / "nectar")
    with tables.open_file(renamed, "a") as h5:  # NectarCam: the same 1855-pixel lattice as LSTCam
        h5.get_node(geometry).attrs["CAM_ID"] = "NectarCam"
    with pytest.raises(UnknownCameraError, match="telescope 1 has camera 'NectarCam'; these data are read on camera 'LSTCam'"):
        open_dl1(renamed, reference=lst_camera())
    with open_dl1(renamed) as file:  # on its own, a NectarCam file is read on its own camera
        assert file.reference.name == "NectarCam" and file.reference is file.camera
    small = tmp_path / "small" / "lst_muons.lst.dl1.h5"
    small.parent.mkdir()
    shutil.copy(scaled, small)
    with tables.open_file(small, "a") as h5:  # another pixel count
        node = h5.get_node(geometry)
        rows, attrs = node.read()[:1000], {k: node.attrs[k] for k in node.attrs._v_attrnamesuser}
        node.remove()
        new = h5.create_table("/configuration/instrument/telescope/camera", "geometry_0", obj=rows)
        for key, value in attrs.items():
            new.attrs[key] = value
    with pytest.raises(UnknownCameraError, match="1000 pixels"):
        open_dl1(small)


def test_nan_pixel_is_reported_with_the_event(shared_data: Path, tmp_path: Path) -> None:
    path = copy(shared_data, tmp_path)
    with tables.open_file(path, "a") as h5:
        node = h5.get_node("/dl1/event/telescope/images/tel_001")
        row = node.read(3, 4)
        row["image"][0, 17] = np.nan
        node.modify_rows(3, 4, rows=row)
        event_id = int(row["event_id"][0])
    with open_dl1(path) as file:
        file.read([0, 1, 2])  # other events are fine
        with pytest.raises(IACTDataError, match=rf"lst_muons.lst.dl1.h5: image of .*event_id={event_id} .*1 NaN"):
            file.read([3])


def test_empty_selection_names_files_and_cuts(shared_data: Path) -> None:
    path = shared_data / "iact/dl1_ctapipe/lst_muons.lst.dl1.h5"
    with open_dl1(path) as file:
        columns = file.columns
    with pytest.raises(EmptySelectionError, match=r"lst_muons.*30 events.*particle in \['gamma'\]: 0"):
        select(columns, Cuts(particle_types=["gamma"]), str(path))
    with pytest.raises(EmptySelectionError, match="lst_muons"):
        IACTDataModule(files=[str(path)], cuts={"min_intensity": 1e9}).setup("fit")
