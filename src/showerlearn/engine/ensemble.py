"""Deep ensembles: the test-set predictions of several finished runs averaged into one run.

Averaging independently trained networks (other seeds, other depths) removes part of each one's
error at no training cost (Lakshminarayanan et al. 2017). The ensemble folder has the layout of a run
(``config.yaml`` of the first member, ``run.json``, ``predictions.h5``, ``metrics.json``, ``plots/``)
so that ``evaluate``, ``board`` and the benchmarks read it like any other, plus ``ensemble.json``
naming its members and the sha256 of the predictions it averaged.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from showerlearn.config import load_config
from showerlearn.engine.run_dir import RunDir
from showerlearn.engine.sweep import is_sweep, sweep_runs
from showerlearn.io.atomic import write_json_atomic
from showerlearn.io.tables import read_columns, write_columns

log = logging.getLogger(__name__)

ENSEMBLE_FILE = "ensemble.json"


def ensemble(members: Sequence[str | Path], output: str | Path) -> RunDir:
    """Average the predictions of ``members`` (run directories; a sweep folder stands for its completed
    runs) into the new run folder ``output``, evaluate it and return it.

    The folder is assembled next to ``output`` and renamed into place at the end: an interrupted
    ensemble leaves nothing at ``output``.
    """
    runs = _member_runs(members)
    output = Path(output)
    if output.exists() and (not output.is_dir() or any(output.iterdir())):
        raise FileExistsError(f"{output} exists and is not an empty folder: give a new one")
    configs = [load_config(run.config_file) for run in runs]
    families = {config.data.name for config in configs}
    if len(families) > 1:
        raise ValueError(f"members come from different data families {sorted(families)}: nothing to average")
    tables = []
    for run in runs:
        if not run.predictions_file.is_file():
            raise FileNotFoundError(f"{run.path}: no predictions.h5 (an unfinished run? finish it with `showerlearn train --resume`)")
        tables.append(read_columns(run.predictions_file))
    from showerlearn.engine.runner import build_datamodule, evaluate  # torch only when averaging

    averaged = build_datamodule(configs[0]).average_predictions(tables, [str(run.path) for run in runs])

    staging = output.with_name(f".{output.name}.partial-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        run = RunDir(staging)
        shutil.copyfile(runs[0].config_file, run.config_file)
        write_columns(run.predictions_file, averaged)
        description: dict[str, Any] = {
            "members": [
                {"path": str(member.path.resolve()), "name": config.name, "seed": config.seed,
                 "model": config.model.name if config.model else None,
                 "estimator": config.estimator.name if config.estimator else None,
                 "predictions_sha256": hashlib.sha256(member.predictions_file.read_bytes()).hexdigest()}
                for member, config in zip(runs, configs, strict=True)
            ],
            "config": f"config.yaml is that of the first member ({runs[0].path.name})",
        }
        write_json_atomic(run.path / ENSEMBLE_FILE, description)
        run.update_status(state="completed", ensemble_of=len(runs))
        evaluate(run)
        if output.exists():
            output.rmdir()  # the empty folder checked above
        staging.rename(output)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    log.info("ensemble of %d runs written to %s", len(runs), output)
    return RunDir(output)


def is_ensemble(path: str | Path) -> bool:
    return (Path(path) / ENSEMBLE_FILE).is_file()


def ensemble_members(path: str | Path) -> list[RunDir]:
    """The member runs an ensemble folder averaged (where they are now readable)."""
    description = json.loads((Path(path) / ENSEMBLE_FILE).read_text())
    return [RunDir(Path(member["path"])) for member in description["members"]]


def _member_runs(members: Sequence[str | Path]) -> list[RunDir]:
    runs: list[RunDir] = []
    for member in members:
        runs += sweep_runs(member) if is_sweep(member) else [RunDir.existing(member)]
    paths = [run.path.resolve() for run in runs]
    if len(set(paths)) != len(paths):
        raise ValueError(f"a run is listed twice among the members: {[str(p) for p in paths]}")
    if len(runs) < 2:
        raise ValueError(f"an ensemble needs at least 2 runs, got {len(runs)} from {[str(m) for m in members]}")
    return runs

