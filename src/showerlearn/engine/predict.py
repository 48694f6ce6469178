"""Prediction on files at any scale (``showerlearn predict RUN FILES... --output DIR``).

Every input file gets its own output, ``DIR/<input stem>.predictions.h5``, never mixed with another's. The
run's DataModule reads a file part by part (:meth:`~showerlearn.data.base.ShowerDataModule.prediction_parts`)
and the outputs are decoded and appended ``chunk_events`` events at a time
(:class:`~showerlearn.io.tables.TableStream`), so memory does not grow with the file. Each output carries
attributes (:func:`showerlearn.io.tables.read_attributes`) naming its source file and that file's SHA-256, the
run, the model file and its SHA-256, the config it was predicted with, the showerlearn version, and how many
events were read, predicted and removed by each selection cut.

An output is written to a partial file of the writing process's own beside it, ``.<name>.<host>.<pid>.partial``,
and renamed into place when complete: two processes predicting the same input into one folder each rename only
their own file (the last to finish leaves its output, the same rows). A complete output whose stamp
(:data:`IDENTITY`) matches is skipped, so an interrupted prediction, run again, resumes at the first file not
done; a partial one (left by a kill) is redone, and the partial files of processes of this host no longer alive
are removed (another host's are left: whether their writer lives cannot be told from here); an output without
its last attribute (``events_read``) is incomplete and redone too; any other existing file is refused. ``overwrite``
predicts every input again and replaces whatever files are there. Events the selection cuts remove are
counted per cut, and ``keep_invalid`` writes them as rows with NaN predictions and ``valid`` False (as
ctapipe flags invalid parameters), after the predicted rows of their part.

What turns inputs into outputs is one seam, :func:`batch_predictor`: the network of the run's best
checkpoint, or an exported model file (``model``); estimator runs predict through
:func:`~showerlearn.engine.runner.predict_outputs`.
"""

from __future__ import annotations

import contextlib
import glob
import json
import logging
import os
import re
import socket
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import torch
from lightning.fabric.utilities.apply_func import move_data_to_device
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
from torch.utils.data import Dataset

import showerlearn
from showerlearn.config import ConfigError, ExperimentConfig, dump_config, load_config
from showerlearn.config.loader import config_source
from showerlearn.data.base import ShowerDataModule
from showerlearn.data.collate import concatenate_batches
from showerlearn.data.files import expand_patterns
from showerlearn.engine.data_fingerprint import file_read_by, refuse_replacing_run_data
from showerlearn.engine.environment import note_working_folder
from showerlearn.engine.prediction_model import predicting_model_file, read_best_checkpoint
from showerlearn.engine.prediction_overrides import (
    refuse_estimator_changes, refuse_fitted_changes, refuse_ignored_changes, refuse_other_events, warn_of_input_changes,
)
from showerlearn.engine.run_dir import PREDICTED_WITH, RunDir, refuse_writing_into_a_run
from showerlearn.engine.runner import (
    build_datamodule, build_module, error_reason, load_trained_weights, predict_outputs, trained_outputs,
)
from showerlearn.engine.safe_load import load_checkpoint
from showerlearn.engine.seeding import seed_everything
from showerlearn.engine.speed import (
    apply_process_settings, autocast_dtype, compile_network, prediction_device, prediction_precision,
)
from showerlearn.family import family_of
from showerlearn.io.digest import file_sha256
from showerlearn.io.tables import PREDICTIONS_KEY, TableStream, as_tables, read_attributes
from showerlearn.progress import Progress
from showerlearn.registry import ESTIMATORS

__all__ = [
    "DEFAULT_CHUNK_EVENTS", "FORMAT", "IDENTITY", "OUTPUT_SUFFIX", "PredictionStopped", "PredictionSummary", "batch_predictor",
    "output_paths", "predict_files", "predict_split", "resolve_inputs",
]

