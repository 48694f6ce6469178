"""What a run records about where and how it ran, for traceability."""

from __future__ import annotations

import getpass
import json
import logging
import platform
import socket
import subprocess
import sys
from collections.abc import Mapping
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

TRACKED_PACKAGES = (
    "showerlearn", "torch", "lightning", "numpy", "scipy", "ctapipe", "astropy", "h5py", "tables",
    "scikit-learn", "pydantic", "matplotlib",
)

log = logging.getLogger(__name__)


def describe_environment(seed: int, command: list[str] | None = None) -> dict[str, Any]:
    """Package versions, git commit of the source tree, host, python, seed and command line."""
    versions = {}
    for package in TRACKED_PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return {
        "seed": seed,
        "command": command if command is not None else sys.argv,
        # what the command's relative paths (and the config's: data files, caches) were read from
        "working_folder": str(Path.cwd()),
        "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "host": socket.gethostname(),
        "user": _safe(getpass.getuser),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "packages": versions,
        "git": git_state(Path(__file__).resolve().parent),
    }


def note_working_folder(environment_file: Path) -> None:
    """Say where a run's events are read from again, when the run was started from another working folder than
    this process's (its ``environment_file`` records it): a relative data path or cache of its config resolves
    elsewhere now (a cache missing here is simulated again)."""
    try:
        folder = json.loads(environment_file.read_text()).get("working_folder")
    except (OSError, ValueError, AttributeError):  # no record (a run of an earlier version), or not one of ours
        return
    if isinstance(folder, str) and folder and Path(folder) != Path.cwd():
        log.info("%s was trained from %s: its config's relative paths (data files, caches) are read from here, %s",
                 environment_file.parent, folder, Path.cwd())


def code_description(environment: Mapping[str, Any]) -> str:
    """The code an environment record (:func:`describe_environment`) names: ``showerlearn 0.1.0 at commit 373b4eb
    with uncommitted changes``."""
    version = (environment.get("packages") or {}).get("showerlearn") or "(version unknown)"
    git = environment.get("git") or {}
    where = f" at commit {str(git['commit'])[:7]}" if git.get("commit") else ""
    return f"showerlearn {version}{where}{' with uncommitted changes' if git.get('dirty') else ''}"


def git_state(folder: Path) -> dict[str, Any] | None:
    """Commit and dirty flag of the git checkout holding ``folder`` (None outside a checkout)."""

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=folder, capture_output=True, text=True, check=True).stdout.strip()

    try:
        return {"commit": git("rev-parse", "HEAD"), "dirty": bool(git("status", "--porcelain", "--untracked-files=no"))}
    except (OSError, subprocess.CalledProcessError):
        return None


def _safe(function: Any) -> Any:
    try:
        return function()
    except Exception:  # no user name in some containers
        return None
