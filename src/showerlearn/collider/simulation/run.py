"""``simulate_collider``: every process of a config, in parallel chunks, into one event file.

The events of each process are split into chunks (:mod:`~showerlearn.collider.simulation.generator`);
chunks of all processes run on ``n_jobs`` worker processes and are written in a fixed order, so the
file depends on the config and the seed only. With ``config.cache_dir`` set, each chunk is kept there
under a hash of everything it depends on (its settings, the detector, jets and selection, its size,
index and seed, the versions of Pythia and FastJet), and a later run with the same settings reads it
instead of generating it again; a larger run reuses the chunks of a smaller one.

After the last chunk, each process's cross section is combined over its chunks and every event gets
its ``weight_pb`` (see :mod:`showerlearn.collider.io.events`).
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import json
import multiprocessing
import os
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import awkward as ak
import h5py
import numpy as np

from showerlearn.collider.io.events import ProcessSummary, write_metadata
from showerlearn.collider.io.h5columns import EVENTS, ColumnWriter, read_columns
from showerlearn.collider.simulation.config import ColliderSimulationConfig
from showerlearn.collider.simulation.generator import Chunk, ChunkStats, generate_chunk
from showerlearn.io import atomic_path
from showerlearn.parallel import check_seed

__all__ = ["RunSummary", "mass_point_path", "plan_chunks", "simulate_collider"]

#: bump when a code change alters the events of unchanged settings, so old cached chunks are not reused
CACHE_VERSION = 1
_DOUBLE_FIELDS = ("weight_pb", "generator_weight")


@dataclass(frozen=True)
class ChunkTask:
    process: str
    index: int
    size: int


@dataclass(frozen=True)
class RunSummary:
    """What a run wrote: the file, each process's summary, the wall time and the chunks read from cache."""

    output: Path
    processes: list[ProcessSummary]
    seconds: float
    cached_chunks: int

    @property
    def n_events(self) -> int:
        return sum(process.n_events for process in self.processes)

    @property
    def n_generated(self) -> int:
        return sum(process.n_generated for process in self.processes)


def plan_chunks(config: ColliderSimulationConfig) -> list[ChunkTask]:
    """The chunks of a run, processes interleaved so that all of them progress together. Events are
    shared among processes by their fractions, rounded by largest remainder to add up to n_events."""
    names = list(config.processes)
    exact = np.array([config.processes[name].fraction * config.n_events for name in names])
    counts = np.floor(exact).astype(int)
    counts[np.argsort(-(exact - counts), kind="stable")[: config.n_events - counts.sum()]] += 1
    per_process = {
        name: [
            ChunkTask(name, index, min(config.chunk_size, int(count) - start))
            for index, start in enumerate(range(0, int(count), config.chunk_size))
        ]
        for name, count in zip(names, counts, strict=True)
    }
    longest = max(len(tasks) for tasks in per_process.values())
    return [tasks[i] for i in range(longest) for tasks in per_process.values() if i < len(tasks)]


def mass_point_path(output: Path, mass: float) -> Path:
    """The file of one mass point of a scan: ``OUTPUT`` with ``_m<mass>`` before its suffix."""
    return output.with_name(f"{output.stem}_m{mass:g}{output.suffix}")


def simulate_collider(
    config: ColliderSimulationConfig, output: Path | str, seed: int, n_jobs: int = 1, progress: bool = False,
    overwrite: bool = True,
) -> RunSummary:
    """Generate ``config.n_events`` selected events and write them to ``output`` (HDF5, atomically).

    ``n_jobs`` worker processes (-1: all cores) generate chunks in parallel; the file is the same for
    every ``n_jobs``. ``progress`` shows a progress bar per process (rich). ``overwrite=False``: a file at
    ``output`` is not replaced, even one created during the generation (:class:`FileExistsError`).
    """
    check_seed(seed)
    n_jobs = (os.cpu_count() or 1) if n_jobs == -1 else n_jobs
    if n_jobs < 1:
        raise ValueError(f"n_jobs must be >= 1 or -1 (all cores), got {n_jobs}")
    start = time.perf_counter()
    tasks = plan_chunks(config)
    stats: list[ChunkStats] = []
    codes: list[np.ndarray] = []  # process code and generator weight of every written event, for weight_pb
    generator_weights: list[np.ndarray] = []
    names = list(config.processes)
    cached_chunks = 0
    output = Path(output)
    # only the publish of the file depends on overwrite: not the chunks, nor their cache keys
    with atomic_path(output, overwrite=overwrite) as tmp, h5py.File(tmp, "w") as h5:
        writer = ColumnWriter(h5, _DOUBLE_FIELDS)
        chunks = _ordered_chunks(config, tasks, seed, n_jobs)
        for chunk, cached in _with_progress(chunks, tasks, config, progress):
            code = names.index(chunk.stats.process)
            writer.append(_labelled(chunk.records, code, config.processes[chunk.stats.process].signal))
            codes.append(np.full(len(chunk.records), code, np.int16))
            generator_weights.append(ak.to_numpy(chunk.records.generator_weight))
            stats.append(chunk.stats)
            cached_chunks += int(cached)
        code_of, weight_of = np.concatenate(codes), np.concatenate(generator_weights)
        summaries = _summaries(config, stats, code_of, weight_of)
        h5.create_dataset(f"{EVENTS}/weight_pb", data=_event_weights(summaries, code_of, weight_of))
        write_metadata(h5, summaries, config.model_dump(mode="json"), seed, _versions())
    return RunSummary(output, summaries, time.perf_counter() - start, cached_chunks)