#: the ``format`` attribute of every predictions file written here
FORMAT = "showerlearn-predictions"
#: the version of what such a file holds, raised when a family's tables or attributes change (2: the calorimeter's
#: ``clusters`` table, the collider's ``process_names``): an output of an earlier one is not skipped as done
LAYOUT = 2
#: an input ``x.h5`` is predicted into ``DIR/x`` + this
OUTPUT_SUFFIX = ".predictions.h5"
#: events decoded and written at a time (and read at a time, by DataModules that read files into memory)
DEFAULT_CHUNK_EVENTS = 10_000
#: how the stamp's ``source`` of a run's own test split begins (the run's path follows)
TEST_SPLIT_SOURCE = "test split of"
#: the stamp entries an existing output must share to count as done: same source, run, model, config, rows
IDENTITY = ("format", "layout", "source_sha256", "run_id", "model_sha256", "config", "keep_invalid")
#: the attribute of a file's output naming the run's data file it is (as run.json records it), empty for another
READ_BY_RUN = "read_by_run"
#: the attribute an output gets last, once its rows are all written: without it, an output is incomplete
COMPLETE_ATTRIBUTE = "events_read"
#: the end of the name of the file an output is written to until it is complete
PARTIAL_SUFFIX = ".partial"
#: the per-event column marking predicted rows (True) and rows of events the selection removed (False)
VALID_COLUMN = "valid"

#: a batch's ``inputs`` -> the model's outputs, head name -> tensor (what :func:`batch_predictor` returns)
BatchPredictor = Callable[[Any], Mapping[str, torch.Tensor]]
Tables = dict[str, dict[str, np.ndarray]]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PredictionSummary:
    """What happened to one input: ``status`` "written", or "skipped" (its complete output was there already).

    ``removed``: events removed by each selection cut (cut -> count); ``invalid_rows``: rows of those events
    kept in the output; ``redone``: a partial output of an interrupted earlier prediction was replaced.
    """

    source: str
    output: Path
    status: str
    events_read: int
    events_predicted: int
    removed: dict[str, int]
    invalid_rows: int = 0
    seconds: float = 0.0
    redone: bool = False

    @property
    def events_per_second(self) -> float:
        return self.events_read / self.seconds if self.seconds > 0 else float("nan")


class PredictionStopped(ValueError):
    """An input refused after earlier inputs were predicted (or skipped as done): the error names the input and
    says the earlier outputs are kept; ``summaries`` are theirs."""

    def __init__(self, error: Exception, summaries: Sequence[PredictionSummary], remaining: int) -> None:
        written = sum(summary.status == "written" for summary in summaries)
        super().__init__(
            f"{error_reason(error)}. Kept: the outputs of the {len(summaries)} earlier input{'s' if len(summaries) != 1 else ''} "
            f"({written} written, {len(summaries) - written} skipped as done); not predicted: this input and the {remaining} "
            "after it. Run again to go on: done inputs are skipped"
        )
        self.summaries = list(summaries)


@dataclass
class _Context:
    """The run, its config as used, its DataModule, and the model file that predicts."""

    run: RunDir
    config: ExperimentConfig
    datamodule: ShowerDataModule
    model_file: Path
    #: the exported model given with ``--model``, loaded (so checked) before any input is read; None: the run's own
    exported: BatchPredictor | None
    model_sha256: str
    keep_invalid: bool
    chunk_events: int
    #: the network's best checkpoint, read once (None: an estimator, or an exported model without one)
    checkpoint: Mapping[str, Any] | None

    def file_stamp(self, source: Path) -> dict[str, Any]:
        """The stamp of the output of the input file ``source`` (hashing it), with the name of the run's data file it
        is (:data:`READ_BY_RUN`, empty for a file the run did not read), known here while ``source`` holds the
        bytes predicted: scoring the predictions refuses the events the run trained on."""
        read = file_read_by(self.run.status(), source) or ""
        return {**self.stamp(source.name, str(source.resolve()), file_sha256(source)), READ_BY_RUN: read}

    def stamp(self, source: str, source_path: str, source_sha256: str) -> dict[str, Any]:
        """The attributes an output starts with: where its rows come from and what predicted them."""
        return {
            "format": FORMAT, "layout": LAYOUT, "source": source, "source_path": source_path, "source_sha256": source_sha256,
            # resolved: a run given as "." has no name of its own, and must be the same run as its full path
            "run_id": self.run.path.resolve().name, "run_path": str(self.run.path.resolve()),
            "model": str(self.model_file.resolve()), "model_sha256": self.model_sha256,
            "config": dump_config(self.config), "keep_invalid": self.keep_invalid,
            "showerlearn_version": showerlearn.__version__,
        }


