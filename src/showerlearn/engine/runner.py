"""Train, predict and evaluate one run — a Lightning network or a scikit-learn estimator alike.

Both paths end the same way: encoded outputs on the test split -> the DataModule decodes them into
physical prediction tables (per event, and per element for set data) -> ``predictions.h5`` -> the
configured evaluator -> ``metrics.json``.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from lightning.pytorch.callbacks import EarlyStopping, LearningRateMonitor, ModelCheckpoint, RichProgressBar, Timer
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger

from showerlearn.config import ConfigError, ExperimentConfig, dump_config, load_config
from showerlearn.config.components import build, declared_heads
from showerlearn.config.schema import Component, logged_name
from showerlearn.data.base import ShowerDataModule
from showerlearn.data.collate import concatenate_batches
from showerlearn.engine.callbacks import EpochProgressBar, EpochReport, ProcessSettings
from showerlearn.engine.checkpoint_io import AtomicCheckpointIO, self_contained
from showerlearn.engine.data_fingerprint import (
    FINGERPRINT_KEY,
    SIMULATED_KEY,
    check_same_data,
    data_fingerprint,
    simulated_fingerprint,
)
from showerlearn.engine.environment import describe_environment
from showerlearn.engine.launch import RUN_DIR_VARIABLE, interruption, launched_rank, started_by_lightning
from showerlearn.engine.resume_settings import (
    BUDGET_KEYS, budget_changes, check_budget_trains, machine_changes, machine_problems,
)
from showerlearn.engine.run_dir import EVALUATION_DEFAULTS, PREDICTED_WITH, SWEEP_FILE, RunDir, part_of_a_run
from showerlearn.engine.run_lock import lock_holder, run_lock
from showerlearn.engine.safe_load import ESTIMATOR_FILE, load_checkpoint, load_estimator, save_estimator
from showerlearn.engine.seeding import seed_everything
from showerlearn.engine.speed import apply_process_settings, compile_network, prediction_device, prediction_precision
from showerlearn.engine.warm_start import InitCheckpoint, load_matching_weights, read_init_checkpoint
from showerlearn.evaluation.scope import TEST_SPLIT
from showerlearn.family import new_run_problems
from showerlearn.io.atomic import atomic_path, write_json_atomic, write_text_atomic
from showerlearn.io.tables import PREDICTIONS_KEY, as_tables, convert_units, read_tables, read_units, write_tables
from showerlearn.progress import work_bars
from showerlearn.registry import CALLBACKS, DATAMODULES, ESTIMATORS, EVALUATORS, MODELS
from showerlearn.tasks.module import MultiTaskModule

log = logging.getLogger(__name__)


def train(
    config: ExperimentConfig,
    *,
    resume: str | Path | None = None,
    run_dir: str | Path | None = None,
    progress: bool = True,
) -> RunDir:
    """Run one experiment end to end and return its run directory.

    ``resume`` continues an interrupted run from its last checkpoint; the config must be the one the
    run was started with, except for the training budget (:data:`BUDGET_KEYS`): raising it trains a
    completed run further (one stopped by ``max_time``, or one that needs more epochs); and where it trains
    (:data:`MACHINE_KEYS`: another accelerator, more threads), with as many processes as before. ``run_dir``
    forces the folder (sweeps; every process of a job launched from outside, by ``torchrun`` or
    ``srun``, must be given the same one).
    """
    if resume is None and (problems := new_run_problems(config)):
        raise ConfigError(config.name, problems)
    with contextlib.ExitStack() as held:  # the run's lock, from its opening to its end
        run, attempt, rank_zero = _open_run(config, resume, run_dir, held)
        return _train_opened(config, run, attempt, rank_zero, resume is not None, progress)


def _last_checkpoint(run: RunDir) -> Callable[[], Mapping[str, Any]] | None:
    """A reader of the run's last checkpoint that reads it once, when first called; None without one."""
    last = run.checkpoints / "last.ckpt"
    return functools.cache(lambda: load_checkpoint(last)) if last.is_file() else None


