"""Deep ensembles: the test-set predictions of several finished runs averaged into one run.

Averaging independently trained networks (other seeds, other depths) removes part of each one's
error at no training cost (Lakshminarayanan et al. 2017). The ensemble folder has the layout of a run
(``config.yaml`` of the first member, ``environment.json``, ``run.json``, ``predictions.h5``,
``metrics.json``, ``plots/``) so that ``evaluate``, ``board`` and the benchmarks read it like any
other, plus ``ensemble.json`` naming its members and the sha256 of the predictions it averaged.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
from collections.abc import Sequence
from typing import Any
from pathlib import Path

from showerlearn.config import load_config
from showerlearn.engine.environment import describe_environment
from showerlearn.engine.run_dir import EVALUATION_DEFAULTS, RunDir
from showerlearn.engine.sweep import completed_runs, is_sweep, sweep_runs
from showerlearn.io.atomic import read_json_object, write_json_atomic
from showerlearn.io.staging import StagedFolders, file_in_the_way, holds_anything
from showerlearn.io.tables import read_attributes, read_columns, read_units, write_columns
from showerlearn.registry import DATAMODULES

log = logging.getLogger(__name__)


def ensemble(members: Sequence[str | Path], output: str | Path) -> RunDir:
    """Average the predictions of ``members`` (completed run directories; a sweep folder stands for its
    completed runs) into the new run folder ``output``, evaluate it and return it.

    The folder is assembled next to ``output`` and renamed into place at the end: an interrupted
    ensemble leaves nothing at ``output``.
    """
    output = Path(output).resolve()
    if blocking := file_in_the_way(output):  # before the members are read
        raise NotADirectoryError(f"{output}: {blocking} is a file, not a folder to write into")
    runs = _member_runs(members)
    if inside := next((run for run in runs if output.is_relative_to(run.path.resolve())), None):
        # a run folder inside another: sweeps, boards and globs over runs/ would take it for the member's own part
        raise ValueError(f"{output} is inside the member run {inside.path}: give a folder outside every member")
    if holds_anything(output):
        raise FileExistsError(f"{output} exists and is not an empty folder: give a new one")
    configs = [load_config(run.config_file) for run in runs]
    families = {config.data.name for config in configs}
    if len(families) > 1:
        raise ValueError(f"members come from different data families {sorted(families)}: nothing to average")
    data = DATAMODULES.get(configs[0].data.name)
    if not data.averages_predictions():  # said before every member's predictions are read
        data.average_predictions([], [])
    digests, tables = [], []
    for run in runs:
        digests.append(hashlib.sha256(run.predictions_file.read_bytes()).hexdigest())
        tables.append(read_columns(run.predictions_file))
        if (twin := digests.index(digests[-1])) < len(digests) - 1:  # a copied run: it would count twice
            raise ValueError(f"{runs[twin].path} and {run.path} hold the same predictions, byte for byte (a copy of "
                             "one run?): each member must be a run of its own")
    # the family's rule, from its class: building the DataModule could open the training data
    averaged = data.average_predictions(tables, [str(run.path) for run in runs])

    with StagedFolders([output]) as staged:
        run = RunDir(staged.folder(output))
        shutil.copyfile(runs[0].config_file, run.config_file)
        write_json_atomic(run.environment_file, describe_environment(configs[0].seed))
        # the members' units: the family's, as the first member's predictions file holds them; and what its codes mean
        write_columns(run.predictions_file, averaged, units=read_units(runs[0].predictions_file),
                      attributes=_shared_attributes(runs, data.prediction_attribute_names))
        members_description = [
            {
                "path": str(member.path.resolve()), "name": config.name, "seed": config.seed,
                "model": config.model.name if config.model else None,
                "estimator": config.estimator.name if config.estimator else None,
                "predictions_sha256": digest,
            }
            for member, config, digest in zip(runs, configs, digests, strict=True)
        ]
        write_json_atomic(run.ensemble_file, {"members": members_description, "config_from": str(runs[0].path.resolve())})
        # the members' data (the same test set): their caption and test share
        first = runs[0].status()
        run.update_status(state="completed", ensemble_of=len(runs), caption=first.get("caption", ""),
                          test_share=first.get("test_share", 1.0), **{EVALUATION_DEFAULTS: first.get(EVALUATION_DEFAULTS)})
        from showerlearn.engine.runner import error_reason, evaluate  # torch only when an ensemble is written

        try:
            evaluate(run)
        except ValueError as error:  # it names the folder being assembled, which is gone: name the members instead
            reason = error_reason(error).replace(str(run.path), str(output))
            raise ValueError(f"the average of the members {', '.join(str(member.path) for member in runs)} cannot be "
                             f"evaluated ({reason}); `showerlearn evaluate MEMBER` names the member at fault") from None
    log.info("ensemble of %d runs written to %s", len(runs), output)
    return RunDir(output)


def _shared_attributes(runs: Sequence[RunDir], names: Sequence[str]) -> dict[str, Any]:
    """The file attributes ``names`` (a family's ``prediction_attribute_names``: what the codes of the averaged
    columns mean) of the members' predictions, which must agree, since their columns do."""
    found = [{k: v for k, v in read_attributes(run.predictions_file).items() if k in names} for run in runs]
    for run, attributes in zip(runs[1:], found[1:]):
        if attributes != found[0]:
            raise ValueError(f"{run.path}: its predictions' {', '.join(sorted(attributes.keys() | found[0].keys()))} "
                             f"differ from {runs[0].path}'s: the members did not predict the same events")
    return found[0]


def ensemble_members(path: str | Path) -> list[RunDir]:
    """The member runs an ensemble folder lists in ``ensemble.json``."""
    description = read_json_object(RunDir(Path(path)).ensemble_file)
    return [RunDir(Path(member["path"])) for member in description["members"]]


def _member_runs(members: Sequence[str | Path]) -> list[RunDir]:
    runs: list[RunDir] = []
    for member in members:
        runs += _sweep_members(member) if is_sweep(member) else [_single_member(member)]
    for run in runs:  # before any is read: a completed run's file moved or deleted is named, with how to restore it
        run.checked_predictions()
    paths = [run.path.resolve() for run in runs]
    if len(set(paths)) != len(paths):
        raise ValueError(f"a run is listed twice among the members: {[str(p) for p in paths]}")
    if len(runs) < 2:
        raise ValueError(f"an ensemble needs at least 2 runs, got {len(runs)} from {[str(m) for m in members]}")
    return runs


def _sweep_members(folder: str | Path) -> list[RunDir]:
    """The completed runs of a sweep; its other started runs stay out, with a warning."""
    started = sweep_runs(folder, completed_only=False)  # read once: it warns of listed runs that are missing
    completed = completed_runs(folder, started)
    if len(completed) < len(started):
        log.warning("%s: %d of its %d runs are not completed and stay out", folder, len(started) - len(completed), len(started))
    return completed


def _single_member(member: str | Path) -> RunDir:
    """A run given by its folder: it must be a completed training run."""
    run = RunDir.existing(member)
    if run.is_ensemble():
        raise ValueError(f"{member} is itself an ensemble: give its members instead (nested averages weigh them unequally)")
    state = run.status().get("state")
    if (unfinished := run.not_completed("it has no predictions to average")) is not None:
        raise ValueError(f"{member}: not a completed run (state {state!r}): {unfinished}")
    return run
