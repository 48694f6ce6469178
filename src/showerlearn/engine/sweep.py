"""Seed sweeps: the same experiment over N seeds, then the mean and dispersion of every metric.

The gamma-PhysNet paper measures robustness by the spread of results over seeds; a sweep folder
holds one run directory per seed plus ``sweep.json`` (what ran) and ``aggregate.json``.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import signal
import time
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor, wait
from datetime import datetime, timezone
from multiprocessing.synchronize import Event as EventType
from pathlib import Path
from typing import Any

from showerlearn.config import ConfigError, ExperimentConfig, load_config
from showerlearn.config.schema import lightning_devices
from showerlearn.engine.launch import interruption, interruption_status, stop_signal
from showerlearn.engine.run_dir import SWEEP_FILE, RunDir, unique_folder
from showerlearn.evaluation.aggregate import aggregate_runs, plot_aggregates
from showerlearn.family import family_of, new_run_problems
from showerlearn.io.atomic import read_json_object, write_json_atomic

log = logging.getLogger(__name__)

AGGREGATE_FILE = "aggregate.json"


class SweepError(RuntimeError):
    """Some seeds of a sweep failed; the others are complete and aggregated (``sweep.json`` lists both)."""


def sweep(
    config: ExperimentConfig, n_seeds: int, jobs: int = 1, progress: bool = True, resume: str | Path | None = None
) -> Path:
    """Train ``n_seeds`` runs with seeds ``config.seed, config.seed + 1, ...``; return the sweep folder.

    A seed that fails does not stop the others: the completed runs are aggregated, the failures are
    recorded in ``sweep.json`` (``"failed"``), then :class:`SweepError` names them. A failed seed stays
    listed: ``resume`` finishes it and aggregates again.

    ``resume`` continues the sweep in that folder (one stopped by a job's time limit, a crash, or seeds that
    failed): its completed seeds are kept, a started one continues from its last checkpoint (its config must
    be the one it was started with, as for ``train --resume``; every started seed is checked before any seed trains
    or ``sweep.json`` is written) and one never started begins. A training budget
    (``trainer.max_epochs``, ``max_steps``, ``max_time``) other than the completed seeds' is refused: the
    aggregate would average seeds trained to different budgets.
    """
    if n_seeds < 1:
        raise ValueError(f"--seeds must be >= 1, got {n_seeds}")
    devices, nodes = config.trainer.devices, config.trainer.num_nodes
    asked = lightning_devices(devices)
    if asked == -1 or (isinstance(asked, int) and asked > 1) or (isinstance(asked, list) and len(asked) > 1) or nodes > 1:
        # Lightning's DDP launcher re-runs the command line per device, which for a sweep is the whole sweep
        raise ValueError(
            f"a sweep trains each seed in one process, but trainer.devices={devices!r}, trainer.num_nodes={nodes}: "
            "train DDP seeds one by one (showerlearn train CONFIG --set seed=K)"
        )
    seeds = [config.seed + k for k in range(n_seeds)]
    if seeds[-1] >= 2**32:  # numpy's range, which the config checks only for the first
        raise ConfigError("seed", [f"a sweep of {n_seeds} seeds from {config.seed} ends at {seeds[-1]}, past 2**32 - 1"])
    if resume is None and (problems := new_run_problems(config)):  # as train: before the sweep's folder exists
        raise ConfigError(config.name, problems)
    folder = _resumed_folder(Path(resume), seeds) if resume is not None else _new_folder(config)
    runs = {seed: folder / f"seed{seed}" for seed in seeds}
    configs = {seed: config.model_copy(update={"seed": seed}, deep=True) for seed in seeds}
    to_train = [seed for seed in seeds if RunDir(runs[seed]).status().get("state") != "completed"]
    # before anything is written or trained: a seed started with another experiment would be refused only when its
    # turn came, after the seeds never started had trained with the new config into the old sweep
    changes = {seed: _check_same_experiment(runs[seed], configs[seed]) for seed in seeds if _started(runs[seed])}
    # the completed seeds are kept as they are: their budget must be the config's too
    _check_same_budget(folder, {seed: keys for seed, keys in changes.items() if seed not in to_train})
    description: dict[str, Any] = {"name": config.name, "seeds": seeds, "runs": [p.name for p in runs.values()]}
    write_json_atomic(folder / SWEEP_FILE, description)
    if len(to_train) < n_seeds:
        log.info("%s: %d of %d seeds completed earlier are kept", folder, n_seeds - len(to_train), n_seeds)
    try:
        failures = _train_seeds({seed: configs[seed] for seed in to_train}, runs, jobs, progress)
    except BaseException as error:
        if interruption(error) is not None:
            log.warning("sweep %s: its completed seeds are kept; continue it with: showerlearn sweep CONFIG --seeds %d "
                        "--resume %s (with the same --set options as this command)", folder, n_seeds, folder)  # fmt: skip
        raise
    if failures:
        description["failed"] = {str(seed): message for seed, message in failures.items()}
        write_json_atomic(folder / SWEEP_FILE, description)
        if len(failures) == n_seeds:
            raise SweepError(f"{folder}: every seed failed: " + "; ".join(f"seed {s}: {m}" for s, m in failures.items()))
    aggregate_sweep(folder)
    if failures:
        raise SweepError(
            f"{folder}: {len(failures)} of {n_seeds} seeds failed ("
            + "; ".join(f"seed {s}: {m}" for s, m in failures.items())
            + f"); {folder / AGGREGATE_FILE} aggregates the {n_seeds - len(failures)} others"
        )
    return folder


def _train_seeds(configs: dict[int, ExperimentConfig], runs: dict[int, Path], jobs: int, progress: bool) -> dict[int, str]:
    """Train every seed of ``configs`` into its run folder, ``jobs`` at a time; the failures, seed -> what failed."""
    failures: dict[int, str] = {}
    if jobs > 1:
        stop = multiprocessing.get_context().Event()
        with ProcessPoolExecutor(max_workers=jobs, initializer=_share_stop, initargs=(stop,)) as pool:
            futures = {seed: pool.submit(_train_seed, config, runs[seed], False) for seed, config in configs.items()}
            try:
                pending = set(futures.values())
                while pending:  # with a timeout: see _wait_for
                    pending = _wait_for(pending)
                for seed, future in futures.items():
                    try:
                        future.result()
                    except Exception as error:  # noqa: BLE001 - any failure of one seed is reported, not fatal
                        _stop_if_signalled(error)
                        failures[seed] = _failed(seed, error)
            except BaseException as error:  # a signal to this process (Ctrl+C, SIGTERM): the workers stop too
                _stop_workers(pool, stop, error)
                raise
    else:
        for seed, config in configs.items():
            try:
                _train_seed(config, runs[seed], progress)
            except Exception as error:  # noqa: BLE001 - as above
                _stop_if_signalled(error)
                failures[seed] = _failed(seed, error)
    return failures


def _stop_if_signalled(error: Exception) -> None:
    """After a stop signal a seed's error is that stop (an import it cut short): the sweep stops, the seeds after it
    are not trained."""
    if (signum := stop_signal()) is not None:
        raise SystemExit(128 + signum) from error


def _wait_for(futures: set[Future]) -> set[Future]:
    """Those of ``futures`` still running after at most a second. The kernel may hand a signal to any of the process's
    threads (the pool's own), and Python runs its handler in the main thread only when that thread wakes: a wait
    without a timeout would hold a SIGTERM until every seed has trained."""
    return wait(futures, timeout=1.0).not_done


#: seconds a stopped sweep's workers get to stop on a signal of their own before it is passed on to them
_WORKER_GRACE_S = 3.0
#: set in a sweep's worker processes: once set, they start no further seed (those the pool had queued already)
_STOP: EventType | None = None


def _share_stop(stop: EventType) -> None:
    """The initializer of a sweep's worker processes."""
    global _STOP
    _STOP = stop


def _stop_workers(pool: ProcessPoolExecutor, stop: EventType, error: BaseException) -> None:
    """Stop a parallel sweep whose main process was stopped by ``error``: cancel the seeds not started and pass the
    signal on to the workers, whose runs then end as a run stopped by it does (interrupted, resumable). Without this
    the pool's shutdown would wait for every seed, the queued ones included, to train to its end."""
    stop.set()
    # the pool names its worker processes only in this private mapping, which its shutdown empties
    workers = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    status = interruption_status(error) if interruption(error) is not None else 0
    number = status - 128 if 128 < status < 128 + signal.NSIG else signal.SIGTERM  # the signal that stopped it
    # Ctrl+C (the terminal's process group) and a batch system's SIGTERM (the job's processes) reach the workers
    # themselves: a second signal would land in their clean-up (their run left "running"). Only those still
    # running after a grace period, which did not get it, are sent it.
    deadline = time.monotonic() + _WORKER_GRACE_S
    for process in workers:
        process.join(timeout=max(0.0, deadline - time.monotonic()))
    for process in workers:
        if process.is_alive():
            with contextlib.suppress(ProcessLookupError):
                os.kill(process.pid, number)


def _new_folder(config: ExperimentConfig) -> Path:
    """``sweep-<UTC time>`` in the experiment's folder; ``_1``, ``_2``... after it when sweeps start in the
    same second."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    return unique_folder(config.output_dir / config.name / f"sweep-{stamp}")


def _resumed_folder(folder: Path, seeds: list[int]) -> Path:
    """``folder`` if it is a sweep of exactly ``seeds``; a ValueError naming ``--resume`` and what it holds otherwise
    (not a config error: the config may be right and the folder the wrong one)."""
    if not is_sweep(folder):
        raise ValueError(f"--resume {folder}: is not a sweep folder (no {SWEEP_FILE}): nothing to resume")
    stored = read_json_object(folder / SWEEP_FILE).get("seeds")
    if stored != seeds:
        raise ValueError(f"--resume {folder}: holds the seeds {stored}, but the config's seed and --seeds give {seeds}: "
                         "resume with the same ones")
    return folder


def _failed(seed: int, error: Exception) -> str:
    message = f"{type(error).__name__}: {error}"
    log.error("seed %d failed: %s", seed, message)
    return message


def _started(run: Path) -> bool:
    """Whether a seed's run was started (its config written), completed or not."""
    return (run / "config.yaml").is_file()


def _check_same_experiment(run: Path, config: ExperimentConfig) -> dict[str, list[Any]]:
    """A ConfigError when the run started in ``run`` was trained with another config than ``config`` (its
    training budget and where it trains aside): a resumed sweep must not average runs of different experiments. Returns the
    budget keys that differ, ``{key: [the run's value, config's value]}``."""
    from showerlearn.engine.resume_settings import budget_changes

    return budget_changes(load_config(run / "config.yaml"), config, str(run))


def _check_same_budget(folder: Path, changes: dict[int, dict[str, list[Any]]]) -> None:
    """A ConfigError when completed seeds were trained to another budget than the resumed config's (``changes``:
    seed -> the budget keys that differ): the seeds still to train would go to the new budget while the
    completed ones stay as they are, and the aggregate would average the two silently."""
    if not (differing := {seed: keys for seed, keys in changes.items() if keys}):
        return
    seeds = [f"seed{seed}: " + ", ".join(f"{key}={old} (resumed config: {new})" for key, (old, new) in keys.items())
             for seed, keys in sorted(differing.items())]
    raise ConfigError(str(folder), [
        "the training budget differs from that of completed seeds, which a resumed sweep keeps as they are "
        "(the aggregate would mix budgets):", *seeds,
        "resume with the completed seeds' budget (--set KEY=VALUE as listed), or start a new sweep with the new one",
    ])


def _train_seed(config: ExperimentConfig, path: Path, progress: bool) -> None:
    """Train one seed into ``path``, continuing the run already started there (a resumed sweep)."""
    from showerlearn.engine.runner import train_into  # here, not at import: `board` reads sweeps without torch

    if _STOP is not None and _STOP.is_set():  # a seed the pool had queued before the sweep was stopped
        raise RuntimeError(f"{path}: not started: the sweep was stopped")

    train_into(config, path, progress)


def sweep_runs(folder: str | Path, completed_only: bool = True) -> list[RunDir]:
    """The run directories of a sweep folder: the completed ones (what is aggregated and explained), or
    with ``completed_only=False`` every listed run that was started (the board shows failed ones too).

    A listed run that is not there (deleted, moved, or not started yet) is left out with a warning naming it:
    what is read of the sweep then covers fewer seeds than it lists."""
    folder = Path(folder)
    description = read_json_object(folder / SWEEP_FILE)
    runs = [RunDir(folder / name) for name in description["runs"] if _started(folder / name)]
    if missing := [name for name in description["runs"] if not _started(folder / name)]:
        _warn_missing(folder, description, missing, runs)
    return completed_runs(folder, runs) if completed_only else runs


def completed_runs(folder: str | Path, runs: Sequence[RunDir]) -> list[RunDir]:
    """The completed ones of ``runs``, runs of the sweep ``folder``; a ValueError when none is."""
    completed = [run for run in runs if run.status().get("state") == "completed"]
    if not completed:
        listed = read_json_object(Path(folder) / SWEEP_FILE)["runs"]
        raise ValueError(f"{folder}: no completed run among {listed} (see 'failed' in {SWEEP_FILE})")
    return completed


def _warn_missing(folder: Path, description: dict[str, Any], missing: list[str], present: list[RunDir]) -> None:
    """Warn that the listed runs ``missing`` are not in ``folder``, with the command that trains them again: a
    resumed sweep trains a seed whose folder is gone as one never started."""
    seeds = description["seeds"]
    # the seeds are those of the config's seed on: a present seed's config, given the sweep's first seed
    config = f"{present[0].config_file} --set seed={seeds[0]}" if present else "CONFIG"
    one = len(missing) == 1
    log.warning(
        "%s: %s, listed in %s, %s not there (deleted or moved, or not started yet) and %s left out: the sweep is read "
        "from %s alone; to train %s again: showerlearn sweep %s --seeds %d --resume %s",
        folder, ", ".join(missing), SWEEP_FILE, "is" if one else "are", "is" if one else "are",
        ", ".join(run.path.name for run in present) or "no run", "it" if one else "them", config, len(seeds), folder,
    )


def is_sweep(folder: str | Path) -> bool:
    return (Path(folder) / SWEEP_FILE).is_file()


def aggregate_sweep(folder: str | Path, runs: Sequence[RunDir] | None = None) -> dict[str, Any]:
    """Mean and standard deviation over seeds of every metric (``aggregate.json``) and the curves
    with dispersion bands (``plots/``), over ``runs`` (default: the sweep's completed runs, :func:`sweep_runs`).

    ``aggregate.json`` also says which seeds it covers (``runs`` and ``seeds``: the run folders and their seeds)
    and which listed ones it does not (``left_out``: run folder -> why, "missing" or the run's state), since
    its mean may be over fewer seeds than the sweep lists."""
    folder = Path(folder)
    runs = list(runs) if runs is not None else sweep_runs(folder)
    aggregate = aggregate_runs([run.metrics() for run in runs])
    aggregate.update(_coverage(folder, runs))
    write_json_atomic(folder / AGGREGATE_FILE, aggregate)
    if aggregate["curves"]:
        config = load_config(runs[0].config_file)  # the seeds share their data family and evaluation settings
        formats = config.figure_formats()
        plot_aggregates({folder.parent.name: aggregate}, folder / "plots", style=family_of(config).board_style(),
                        **({"figure_formats": formats} if formats is not None else {}))
    return aggregate


def _coverage(folder: Path, runs: Sequence[RunDir]) -> dict[str, Any]:
    """Which of the runs ``folder``'s sweep.json lists ``runs`` are (their names and seeds), and why the others
    are left out."""
    description = read_json_object(folder / SWEEP_FILE)
    seed_of = dict(zip(description["runs"], description["seeds"], strict=True))
    names = [run.path.name for run in runs]
    left_out = {
        name: RunDir(folder / name).state_summary() if _started(folder / name) else "missing (no run there)"
        for name in description["runs"] if name not in names
    }
    return {"runs": names, "seeds": [seed_of.get(name) for name in names], "left_out": left_out}