def _resume_problems(config: ExperimentConfig, checkpoint: Callable[[], Mapping[str, Any]] | None) -> list[str]:
    """What the run's DataModule finds in its last checkpoint that this version cannot continue
    (``ShowerDataModule.resume_problems``), and where this machine would train it otherwise
    (:func:`machine_problems`); none for an estimator or a run without a checkpoint yet."""
    if config.model is None or checkpoint is None:
        return []
    return (DATAMODULES.get(config.data.name).resume_problems(checkpoint, set(config.task.heads))
            + machine_problems(config, checkpoint()))


def _train_opened(config: ExperimentConfig, run: RunDir, attempt: int, rank_zero: bool, resume: bool, progress: bool) -> RunDir:
    """Train, predict and evaluate into the run :func:`_open_run` opened (``resume``: one started before)."""
    earlier_seconds = run.status().get("train_seconds", 0.0) if resume else 0.0
    if rank_zero:
        run.update_status(state="running", attempts=attempt + 1)
        # Lightning's DDP launcher re-runs this command per device: point the workers at this folder
        os.environ[RUN_DIR_VARIABLE] = str(run.path)
    started = time.monotonic()

    def wall_seconds() -> float:
        # millisecond precision: a tiny run that crashes early still records that it ran
        return round(earlier_seconds + time.monotonic() - started, 3)

    try:
        seed_everything(config.seed, config.trainer.deterministic)
        apply_process_settings(config.trainer)
        datamodule = build_datamodule(config, progress)
        if config.estimator is not None:
            _fit_estimator(config, datamodule, run, progress)
        elif not _fit_network(config, datamodule, run, attempt, progress, resume):
            return run  # not global rank 0: prediction and evaluation happen once, on rank 0
        log.info("predicting the test split")
        if config.estimator is None:  # the network that predicts it, which a later restore must use again
            run.update_status(**{PREDICTED_WITH: run.best_checkpoint().name})
        write_tables(run.predictions_file, as_tables(predict_outputs(config, datamodule, run, progress=progress)),
                     datamodule.column_units(),
                     datamodule.prediction_attributes())
        _draw_examples(datamodule, run, config)
        log.info("evaluating")
        # the data as trained, for every later evaluation: what it is, and the share of it the test split holds
        # the simulated files too: a file of the run's own events, predicted later, is then known as such
        run.update_status(caption=datamodule.describe(), test_share=datamodule.test_share(),
                          **{EVALUATION_DEFAULTS: datamodule.evaluation_defaults(),
                             SIMULATED_KEY: simulated_fingerprint(datamodule.simulated_files())})
        evaluate(run)
    except BaseException as error:
        if rank_zero:
            stop = interruption(error)
            run.update_status(
                state="failed" if stop is None else "interrupted", error=stop or f"{type(error).__name__}: {error}",
                train_seconds=wall_seconds(),
            )
            if stop is not None:
                log.warning("%s: run %s kept as it was; continue it with: showerlearn train %s --resume %s",
                            stop, run.path, run.config_file, run.path)  # fmt: skip
        raise
    finally:
        if rank_zero:
            os.environ.pop(RUN_DIR_VARIABLE, None)
    # wall time of every attempt that ended in Python (train, predict, evaluate), a killed one's excepted
    run.update_status(state="completed", error=None, train_seconds=wall_seconds())
    return run


def train_into(config: ExperimentConfig, folder: str | Path, progress: bool = True) -> RunDir:
    """Train ``config`` into ``folder``: a new run there, or the continuation of the one started there (a requeued
    job, a resumed sweep, an interrupted benchmark)."""
    if (Path(folder) / "config.yaml").is_file():
        return train(config, resume=folder, progress=progress)
    return train(config, run_dir=folder, progress=progress)


