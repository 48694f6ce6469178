"""Metrics of a predictions file a run wrote apart (``showerlearn evaluate RUN --predictions FILE --output DIR``).

The run's evaluator scores, with the config the file was predicted with (its stamp, :mod:`showerlearn.engine.predict`),
into a folder of its own (the run is left as it is):

* the run's test split predicted again with other prediction settings (``showerlearn predict RUN -o FILE --set ...``:
  another merge cut, decoding threshold, test-time augmentation), described by the run's data set as the run's own
  metrics are (its caption, test share and the evaluator settings its data gave);
* a new labelled file the run predicted (``showerlearn predict RUN new.h5 -o DIR``), if the evaluator reads its
  predictions only (:func:`showerlearn.evaluation.scope.reads_predictions_only`: the calorimeter's, the collider's).
  One that reads the run's data set (an IACT effective area, a baseline on the test split) would describe other
  events than the file's: refused, saying what it reads. So is a file without predicted events, or one of the
  files the run read (its training events: ``predict`` records it). The file's family checks it against the evaluation
  (:meth:`~showerlearn.family.Family.scored_file_problems`: the calorimeter's photopeak window against the crystal
  resolution the file was simulated with), and the captions name the file where they name the test split.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from showerlearn.config import ConfigError, ExperimentConfig, apply_overrides, resolve_config
from showerlearn.engine.predict import COMPLETE_ATTRIBUTE, FORMAT, READ_BY_RUN, TEST_SPLIT_SOURCE
from showerlearn.engine.prediction_model import run_model_sha256
from showerlearn.engine.prediction_overrides import refuse_other_events
from showerlearn.engine.run_dir import RunDir
from showerlearn.engine.runner import evaluate_file, recorded_data
from showerlearn.evaluation.scope import TEST_SPLIT, data_set_reads
from showerlearn.family import family_of
from showerlearn.io.atomic import write_json_atomic
from showerlearn.io.staging import StagedFolders, holds_anything
from showerlearn.io.tables import read_attributes, read_columns
from showerlearn.registry import DATAMODULES, EVALUATORS

__all__ = ["METRICS_FILE", "evaluate_predictions", "scored_events"]

METRICS_FILE = "metrics.json"
PLOTS_FOLDER = "plots"
#: the stamp entries that name the file a new file's predictions were made from
SOURCE_ENTRIES = ("source", "source_path", "source_sha256")


def evaluate_predictions(
    run: str | Path | RunDir, predictions: str | Path, output: str | Path, overwrite: bool = False,
    overrides: Sequence[str] = (),
) -> dict[str, Any]:
    """Score ``predictions``, the test split of ``run`` as ``showerlearn predict RUN -o FILE`` wrote it or a new file
    as ``showerlearn predict RUN FILE -o DIR`` did, into ``output``: ``metrics.json`` and ``plots/``, written in a
    temporary sibling and renamed into place, so that an error leaves any earlier ``output`` as it was.
    ``overrides`` (``evaluation.*`` only) change how it is scored (a gammaness cut, the energy bins) without
    predicting again.

    Raises:
        FileExistsError: ``output`` exists (unless ``overwrite``, and then only an earlier score folder).
        ValueError: ``predictions`` is not such a file of this run (another run's, with the events the cuts removed,
            predicted with settings that change the split, of a new file the run's evaluator cannot score alone, of
            no event, of a file the run read, or without the truth it scores against), or ``output`` is a folder of
            the run or of the predictions.
        ConfigError: the evaluation cannot score the file as set (a calorimeter photopeak window of other crystals).
    """
    run = run if isinstance(run, RunDir) else RunDir.existing(run)
    predictions, output = Path(predictions), Path(output)
    if not predictions.is_file():
        raise FileNotFoundError(f"--predictions {predictions}: no such file")
    _check_output(output, run, predictions, overwrite)
    stamp = read_attributes(predictions)
    if stamp.get("format") != FORMAT:  # a hit or event file, a run's own predictions.h5: nothing says what predicted it
        raise ValueError(f"--predictions {predictions}: not a file `showerlearn predict` wrote (its format attribute is "
                         f"{stamp.get('format')!r}, expected {FORMAT!r}): predict the file first, showerlearn predict "
                         f"{run.path} FILE --output DIR")
    config = _checked_config(stamp, run, predictions, overrides)
    if _is_test_split(stamp):
        scored = _test_split(run, config, predictions, overrides)
    else:
        scored = _new_file(run, stamp, config, predictions, overrides)
    with StagedFolders([output]) as staged:
        folder = staged.folder(output)
        metrics = evaluate_file(config, run, predictions, folder / PLOTS_FOLDER, **scored)
        write_json_atomic(folder / METRICS_FILE, metrics)
    return metrics


def scored_events(predictions: str | Path) -> str:
    """What the events of a predictions file are, as a title: the run's test split predicted again, or the new file
    they were predicted from (its name)."""
    stamp = read_attributes(Path(predictions))
    return f"{TEST_SPLIT}, predicted again" if _is_test_split(stamp) else str(stamp.get("source", predictions))


def _is_test_split(stamp: dict[str, Any]) -> bool:
    return str(stamp.get("source", "")).startswith(TEST_SPLIT_SOURCE)


def _check_output(output: Path, run: RunDir, predictions: Path, overwrite: bool) -> None:
    """``output`` is replaced whole: never the run, the predictions or a folder holding either (nor the working
    folder), and with ``overwrite`` only an earlier score folder (``metrics.json`` and ``plots/``)."""
    target, run_path = output.resolve(), run.path.resolve()
    for kept, what in ((run_path, "the run"), (predictions.resolve(), "the predictions"), (Path.cwd(), "the working folder")):
        if _holds(target, kept):
            raise ValueError(f"--output {output}: would replace {what} ({kept}): give a folder of its own")
    if _holds(run_path, target):
        raise ValueError(f"--output {output}: lies inside the run {run.path}: give a folder of its own")
    if not holds_anything(output):
        return
    if not output.is_dir():
        raise FileExistsError(f"--output {output}: is a file; --output names the folder of a score (its metrics.json "
                              "and plots/)")  # fmt: skip
    if not {entry.name for entry in output.iterdir()} <= {METRICS_FILE, PLOTS_FOLDER}:
        raise FileExistsError(f"--output {output}: holds other things than an earlier score (metrics.json, plots/): "
                              "not replaced, even with --overwrite; give a folder of its own")  # fmt: skip
    if not overwrite:
        raise FileExistsError(f"--output {output}: holds an earlier score; pass --overwrite to replace it")


def _holds(folder: Path, path: Path) -> bool:
    """Whether ``path`` is ``folder`` or lies inside it (both resolved)."""
    return folder == path or folder in path.parents


def _checked_config(
    stamp: dict[str, Any], run: RunDir, predictions: Path, overrides: Sequence[str]
) -> ExperimentConfig:
    """The config the file was predicted with (its ``--set`` changes included) with ``overrides`` of its evaluation,
    once the file is known to be a prediction of ``run``, all its events predicted."""
    if not stamp.get("config"):
        raise ValueError(f"{predictions}: not a predictions file written by `showerlearn predict` (its stamp has no "
                         "config); a run's own predictions: `showerlearn evaluate RUN`")  # fmt: skip
    _check_same_run(stamp, run, predictions)
    if stamp.get("keep_invalid"):
        raise ValueError(f"{predictions}: holds the events the cuts removed, as rows without predictions "
                         "(--keep-invalid): predict it again without it to score it")  # fmt: skip
    if other := [override for override in overrides if override.partition("=")[0].split(".")[0] != "evaluation"]:
        raise ValueError(f"--set {' '.join(other)}: only the evaluation (evaluation.*) changes when scoring predictions; "
                         "predict again for other settings")  # fmt: skip
    try:
        predicted_with = yaml.safe_load(stamp["config"])
    except yaml.YAMLError as error:
        raise ValueError(f"{predictions}: the config in its stamp is not readable YAML ({str(error).splitlines()[0]}): "
                         "damaged, or not written by `showerlearn predict`") from None
    if not isinstance(predicted_with, dict):
        raise ValueError(f"{predictions}: the config in its stamp is not a mapping of settings: damaged, or not written "
                         "by `showerlearn predict`")
    data = apply_overrides(predicted_with, overrides)
    return resolve_config(data, _config_source(predictions, overrides))


def _config_source(predictions: Path, overrides: Sequence[str]) -> str:
    """Where the config scored with comes from, for its errors."""
    return f"{predictions} (the config it was predicted with{', with --set' if overrides else ''})"


def _test_split(run: RunDir, config: ExperimentConfig, predictions: Path, overrides: Sequence[str]) -> dict[str, Any]:
    """:func:`evaluate_file`'s keywords for the run's test split predicted again, once it is known to hold the split's
    events: the run's data set as its own metrics have it (caption, test share, the settings its data gave)."""
    if overrides and (problems := family_of(config).experiment_problems(config)):  # as a new run would refuse them
        raise ConfigError(_config_source(predictions, overrides), problems)
    refuse_other_events(run, config, str(predictions))  # a file predicted before predict refused such changes
    _check_same_events(run, config, predictions)
    return {**recorded_data(run.status()), "scored_sample": TEST_SPLIT}


