"""What data a run read: the fingerprint of its input files, recorded when it starts and compared when it is resumed.

A resumed run draws its splits again from the files its config names: had they changed in between (rows added or
removed, a file replaced), the attempts would train on different splits and the test split could hold events an
earlier attempt trained on. The fingerprint is each file's size and a digest of a sample of its bytes (256 KiB a
file, as :func:`showerlearn.data.files.expand_patterns` samples copies), not its modification time: a job that stages the same files
afresh onto a node's disk before every attempt resumes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from showerlearn.config import ConfigError, ExperimentConfig
from showerlearn.data.base import ShowerDataModule
from showerlearn.data.files import sample_digest
from showerlearn.registry import DATAMODULES

#: the key of ``run.json`` that holds the fingerprint
FINGERPRINT_KEY = "data_files"
#: the key of ``run.json`` that holds the fingerprint of the files the run simulated its events into, recorded once
#: it read them (:meth:`ShowerDataModule.simulated_files`): for :func:`file_read_by` only, since the settings fix
#: simulated events and a resumed run is not compared with it
SIMULATED_KEY = "simulated_files"


def data_fingerprint(config: ExperimentConfig) -> dict[str, dict[str, Any]]:
    """``{file as the config names it: {"size", "sample"}}`` of the files the config's DataModule reads
    (:meth:`ShowerDataModule.input_files`; none for simulated data, which its settings fix)."""
    factory = DATAMODULES.get(config.data.name)
    if not (isinstance(factory, type) and issubclass(factory, ShowerDataModule)):
        return {}  # build_datamodule refuses it, with the reason
    return {str(path): _file_print(path) for path in factory.input_files(config.data.params)}


def _file_print(path: Path) -> dict[str, Any]:
    """Size and a digest of 4 blocks (256 KiB): cheap on thousands of files, and a change of rows moves bytes
    all through a file. An unreadable file is named as such."""
    try:
        return _print(path)
    except OSError as error:
        raise ConfigError(str(path), [f"cannot read this data file to record what the run reads ({error})"]) from None


def simulated_fingerprint(paths: list[Path]) -> dict[str, dict[str, Any]]:
    """``{file: {"size", "sample"}}`` of the files a run simulated its events into (:data:`SIMULATED_KEY`)."""
    return {str(path): _file_print(path) for path in paths}


def file_read_by(status: dict[str, Any], path: Path) -> str | None:
    """The name under which a run's ``status`` (run.json) records ``path`` among the files it read or simulated, compared by
    fingerprint (a copy elsewhere counts: the same events); None if it read no such file. The sizes are compared
    first, so that most files are never opened."""
    recorded = {**(status.get(SIMULATED_KEY) or {}), **(status.get(FINGERPRINT_KEY) or {})}
    try:
        size = path.stat().st_size
        if not any(entry.get("size") == size for entry in recorded.values()):
            return None
        found = _print(path)
    except OSError:  # whoever reads the file next says why it cannot be read
        return None
    return next((name for name, entry in recorded.items() if entry == found), None)


def refuse_replacing_run_data(status: dict[str, Any], path: Path, run: Path, name: str = "--output") -> None:
    """A ValueError if ``path`` holds one of the files a run (its ``status``, run.json) read or simulated, by content:
    an output written there, ``--overwrite`` or not, would lose the run's data."""
    if path.is_file() and (read := file_read_by(status, path)):
        raise ValueError(f"{name} {path}: is {read}, a data file of the run {run}; write to another file")


def _print(path: Path) -> dict[str, Any]:
    """Size and a digest of 4 blocks (256 KiB) of ``path``; OSError if it cannot be read."""
    return {"size": path.stat().st_size, "sample": sample_digest(path, blocks=4)}


def check_same_data(recorded: dict[str, dict[str, Any]], config: ExperimentConfig, source: str) -> None:
    """A ConfigError naming every file that differs from the ``recorded`` fingerprint, and how."""
    now = data_fingerprint(config)
    changes = [f"{name}: {_change(recorded[name], now.get(name))}" for name in recorded if recorded[name] != now.get(name)]
    changes += [f"{name}: a new file (the run did not read it when it started)" for name in now if name not in recorded]
    if changes:
        raise ConfigError(source, [
            "the data this run was started with changed, so a resumed run would draw other splits (and could test "
            "on events it trained on); put the files back as they were, or start a new run:", *changes,
        ])


def _change(before: dict[str, Any], after: dict[str, Any] | None) -> str:
    """How a file changed: gone, another size, or other bytes."""
    if after is None:
        return "missing (no such file now)"
    if before["size"] != after["size"]:
        return f"its size changed from {before['size']} to {after['size']} bytes"
    return "its content changed (same size, other bytes)"
