"""The run directory: one folder per run holding everything needed to trust and reuse it."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from showerlearn.io.atomic import read_json_object, write_json_atomic


@dataclass(frozen=True)
class RunDir:
    """Paths of a run directory (layout documented in docs/architecture.md)."""

    path: Path

    @classmethod
    def create(cls, parent: Path, seed: int) -> RunDir:
        """A new, unique run folder ``parent/<UTC time>_seed<seed>``."""
        stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
        return cls(unique_folder(parent / f"{stamp}_seed{seed}"))

    @classmethod
    def existing(cls, path: str | Path) -> RunDir:
        run = cls(Path(path))
        if not run.config_file.is_file():
            raise FileNotFoundError(f"{path} is not a showerlearn run directory (no config.yaml)")
        return run

    config_file = property(lambda self: self.path / "config.yaml")
    environment_file = property(lambda self: self.path / "environment.json")
    status_file = property(lambda self: self.path / "run.json")
    checkpoints = property(lambda self: self.path / "checkpoints")
    logs = property(lambda self: self.path / "logs")
    predictions_file = property(lambda self: self.path / "predictions.h5")
    metrics_file = property(lambda self: self.path / "metrics.json")
    plots = property(lambda self: self.path / "plots")
    #: only in an ensemble folder (``showerlearn ensemble``): its member runs
    ensemble_file = property(lambda self: self.path / "ensemble.json")

    def own_entries(self) -> list[Path]:
        """The files and folders of a run (or an ensemble) that exist in its folder: what a new run would write over."""
        entries = (self.config_file, self.environment_file, self.status_file, self.checkpoints, self.logs,
                   self.predictions_file, self.metrics_file, self.plots, self.ensemble_file)
        return [entry for entry in entries if entry.exists()]

    def is_ensemble(self) -> bool:
        return self.ensemble_file.is_file()

    def best_checkpoint(self) -> Path:
        """``checkpoints/best.ckpt`` (lowest validation loss), or ``last.ckpt`` if there is no best yet."""
        for name in ("best.ckpt", "last.ckpt"):
            if (self.checkpoints / name).is_file():
                return self.checkpoints / name
        if self.is_ensemble():
            raise FileNotFoundError(f"{self.path} is an ensemble of runs (ensemble.json) without a network of its own: use its members")
        raise FileNotFoundError(f"{self.path}: no checkpoint in {self.checkpoints}")

    def status(self) -> dict[str, Any]:
        return read_json_object(self.status_file) if self.status_file.is_file() else {}

    def update_status(self, **changes: Any) -> None:
        """Merge ``changes`` into run.json (a ``None`` value removes its key), stamping the time of the change."""
        status = {**self.status(), **changes}
        status = {k: v for k, v in status.items() if v is not None}
        status["updated"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
        write_json_atomic(self.status_file, status)

    def metrics(self) -> dict[str, Any]:
        if not self.metrics_file.is_file():
            raise FileNotFoundError(f"{self.path}: no metrics.json (run `showerlearn evaluate {self.path}`)")
        return read_json_object(self.metrics_file)


def unique_folder(base: Path) -> Path:
    """Make the first free folder of ``base``, ``base_1``, ``base_2``...: taken by ``mkdir`` itself (which fails
    on an existing name), not by a check before it, so that two processes never get the same one."""
    base.parent.mkdir(parents=True, exist_ok=True)
    for counter in itertools.count():
        candidate = base.with_name(f"{base.name}_{counter}") if counter else base
        try:
            candidate.mkdir()
        except FileExistsError:
            continue
        return candidate
    raise AssertionError("unreachable: itertools.count() never ends")
