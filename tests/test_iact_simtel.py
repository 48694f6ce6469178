"""sim_telarray files through ctapipe's EventSource, checked against the DL1 files made from them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from showerlearn.iact.data import IACTDataError, open_dl1, read_simtel
from showerlearn.iact.io.simtel import SimtelOptions

pytest.importorskip("eventio", reason="read_simtel needs the optional eventio extra")


@pytest.mark.slow
@pytest.mark.parametrize(
    "name",
    ["lst_with_photons.simtel.zst", "gamma_prod6_tel_event_header_v4.simtel.zst", "gamma_test.simtel.gz"],
)
def test_simtel_images_equal_the_dl1_images(shared_data: Path, name: str) -> None:
    """ctapipe-process made the shared DL1 files from these simtel files: our two readers (each mapping
    its own camera description, the 90-deg rotated prod2 LSTCam included) must give the same events.
    ctapipe-process read the truncated gamma_test file up to its cut, which showerlearn does on request."""
    simtel = read_simtel(shared_data / "iact/simtel" / name, "LSTCam", SimtelOptions(allow_truncated=name == "gamma_test.simtel.gz"))
    stem = name.split(".simtel")[0]
    with open_dl1(shared_data / "iact/dl1_ctapipe" / f"{stem}.lst.dl1.h5") as file:
        dl1 = file.read(slice(None))
    assert simtel["image"].shape[1] == 1855
    assert set(np.unique(simtel["tel_id"])) <= {1, 2, 3, 4}  # only LST telescopes
    for i in range(len(dl1["event_id"])):
        j = np.nonzero((simtel["event_id"] == dl1["event_id"][i]) & (simtel["tel_id"] == dl1["tel_id"][i]))[0]
        assert len(j) == 1, (name, dl1["event_id"][i], dl1["tel_id"][i])
        j = j[0]
        np.testing.assert_allclose(simtel["image"][j], dl1["image"][i], rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(simtel["peak_time"][j], dl1["peak_time"][i], rtol=1e-6, atol=1e-6)
        for column in ("true_energy", "true_alt", "true_az", "true_core_x", "true_core_y", "pointing_alt", "pointing_az", "camera_rotation"):
            assert simtel[column][j] == pytest.approx(dl1[column][i], abs=1e-4), column
        assert simtel["true_shower_primary_id"][j] == dl1["true_shower_primary_id"][i]
        if "true_image" in dl1:
            np.testing.assert_array_equal(simtel["true_image"][j], dl1["true_image"][i])


def test_simtel_errors(shared_data: Path, tmp_path: Path) -> None:
    with pytest.raises(IACTDataError, match="no such file"):
        read_simtel(tmp_path / "missing.simtel.zst")
    limited = read_simtel(shared_data / "iact/simtel/gamma_prod6_tel_event_header_v4.simtel.zst", "LSTCam", SimtelOptions(max_events=1))
    assert len(np.unique(limited["event_id"])) == 1


def test_a_file_cut_between_two_objects_is_read_with_a_warning(
    shared_data: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Every object whole, but not the histograms sim_telarray ends a run with: a killed sim_telarray whose compressor
    closed its stream cleanly, or histograms written to a file of their own (``-h``), which cannot be told apart."""
    from eventio import EventIOFile

    zstandard = pytest.importorskip("zstandard")
    complete = tmp_path / "complete.simtel"
    with (shared_data / "iact/simtel/lst_with_photons.simtel.zst").open("rb") as source:
        complete.write_bytes(zstandard.ZstdDecompressor().stream_reader(source).read())
    with EventIOFile(str(complete)) as objects:
        last = [(o.header.type, o.header.total_size) for o in objects][-1]
    assert last[0] == 100  # what a complete sim_telarray file ends with
    cut = tmp_path / "cut.simtel"
    cut.write_bytes(complete.read_bytes()[: -last[1]])
    np.testing.assert_array_equal(read_simtel(cut)["image"], read_simtel(complete)["image"])
    assert f"{cut}: its last object is of type 2010, not the histograms (type 100)" in caplog.text
    assert "complete.simtel" not in caplog.text
