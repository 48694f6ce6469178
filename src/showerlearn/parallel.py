"""Work in chunks over worker processes, results in submission order with bounded memory.

The simulators of every family cut their events into chunks whose random streams depend only on the
seed and the chunk's index, so a file is the same whatever the number of workers; this module runs
those chunks on a process pool and hands them back in order, keeping at most ``2 x n_jobs`` in flight
so memory does not grow with the number of events. The seeds those simulators take are
:data:`SEED_RANGE` (:func:`check_seed`).

May import: the standard library only.
"""

from __future__ import annotations

import concurrent.futures
import logging
import multiprocessing
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

Result = TypeVar("Result")

log = logging.getLogger(__name__)

#: the seeds every simulator takes: its file records the seed as a 64-bit integer, and numpy's SeedSequence
#: (which seeds each chunk's random stream) takes no negative one
SEED_RANGE = (0, 2**63 - 1)


def check_seed(seed: int) -> None:
    """A ValueError for a seed outside :data:`SEED_RANGE`."""
    if not SEED_RANGE[0] <= seed <= SEED_RANGE[1]:
        raise ValueError(f"seed must be in {SEED_RANGE[0]}..{SEED_RANGE[1]}, got {seed}")


def ordered_map(
    function: Callable[..., Result],
    arguments: Iterable[tuple[Any, ...]],
    n_jobs: int,
    initializer: Callable[[], None] | None = None,
) -> Iterator[Result]:
    """``function(*args)`` for each tuple of ``arguments``, in order; in this process when ``n_jobs`` is 1.

    Workers are forked where the platform allows it, so what the parent built before (a camera, a cross
    section table) is inherited instead of pickled; ``initializer`` runs once in each worker. There are no more
    workers than tasks (a forking pool starts every one at once), and more than the machine's cores are
    warned of: they share the cores, and each holds its own copy of what it builds.
    """
    arguments = list(arguments)  # small tuples (a chunk's index and size): counted, to size the pool
    n_jobs = min(n_jobs, len(arguments))
    if n_jobs > (cores := os.cpu_count() or 1):
        log.warning("%d worker processes on %d cores: they share the cores, and each holds its own memory", n_jobs, cores)
    if n_jobs <= 1:
        for args in arguments:
            yield function(*args)
        return
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else None)
    with concurrent.futures.ProcessPoolExecutor(max_workers=n_jobs, mp_context=context, initializer=initializer) as pool:
        pending: deque[concurrent.futures.Future] = deque()
        try:
            for args in arguments:
                pending.append(pool.submit(function, *args))
                if len(pending) >= 2 * n_jobs:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:  # on an error (or an abandoned generator) do not compute what nobody will use
            for future in pending:
                future.cancel()
