"""DL1 readers on copies of the shared files whose columns hold the wrong type: a column read as numbers that
holds text or booleans is refused at open with an IACTDataError naming the file, the table, the column, its
dtype and that numbers were expected, instead of being parsed ('1.23'), failing without a name ('n/a') or
read as 0/1 (a bool image, which surfaced as an empty intensity cut)."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import tables

from iact_files import (
    CTAPIPE_IMAGES, CTAPIPE_POINTING, GAMMA_TEST, LAYOUT, LSTCHAIN, LSTCHAIN_IMAGES, LSTCHAIN_PARAMETERS, MUONS, PHOTONS, SHOWER, damaged_copy,
)

from showerlearn.iact.data import IACTDataError, IACTDataModule, open_dl1

CTAPIPE_IMAGES_1 = f"{CTAPIPE_IMAGES}/tel_001"
CTAPIPE_TRUE_IMAGES = "/simulation/event/telescope/images/tel_001"
CTAPIPE_PARAMETERS = "/dl1/event/telescope/parameters/tel_001"


def as_text(values: np.ndarray) -> np.ndarray:
    """The values spelled as byte strings ('1.23'), as a writer that lost the column's type stores them."""
    return np.array([f"{value:.6g}".encode() for value in values.ravel()], dtype="S8").reshape(values.shape)


def as_bool(values: np.ndarray) -> np.ndarray:
    return values != 0


def retype_column(h5: tables.File, path: str, column: str, convert: Callable[[np.ndarray], np.ndarray]) -> None:
    """Rewrite table ``path`` with ``column`` replaced by ``convert(column)`` (its dtype and values), the other
    columns and the table's attributes (units) kept. PyTables cannot change a column's type in place."""
    node = h5.get_node(path)
    data, parent, name = node.read(), node._v_parent, node._v_name
    attrs = {key: node.attrs[key] for key in node.attrs._v_attrnamesuser}
    converted = convert(data[column])
    dtype = [(c, (converted.dtype, converted.shape[1:]) if c == column else data.dtype[c]) for c in data.dtype.names]
    retyped = np.zeros(len(data), dtype=dtype)
    for c in data.dtype.names:
        retyped[c] = converted if c == column else data[c]
    node.remove()
    new = h5.create_table(parent, name, obj=retyped)
    for key, value in attrs.items():
        new.attrs[key] = value


def refusal(path: Path, table: str, column: str, dtype: str, kind: str, expected: str = "numbers") -> str:
    return re.escape(f"{path}: table {table} column '{column}' holds {dtype} values ({kind}), expected {expected}")


def retyped_copy(shared_data: Path, tmp_path: Path, name: str, table: str, column: str,
                 convert: Callable[[np.ndarray], np.ndarray]) -> Path:
    """A copy of the shared file ``name`` whose ``column`` of ``table`` holds ``convert`` of its values."""
    path = damaged_copy(shared_data, tmp_path, name)
    with tables.open_file(path, "a") as h5:
        retype_column(h5, table, column, convert)
    return path


# ---------------------------------------------------------------------- what the tester found
def test_a_true_energy_of_byte_strings_that_spell_numbers_is_refused_not_trained(shared_data: Path, tmp_path: Path) -> None:
    path = retyped_copy(shared_data, tmp_path, GAMMA_TEST, SHOWER, "true_energy", as_text)
    expected = refusal(path, SHOWER, "true_energy", "|S8", "text")
    with pytest.raises(IACTDataError, match=expected):
        open_dl1(path)
    with pytest.raises(IACTDataError, match=expected):  # was trained on the parsed strings
        IACTDataModule(files=[str(path)]).setup("fit")


def test_a_true_energy_with_a_non_number_names_the_column_not_only_the_value(shared_data: Path, tmp_path: Path) -> None:
    """Was ``ValueError: could not convert string to float: np.bytes_(b'n/a')``, without file, table or column."""

    def one_missing(values: np.ndarray) -> np.ndarray:
        text = as_text(values)
        text[0] = b"n/a"
        return text

    path = retyped_copy(shared_data, tmp_path, GAMMA_TEST, SHOWER, "true_energy", one_missing)
    with pytest.raises(IACTDataError, match=refusal(path, SHOWER, "true_energy", "|S8", "text")):
        open_dl1(path)


