"""DL1 readers on damaged copies of the shared files: each damage gives either a normal read (a telescope
without images) or an IACTDataError naming the file, the table and what was expected."""

from __future__ import annotations

import re

import logging
from pathlib import Path

import numpy as np
import pytest
import tables

from iact_files import (
    CTAPIPE_IMAGES, CTAPIPE_POINTING, GAMMA_TEST, LAYOUT, LSTCHAIN, LSTCHAIN_IMAGES, LSTCHAIN_PARAMETERS, MUONS, PHOTONS, SHOWER,
    damaged_copy,
)

from showerlearn.iact.data import EmptySelectionError, IACTDataError, IACTDataModule, MissingTruthError, open_dl1

N_PIXELS = 1855
def empty_table(h5: tables.File, path: str) -> None:
    node = h5.get_node(path)
    node.remove_rows(0, node.nrows)


def set_column(h5: tables.File, path: str, column: str, row: slice | int, value: float) -> None:
    node = h5.get_node(path)
    values = node.col(column)
    values[row] = value
    node.modify_column(colname=column, column=values)


def resize_column(h5: tables.File, path: str, column: str, width: int) -> None:
    """Rewrite table ``path`` with ``column`` ``width`` values wide (zero-padded or cut), other columns kept."""
    node = h5.get_node(path)
    data, parent, name = node.read(), node._v_parent, node._v_name
    dtype = np.dtype([(c, (data.dtype[c].base, (width,)) if c == column else data.dtype[c]) for c in data.dtype.names])
    resized = np.zeros(len(data), dtype=dtype)
    for c in data.dtype.names:
        if c == column:
            kept = min(width, data[c].shape[1])
            resized[c][:, :kept] = data[c][:, :kept]
        else:
            resized[c] = data[c]
    node.remove()
    h5.create_table(parent, name, obj=resized)


# ---------------------------------------------------------------------- images
def test_a_telescope_without_images_contributes_none(shared_data: Path, tmp_path: Path) -> None:
    path = damaged_copy(shared_data, tmp_path, GAMMA_TEST)
    with tables.open_file(path, "a") as h5:
        empty_table(h5, f"{CTAPIPE_IMAGES}/tel_002")
    with open_dl1(shared_data / "iact" / GAMMA_TEST) as whole, open_dl1(path) as file:
        kept = whole.columns["tel_id"] != 2
        assert file.n_events == kept.sum() > 0 and 2 not in file.columns["tel_id"]
        np.testing.assert_array_equal(file.read(slice(None))["image"], whole.read(np.nonzero(kept)[0])["image"])


@pytest.mark.parametrize("name", [GAMMA_TEST, LSTCHAIN])
def test_a_file_without_images_reads_as_empty_predicts_nothing_and_trains_to_a_clear_error(
    shared_data: Path, tmp_path: Path, name: str
) -> None:
    path = damaged_copy(shared_data, tmp_path, name)
    with tables.open_file(path, "a") as h5:
        for node in h5.walk_nodes("/dl1/event/telescope", "Table"):
            if node._v_pathname.startswith((CTAPIPE_IMAGES, LSTCHAIN_IMAGES)):
                empty_table(h5, node._v_pathname)
    with open_dl1(path) as file:
        assert file.n_events == 0 and file.has_truth
        assert file.read(slice(None))["image"].shape == (0, N_PIXELS)
    with pytest.raises(EmptySelectionError, match=rf"{path.name}: no event passes the selection \(0 events"):
        IACTDataModule(files=[str(path)]).setup("fit")
    # what the engine writes for an input without events: no part to predict, typed columns of no row
    datamodule = IACTDataModule(files=[str(shared_data / "iact" / LSTCHAIN)])
    assert list(datamodule.prediction_parts(path, 10)) == []
    columns = datamodule.empty_predictions()["predictions"]
    assert columns["event_id"].dtype == np.int64 and all(len(values) == 0 for values in columns.values())


@pytest.mark.parametrize(
    ("name", "table", "column", "width"),
    [
        (LSTCHAIN, LSTCHAIN_IMAGES, "image", 2000),  # was cut silently to the 1855 pixels
        (PHOTONS, f"{CTAPIPE_IMAGES}/tel_001", "image", 1000),  # was an IndexError at read
        (PHOTONS, f"{CTAPIPE_IMAGES}/tel_001", "peak_time", 1000),
        (PHOTONS, f"{CTAPIPE_IMAGES}/tel_001", "image_mask", 2000),
        (PHOTONS, "/simulation/event/telescope/images/tel_001", "true_image", 1000),
    ],
)
def test_a_pixel_column_of_another_width_than_the_camera_is_refused_at_open(
    shared_data: Path, tmp_path: Path, name: str, table: str, column: str, width: int
) -> None:
    path = damaged_copy(shared_data, tmp_path, name)
    with tables.open_file(path, "a") as h5:
        resize_column(h5, table, column, width)
    expected = rf"{path.name}: table {table} column '{column}' holds {width} values per image .*expected {N_PIXELS}, one per"
    with pytest.raises(IACTDataError, match=expected):
        open_dl1(path)


