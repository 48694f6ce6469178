"""What a DL1 file must describe for its images to be read right: the telescope positions (subarray layout), a
non-LST camera's focal length (optics), one pointing per observation; and the images of other telescope types,
counted rather than passed over."""

from __future__ import annotations

import gzip
import logging
import re
from pathlib import Path

import numpy as np
import pytest
import tables

from iact_files import CTAPIPE_POINTING, GAMMA_TEST, LAYOUT, LSTCHAIN, MUONS, damaged_copy

from showerlearn.iact.data import IACTDataError, IACTDataModule, open_dl1
from showerlearn.iact.geometry import LST_EFFECTIVE_FOCAL_LENGTH

OPTICS = "/configuration/instrument/telescope/optics"
GEOMETRY = "/configuration/instrument/telescope/camera/geometry_0"


def _rename_camera(h5: tables.File, row: int, camera: str, description: str) -> None:
    """Layout row ``row`` made a telescope of another camera (by name; the pixels stay)."""
    layout = h5.get_node(LAYOUT)
    for column, value in (("camera_name", camera), ("tel_description", description)):
        values = layout.col(column)
        values[row] = value
        layout.modify_column(colname=column, column=values)


def test_a_file_without_its_subarray_layout_is_refused(shared_data: Path, tmp_path: Path) -> None:
    """Not every telescope silently at (0, 0): impacts would be off by each telescope's distance (~100 m)."""
    path = damaged_copy(shared_data, tmp_path, GAMMA_TEST)
    with tables.open_file(path, "a") as h5:
        h5.get_node(LAYOUT).remove_rows(0, 4)
    with pytest.raises(IACTDataError, match=rf"{path.name}: an empty subarray layout {LAYOUT}"):
        open_dl1(path)
    with tables.open_file(path, "a") as h5:
        h5.remove_node(LAYOUT)
    with pytest.raises(IACTDataError, match=rf"{path.name}: no subarray layout {LAYOUT}: the telescopes' types, cameras "
                       r"and positions are unknown"):
        open_dl1(path)


def test_a_telescope_without_a_layout_row_is_refused(shared_data: Path, tmp_path: Path) -> None:
    path = damaged_copy(shared_data, tmp_path, LSTCHAIN)  # lstchain: its camera is read without the layout
    with tables.open_file(path, "a") as h5:
        layout = h5.get_node(LAYOUT)
        layout.modify_column(colname="tel_id", column=np.array([5], dtype=layout.coldtypes["tel_id"]))
    with pytest.raises(IACTDataError, match=rf"{path.name}: {LAYOUT} has no row for telescope 1: its position, and so "
                       "the impacts of its images, are unknown"):
        open_dl1(path)
    with open_dl1(shared_data / "iact" / GAMMA_TEST) as whole:  # each telescope at its own layout position
        first = {int(tel): i for i, tel in reversed(list(enumerate(whole.columns["tel_id"])))}
        positions = {tel: (whole.columns["tel_pos_x"][i], whole.columns["tel_pos_y"][i]) for tel, i in first.items()}
        assert positions == {1: (50.0, 50.0), 2: (-50.0, 50.0), 3: (50.0, -50.0), 4: (-50.0, -50.0)}


def test_only_an_lst_camera_falls_back_to_the_lst_focal_length(shared_data: Path, tmp_path: Path) -> None:
    lst = damaged_copy(shared_data, tmp_path, MUONS)
    with tables.open_file(lst, "a") as h5:
        h5.remove_node(OPTICS)
    with open_dl1(lst) as file:
        assert file.focal_length == LST_EFFECTIVE_FOCAL_LENGTH
    other = tmp_path / "chec.dl1.h5"
    lst.rename(other)
    with tables.open_file(other, "a") as h5:  # the LST pixels under another camera's name, and no optics
        _rename_camera(h5, 0, "CHEC", "SST_ASTRI_CHEC")
        h5.get_node(GEOMETRY).attrs["CAM_ID"] = "CHEC"
    with pytest.raises(IACTDataError, match=re.escape(
        f"{other}: the focal length of telescope 1 (camera 'CHEC') is unknown: {OPTICS}: no such table; expected the "
        "optics table ctapipe writes (only LST cameras fall back to LST's 29.31 m)"
    )):
        open_dl1(other)


def _add_pointing_row(path: Path, altitude_rad: float) -> None:
    """A second row for the obs_id of the first row of telescope 1's pointing table."""
    with tables.open_file(path, "a") as h5:
        node = h5.get_node(CTAPIPE_POINTING)
        row = node.read(0, 1)
        row["telescope_pointing_altitude"] = altitude_rad
        node.append(row)


def test_pointing_rows_of_one_observation_must_agree(shared_data: Path, tmp_path: Path) -> None:
    """Not the last row silently: the direction targets are relative to the pointing."""
    with open_dl1(shared_data / "iact" / GAMMA_TEST) as whole:
        expected = whole.columns["pointing_alt"]
    same = damaged_copy(shared_data, tmp_path, GAMMA_TEST)
    with tables.open_file(same, "r") as h5:
        altitude = float(h5.get_node(CTAPIPE_POINTING).col("telescope_pointing_altitude")[0])
    _add_pointing_row(same, altitude)  # an identical repeat (a file merged twice) is harmless
    with open_dl1(same) as file:
        np.testing.assert_array_equal(file.columns["pointing_alt"], expected)
    _add_pointing_row(same, np.deg2rad(50.0))
    with pytest.raises(IACTDataError, match=rf"{same.name}: {CTAPIPE_POINTING} has rows for obs_id=\d+ that disagree: "
                       r"\(alt, az\) = \[.*\] and \[50\.0.*\] deg; expected one pointing per observation"):
        open_dl1(same)


def test_images_of_other_telescope_types_are_counted_and_reported(
    shared_data: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = damaged_copy(shared_data, tmp_path, GAMMA_TEST)
    with tables.open_file(path, "a") as h5:  # telescope 2 of another type (its images are not read)
        _rename_camera(h5, 1, "CHEC", "SST_ASTRI_CHEC")
    with open_dl1(shared_data / "iact" / GAMMA_TEST) as whole:
        of_tel_2 = int((whole.columns["tel_id"] == 2).sum())
        assert whole.other_images == {} and of_tel_2 > 0
    with open_dl1(path, telescope_type="LSTCam") as file:
        assert file.other_images == {"SST_ASTRI_CHEC": of_tel_2} and 2 not in file.columns["tel_id"]
        n_read = file.n_events
    datamodule = IACTDataModule(files=[str(path)], telescope_type="LSTCam")
    datamodule.use_prediction_inputs([path])
    with caplog.at_level(logging.INFO, logger="showerlearn.iact"):
        datamodule.setup("predict")
    assert f"{path}: {of_tel_2} image(s) of other telescope types not read (SST_ASTRI_CHEC: {of_tel_2}), only the " \
           f"{n_read} of LST_LST_LSTCam" in caplog.text


def test_a_compressed_dl1_file_is_told_to_be_decompressed(shared_data: Path, tmp_path: Path) -> None:
    path = tmp_path / "muons.dl1.h5.gz"
    path.write_bytes(gzip.compress((shared_data / "iact" / MUONS).read_bytes(), compresslevel=1))
    with pytest.raises(IACTDataError, match=rf"{path.name}: gzip-compressed HDF5 file \(decompress it first\), not a DL1"):
        open_dl1(path)