def _check_new_run_dir(folder: Path) -> None:
    """A new run goes into a folder without a run's files: one holding a run is continued (``resume``); one holding
    files of a run's names without one (a user's metrics.json) would have them replaced. Other files (the batch
    system's log, written there before the job starts) stay beside the run. A sweep's folder would mix a run into
    its seeds' runs: refused too."""
    if (folder / SWEEP_FILE).is_file():
        raise ConfigError(f"--run-dir {folder}", [f"is a sweep's folder ({SWEEP_FILE}): each of its seeds is a run of its "
                                                 "own there; give a new folder"])
    if (folder / "config.yaml").is_file():
        raise ConfigError(f"--run-dir {folder}", ["holds a run already: continue it (resume, or showerlearn train CONFIG "
                                                 "--run-dir with it), or give a new folder"])
    if taken := RunDir(folder).own_entries():
        raise ConfigError(f"--run-dir {folder}", [f"holds {', '.join(entry.name for entry in taken)} but no run (no "
                                                 "config.yaml): the run would write over them; give another folder"])


def _open_run(
    config: ExperimentConfig, resume: str | Path | None, run_dir: str | Path | None, held: contextlib.ExitStack
) -> tuple[RunDir, int, bool]:
    """``(run folder, attempt number, whether this process owns the folder)``; only the owner writes to it, and
    holds its lock (:mod:`~showerlearn.engine.run_lock`) in ``held`` before reading the run's state."""
    if resume is not None and run_dir is not None and Path(resume).resolve() != Path(run_dir).resolve():
        # one would be ignored: the run continues where it is
        raise ConfigError(str(run_dir), [f"--run-dir and --resume name different folders ({run_dir}, {resume}): a "
                                         "resumed run continues in its own folder; give one of them"])
    if resume is not None:
        run = RunDir.existing(resume)
        if run.is_ensemble():
            raise ConfigError(str(resume), ["is an ensemble of runs (ensemble.json), not a training run: nothing to resume"])
        owner = not started_by_lightning() and launched_rank() == 0
        if owner:
            held.enter_context(run_lock(run))
        # config before status: the owner writes them in the other order, so no process sees a new
        # budget's config.yaml with the run still "completed"
        stored = load_config(run.config_file)
        budget = budget_changes(stored, config, str(resume))
        machine = machine_changes(stored, config)
        status = run.status()
        if status.get("state") == "completed" and not budget:
            raise ConfigError(str(resume), [
                f"already holds a completed run: choose a new folder, or raise {', '.join(BUDGET_KEYS)} to train it further"
            ])
        if owner and FINGERPRINT_KEY in status:
            check_same_data(status[FINGERPRINT_KEY], config, str(resume))
        checkpoint = _last_checkpoint(run)
        if owner and (problems := _resume_problems(config, checkpoint)):
            raise ConfigError(str(resume), problems)
        # Lightning's DDP workers start after the owner counted this attempt
        counted = int(started_by_lightning())
        attempt = status.get("attempts", counted) - counted
        if owner and budget:
            check_budget_trains(config, checkpoint, str(resume))
            log.info("continuing %s with a new training budget: %s", run.path, budget)
            run.update_status(state="running", budget_changes=[*status.get("budget_changes", []), {"attempt": attempt, **budget}])
        if owner and machine:
            log.info("continuing %s elsewhere: %s", run.path, machine)
            run.update_status(machine_changes=[*status.get("machine_changes", []), {"attempt": attempt, **machine}])
        if owner and (budget or machine):
            write_text_atomic(run.config_file, dump_config(config))  # describes the run as it will end
        if owner:  # after the refusals above, which leave the run they refuse as it was
            # a run started by an earlier version recorded no fingerprint: it is checked from now on
            run.update_status(**lock_holder(), **{FINGERPRINT_KEY: status.get(FINGERPRINT_KEY) or data_fingerprint(config)})
        return run, attempt, owner
    if started_by_lightning():
        run = RunDir(Path(os.environ[RUN_DIR_VARIABLE]))
        return run, run.status().get("attempts", 1) - 1, False
    if (rank := launched_rank()) > 0:
        if run_dir is None:
            raise ConfigError("--run-dir", [
                f"this process has rank {rank} of a job started by an external launcher (torchrun, srun, mpirun): "
                "give every process the same run folder (showerlearn train CONFIG --run-dir PATH)"
            ])
        return RunDir(Path(run_dir)), 0, False
    if run_dir is not None and (problem := part_of_a_run(run_dir)):  # before its folder is made there
        raise ConfigError(f"--run-dir {run_dir}", [problem])
    try:
        run = RunDir(Path(run_dir)) if run_dir else RunDir.create(config.output_dir / config.name, config.seed)
        run.path.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError) as error:  # a file where a folder of the path must go
        raise ConfigError("--run-dir" if run_dir else "output_dir", [
            f"{error.filename}: a file where the run's folder, or a folder above it, must go"]) from None
    held.enter_context(run_lock(run))
    if run_dir is not None:  # checked under the lock: of two processes given one new folder, one trains there
        _check_new_run_dir(run.path)
    write_text_atomic(run.config_file, dump_config(config))
    write_json_atomic(run.environment_file, describe_environment(config.seed))
    run.update_status(**lock_holder(), **{FINGERPRINT_KEY: data_fingerprint(config)})
    return run, 0, True


