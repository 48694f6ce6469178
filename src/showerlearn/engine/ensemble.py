"""Deep ensembles: the test-set predictions of several finished runs averaged into one run.

Averaging independently trained networks (other seeds, other depths) removes part of each one's
error at no training cost (Lakshminarayanan et al. 2017). The ensemble folder has the layout of a run
(``config.yaml`` of the first member, ``environment.json``, ``run.json``, ``predictions.h5``,
``metrics.json``, ``plots/``) so that ``evaluate``, ``board`` and the benchmarks read it like any
other, plus ``ensemble.json`` naming its members and the sha256 of the predictions it averaged.

Where the family's decoded predictions do not average (calorimeter cluster labels), the networks' outputs may
(``ShowerDataModule.averaged_outputs``: same-cluster probabilities of hit pairs): each member's network then
predicts the test split again and the mean of their outputs is decoded as one network's.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from showerlearn.config import ExperimentConfig, load_config
from showerlearn.config.components import declared_heads
from showerlearn.engine.environment import describe_environment, note_working_folder
from showerlearn.engine.run_dir import EVALUATION_DEFAULTS, RunDir
from showerlearn.engine.sweep import completed_runs, is_sweep, sweep_runs
from showerlearn.io.atomic import read_json_object, write_json_atomic
from showerlearn.io.staging import StagedFolders, file_in_the_way, holds_anything
from showerlearn.io.tables import as_tables, read_attributes, read_columns, read_units, write_columns, write_tables
from showerlearn.registry import DATAMODULES, MODELS

if TYPE_CHECKING:  # torch: imported only where an ensemble predicts again
    from showerlearn.data.base import ShowerDataModule
    from showerlearn.engine.safe_load import CheckpointFile

log = logging.getLogger(__name__)


def ensemble(members: Sequence[str | Path], output: str | Path, progress: bool = False) -> RunDir:
    """Average the predictions of ``members`` (completed run directories; a sweep folder stands for its
    completed runs) into the new run folder ``output``, evaluate it and return it.

    A family whose decoded predictions do not average (cluster labels) but whose networks' outputs do
    (``ShowerDataModule.averaged_outputs``) has every member's network predict the test split again, and
    decodes the mean of their outputs as one network's (``progress``: a bar over each one's batches).

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
    by_outputs = not data.averages_predictions()
    if by_outputs:  # said before every member's predictions are read, and before any network predicts again
        _check_outputs_average(data, runs, configs)
    digests = []
    for run in runs:
        digests.append(hashlib.sha256(run.predictions_file.read_bytes()).hexdigest())
        if (twin := digests.index(digests[-1])) < len(digests) - 1:  # a copied run: it would count twice
            raise ValueError(f"{runs[twin].path} and {run.path} hold the same predictions, byte for byte (a copy of "
                             "one run?): each member must be a run of its own")
    if by_outputs:
        networks = _distinct_networks(runs)
        predicted = _predicted_again(data, runs, configs, networks, progress)
    else:  # the family's rule, from its class: building the DataModule could open the training data
        averaged = data.average_predictions([read_columns(run.predictions_file) for run in runs], [str(run.path) for run in runs])

    with StagedFolders([output]) as staged:
        run = RunDir(staged.folder(output))
        shutil.copyfile(runs[0].config_file, run.config_file)
        write_json_atomic(run.environment_file, describe_environment(configs[0].seed))
        if by_outputs:
            write_tables(run.predictions_file, *predicted)
        else:  # the members' units: the family's, as the first member's predictions file holds them; what its codes mean
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
        if by_outputs:  # what was averaged: the networks
            for description, network in zip(members_description, networks, strict=True):
                description["model_sha256"] = network.sha256
        write_json_atomic(run.ensemble_file, {"members": members_description, "config_from": str(runs[0].path.resolve()),
                                              "averaged": "network outputs" if by_outputs else "predictions"})
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