def _new_file(
    run: RunDir, stamp: dict[str, Any], config: ExperimentConfig, predictions: Path, overrides: Sequence[str]
) -> dict[str, Any]:
    """:func:`evaluate_file`'s keywords for a new file the run predicted, once it is known to be named and whole, and
    its evaluator to read its predictions only: nothing of the run's data set (its caption, test share and settings
    describe other events), and the file's name where the captions name the test split."""
    name = _source_name(stamp, predictions)
    if COMPLETE_ATTRIBUTE not in stamp:
        raise ValueError(f"{predictions}: incomplete (no {COMPLETE_ATTRIBUTE} in its stamp: its prediction stopped before "
                         f"the end): predict {name} again")  # fmt: skip
    if not stamp.get("events_predicted"):
        raise ValueError(f"{predictions}: holds no predicted event ({name} has none, or the run's cuts removed them "
                         "all): there is nothing to score")  # fmt: skip
    _check_scores_new_files(config, predictions, name)
    _refuse_run_data(run, stamp, predictions, name)
    if problems := family_of(config).scored_file_problems(config, stamp):
        raise ConfigError(_config_source(predictions, overrides), problems)
    return {"caption": "", "test_share": 1.0, "defaults": None, "scored_sample": name}


def _source_name(stamp: dict[str, Any], predictions: Path) -> str:
    """The name of the file the predictions were made from, which the stamp must name with its path and digest."""
    if lacking := [entry for entry in SOURCE_ENTRIES if not stamp.get(entry)]:
        raise ValueError(f"{predictions}: its stamp names no file it was predicted from ({', '.join(lacking)} missing or "
                         "empty): only predictions of a file (showerlearn predict RUN FILES --output DIR) or of the "
                         "run's test split (showerlearn predict RUN --output FILE) are scored")  # fmt: skip
    return str(stamp["source"])