def _draw_examples(datamodule: ShowerDataModule, run: RunDir, config: ExperimentConfig) -> None:
    """Example inputs drawn on the detector's own layout, by DataModules that can (``draw_examples``), in the
    formats of the run's evaluation figures (where its evaluator names them)."""
    if datamodule.draw_examples(run.plots, config.figure_formats()):
        datamodule.teardown("predict")


def build_datamodule(config: ExperimentConfig, progress: bool = True) -> ShowerDataModule:
    """The config's DataModule; ``progress``: whether reading its data may show progress bars (a first simulation)."""
    datamodule = build(config.data, DATAMODULES, "data", injected={"seed": config.seed})
    if not isinstance(datamodule, ShowerDataModule):
        raise TypeError(f"data {config.data.name!r} is a {type(datamodule).__name__}, not a ShowerDataModule")
    datamodule.progress = progress
    return datamodule


def build_module(config: ExperimentConfig, datamodule: ShowerDataModule) -> MultiTaskModule:
    assert config.model is not None and config.task is not None
    model = build(config.model, MODELS, "model", injected=datamodule.model_inputs())
    module = MultiTaskModule(model, config.task.heads, config.task.balancing, config.optimizer, config.scheduler)
    if (grouping := datamodule.size_grouping()) is not None:  # batches of similar sizes: every element weighs alike
        module.divide_by_running_selection(warmup_events=grouping.batch_size * grouping.pool)
    return module


