"""`showerlearn simulate iact` names its output as what it writes: a ctapipe DL1 HDF5 file."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from showerlearn.cli.main import app


@pytest.mark.parametrize("name", ["sim.simtel.gz", "sim.simtel.zst", "sim.fits", "events.root"])
def test_an_output_named_as_another_format_is_refused_before_simulating(name: str, tmp_path: Path) -> None:
    """A DL1 file under a sim_telarray name was written without a word, and read back later as what it is not."""
    result = CliRunner().invoke(app, ["simulate", "iact", "--output", str(tmp_path / name), "--events", "10", "--jobs", "1"])
    assert result.exit_code == 1, result.output
    assert "writes a ctapipe DL1 HDF5 file" in " ".join(result.output.split())
    assert not list(tmp_path.iterdir())