def _check_scores_new_files(config: ExperimentConfig, predictions: Path, name: str) -> None:
    """The run's evaluator reads nothing but the predictions (:func:`~showerlearn.evaluation.scope.data_set_reads`):
    what it read of the run's data set would describe other events than the file's."""
    if config.evaluation is None:  # no evaluator: the events are counted, nothing else read
        return
    if (reads := data_set_reads(EVALUATORS.get(config.evaluation.name))) is None:
        return
    raise ValueError(f"{predictions}: predictions of the new file {name}, which the run's evaluator "
                     f"{config.evaluation.name!r} cannot score: {reads}. It scores the run's test split only "
                     "(predicted again: showerlearn predict RUN --output FILE)")  # fmt: skip


def _refuse_run_data(run: RunDir, stamp: dict[str, Any], predictions: Path, name: str) -> None:
    """A file the run read itself holds the events it trained and validated on: its metrics would pass for held-out
    ones. ``predict`` records it (:data:`READ_BY_RUN`, by run.json's fingerprint of the run's data files, while the
    source held the bytes predicted), and of the files it simulated its events into; a file predicted before it did
    records neither that nor what the family keeps of the file (a calorimeter's crystal resolution), and is predicted
    again rather than scored unchecked. A run trained before its simulated files were recorded does not know its own
    simulation."""
    if READ_BY_RUN not in stamp:
        raise ValueError(f"{predictions}: predicted by an earlier showerlearn, which did not record whether {name} is one "
                         f"of the files the run read: predict it again (showerlearn predict {run.path} FILE --output DIR "
                         "--overwrite) to score it")  # fmt: skip
    if read := stamp[READ_BY_RUN]:
        raise ValueError(f"{predictions}: predictions of {name}, the same events as {read}, one of the files the run "
                         f"{run.path} read or simulated (its training, validation and test events): their metrics would not be of "
                         f"held-out events. Its test split is scored by `showerlearn evaluate {run.path}`")  # fmt: skip


def _check_same_run(stamp: dict[str, Any], run: RunDir, predictions: Path) -> None:
    """The run that predicted the file: at the same place, or moved or copied elsewhere with its folder's name and
    its model file (the ``seedK`` runs of two sweeps share their names)."""
    if stamp.get("run_path") == str(run.path.resolve()):
        return
    if stamp.get("run_id") == run.path.resolve().name and stamp.get("model_sha256") == run_model_sha256(run):
        return
    raise ValueError(f"{predictions}: predicted by the run {stamp.get('run_path')}, not by {run.path}")


def _check_same_events(run: RunDir, config: ExperimentConfig, predictions: Path) -> None:
    """The settings alone do not fix the events (a glob that now matches another file draws another split):
    the file must hold the events of the run's own predictions of its test split, in their order (the id
    columns its DataModule names, ``event_id_columns``), or at least as many."""
    # without the run's own file there is nothing to check against: named with how to write it again
    expected, found = (read_columns(path) for path in (run.checked_predictions(), predictions))
    n_expected, n_found = (len(next(iter(columns.values()), [])) for columns in (expected, found))
    if n_found != n_expected:
        raise ValueError(f"{predictions}: holds {n_found} events, the test split of {run.path} {n_expected}: its data "
                         "no longer give the same split (files added or replaced?)")  # fmt: skip
    id_columns = [column for column in getattr(DATAMODULES.get(config.data.name), "event_id_columns", ()) if column in expected]
    if lacking := [column for column in id_columns if column not in found]:  # without them, any events would pass
        raise ValueError(f"{predictions}: lacks the event id column(s) {lacking} of the test split of {run.path}, "
                         "so its events cannot be checked to be the test split's: predict the split again into a "
                         f"file (showerlearn predict {run.path} -o FILE) and score that")  # fmt: skip
    for column in id_columns:
        if not np.array_equal(expected[column], found[column]):
            raise ValueError(f"{predictions}: its events are not those of the test split of {run.path} (column "
                             f"{column!r} differs): its data no longer give the same split (files replaced?)")  # fmt: skip