def _check_outputs_average(data: type[ShowerDataModule], runs: Sequence[RunDir], configs: Sequence[ExperimentConfig]) -> None:
    """A family without a rule for its predictions: each member must be a network whose outputs it averages, the
    same outputs as the first member's, indexing the same elements (``ShowerDataModule.output_settings``)."""
    if not data.averaged_outputs:
        data.average_predictions([], [])  # the family's own words: it has no rule at all
    problems, first_heads = [], None
    for run, config in zip(runs, configs, strict=True):
        if config.model is None:
            problems.append(f"{run.path}: an estimator ({config.estimator.name if config.estimator else 'none'}) "
                            "has no network outputs to average")
            continue
        heads = declared_heads(MODELS.get(config.model.name), config.model.params or {})
        if heads is None:
            problems.append(f"{run.path}: its network {config.model.name!r} declares no outputs (output_heads)")
        elif not heads <= data.averaged_outputs:
            problems.append(f"{run.path}: its network {config.model.name!r} gives the outputs {sorted(heads)}")
        elif first_heads is None:
            first_heads = heads
        elif heads != first_heads:
            problems.append(f"{run.path}: its network gives the outputs {sorted(heads)}, the first network's {sorted(first_heads)}")
    for key in data.output_settings:
        first, *_ = values = [(config.data.params or {}).get(key) for config in configs]
        problems += [f"{run.path}: data.params.{key} is {value!r}, the first member's {first!r} (its outputs index other "
                     "elements)" for run, value in zip(runs, values, strict=True) if value != first]
    if problems:
        raise ValueError(f"the {data.family.name} family's predictions do not average; an ensemble averages the "
                         f"outputs {sorted(data.averaged_outputs)} of its members' networks instead, and "
                         + "; ".join(problems))


def _distinct_networks(runs: Sequence[RunDir]) -> list[CheckpointFile]:
    """The members' networks, read: a network that is twice among them (a copied run whose predictions were made
    again) would count twice."""
    from showerlearn.engine.safe_load import CheckpointFile

    networks = [CheckpointFile.read(run.best_checkpoint()) for run in runs]
    digests = [network.sha256 for network in networks]
    for k, digest in enumerate(digests):
        if (twin := digests.index(digest)) < k:
            raise ValueError(f"{runs[twin].path} and {runs[k].path} hold the same network, byte for byte (a copy of one "
                             "run?): each member must be a run of its own")
    return networks


def _predicted_again(
    data: type[ShowerDataModule], runs: Sequence[RunDir], configs: Sequence[ExperimentConfig],
    networks: Sequence[CheckpointFile], progress: bool,
) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, str]], dict[str, Any]]:
    """The test split decoded from the mean of the members' network outputs, each member's network predicting it
    again as ``predict`` would (its process settings, its features, the standardisation its checkpoint carries),
    one member's data and outputs in memory at a time; with the tables' units and file attributes."""
    from showerlearn.engine.runner import build_datamodule, network_split_outputs  # torch only when predicting
    from showerlearn.engine.speed import apply_process_settings

    first_meta: dict[str, Any] = {}

    def outputs() -> Iterator[dict[str, Any]]:
        for k, (run, config, network) in enumerate(zip(runs, configs, networks, strict=True)):
            log.info("member %d of %d predicts the test split again: %s", k + 1, len(runs), run.path)
            note_working_folder(run.environment_file)  # a relative data path resolves here, maybe elsewhere
            apply_process_settings(config.trainer)
            datamodule = build_datamodule(config, progress)
            # what the data fitted on the training split, as the network was trained with it (a run that trained
            # nothing from init_from kept its initial network's)
            state = network.load()  # once: the data's fitted state and the weights
            datamodule.restore_from_checkpoint(state)
            values, meta = network_split_outputs(config, datamodule, run, "test", progress, state)
            del state
            del datamodule  # its events: the next member reads its own
            if k == 0:
                first_meta.update(meta)
            elif not _same_arrays(meta, first_meta):
                raise ValueError(f"{run.path}: its test split holds other events than {runs[0].path}'s: the members must "
                                 "be runs of the same data and split")
            yield values
            del values, meta  # not alive while the next member predicts

    averaged = data.average_network_outputs(outputs())
    decoder = build_datamodule(configs[0], progress=False)  # its settings decode; no data is read
    return as_tables(decoder.decode_predictions(averaged, first_meta)), decoder.column_units(), decoder.prediction_attributes()


def _same_arrays(one: Mapping[str, Any], other: Mapping[str, Any]) -> bool:
    """Whether two mappings of arrays hold the same names, shapes and values (NaN equal to NaN)."""
    if one.keys() != other.keys():
        return False
    for name, values in one.items():
        a, b = np.asarray(values), np.asarray(other[name])
        numeric = a.dtype.kind in "fc" and b.dtype.kind in "fc"
        if a.shape != b.shape or not np.array_equal(a, b, equal_nan=numeric):
            return False
    return True


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
