"""``showerlearn simulate calorimeter`` end to end on tiny settings, and its messages for bad settings."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from showerlearn.calorimeter.io import n_events, read_gammas
from showerlearn.cli.main import app


def test_simulate_calorimeter_writes_the_file_and_a_summary(tmp_path: Path) -> None:
    config = tmp_path / "sim.yaml"
    config.write_text("beta: 0.5\nenergy_max_mev: 3.0\nchunk_size: 40\n")
    output = tmp_path / "hits.h5"
    result = CliRunner().invoke(app, [
        "simulate", "calorimeter", "--output", str(output), "--events", "100", "--gammas", "2", "--seed", "4",
        "--jobs", "2", "--config", str(config), "--set", "background_hits_mean=1",
    ])
    assert result.exit_code == 0, result.output
    assert n_events(output) == 100
    gammas = read_gammas(output)
    assert len(gammas[0]) == 2 and float(gammas.energy_rest[0][0]) <= 3.0
    assert f"wrote {output}" in result.output  # the whole path, however long
    for word in ("events", "100", "gammas", "hits", "background", "events/s"):
        assert word in result.output, word
    # an existing output is kept unless --overwrite; a folder is refused; both before simulating
    written = output.stat().st_mtime_ns
    again = ["simulate", "calorimeter", "--output", str(output), "--events", "10", "--gammas", "2", "--jobs", "1"]
    result = CliRunner().invoke(app, again)
    assert result.exit_code == 1 and "exists; pass --overwrite" in " ".join(result.output.split())
    assert output.stat().st_mtime_ns == written
    result = CliRunner().invoke(app, [*again, "--overwrite"])
    assert result.exit_code == 0, result.output
    assert n_events(output) == 10
    result = CliRunner().invoke(app, ["simulate", "calorimeter", "--output", str(tmp_path), "--events", "10"])
    assert result.exit_code == 1 and "is a folder" in " ".join(result.output.split())


def test_bad_settings_name_the_key(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["simulate", "calorimeter", "--output", str(tmp_path / "x.h5"), "--events", "5",
                                      "--set", "bta=0.5"])
    assert result.exit_code == 2 and "bta" in result.output
    result = CliRunner().invoke(app, ["simulate", "calorimeter", "--output", str(tmp_path / "x.h5"), "--set", "beta=0.99"])
    assert result.exit_code == 2 and "beta" in result.output
    assert not (tmp_path / "x.h5").exists()
