"""Metrics of a run's test split predicted again (``showerlearn evaluate RUN --predictions FILE --output DIR``).

A run's test split predicted with other prediction settings (``showerlearn predict RUN -o FILE --set ...``:
another merge cut, decoding threshold, test-time augmentation) is scored by the run's evaluator with the config
the file was predicted with (its stamp, :mod:`showerlearn.engine.predict`). The metrics and figures go to a
folder of their own; the run is left as it is. Only such files are scored: predictions of new files would be
described by the run's data set (an IACT effective area, a baseline on other events).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from showerlearn.config import ConfigError, ExperimentConfig, apply_overrides, resolve_config
from showerlearn.engine.predict import TEST_SPLIT_SOURCE, refuse_other_events, run_model_sha256
from showerlearn.engine.run_dir import RunDir
from showerlearn.engine.runner import evaluate_file, recorded_data
from showerlearn.family import family_of
from showerlearn.io.atomic import write_json_atomic
from showerlearn.io.staging import StagedFolders, holds_anything
from showerlearn.io.tables import read_attributes, read_columns
from showerlearn.registry import DATAMODULES

__all__ = ["METRICS_FILE", "evaluate_predictions"]

METRICS_FILE = "metrics.json"
PLOTS_FOLDER = "plots"


def evaluate_predictions(
    run: str | Path | RunDir, predictions: str | Path, output: str | Path, overwrite: bool = False,
    overrides: Sequence[str] = (),
) -> dict[str, Any]:
    """Score ``predictions``, the test split of ``run`` as ``showerlearn predict RUN -o FILE`` wrote it, into
    ``output``: ``metrics.json`` and ``plots/``, written in a temporary sibling and renamed into place, so that
    an error leaves any earlier ``output`` as it was. ``overrides`` (``evaluation.*`` only) change how it is
    scored (a gammaness cut, the energy bins) without predicting again.

    Raises:
        FileExistsError: ``output`` exists (unless ``overwrite``, and then only an earlier score folder).
        ValueError: ``predictions`` is not such a file of this run (another run's, of new files, with the
            events the cuts removed, predicted with settings that change the split), or ``output`` is a folder
            of the run or of the predictions.
    """
    run = run if isinstance(run, RunDir) else RunDir.existing(run)
    predictions, output = Path(predictions), Path(output)
    if not predictions.is_file():
        raise FileNotFoundError(f"--predictions {predictions}: no such file")
    _check_output(output, run, predictions, overwrite)
    config = _checked_config(read_attributes(predictions), run, predictions, overrides)
    status = run.status()
    with StagedFolders([output]) as staged:
        folder = staged.folder(output)
        metrics = evaluate_file(config, run, predictions, folder / PLOTS_FOLDER, **recorded_data(status))
        write_json_atomic(folder / METRICS_FILE, metrics)
    return metrics


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
    once the file is known to be the test split of ``run``, all its events predicted."""
    if "config" not in stamp or not str(stamp.get("source", "")).startswith(TEST_SPLIT_SOURCE):
        raise ValueError(f"{predictions}: not a test split written by `showerlearn predict RUN --output FILE`; only "
                         "those are scored apart (a run's own predictions: `showerlearn evaluate RUN`)")  # fmt: skip
    _check_same_run(stamp, run, predictions)
    if stamp.get("keep_invalid"):
        raise ValueError(f"{predictions}: holds the events the cuts removed, as rows without predictions "
                         "(--keep-invalid): predict the test split without it to score it")  # fmt: skip
    if other := [override for override in overrides if override.partition("=")[0].split(".")[0] != "evaluation"]:
        raise ValueError(f"--set {' '.join(other)}: only the evaluation (evaluation.*) changes when scoring predictions; "
                         "predict again for other settings")  # fmt: skip
    data = apply_overrides(yaml.safe_load(stamp["config"]), overrides)
    source = f"{predictions} (the config it was predicted with{', with --set' if overrides else ''})"
    config = resolve_config(data, source)
    if overrides and (problems := family_of(config).experiment_problems(config)):  # as a new run would refuse them
        raise ConfigError(source, problems)
    refuse_other_events(run, config, str(predictions))  # a file predicted before predict refused such changes
    _check_same_events(run, config, predictions)
    return config


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