@pytest.mark.parametrize(("name", "table"), [(PHOTONS, CTAPIPE_IMAGES_1), (LSTCHAIN, LSTCHAIN_IMAGES)])
def test_a_boolean_image_is_refused_at_open_not_read_as_0_or_1_pe(shared_data: Path, tmp_path: Path, name: str, table: str) -> None:
    """Was read as 0/1 p.e. and ended in an EmptySelectionError about the intensity cut."""
    path = retyped_copy(shared_data, tmp_path, name, table, "image", as_bool)
    expected = refusal(path, table, "image", "bool", "booleans")
    with pytest.raises(IACTDataError, match=expected):
        open_dl1(path)
    with pytest.raises(IACTDataError, match=expected):
        IACTDataModule(files=[str(path)]).setup("fit")


# ---------------------------------------------------------------------- every kind of column read as numbers
@pytest.mark.parametrize(
    ("name", "table", "column", "convert", "dtype", "kind"),
    [(GAMMA_TEST, SHOWER, "true_alt", as_text, "|S8", "text"),
     (GAMMA_TEST, SHOWER, "true_core_x", as_bool, "bool", "booleans"),
     (GAMMA_TEST, SHOWER, "true_shower_primary_id", as_text, "|S8", "text"),
     (GAMMA_TEST, CTAPIPE_PARAMETERS, "hillas_intensity", as_bool, "bool", "booleans"),
     (MUONS, CTAPIPE_POINTING, "telescope_pointing_altitude", as_text, "|S8", "text"),
     (MUONS, CTAPIPE_IMAGES_1, "obs_id", as_text, "|S8", "text"),
     (MUONS, LAYOUT, "optics_index", as_text, "|S8", "text"),
     (MUONS, LAYOUT, "pos_x", as_bool, "bool", "booleans"),
     (PHOTONS, CTAPIPE_IMAGES_1, "peak_time", as_bool, "bool", "booleans"),
     (PHOTONS, CTAPIPE_TRUE_IMAGES, "true_image", as_bool, "bool", "booleans"),
     (LSTCHAIN, LSTCHAIN_PARAMETERS, "mc_energy", as_text, "|S8", "text"),
     (LSTCHAIN, LSTCHAIN_PARAMETERS, "mc_type", as_text, "|S8", "text"),
     (LSTCHAIN, LSTCHAIN_PARAMETERS, "alt_tel", as_bool, "bool", "booleans"),
     (LSTCHAIN, LSTCHAIN_PARAMETERS, "intensity", as_text, "|S8", "text")],
)  # fmt: skip
def test_a_column_read_as_numbers_that_holds_text_or_booleans_is_refused_naming_it(
    shared_data: Path, tmp_path: Path, name: str, table: str, column: str,
    convert: Callable[[np.ndarray], np.ndarray], dtype: str, kind: str,
) -> None:  # fmt: skip
    path = retyped_copy(shared_data, tmp_path, name, table, column, convert)
    with pytest.raises(IACTDataError, match=refusal(path, table, column, dtype, kind)):
        open_dl1(path)


def test_an_image_mask_of_text_is_refused_as_not_flags(shared_data: Path, tmp_path: Path) -> None:
    as_words = lambda mask: np.where(mask, b"yes", b"no").astype("S3")  # noqa: E731
    path = retyped_copy(shared_data, tmp_path, PHOTONS, CTAPIPE_IMAGES_1, "image_mask", as_words)
    with pytest.raises(IACTDataError, match=refusal(path, CTAPIPE_IMAGES_1, "image_mask", "|S3", "text", "booleans or numbers")):
        open_dl1(path)


# ---------------------------------------------------------------------- numbers of any width stay allowed
def test_integer_images_and_truth_read_as_their_values(shared_data: Path, tmp_path: Path) -> None:
    """Integers are numbers: an image of whole p.e. (int32) and an integer true energy read unchanged."""
    path = damaged_copy(shared_data, tmp_path, GAMMA_TEST)
    with tables.open_file(path, "a") as h5:
        retype_column(h5, CTAPIPE_IMAGES_1, "image", lambda image: np.round(image).astype(np.int32))
        retype_column(h5, SHOWER, "true_energy", lambda energy: np.maximum(np.round(energy), 1).astype(np.int64))
    with open_dl1(shared_data / "iact" / GAMMA_TEST) as whole, open_dl1(path) as file:
        assert file.n_events == whole.n_events
        expected, data = whole.read(slice(None)), file.read(slice(None))
        first = data["tel_id"] == 1
        np.testing.assert_array_equal(data["image"][first], np.round(expected["image"][first]))
        np.testing.assert_array_equal(data["true_energy"], np.maximum(np.round(expected["true_energy"]), 1))