def _fit_network(
    config: ExperimentConfig, datamodule: ShowerDataModule, run: RunDir, attempt: int, progress: bool, resume: bool
) -> bool:
    """Train; True on global rank 0 (the process that goes on to predict and evaluate)."""
    datamodule.prepare_data()
    if config.trainer.max_epochs == 0:  # nothing to train: the training split is not read
        assert config.init_from is not None  # the schema requires it
        # the network's inputs as it was trained on them (a standardisation, the class order), not refitted here
        initial = read_init_checkpoint(config.init_from)
        datamodule.restore_from_checkpoint(initial.state)
        datamodule.setup("test")
        _take_trained_weights(config, build_module(config, datamodule), datamodule, run, initial)
        return True
    datamodule.setup("fit")
    module = build_module(config, datamodule)
    compile_network(module.model, config.trainer)
    trainer = _trainer(config, run, attempt, progress, datamodule)
    last = run.checkpoints / "last.ckpt"
    resume = resume and last.is_file()
    if config.init_from is not None and not resume:  # a resumed run's checkpoint already holds the weights
        warm_start = load_matching_weights(module, config.init_from)
        if trainer.global_rank == 0:
            run.update_status(init_from=warm_start)
    on_ctrl_c = signal.getsignal(signal.SIGINT)
    try:
        trainer.fit(module, datamodule=datamodule, ckpt_path=last if resume else None)
    finally:
        # Lightning ignores Ctrl+C after catching one (for its shutdown): the next run of a sweep must see it
        if on_ctrl_c is not None and threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGINT, on_ctrl_c)
    timer = next((c for c in trainer.callbacks if isinstance(c, Timer)), None)
    if trainer.global_rank == 0 and timer is not None and (timer.time_remaining("train") or 0.0) <= 0.0:
        log.warning("training stopped by trainer.max_time=%s before max_epochs", config.trainer.max_time)
        run.update_status(stopped_by="max_time")
    elif trainer.global_rank == 0:
        run.update_status(stopped_by=None)  # a continued run that now reached its epochs
    return trainer.global_rank == 0


def _take_trained_weights(
    config: ExperimentConfig, module: MultiTaskModule, datamodule: ShowerDataModule, run: RunDir, initial: InitCheckpoint
) -> None:
    """No training (``max_epochs: 0``): the run's checkpoint is the ``init_from`` network, which must fill
    every tensor of the model; a partly initialised network would be evaluated as if it had been trained."""
    origin = load_matching_weights(module, initial)
    if origin["new"] or origin["shape_mismatch"]:
        missing = [*origin["new"], *(name for name, _, _ in origin["shape_mismatch"])]
        raise ConfigError("init_from", [
            f"init_from: {origin['checkpoint']} does not hold this model's {', '.join(missing[:5])}"
            f"{' ...' if len(missing) > 5 else ''} ({len(missing)} tensors): with trainer.max_epochs: 0 it must be "
            "the same network"
        ])
    run.update_status(init_from=origin, stopped_by=None)
    with atomic_path(run.checkpoints / "last.ckpt") as tmp:
        torch.save({"state_dict": module.state_dict(), **self_contained(config.model_dump(mode="json"), datamodule.fitted_state())}, tmp)


def _trainer(config: ExperimentConfig, run: RunDir, attempt: int, progress: bool, datamodule: ShowerDataModule) -> L.Trainer:
    options = config.trainer
    best = ModelCheckpoint(
        dirpath=run.checkpoints, filename="best", monitor=logged_name("val"), mode="min", save_top_k=1,
        save_last=True, enable_version_counter=False,
    )
    callbacks: list[Any] = [ProcessSettings(options), best, LearningRateMonitor(logging_interval="epoch"), EpochReport()]
    if options.checkpoint_every_n_steps:
        # a mid-epoch last.ckpt: a run killed during a long epoch loses at most N steps
        callbacks.append(
            ModelCheckpoint(
                dirpath=run.checkpoints, filename="last", every_n_train_steps=options.checkpoint_every_n_steps,
                save_top_k=1, enable_version_counter=False,
            )
        )
    if options.early_stopping:
        callbacks.append(EarlyStopping(**options.early_stopping.model_dump()))
    if progress:
        callbacks.append(EpochProgressBar())
    callbacks.extend(build(c, CALLBACKS, f"callbacks.{i}") for i, c in enumerate(config.callbacks))
    version = f"attempt_{attempt}"  # a resumed run keeps the earlier attempts' logs
    return L.Trainer(
        default_root_dir=run.path,
        max_epochs=options.max_epochs,
        max_steps=options.max_steps,
        max_time=options.max_time,
        accelerator=options.accelerator,
        devices=options.devices,
        num_nodes=options.num_nodes,
        strategy=options.strategy,
        precision=options.precision,
        gradient_clip_val=options.gradient_clip_val,
        limit_train_batches=options.limit_train_batches,
        limit_val_batches=options.limit_val_batches,
        log_every_n_steps=options.log_every_n_steps,
        # "warn": Lightning's True would switch torch to raising on ops without a deterministic kernel
        deterministic="warn" if options.deterministic else False,
        logger=[
            TensorBoardLogger(run.logs, name="tensorboard", version=version),
            CSVLogger(run.logs, name="csv", version=version),
        ],
        callbacks=callbacks,
        # the checkpoints carry their config and the data's fitted state
        plugins=[AtomicCheckpointIO(config.model_dump(mode="json"), datamodule.fitted_state())],
        enable_progress_bar=progress,
        enable_model_summary=progress,
    )


