"""The run directory: one folder per run holding everything needed to trust and reuse it."""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from showerlearn.io.atomic import read_json_object, write_json_atomic

log = logging.getLogger(__name__)

#: the run.json key naming the checkpoint file (in ``checkpoints/``) whose network predicted the run's test split
PREDICTED_WITH = "predicted_with"
#: the run.json key of the evaluator settings the run's data gave (``ShowerDataModule.evaluation_defaults``)
EVALUATION_DEFAULTS = "evaluation_defaults"
#: in a sweep folder (``showerlearn sweep``): what ran; each seed's run is a folder of its own beside it
SWEEP_FILE = "sweep.json"


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
        if not run.path.exists():
            raise FileNotFoundError(f"{path}: no such run folder")
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

    @classmethod
    def owning(cls, path: str | Path) -> tuple[RunDir, Path] | None:
        """The run (or ensemble) one of whose own entries (:meth:`own_entries`) ``path`` is or lies in, with that
        entry; None for any other path. Where no command's output may go: ``--overwrite`` of an output named
        ``RUN/config.yaml`` or ``RUN/checkpoints/best.ckpt`` would break the run."""
        target = Path(path).resolve()
        for folder in target.parents:
            run = cls(folder)
            if run.config_file.is_file() and (run.status_file.is_file() or run.is_ensemble()):
                for entry in run.own_entries():
                    if target == entry.resolve() or entry.resolve() in target.parents:
                        return run, entry
        return None

    def best_checkpoint(self) -> Path:
        """``checkpoints/best.ckpt`` (lowest validation loss), or ``last.ckpt`` if there is no best yet (a warning
        when the run's predictions came from a best.ckpt that is gone: ``predicted_with`` in run.json)."""
        if (self.checkpoints / "best.ckpt").is_file():
            return self.checkpoints / "best.ckpt"
        if (self.checkpoints / "last.ckpt").is_file():
            if self.status().get(PREDICTED_WITH) == "best.ckpt":
                log.warning("%s: its best.ckpt, which predicted its test split, is gone (deleted or moved?): using "
                            "last.ckpt, another network than the one its predictions.h5 and metrics.json came from", self.path)
            return self.checkpoints / "last.ckpt"
        if self.is_ensemble():
            raise FileNotFoundError(f"{self.path} is an ensemble of runs (ensemble.json) without a network of its own: use its members")
        raise FileNotFoundError(f"{self.path}: no checkpoint in {self.checkpoints}")

    def status(self) -> dict[str, Any]:
        return read_json_object(self.status_file) if self.status_file.is_file() else {}

    def state_summary(self) -> str:
        """The state run.json records, with the error it recorded: ``failed (RuntimeError: out of memory)``."""
        status = self.status()
        state, error = str(status.get("state", "no state recorded (no run.json)")), status.get("error")
        if not error:
            return state
        # an interruption's error says the state itself: "interrupted (Ctrl+C)"
        return str(error) if str(error).startswith(state) else f"{state} ({error})"

    def not_completed(self, consequence: str) -> str | None:
        """None for a completed run; else a sentence saying that it did not complete (its recorded state and
        error), then ``consequence`` (what is missing for that reason), then how to go on."""
        state = self.status().get("state")
        if state == "completed":
            return None
        # "running" is also what a killed process leaves: resuming it is refused while one still trains it
        still = " (once no process trains it any more)" if state == "running" else ""
        return (f"{self.path} did not complete: {self.state_summary()}; {consequence}: train it again or resume "
                f"it{still} (showerlearn train {self.config_file} --resume {self.path})")

    def checked_predictions(self) -> Path:
        """The run's predictions file; when it is not there, a FileNotFoundError saying why and how to go on."""
        if self.predictions_file.is_file():
            return self.predictions_file
        if (unfinished := self.not_completed(f"it has no predictions file {self.predictions_file.name}")) is not None:
            raise FileNotFoundError(unfinished)
        raise FileNotFoundError(f"{self.path}: its run.json says completed, but its predictions file "
                                f"{self.predictions_file} is missing (moved or deleted): put it back, or "
                                f"{self._predict_again()}")

    def _predict_again(self) -> str:
        """How a completed run's predictions file is written again."""
        if self.is_ensemble():  # no network of its own to predict with: only its members can average theirs again
            return (f"build the ensemble again into a new folder from the members its {self.ensemble_file.name} lists "
                    "(showerlearn ensemble RUN RUN... --output NEW)")
        return f"predict its test split into it again: showerlearn predict {self.path} --output {self.predictions_file}"

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


def refuse_writing_into_a_run(path: str | Path, name: str = "--output") -> None:
    """An output that is a run's own file (its config, checkpoint, predictions, metrics) or lies in one of its folders
    is refused, even with ``--overwrite``: replacing one would break the run, and a file added to its folders would be
    taken for the run's own (and could not be replaced later)."""
    if problem := part_of_a_run(path):
        raise FileExistsError(f"{name} {path}: {problem}")


def part_of_a_run(path: str | Path) -> str | None:
    """Why nothing may be written at ``path`` (it is a run's own entry or lies in one, :meth:`RunDir.owning`), or None."""
    if (owner := RunDir.owning(path)) is None:
        return None
    run, entry = owner
    return f"is part of the run {run.path} ({entry.name}); write it elsewhere"