def _labelled(records: ak.Array, code: int, signal: bool) -> ak.Array:
    records = ak.with_field(records, np.full(len(records), code, np.int16), "process")
    return ak.with_field(records, np.full(len(records), int(signal), np.int8), "label")


def _summaries(
    config: ColliderSimulationConfig, stats: list[ChunkStats], codes: np.ndarray, weights: np.ndarray
) -> list[ProcessSummary]:
    """Each process's counts and cross sections, combined over its chunks (Pythia's estimates averaged
    with the events each rests on as weights)."""
    summaries = []
    for code, name in enumerate(config.processes):
        mine = [s for s in stats if s.process == name]
        n_generated = sum(s.n_generated for s in mine)
        sum_weights = sum(s.sum_weights for s in mine)
        sigma = sum(s.sigma_pb * s.n_generated for s in mine) / n_generated if n_generated else 0.0
        error = (
            float(np.sqrt(sum((s.sigma_error_pb * s.n_generated) ** 2 for s in mine))) / n_generated
            if n_generated
            else 0.0
        )
        kept_weights = float(weights[codes == code].sum())
        summaries.append(ProcessSummary(
            name=name, label=int(config.processes[name].signal), settings=config.pythia_settings(name),
            n_events=int((codes == code).sum()), n_generated=n_generated, sum_weights=sum_weights,
            sigma_generated_pb=sigma, sigma_generated_error_pb=error,
            sigma_selected_pb=sigma * kept_weights / sum_weights if sum_weights else 0.0,
        ))  # fmt: skip
    return summaries


def _event_weights(summaries: list[ProcessSummary], codes: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Each event's share of its process's generated cross section: sigma_gen x w / sum of generated w."""
    scale = np.array([s.sigma_generated_pb / s.sum_weights if s.sum_weights else 0.0 for s in summaries])
    return weights * scale[codes] if len(codes) else np.zeros(0)


def _versions() -> dict[str, str]:
    from showerlearn import __version__

    return {"showerlearn": __version__, "pythia8mc": version("pythia8mc"), "fastjet": version("fastjet")}


# --- chunks: cache, workers, order ----------------------------------------------------------------------
def _ordered_chunks(
    config: ColliderSimulationConfig, tasks: list[ChunkTask], seed: int, n_jobs: int
) -> Iterator[tuple[Chunk, bool]]:
    """``(chunk, read_from_cache)`` in task order; at most 2 x n_jobs chunks in flight."""
    if n_jobs == 1:
        for task in tasks:
            yield _cached_or_generated(config, task, seed)
        return
    context = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else None)
    with concurrent.futures.ProcessPoolExecutor(max_workers=n_jobs, mp_context=context) as pool:
        pending: deque[concurrent.futures.Future] = deque()
        try:
            for task in tasks:
                pending.append(pool.submit(_cached_or_generated, config, task, seed))
                if len(pending) >= 2 * n_jobs:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:  # on an error, do not generate what nobody will write
            for future in pending:
                future.cancel()


def _cached_or_generated(config: ColliderSimulationConfig, task: ChunkTask, seed: int) -> tuple[Chunk, bool]:
    path = _cache_path(config, task, seed)
    if path is not None and path.is_file():
        return _read_chunk(path), True
    chunk = generate_chunk(config, task.process, task.index, task.size, seed)
    if path is not None:
        _write_chunk(path, chunk)
    return chunk, False


def chunk_key(config: ColliderSimulationConfig, task: ChunkTask, seed: int) -> str:
    """Hash of everything the events of a chunk depend on."""
    process = config.processes[task.process]
    content = {
        "cache_version": CACHE_VERSION, "versions": _versions(), "seed": seed, "process": task.process,
        "index": task.index, "size": task.size, "settings": config.pythia_settings(task.process),
        "cross_section_pb": process.cross_section_pb, "signal_mass": config.signal_mass,
        "detector": config.detector.model_dump(mode="json"), "jets": config.jets.model_dump(mode="json"),
        "selection": config.selection.model_dump(mode="json"), "max_tries_per_event": config.max_tries_per_event,
    }  # fmt: skip
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()[:32]


def _cache_path(config: ColliderSimulationConfig, task: ChunkTask, seed: int) -> Path | None:
    if config.cache_dir is None:
        return None
    return Path(config.cache_dir) / f"{task.process}-{chunk_key(config, task, seed)}.h5"


def _write_chunk(path: Path, chunk: Chunk) -> None:
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as h5:
        ColumnWriter(h5, _DOUBLE_FIELDS).append(chunk.records)
        h5.attrs["stats"] = json.dumps(chunk.stats.to_dict())


def _read_chunk(path: Path) -> Chunk:
    with h5py.File(path, "r") as h5:
        stats = ChunkStats(**json.loads(h5.attrs["stats"]))
    return Chunk(read_columns(path), stats)


def _with_progress(
    chunks: Iterator[tuple[Chunk, bool]], tasks: list[ChunkTask], config: ColliderSimulationConfig, enabled: bool
) -> Iterator[tuple[Chunk, bool]]:
    if not enabled:
        yield from chunks
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    from showerlearn.progress import Progress

    columns = (
        TextColumn("{task.description:>10}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=Console(stderr=True)) as bar:  # stdout stays for the command's output
        ids = {
            name: bar.add_task(name, total=sum(t.size for t in tasks if t.process == name)) for name in config.processes
        }
        for chunk, cached in chunks:
            bar.advance(ids[chunk.stats.process], len(chunk.records))
            yield chunk, cached