def _fit_estimator(config: ExperimentConfig, datamodule: ShowerDataModule, run: RunDir, progress: bool) -> None:
    assert config.estimator is not None
    datamodule.prepare_data()
    datamodule.setup("fit")
    injected = {**datamodule.model_inputs(), "seed": config.seed}  # the experiment seed drives the forests too
    estimator = build(config.estimator, ESTIMATORS, "estimator", injected=injected)
    if getattr(estimator, "learns_from_data", True):
        log.info("reading the training split into memory")
        inputs, targets, masks, _ = datamodule.arrays("train", raw=_wants_raw(estimator))
        log.info("fitting %s on %d events", config.estimator.name, len(inputs))
        with work_bars(progress):  # an estimator's fit is given no progress setting: its long steps draw bars here
            estimator.fit(inputs, targets, masks)
    else:  # a classical method (the R3B window): nothing to fit it on
        estimator.fit(None, None, None)
    save_estimator(estimator, run.checkpoints / ESTIMATOR_FILE)


def _wants_raw(estimator: Any) -> bool:
    """Estimators computing physics features (Hillas) set ``wants_raw_inputs`` to get physical units."""
    return bool(getattr(estimator, "wants_raw_inputs", False))


def trained_outputs(outputs: dict[str, Any], config: ExperimentConfig) -> dict[str, Any]:
    """The network ``outputs`` without those of heads it declares and the task does not train (a gamma-PhysNet
    trained on ``particle`` alone still computes energy and direction, from weights no loss ever moved):
    decoded, they would be predictions, scored and averaged in ensembles; left out, their columns are NaN."""
    if config.model is None:
        return outputs
    network = MODELS.get(config.model.name)
    trained = set(config.task.heads)
    trained |= {output for output, source in getattr(network, "trained_with", {}).items() if source in trained}
    untrained = (declared_heads(network, config.model.params or {}) or frozenset()) - trained
    return {name: value for name, value in outputs.items() if name not in untrained}


def predict_outputs(
    config: ExperimentConfig, datamodule: ShowerDataModule, run: RunDir, split: str = "test", progress: bool = False
) -> dict[str, np.ndarray] | dict[str, dict[str, np.ndarray]]:
    """Decoded predictions of ``split`` ("test", or "predict" after use_prediction_inputs): per-event
    columns, or tables (``ShowerDataModule.decode_predictions``); ``progress``: a bar over a network's batches (the
    test split of a large run, in several test-time views, takes minutes)."""
    if config.estimator is None:
        return datamodule.decode_predictions(*network_split_outputs(config, datamodule, run, split, progress))
    datamodule.setup("predict" if split == "predict" else "test")
    try:
        estimator = load_estimator(run.checkpoints / ESTIMATOR_FILE, ESTIMATORS.get(config.estimator.name))
        inputs, _, _, meta = datamodule.arrays(split, raw=_wants_raw(estimator))
        outputs = {k: np.asarray(v) for k, v in estimator.predict(inputs).items()}
    finally:
        datamodule.teardown("predict")  # close the data files
    return datamodule.decode_predictions(outputs, meta)


