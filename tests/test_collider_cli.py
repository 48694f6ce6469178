"""``showerlearn simulate collider`` end to end on tiny settings: a file, a mass scan, clear errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

import showerlearn.collider.simulation as simulation
from showerlearn.cli.main import app
from showerlearn.collider.io import read_events
from showerlearn.io import atomic_path


def _run(*arguments: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["simulate", "collider", *arguments])
    return result.exit_code, result.output


@pytest.mark.slow
def test_simulate_a_file_with_config_overrides_and_a_summary(tmp_path: Path) -> None:
    config = tmp_path / "collider.yaml"
    config.write_text(yaml.safe_dump({"chunk_size": 2, "jets": {"constituent_jets": 1}}))
    code, output = _run(
        "--events", "3", "--process", "signal", "--seed", "4", "--jobs", "1", "--config", str(config),
        "--set", "selection.mass_window=[0.7, 1.3]", "--cache", str(tmp_path / "cache"), "-o", str(tmp_path / "signal.h5"),
        "--set", "processes.signal.cross_section_pb=0.01",  # one value of the default signal, its settings kept
    )  # fmt: skip
    assert code == 0, output
    assert "wrote 3 events (3 generated)" in output and "heavy scalar 1000 GeV" in output
    file = read_events(tmp_path / "signal.h5")
    assert len(file.events) == 3 and [p.name for p in file.processes] == ["signal"]
    assert file.processes[0].sigma_generated_pb == 0.01 and "HiggsBSM:gg2H2 = on" in file.processes[0].settings
    assert file.config["selection"]["mass_window"] == [0.7, 1.3] and set(
        file.events.constituents.jet_index.tolist()[0]
    ) == {0}
    assert list((tmp_path / "cache").glob("signal-*.h5"))


@pytest.mark.slow
def test_a_mass_scan_writes_one_file_per_mass(tmp_path: Path) -> None:
    code, output = _run(
        "--events", "1", "--process", "signal", "--signal-mass", "900", "--signal-mass", "1100", "--jobs", "1",
        "-o", str(tmp_path / "scan.h5"),
    )  # fmt: skip
    assert code == 0, output
    masses = {mass: read_events(tmp_path / f"scan_m{mass}.h5").config["signal_mass"] for mass in (900, 1100)}
    assert masses == {900: 900.0, 1100: 1100.0}
    assert read_events(tmp_path / "scan_m900.h5").events.mjj[0] < 900 * 1.2


def test_an_output_created_while_generating_is_kept_without_overwrite(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The command publishes without replacing (the generation itself is the library's, not run here)."""
    output = tmp_path / "events.h5"

    def generate(config: Any, path: Path, seed: int, n_jobs: int, progress: bool, overwrite: bool) -> None:
        with atomic_path(path, overwrite=overwrite) as tmp:
            path.write_text("another process's file")  # created while this one is written
            tmp.write_text("events")

    monkeypatch.setattr(simulation, "simulate_collider", generate)
    code, output_text = _run("--events", "3", "-o", str(output))
    assert code == 1 and "created while this file was being written); not replaced; pass --overwrite" in " ".join(
        output_text.split())
    assert output.read_text() == "another process's file" and [path.name for path in tmp_path.iterdir()] == ["events.h5"]


def test_bad_settings_exit_with_a_message_naming_them(tmp_path: Path) -> None:
    code, output = _run("--set", "selection.mass_windw=[0.8, 1.2]", "-o", str(tmp_path / "x.h5"))
    assert code == 2 and "mass_windw" in output and "mass_window" in output
    code, output = _run("--process", "higgs", "-o", str(tmp_path / "x.h5"))
    assert code == 1 and "unknown process 'higgs'; known: signal, qcd, ttbar" in output
    assert not (tmp_path / "x.h5").exists()
    # every mass point is checked before the first is generated: one out of range, or given twice
    code, output = _run("--signal-mass", "600", "--signal-mass", "-100", "-o", str(tmp_path / "x.h5"))
    assert code == 2 and "--signal-mass" in output and "signal_mass: Input should be greater than 250 (got -100.0)" in output
    code, output = _run("--signal-mass", "600", "--signal-mass", "600", "-o", str(tmp_path / "x.h5"))
    assert code == 2 and "mass points given twice" in output
    assert not list(tmp_path.iterdir())


def test_a_config_file_valid_only_with_its_set_values_is_taken(tmp_path: Path) -> None:
    """The file and --set make the settings together: a file whose fractions --set completes is not refused alone."""
    defaults = simulation.ColliderSimulationConfig().processes
    config = tmp_path / "two.yaml"
    config.write_text(yaml.safe_dump({"processes": {
        "signal": {"settings": list(defaults["signal"].settings), "signal": True, "fraction": 0.5},
        "qcd": {"settings": list(defaults["qcd"].settings), "fraction": 0.7},
    }}))  # fmt: skip
    code, output = _run("--config", str(config), "-o", str(tmp_path / "x.h5"))
    assert code == 2 and "add up to 1" in output
    # with the --set the settings are valid: what stops this run is the next check, the mass point
    code, output = _run("--config", str(config), "--set", "processes.qcd.fraction=0.5", "--signal-mass", "100",
                        "-o", str(tmp_path / "x.h5"))
    assert code == 2 and "invalid config --signal-mass" in output and "add up to 1" not in output
    for setting in ("jets.fatjet_pt_min=inf", "signal_mass=inf"):  # refused by name, not by a later check
        code, output = _run("--set", setting, "-o", str(tmp_path / "x.h5"))
        assert code == 2 and setting.split("=")[0].split(".")[-1] in output and "finite number" in output, output
    code, output = _run("--signal-mass", "600", "--signal-mass", "600.0001", "-o", str(tmp_path / "x.h5"))
    assert code == 2 and "mass points given twice (one file per mass point): x_m600.h5" in " ".join(output.split())