@dataclass
class _Counts:
    read: int = 0
    predicted: int = 0
    invalid_rows: int = 0
    removed: dict[str, int] = field(default_factory=dict)

    def add_removed(self, report: Mapping[str, int]) -> None:
        for cut, count in report.items():
            self.removed[cut] = self.removed.get(cut, 0) + int(count)

    def attributes(self) -> dict[str, Any]:
        return {
            "events_read": self.read, "events_predicted": self.predicted, "events_removed": self.removed,
            "invalid_rows": self.invalid_rows, "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }


def predict_files(
    run: str | Path | RunDir,
    inputs: Sequence[str | Path],
    output_dir: str | Path,
    overrides: Sequence[str] = (),
    *,
    model: str | Path | None = None,
    overwrite: bool = False,
    keep_invalid: bool = False,
    chunk_events: int = DEFAULT_CHUNK_EVENTS,
    progress: bool = True,
    console: Console | None = None,
) -> list[PredictionSummary]:
    """Predict every input file (paths or glob patterns) with ``run`` into its own file in ``output_dir``.

    ``overrides`` (``KEY=VALUE``) change the run's config for this prediction only; ``model``: an exported
    model file used instead of the run's checkpoint. Existing outputs are checked before anything is
    predicted: all refusals come at once, and nothing is overwritten unless ``overwrite`` (which also predicts
    again the inputs whose outputs are done).

    Raises:
        FileNotFoundError: an input is missing, or a pattern matches nothing.
        ValueError: two inputs would write the same output, ``output_dir`` is (or is named as) a file, or the
            run's DataModule cannot read new files.
        FileExistsError: outputs exist that are not this prediction's (unless ``overwrite``).
        PredictionStopped: an input was refused (unreadable, another kind of file...) after earlier ones were done.
    """
    sources = resolve_inputs(inputs)
    folder = Path(output_dir)
    # a file name there is a command written for the single merged file of earlier versions
    if not folder.is_dir() and (folder.exists() or folder.suffix in (".h5", ".hdf5")):
        instead = folder.with_suffix("") if folder.suffix else folder.with_name(f"{folder.name}_predictions")
        exists = " (a file exists there)" if folder.exists() else ""
        raise ValueError(f"--output {folder}: with input files the output is a folder, one predictions file per input"
                         f"{exists} (e.g. --output {instead})")
    sources = _without_outputs(sources, folder)
    outputs = output_paths(sources, folder)
    context = _open(run, overrides, model, keep_invalid, chunk_events, progress)
    _check_reads_new_files(context, sources)
    # an input is hashed before the first prediction only when its output exists: to compare the stamps
    stamps = {source: context.file_stamp(source) for source, output in zip(sources, outputs) if output.exists()}
    done = _check_outputs(outputs, [stamps.get(source) for source in sources], overwrite)
    summaries = []
    with _Progress(len(sources), progress, console) as bar:
        try:
            for source, output, skip in zip(sources, outputs, done, strict=True):
                if skip:
                    summaries.append(_skipped(source, output))
                else:
                    with _stopping(summaries, len(sources)), _naming(source):  # hashing it too: it may be unreadable
                        stamp = stamps.get(source) or context.file_stamp(source)
                        parts = context.datamodule.prediction_parts(source, chunk_events)
                        summaries.append(_write(context, parts, "predict", output, stamp, bar, str(source)))
                bar.file_done()
        finally:
            context.datamodule.teardown("predict")
    return summaries


def predict_split(
    run: str | Path | RunDir,
    output: str | Path,
    overrides: Sequence[str] = (),
    *,
    model: str | Path | None = None,
    overwrite: bool = False,
    chunk_events: int = DEFAULT_CHUNK_EVENTS,
    progress: bool = True,
    console: Console | None = None,
) -> PredictionSummary:
    """Predict the run's own test split into the file ``output`` (stamped like :func:`predict_files`' outputs):
    the run's predictions again, with other settings (``overrides``) or another model file (``model``). The run's
    own ``predictions.h5`` is written only to restore it (missing, of a completed run, neither ``overrides`` nor
    ``model``).

    Raises:
        FileExistsError: ``output`` exists (unless ``overwrite``).
        ValueError: ``output`` is the run's own predictions file, and not one to restore.
    """
    output = Path(output)
    if output.is_dir():
        raise FileExistsError(f"--output {output}: is a folder; the run's test split is predicted into one file")
    run = run if isinstance(run, RunDir) else RunDir.existing(run)
    if output.resolve() == run.predictions_file.resolve():
        _check_restores(run, output, overrides, model)
    refuse_writing_into_a_run(output)
    refuse_replacing_run_data(run.status(), output, run.path)
    if output.exists() and not overwrite:
        raise FileExistsError(f"--output {output}: exists; pass --overwrite to replace it")
    note_working_folder(run.environment_file)  # before its data is opened, which may fail on a relative path
    context = _open(run, overrides, model, keep_invalid=False, chunk_events=chunk_events, progress=progress)
    if overrides:
        refuse_other_events(context.run, context.config, f"predict --set {' '.join(overrides)}")
    context.datamodule.setup("test")
    source = f"{TEST_SPLIT_SOURCE} {context.run.path}"
    stamp = context.stamp(source, source_path="", source_sha256="")
    with _Progress(1, progress, console) as bar:
        try:
            summary = _write(context, [context.datamodule.test_set], "test", output, stamp, bar, source)
        finally:
            context.datamodule.teardown("predict")
        bar.file_done()
    return summary


def _check_restores(run: RunDir, output: Path, overrides: Sequence[str], model: str | Path | None) -> None:
    """The run's own predictions file, which ``evaluate RUN`` scores as the run's, is written only to restore it:
    missing (moved or deleted), of a completed run, predicted by the run's own model with its own settings. Any
    other file there would be scored as what the run predicted."""
    instead = "predict into another file (and score it with evaluate RUN --predictions FILE)"
    if output.exists():
        raise ValueError(f"--output {output}: is the run's own predictions file, which `showerlearn evaluate RUN` "
                         f"scores; {instead}")
    if overrides or model is not None:
        given = " and ".join(name for name, used in (("--set", overrides), ("--model", model is not None)) if used)
        raise ValueError(f"--output {output}: the run's own predictions file is restored with the run's own model and "
                         f"settings only, not with {given}; {instead}")
    if (unfinished := run.not_completed("it has no predictions of its own to restore")) is not None:
        raise ValueError(unfinished)
    if (used := run.status().get(PREDICTED_WITH)) and not (run.checkpoints / used).is_file():
        raise ValueError(f"--output {output}: the checkpoint that predicted the run's test split ({run.checkpoints / used}) "
                         f"is missing, and another network would not restore its predictions; {instead}")


@contextlib.contextmanager
def _naming(source: Path) -> Iterator[None]:
    """A data error of one of several inputs (a NaN feature, a missing field) names the file, when it does not."""
    try:
        yield
    except (KeyError, ValueError) as error:
        reason = error_reason(error)
        if source.name in reason or isinstance(error, ConfigError):  # named already, or a setting's: as it is
            raise
        raise (KeyError if isinstance(error, KeyError) else ValueError)(f"{source}: {reason}") from error


@contextlib.contextmanager
def _stopping(done: Sequence[PredictionSummary], inputs: int) -> Iterator[None]:
    """An input's data error (not a setting's) after earlier inputs were done: a :class:`PredictionStopped`,
    which tells that they are kept; the first input's errors as they are."""
    try:
        yield
    except (KeyError, ValueError, OSError) as error:
        if not done or isinstance(error, ConfigError):
            raise
        raise PredictionStopped(error, done, inputs - len(done) - 1) from error


def resolve_inputs(patterns: Sequence[str | Path]) -> list[Path]:
    """The input files: glob patterns expanded (sorted), each file once (in the order first given)."""
    paths = expand_patterns(patterns, "predict: inputs", FileNotFoundError, folders=False)  # each file once
    if runs := [str(path) for path in paths if RunDir(path).config_file.is_file()]:
        # `predict runs/x/*_seed1 FILE` where the pattern matched two runs: the second is taken for an input
        raise ValueError(f"predict: {', '.join(runs)} is a run directory, not an input file: predict takes one run "
                         "(the first argument); a pattern given as the run must match one")
    if folders := [str(path) for path in paths if path.is_dir()]:
        raise ValueError(f"predict: {', '.join(folders)}: a folder, not an input file (give its files, e.g. FOLDER/*.h5)")
    if missing := [str(path) for path in paths if not path.is_file()]:
        raise FileNotFoundError(f"predict: no such input file: {', '.join(missing)}")
    return paths


def _without_outputs(sources: list[Path], folder: Path) -> list[Path]:
    """The inputs less this command's own outputs: a pattern such as ``data/*.h5`` with ``--output data``
    matches, when the command runs again to finish, the prediction files the first run wrote there."""
    kept = [s for s in sources if not (s.name.endswith(OUTPUT_SUFFIX) and s.resolve().parent == folder.resolve())]
    if len(kept) < len(sources):
        log.info("predict: %d input(s) are predictions files in the output folder %s, not inputs: skipped",
                 len(sources) - len(kept), folder)
    if not kept:
        raise ValueError(f"predict: every input is a predictions file in the output folder {folder} ({OUTPUT_SUFFIX})")
    return kept


def output_paths(sources: Sequence[Path], folder: Path) -> list[Path]:
    """``folder/<stem>.predictions.h5`` of each source; inputs of the same name in other folders are refused
    (their predictions would land in one file)."""
    outputs = [folder / f"{source.stem}{OUTPUT_SUFFIX}" for source in sources]
    by_output: dict[Path, list[str]] = {}
    for source, output in zip(sources, outputs, strict=True):
        by_output.setdefault(output, []).append(str(source))
    if clashes := {output: names for output, names in by_output.items() if len(names) > 1}:
        listed = "; ".join(f"{' and '.join(names)} -> {output}" for output, names in clashes.items())
        raise ValueError(f"predict: inputs of the same name would write the same output ({listed}): "
                         "predict them into separate --output folders, or rename one")
    return outputs


def batch_predictor(
    config: ExperimentConfig, datamodule: ShowerDataModule, run: RunDir, model_file: Path | None = None,
    checkpoint: Mapping[str, Any] | None = None,
) -> BatchPredictor:
    """What maps a batch's ``inputs`` to the model's outputs (head name -> tensor): the one seam between
    prediction and the model. ``model_file``: an exported model (``showerlearn export``) instead of the
    run's best checkpoint; the run still gives the data pipeline and the decoding. ``checkpoint``: the best
    checkpoint's contents when the caller has read them already.

    The DataModule must be set up (the network's constructor takes :meth:`ShowerDataModule.model_inputs`).
    """
    if model_file is not None:
        return _exported_model(model_file)
    module = build_module(config, datamodule)
    best = run.best_checkpoint()
    load_trained_weights(module, checkpoint if checkpoint is not None else load_checkpoint(best), best)
    compile_network(module.model, config.trainer)
    device = prediction_device(config.trainer)
    half = autocast_dtype(prediction_precision(config.trainer, device))
    network = module.eval().to(device)

    def predict(inputs: Any) -> Mapping[str, torch.Tensor]:
        autocast = torch.autocast(device.type, dtype=half) if half is not None else contextlib.nullcontext()
        with torch.inference_mode(), autocast:
            return network(move_data_to_device(inputs, device))

    return predict


def _exported_model(path: Path) -> BatchPredictor:
    from showerlearn.engine.exported import load_exported  # onnxruntime only when an exported model is used

    model = load_exported(path)

    def predict(inputs: Any) -> Mapping[str, torch.Tensor]:
        with torch.inference_mode():
            return model(inputs)

    return predict


# ------------------------------------------------------------------------------------------- internals
def _open(
    run_path: str | Path | RunDir, overrides: Sequence[str], model: str | Path | None, keep_invalid: bool,
    chunk_events: int, progress: bool,
) -> _Context:
    if chunk_events < 1:
        raise ValueError(f"--chunk-events must be >= 1, got {chunk_events}")
    run = run_path if isinstance(run_path, RunDir) else RunDir.existing(run_path)
    config = load_config(run.config_file, list(overrides))
    if overrides and (problems := family_of(config).experiment_problems(config)):  # as a new run would refuse them
        raise ConfigError(config_source(run.config_file, overrides), problems)
    # the run's own config, as trained: what each --set is compared with (read once; none without --set)
    trained = load_config(run.config_file) if overrides else None
    refuse_estimator_changes(run, trained, config, overrides)
    refuse_ignored_changes(run, trained, config, overrides)
    # read once: hashed (the outputs' stamp, the check of an exported model) and loaded from the same bytes
    best = read_best_checkpoint(run) if config.model is not None else None
    model_file = predicting_model_file(run, config, model, best)
    exported = _exported_model(model_file) if model is not None else None
    seed_everything(config.seed, config.trainer.deterministic)
    apply_process_settings(config.trainer)  # as training does
    datamodule = build_datamodule(config, progress)  # the run's own data may be simulated again (a cleared cache)
    checkpoint = best.load() if best is not None else None
    # what the data fitted on the training split: new files need no training file, and the settings it was
    # fitted for are the trained ones, whatever --set says of them
    if checkpoint is not None and datamodule.restore_from_checkpoint(checkpoint):
        refuse_fitted_changes(run, trained, config, datamodule, overrides)
    warn_of_input_changes(trained, config, datamodule, overrides)
    model_sha256 = best.sha256 if model is None and best is not None else file_sha256(model_file)
    return _Context(run, config, datamodule, model_file, exported, model_sha256, keep_invalid, chunk_events, checkpoint)


def _check_reads_new_files(context: _Context, sources: Sequence[Path]) -> None:
    """Refuse, before any input is hashed or output folder made, a DataModule that cannot read new files: it
    would fail on the first file and leave an empty output folder behind. Asking it to use the inputs is the
    check (each file is then given to it again by :meth:`~ShowerDataModule.prediction_parts`)."""
    try:
        context.datamodule.use_prediction_inputs(sources)
    except NotImplementedError:
        raise ValueError(
            f"predict: the data of {context.run.path} ({context.config.data.name!r}, read by "
            f"{type(context.datamodule).__name__}) cannot be read from new files; predict the run's own test split "
            f"instead: showerlearn predict {context.run.path} --output FILE.h5"
        ) from None


def _check_outputs(outputs: Sequence[Path], stamps: Sequence[Mapping[str, Any] | None], overwrite: bool) -> list[bool]:
    """Per output: True when it is done already (same stamp: skip it, unless ``overwrite``). Raises
    FileExistsError for every existing file that is not (unless ``overwrite``) and for folders in the way."""
    done, refused = [], []
    for output, stamp in zip(outputs, stamps, strict=True):
        refuse_writing_into_a_run(output, "predict: output")
        problem = _existing_output(output, stamp)
        done.append(problem == "" and not overwrite)
        if problem and (not overwrite or output.is_dir()):
            refused.append(f"{output} {problem}")
    if refused:
        raise FileExistsError(
            "predict: outputs exist that are not this prediction's (--overwrite replaces files):\n  " + "\n  ".join(refused)
        )
    return done


def _existing_output(output: Path, stamp: Mapping[str, Any] | None) -> str | None:
    """None: no output yet, or an incomplete one of this very prediction (predicted again); "": a complete
    output of this very prediction; else why the file is another."""
    if stamp is None or not output.exists():
        return None
    if output.is_dir():
        return "is a folder (never replaced)"
    try:
        found = read_attributes(output)
    except ValueError:
        return "is not an HDF5 file"
    if found.get("format") != FORMAT:
        return "is not a showerlearn predictions file"
    if found.get("layout") != LAYOUT:
        return "was written by an earlier showerlearn, whose tables differ"
    differing = [key for key in IDENTITY if found.get(key) != stamp[key]]
    if differing:
        return f"holds predictions with another {', '.join(differing)}"
    # the counts are the last attributes written: a file without them is not complete, whatever its rows
    return "" if COMPLETE_ATTRIBUTE in found else None


def _skipped(source: Path, output: Path) -> PredictionSummary:
    found = read_attributes(output)
    return PredictionSummary(
        str(source), output, "skipped", int(found["events_read"]), int(found["events_predicted"]),
        _json_dict(found["events_removed"]), int(found["invalid_rows"]),
    )


def _json_dict(text: str) -> dict[str, int]:
    return {str(key): int(value) for key, value in json.loads(text).items()}


def _partial(output: Path) -> Path:
    """Where this process writes ``output`` until it is complete: a name of its own (``.<name>.<host>.<pid>
    .partial``), so that another process predicting the same input into the same folder neither removes nor
    renames it."""
    return output.with_name(f".{output.name}.{_writer()}{PARTIAL_SUFFIX}")


def _host() -> str:
    """This host's name as a partial file's name holds it: no dots (they separate it from the pid)."""
    return re.sub(r"[^A-Za-z0-9-]", "_", socket.gethostname()) or "host"


def _writer() -> str:
    # the host too: on a shared file system, processes of two machines may have the same pid
    return f"{_host()}.{os.getpid()}"


def _remove_stale_partials(output: Path) -> bool:
    """Remove the partial files of ``output`` that no process is writing any more: this process's own, those
    of earlier versions (``.<name>.partial``, no writer named) and those of processes of this host that are
    no longer alive. Another host's, or a living process's, are left. True when one was removed."""
    legacy = output.with_name(f".{output.name}{PARTIAL_SUFFIX}")
    removed = False
    if legacy.is_file():
        legacy.unlink(missing_ok=True)  # missing: a concurrent run removed it first
        removed = True
    for partial in output.parent.glob(glob.escape(f".{output.name}.") + f"*{PARTIAL_SUFFIX}"):
        writer = _writer_of(partial, output)
        if writer is None:  # the partial file of another output whose name starts with this one's
            continue
        if writer[0] == _host() and (writer[1] == os.getpid() or not _alive(writer[1])):
            partial.unlink(missing_ok=True)
            removed = True
        else:  # a living process's, or another host's (whose process cannot be looked up from here)
            log.info("predict: %s is being written by another process (%s): left to it", output, partial.name)
    return removed


def _writer_of(partial: Path, output: Path) -> tuple[str, int] | None:
    """The host and pid named by ``partial``, a partial file of ``output`` (None: it is not one)."""
    host, _, pid = partial.name[len(f".{output.name}.") : -len(PARTIAL_SUFFIX)].rpartition(".")
    return (host, int(pid)) if host and "." not in host and pid.isdigit() else None


def _alive(pid: int) -> bool:
    """Whether process ``pid`` of this host runs (signal 0 checks without signalling)."""
    if os.name == "nt":  # there os.kill ends the process whatever the signal: never taken for ended
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def _write(
    context: _Context, parts: Iterable[Dataset], split: str, output: Path, stamp: Mapping[str, Any],
    bar: _Progress, source: str,
) -> PredictionSummary:
    """Predict the DataModule's parts (each set up while the iterator yields it) into ``output``."""
    redone, started, counts = _remove_stale_partials(output), time.monotonic(), _Counts()
    bar.start_file(Path(source).name)
    predict: BatchPredictor | None = None
    with TableStream(output, _partial(output)) as stream:
        stream.set_attributes(stamp)
        held: list[dict[str, np.ndarray]] = []  # removed rows waiting for the columns of the predicted ones
        for part in parts:
            if context.config.estimator is None and predict is None and len(part):
                predict = context.exported or batch_predictor(context.config, context.datamodule, context.run,
                                                              checkpoint=context.checkpoint)
            for tables in _decoded_chunks(context, part, split, predict):
                n = _append_predicted(stream, tables, context.keep_invalid)
                counts.predicted += n
                bar.advance(n)
            report = context.datamodule.selection_report()
            counts.add_removed(report)
            counts.read += len(part) + sum(report.values())
            bar.advance(sum(report.values()))
            if context.keep_invalid and sum(report.values()):
                held.append(context.datamodule.removed_rows())
                counts.invalid_rows += _append_invalid(stream, held)
        if not stream.rows():  # no event predicted: the tables of no event also fix the removed rows' columns
            _append_no_event(stream, context.datamodule, context.keep_invalid, _own_outputs(context.config))
        counts.invalid_rows += _append_invalid(stream, held, final=True)
        stream.set_units(_units(context.datamodule))  # after the parts: a DataModule knows its columns once set up
        stream.set_attributes({**context.datamodule.prediction_attributes(), **counts.attributes()})
    return PredictionSummary(
        source, output, "written", counts.read, counts.predicted, counts.removed, counts.invalid_rows,
        time.monotonic() - started, redone,
    )


def _append_no_event(
    stream: TableStream, datamodule: ShowerDataModule, flag: bool, own_outputs: Mapping[str, np.ndarray]
) -> None:
    """Every table of the DataModule without rows, for an input without events or whose events the cuts all
    removed: the output still reads as a predictions file with the tables, columns and types of any other (an
    evaluator finds what it reads, and a later run skips it as done)."""
    tables = {name: dict(columns) for name, columns in datamodule.empty_predictions(own_outputs).items()}
    events = tables.setdefault(PREDICTIONS_KEY, {})
    if flag:
        events[VALID_COLUMN] = np.zeros(0, bool)
    if events:  # a DataModule that names no column writes no table
        stream.append(tables)


def _own_outputs(config: ExperimentConfig) -> dict[str, np.ndarray]:
    """An estimator's own per-event outputs beyond the heads (its ``own_outputs``: Hillas + RF's diagnostics),
    of no event; a network has none."""
    if config.estimator is None:
        return {}
    own = getattr(ESTIMATORS.get(config.estimator.name), "own_outputs", {})
    return {name: np.zeros(0, dtype) for name, dtype in own.items()}


def _units(datamodule: ShowerDataModule) -> dict[str, dict[str, str]]:
    """The units of the DataModule's prediction columns, and of the engine's own ``valid`` flag."""
    units = {name: dict(columns) for name, columns in datamodule.column_units().items()}
    units.setdefault(PREDICTIONS_KEY, {})[VALID_COLUMN] = ""
    return units


def _decoded_chunks(context: _Context, part: Dataset, split: str, predict: BatchPredictor | None) -> Iterator[Tables]:
    """The decoded prediction tables of the DataModule's current part, ``chunk_events`` events at a time."""
    if not len(part):
        return
    if predict is None:  # an estimator: it takes the part's arrays whole (a part is at most chunk_events events)
        yield as_tables(predict_outputs(context.config, context.datamodule, context.run, split))
        return
    datamodule = context.datamodule
    loader = datamodule.predict_dataloader() if split == "predict" else datamodule.test_dataloader()
    views = datamodule.prediction_views()  # once, not per batch
    outputs: list[dict[str, np.ndarray]] = []
    metas: list[Any] = []
    pending = 0
    for batch in loader:
        outputs.append(datamodule.predict_views(predict, batch, views))
        metas.append(batch.get("meta", {}))
        pending += len(next(iter(outputs[-1].values())))
        if pending >= context.chunk_events:
            yield _decode(context, outputs, metas)
            outputs, metas, pending = [], [], 0
    if metas:
        yield _decode(context, outputs, metas)


def _decode(context: _Context, outputs: list[dict[str, np.ndarray]], metas: list[Any]) -> Tables:
    decoded = context.datamodule.decode_predictions(trained_outputs(concatenate_batches(outputs), context.config),
                                                    concatenate_batches(metas))
    return as_tables(decoded)


def _append_predicted(stream: TableStream, tables: Tables, flag: bool) -> int:
    """Write one chunk of predicted events (flagged valid with ``flag``); returns its events."""
    events = tables[PREDICTIONS_KEY]
    n = len(next(iter(events.values()), []))
    if flag:
        events[VALID_COLUMN] = np.ones(n, dtype=bool)
    stream.append(tables)
    return n


def _append_invalid(stream: TableStream, held: list[dict[str, np.ndarray]], final: bool = False) -> int:
    """Write the held rows of removed events once the predicted rows have fixed the columns (or at the end,
    when no event was predicted); returns the rows written."""
    columns = stream.dtype()
    if not held or (columns is None and not final):
        return 0
    written = 0
    for rows in held:
        n = len(next(iter(rows.values()), []))
        rows = {**rows, VALID_COLUMN: np.zeros(n, dtype=bool)}
        stream.append({PREDICTIONS_KEY: rows if columns is None else _as_columns(rows, columns, n)})
        written += n
    held.clear()
    return written


def _as_columns(rows: Mapping[str, np.ndarray], columns: np.dtype, n: int) -> dict[str, np.ndarray]:
    """Rows of removed events in the predicted rows' columns: a column the DataModule did not give (a
    predictor's own diagnostics) is NaN, -1 for integers, False for flags."""
    if extra := sorted(set(rows) - set(columns.names)):
        raise ValueError(f"the rows of removed events have columns the predicted ones lack: {extra}")
    completed = {}
    for name in columns.names:
        dtype = columns[name]
        if name in rows:
            completed[name] = np.asarray(rows[name]).astype(dtype, copy=False)
        else:
            fill = np.nan if dtype.kind == "f" else False if dtype.kind == "b" else -1
            completed[name] = np.full(n, fill, dtype=dtype)
    return completed


class _Progress:
    """A progress bar over the files, with the events done and their rate (nothing when disabled)."""

    def __init__(self, n_files: int, enabled: bool, console: Console | None) -> None:
        self._bar = Progress(
            TextColumn("[progress.description]{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("files  {task.fields[events]:,} events  {task.fields[rate]:,.0f} events/s"), TimeElapsedColumn(),
            console=console, disable=not enabled,
        )
        self._task = self._bar.add_task("predicting", total=n_files, events=0, rate=0.0)
        self._events, self._started = 0, time.monotonic()

    def __enter__(self) -> _Progress:
        self._bar.__enter__()
        self._started = time.monotonic()
        return self

    def __exit__(self, *exc: object) -> None:
        self._bar.__exit__(*exc)

    def start_file(self, name: str) -> None:
        self._bar.update(self._task, description=name)

    def advance(self, events: int) -> None:
        self._events += events
        rate = self._events / max(time.monotonic() - self._started, 1e-9)
        self._bar.update(self._task, events=self._events, rate=rate)

    def file_done(self) -> None:
        self._bar.advance(self._task)