def network_split_outputs(
    config: ExperimentConfig, datamodule: ShowerDataModule, run: RunDir, split: str = "test", progress: bool = False,
    state: dict[str, Any] | None = None,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """The encoded outputs of the heads ``run``'s network trained, on ``split``, and the split's meta: what
    :func:`predict_outputs` decodes, and what an ensemble of a family whose decoded predictions do not average
    averages before decoding (``ShowerDataModule.average_network_outputs``). ``state``: the run's best checkpoint
    loaded already (else it is loaded here)."""
    datamodule.setup("predict" if split == "predict" else "test")
    try:
        outputs, meta = _network_outputs(config, datamodule, run, split, progress, state)
    finally:
        datamodule.teardown("predict")  # close the data files
    return trained_outputs(outputs, config), meta


def load_trained_weights(module: MultiTaskModule, state: dict[str, Any], checkpoint: Path) -> None:
    """The weights of a checkpoint, into the network the config builds; a ConfigError when they do not fit
    (the run's config.yaml edited, or a --set that changes the network)."""
    try:
        module.load_state_dict(state["state_dict"])
    except RuntimeError as error:
        problems = [line.strip() for line in str(error).splitlines()[1:] if line.strip()]
        raise ConfigError(str(checkpoint), [
            "its weights do not fit the network the config builds: the config (the run's config.yaml, or a --set) no "
            "longer describes the network that was trained", *problems[:8], *(["..."] if len(problems) > 8 else []),
        ]) from None


def _network_outputs(
    config: ExperimentConfig, datamodule: ShowerDataModule, run: RunDir, split: str, progress: bool = False,
    state: dict[str, Any] | None = None,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    module = build_module(config, datamodule)
    checkpoint = run.best_checkpoint()
    load_trained_weights(module, load_checkpoint(checkpoint) if state is None else state, checkpoint)
    compile_network(module.model, config.trainer)
    device = prediction_device(config.trainer)
    trainer = L.Trainer(
        accelerator="gpu" if device.type == "cuda" else "cpu", devices=1, logger=False, enable_progress_bar=progress,
        callbacks=[RichProgressBar()] if progress else None, enable_model_summary=False,
        precision=prediction_precision(config.trainer, device),
    )
    if len(views := datamodule.prediction_views()) > 1:
        log.info("predicting every event in %d views (test-time augmentation)", len(views))
    module.predict_views = functools.partial(datamodule.predict_views, views=views)
    loader = datamodule.predict_dataloader() if split == "predict" else datamodule.test_dataloader()
    batches = trainer.predict(module, dataloaders=loader)
    return concatenate_batches([b["outputs"] for b in batches]), concatenate_batches([b["meta"] for b in batches])


def evaluate(run: RunDir | str | Path) -> dict[str, Any]:
    """(Re)compute ``metrics.json`` and the figures of one run from its predictions file (:func:`evaluate_file`),
    with the ``caption`` and ``test_share`` kept in ``run.json`` when the run was trained."""
    run = run if isinstance(run, RunDir) else RunDir.existing(run)
    status = run.status()
    config = load_config(run.config_file)  # first: a config this code cannot read is the first thing to say
    metrics = evaluate_file(config, run, run.checked_predictions(), run.plots, **recorded_data(status))
    write_json_atomic(run.metrics_file, metrics)
    return metrics


def recorded_data(status: Mapping[str, Any]) -> dict[str, Any]:
    """What a run's ``run.json`` keeps of its data for every later evaluation (:func:`evaluate_file`'s keywords):
    its caption, the share of it the test split holds, and the evaluator settings it gave."""
    return {"caption": status.get("caption", ""), "test_share": status.get("test_share", 1.0),
            "defaults": status.get(EVALUATION_DEFAULTS)}


def evaluate_file(
    config: ExperimentConfig, run: RunDir, predictions_file: Path, plots: Path, *, caption: str = "", test_share: float = 1.0,
    defaults: Mapping[str, Any] | None = None, scored_sample: str = TEST_SPLIT,
) -> dict[str, Any]:
    """The metrics of a predictions file by the evaluator of ``config``, its figures written into ``plots``.

    Evaluators get the per-event table as ``predictions``; those with a ``tables`` parameter also get the
    per-element tables (name -> columns, empty without any); ``run_name`` (the config's name, the label of
    the curves unless the evaluator's ``label`` says otherwise), ``log_dir`` (``run``'s logs: its training
    curves), ``caption`` (the data and its cuts, :meth:`ShowerDataModule.describe`), ``test_share``
    (:meth:`ShowerDataModule.test_share`) and ``scored_sample`` (what the events are, named before their count in the
    caption: the test split, or the new file predicted) to those that take them; ``defaults`` (the data's
    :meth:`ShowerDataModule.evaluation_defaults`) for the settings the evaluator takes and the config leaves unset.
    Columns the file stores in units other than those the DataModule declares (a file written by another tool) are
    converted to them first.
    """
    tables = read_tables(predictions_file)
    tables = convert_units(predictions_file, tables, _declared_units(config, predictions_file, tables))
    predictions = tables.pop(PREDICTIONS_KEY)
    if config.evaluation is None:
        return {"scalars": {"n_events": len(next(iter(predictions.values()), []))}, "curves": {}}
    try:
        return build(
            _with_defaults(config.evaluation, defaults or {}), EVALUATORS, "evaluation",
            injected={"log_dir": run.logs, "tables": tables, "run_name": config.name, "caption": caption,
                      "test_share": test_share, "scored_sample": scored_sample},
            predictions=predictions, output_dir=plots,
        )  # fmt: skip
    except (ValueError, KeyError) as error:  # an evaluator's check (NaN scores, labels, a column): say what it read
        raise ValueError(f"evaluating {predictions_file}: {error_reason(error)}") from None


def _with_defaults(evaluation: Component, defaults: Mapping[str, Any]) -> Component:
    """``evaluation`` with the ``defaults`` its evaluator takes as parameters and its params do not set."""
    params = dict(evaluation.params or {})
    taken = inspect.signature(EVALUATORS.get(evaluation.name)).parameters
    # resolved configs hold every parameter, unset ones as null: null is "not set"
    filled = {name: value for name, value in defaults.items() if name in taken and params.get(name) is None}
    return evaluation.model_copy(update={"params": {**params, **filled}}) if filled else evaluation


def error_reason(error: Exception) -> str:
    """What an error says: a KeyError's sentence without the quotes of its repr, or the key it lacked."""
    if not isinstance(error, KeyError) or not error.args:
        return str(error)
    key = error.args[0]
    return key if isinstance(key, str) and " " in key else f"no {key!r}"


def _declared_units(
    config: ExperimentConfig, path: Path, tables: dict[str, dict[str, np.ndarray]]
) -> dict[str, dict[str, str]]:
    """The units the run's DataModule declares for its prediction columns (``column_units``): those its evaluator
    assumes, as the code is now, whatever units the file was written in.

    Only a file that stores a dimensioned unit can need converting; for any other the DataModule is not built,
    since a constructor may read its data (the tabular one's does), which evaluating does not otherwise need.
    It is built, not set up: the families' constructors read no data, and their units are known before setup
    (but for columns named after the classes, the collider's scores, which are probabilities). A DataModule that
    cannot be built here (its data moved away) leaves the columns as written, with a warning.
    """
    if not any(unit for name in tables for unit in read_units(path, name).values()):
        return {}
    try:
        return build_datamodule(config).column_units()
    except Exception as error:  # noqa: BLE001 (whatever a user's DataModule raises: evaluating goes on as before)
        log.warning("%s: the units of its columns are taken as written: the run's DataModule cannot say which it "
                    "expects (%s: %s)", path, type(error).__name__, error)  # fmt: skip
        return {}
