"""``simulate_calorimeter``: a production of events, simulated in parallel chunks, written as a hit file.

Worker processes simulate chunks while this process writes them in order, at most ``2 x n_jobs`` chunks in
flight; chunk ``i`` uses its own random stream seeded from ``(seed, i)``, so the file is the same for every
number of workers.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from showerlearn.calorimeter.geometry import geometry_by_name
from showerlearn.parallel import check_seed, ordered_map
from showerlearn.calorimeter.io.hdf5 import HitFileWriter
from showerlearn.calorimeter.simulation.config import CalorimeterSimulationConfig
from showerlearn.calorimeter.simulation.events import chunk_sizes, simulate_chunk
from showerlearn.calorimeter.simulation.materials import attenuation_table

__all__ = ["SimulationSummary", "simulate_calorimeter"]


@dataclass
class SimulationSummary:
    """What a production wrote: counts, sums and the time it took."""

    path: Path
    n_events: int = 0
    n_hits: int = 0
    n_gammas: int = 0
    n_saturated: int = 0
    n_background_hits: int = 0
    energy_emitted_mev: float = 0.0  # lab energy of all gammas
    energy_deposited_mev: float = 0.0  # their deposits in crystals, before threshold and smearing
    seconds: float = 0.0

    def add(self, chunk: dict[str, np.ndarray]) -> None:
        self.n_events += len(chunk["n_hits"])
        self.n_hits += len(chunk["energy"])
        self.n_gammas += len(chunk["gamma_event"])
        self.n_saturated += int(chunk["saturated"].sum())
        self.n_background_hits += int((chunk["true_gamma"] < 0).sum())
        self.energy_emitted_mev += float(chunk["gamma_energy_lab"].sum())
        self.energy_deposited_mev += float(chunk["gamma_deposited"].sum())


def simulate_calorimeter(
    config: CalorimeterSimulationConfig, output: Path | str, seed: int, n_jobs: int = 1, progress: bool = False,
    overwrite: bool = True,
) -> SimulationSummary:
    """Simulate ``config.n_events`` events into the hit file ``output`` (see :mod:`showerlearn.calorimeter.io.hdf5`).

    ``n_jobs`` worker processes (``-1``: all cores); ``progress`` shows a progress bar (rich). ``overwrite=False``:
    a file at ``output`` is not replaced, even one created during the simulation (:class:`FileExistsError`).
    """
    check_seed(seed)
    if n_jobs == -1:
        n_jobs = os.cpu_count() or 1
    if n_jobs < 1:
        raise ValueError(f"n_jobs must be >= 1 or -1 (all cores), got {n_jobs}")
    geometry = geometry_by_name(config.geometry)
    attenuation_table()  # built once here, inherited by forked workers
    sizes = chunk_sizes(config.n_events, config.chunk_size)
    summary = SimulationSummary(Path(output))
    attributes = {"seed": seed, "config": json.dumps(config.model_dump(), sort_keys=True)}
    started = time.perf_counter()
    with HitFileWriter(output, geometry, attributes, config.compression, overwrite=overwrite) as writer:
        for chunk in _with_progress(_chunks(config, seed, sizes, n_jobs), config.n_events, progress):
            writer.append(chunk)
            summary.add(chunk)
    summary.seconds = time.perf_counter() - started
    return summary


def _chunks(config: CalorimeterSimulationConfig, seed: int, sizes: list[int], n_jobs: int) -> Iterator[dict[str, np.ndarray]]:
    """Simulated chunks in order; at most 2 x n_jobs chunks in flight, so memory stays bounded."""
    jobs = n_jobs if len(sizes) > 1 else 1
    return ordered_map(simulate_chunk, ((config, seed, index, size) for index, size in enumerate(sizes)), jobs)


def _with_progress(chunks: Iterator[dict[str, np.ndarray]], total: int, enabled: bool) -> Iterator[dict[str, np.ndarray]]:
    """Pass the chunks through, advancing a bar by events, with the rate, hits so far and time left."""
    if not enabled:
        yield from chunks
        return
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    from showerlearn.cli.common import console
    from showerlearn.progress import Progress

    columns = (TextColumn("[bold]simulating[/]"), BarColumn(bar_width=20), MofNCompleteColumn(),
               TextColumn("{task.fields[rate]:>7.0f} ev/s"), TextColumn("{task.fields[hits]:,} hits"),
               TimeElapsedColumn(), TimeRemainingColumn())
    started, hits = time.perf_counter(), 0
    with Progress(*columns, console=console, transient=False) as bar:
        task = bar.add_task("simulate", total=total, rate=0.0, hits=0)
        for chunk in chunks:
            hits += len(chunk["energy"])
            done = bar.tasks[0].completed + len(chunk["n_hits"])
            bar.update(task, completed=done, rate=done / max(time.perf_counter() - started, 1e-9), hits=hits)
            yield chunk