# ---------------------------------------------------------------------- truth
@pytest.mark.parametrize(
    ("name", "table", "column", "value", "unit"),
    [(GAMMA_TEST, SHOWER, "true_energy", np.nan, "TeV"), (GAMMA_TEST, SHOWER, "true_energy", -1.0, "TeV"),
     (LSTCHAIN, LSTCHAIN_PARAMETERS, "mc_energy", np.nan, "TeV"),
     # a direction or impact left out of its loss and its resolution, silently, were it masked
     (GAMMA_TEST, SHOWER, "true_alt", np.nan, "deg"), (GAMMA_TEST, SHOWER, "true_core_x", np.inf, "m"),
     (LSTCHAIN, LSTCHAIN_PARAMETERS, "mc_core_y", np.nan, "m")],
)  # fmt: skip
def test_bad_truth_is_refused_with_its_event_not_taken_for_missing_truth(
    shared_data: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture, name: str, table: str, column: str, value: float,
    unit: str,
) -> None:
    """Training refuses the file; prediction, which needs no truth, reads every image and warns."""
    path = damaged_copy(shared_data, tmp_path, name)
    with tables.open_file(path, "a") as h5:
        set_column(h5, table, column, 0, value)
        event_id = int(h5.get_node(table).col("event_id")[0])
    expected = rf"{path.name}: {table} column {column} is {value} {unit} for obs_id=\d+ event_id={event_id} tel_id=\d+ \(1 of"
    with pytest.raises(IACTDataError, match=expected) as raised:
        IACTDataModule(files=[str(path)]).setup("fit")
    assert not isinstance(raised.value, MissingTruthError)
    predicting = IACTDataModule(files=[str(shared_data / name)])
    with caplog.at_level("WARNING"):
        parts = list(predicting.prediction_parts(path, 10_000))
    assert sum(len(part) for part in parts) == open_dl1(path).n_events
    assert re.search(expected + r".*carried into the predictions as it is", caplog.text)


def test_shower_rows_of_one_event_that_disagree_are_refused(shared_data: Path, tmp_path: Path) -> None:
    """Matching images to their shower by (obs_id, event_id) would take the last of two rows: the file is refused,
    naming the event and both values; a row repeated as it is (a file merged twice) is harmless."""
    path = damaged_copy(shared_data, tmp_path, GAMMA_TEST)
    with tables.open_file(path, "a") as h5:
        shower = h5.get_node(SHOWER)
        row = shower.read(0, 1)
        shower.append(row)  # the same shower again
    with open_dl1(path) as file, open_dl1(shared_data / "iact" / GAMMA_TEST) as whole:
        np.testing.assert_array_equal(file.columns["true_energy"], whole.columns["true_energy"])
    with tables.open_file(path, "a") as h5:
        shower = h5.get_node(SHOWER)
        row["true_energy"] = 999.0
        shower.append(row)
        obs_id, event_id = int(row["obs_id"][0]), int(row["event_id"][0])
    with pytest.raises(IACTDataError, match=rf"{path.name}: {SHOWER} has rows for obs_id={obs_id} event_id={event_id} that "
                                            r"disagree: \(true_energy, true_alt, .*\) = \[.*999\.0.*\(TeV, deg"):
        open_dl1(path)


def test_a_unit_astropy_cannot_read_is_named_with_its_column(shared_data: Path, tmp_path: Path) -> None:
    path = damaged_copy(shared_data, tmp_path, GAMMA_TEST)
    with tables.open_file(path, "a") as h5:
        shower = h5.get_node(SHOWER)
        shower.attrs[f"CTAFIELD_{shower.colnames.index('true_alt')}_UNIT"] = "degreez"
    with pytest.raises(IACTDataError, match=rf"{path.name}: column {SHOWER}/true_alt is in 'degreez', expected deg"):
        open_dl1(path)


def test_a_telescope_without_a_finite_position_is_refused(shared_data: Path, tmp_path: Path) -> None:
    path = damaged_copy(shared_data, tmp_path, GAMMA_TEST)
    with tables.open_file(path, "a") as h5:
        set_column(h5, LAYOUT, "pos_x", slice(None), np.nan)
    with pytest.raises(IACTDataError, match=rf"{path.name}: {LAYOUT} gives telescope \d+ the position \[nan, .*expected "
                                            "finite pos_x, pos_y, pos_z"):
        open_dl1(path)


# ---------------------------------------------------------------------- pointing
@pytest.mark.parametrize(
    ("name", "table", "column", "source"),
    [(LSTCHAIN, LSTCHAIN_PARAMETERS, "alt_tel", f"{LSTCHAIN_PARAMETERS} columns alt_tel, az_tel"),
     (MUONS, CTAPIPE_POINTING, "telescope_pointing_altitude", CTAPIPE_POINTING)],
)  # fmt: skip
def test_images_without_pointing_are_warned_of_in_both_formats(
    shared_data: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture, name: str, table: str, column: str, source: str
) -> None:
    path = damaged_copy(shared_data, tmp_path, name)
    with tables.open_file(path, "a") as h5:
        set_column(h5, table, column, slice(None), np.nan)
    with caplog.at_level(logging.WARNING, logger="showerlearn.iact.io.reader"), open_dl1(path) as file:
        n = file.n_events
        assert np.isnan(file.columns["pointing_alt"]).all()
    assert f"{path.name}: no telescope pointing for {n} of {n} images of telescope 1 ({source})" in caplog.text


# ---------------------------------------------------------------------- instrument description
@pytest.mark.parametrize(
    ("column", "index", "target"),
    [("optics_index", 5, "/configuration/instrument/telescope/optics"),
     ("optics_index", -1, "/configuration/instrument/telescope/optics"),  # was silently the last row
     ("camera_index", 3, "/configuration/instrument/telescope/camera/geometry_N")],
)  # fmt: skip
def test_a_layout_index_out_of_range_is_refused_naming_the_tables(
    shared_data: Path, tmp_path: Path, column: str, index: int, target: str
) -> None:
    path = damaged_copy(shared_data, tmp_path, MUONS)
    with tables.open_file(path, "a") as h5:
        set_column(h5, LAYOUT, column, 0, index)
    expected = rf"{path.name}: {LAYOUT} gives telescope 1 {column}={index}, out of range for {target} \(valid: \[0\]\)"
    with pytest.raises(IACTDataError, match=expected):
        open_dl1(path)
