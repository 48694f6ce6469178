"""The chunk runner of the simulators: results in order, a pool no larger than the work, more workers than cores
warned of."""

from __future__ import annotations

import concurrent.futures
import logging

import pytest

from showerlearn import parallel
from showerlearn.parallel import ordered_map


def test_results_come_in_order_from_a_pool_no_larger_than_the_tasks(monkeypatch: pytest.MonkeyPatch) -> None:
    sizes: list[int] = []

    class CountingPool(concurrent.futures.ProcessPoolExecutor):
        def __init__(self, max_workers: int, **kwargs: object) -> None:
            sizes.append(max_workers)
            super().__init__(max_workers=max_workers, **kwargs)

    monkeypatch.setattr(parallel.concurrent.futures, "ProcessPoolExecutor", CountingPool)
    monkeypatch.setattr(parallel.os, "cpu_count", lambda: 64)
    assert list(ordered_map(pow, [(2, 3), (3, 2), (2, 10)], n_jobs=1000)) == [8, 9, 1024]
    assert sizes == [3]  # a forking pool starts every worker at once: 1000 were started for 3 chunks
    assert list(ordered_map(pow, [(5, 2)], n_jobs=8)) == [25] and sizes == [3]  # one task: in this process


def test_more_workers_than_cores_are_warned_of(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(parallel.os, "cpu_count", lambda: 1)
    with caplog.at_level(logging.WARNING, logger="showerlearn.parallel"):
        assert list(ordered_map(pow, [(2, 2), (3, 3)], n_jobs=2)) == [4, 27]
    assert "2 worker processes on 1 cores" in caplog.text
