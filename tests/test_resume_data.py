"""A resumed run refuses data that changed since it started (its splits would be drawn anew)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from showerlearn.config import ConfigError, resolve_config
from showerlearn.data.base import ShowerDataModule
from showerlearn.engine.runner import train


def _interrupted_run(tabular_config: dict, tmp_path: Path) -> tuple[dict, Path]:
    """A config on a copy of the table, and a run of it marked interrupted (as a killed one is resumed)."""
    table = tmp_path / "events.csv"
    shutil.copy(tabular_config["data"]["params"]["source"]["path"], table)
    tabular_config["data"]["params"]["source"]["path"] = str(table)
    tabular_config["trainer"]["max_epochs"] = 1
    run = train(resolve_config(tabular_config), progress=False)
    run.update_status(state="interrupted")
    return tabular_config, table


def test_resume_refuses_a_changed_data_file_and_names_it(tabular_config: dict, tmp_path: Path) -> None:
    config, table = _interrupted_run(tabular_config, tmp_path)
    run_path = next((tmp_path / "runs" / "tabular").iterdir())
    assert str(table) in (status := json.loads((run_path / "run.json").read_text()))["data_files"]
    lines = table.read_text().splitlines()
    table.write_text("\n".join(lines[:300]) + "\n")  # rows removed: the splits would be drawn from other events
    with pytest.raises(ConfigError, match=rf"{table}: its size changed from {status['data_files'][str(table)]['size']} "):
        train(resolve_config(config), resume=run_path, progress=False)
    table.write_text("\n".join(lines) + "\n")  # put back as it was (a fresh copy: another mtime): resumes
    assert train(resolve_config(config), resume=run_path, progress=False).status()["state"] == "completed"


def test_default_input_files_are_the_existing_files_the_settings_name(tmp_path: Path) -> None:
    for name in ("a.h5", "b.h5", "c.csv"):
        (tmp_path / name).write_text(name)
    (tmp_path / "time").write_text("a scratch file named as a feature")
    params = {"files": [str(tmp_path / "*.h5")], "source": {"path": str(tmp_path / "c.csv")}, "cache_dir": str(tmp_path),
              "label": "cls", "cuts": ["x[0] > 1"], "features": [str(tmp_path / "time")]}
    assert ShowerDataModule.input_files(params) == [tmp_path / "a.h5", tmp_path / "b.h5", tmp_path / "c.csv"]
    delphes = {"source": {"kind": "delphes", "classes": {"signal": [str(tmp_path / "a.h5")]}}}
    assert ShowerDataModule.input_files(delphes) == [tmp_path / "a.h5"]


def test_resume_and_run_dir_naming_different_folders_are_refused(tabular_config: dict, tmp_path: Path) -> None:
    """--run-dir was ignored beside --resume: the run went on in the resumed folder."""
    with pytest.raises(ConfigError, match=r"--run-dir and --resume name different folders"):
        train(resolve_config(tabular_config), resume=tmp_path / "a", run_dir=tmp_path / "b", progress=False)


def test_where_new_runs_go_may_differ_when_a_run_is_resumed(tabular_config: dict) -> None:
    """output_dir places new runs only: a resumed run goes on in its own folder (it was refused as a config change)."""
    from showerlearn.engine.resume_settings import budget_changes

    stored = resolve_config(tabular_config)
    moved = resolve_config({**tabular_config, "output_dir": "elsewhere"})
    assert budget_changes(stored, moved, "run") == {}
    with pytest.raises(ConfigError, match="differs from the one this run was started with in seed .*to start anew with "
                       "this config, give a new folder, or remove this one"):
        budget_changes(stored, resolve_config({**tabular_config, "seed": 99}), "run")
