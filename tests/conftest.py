"""Shared pytest fixtures."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from iact_runs import EXAMPLES, PNG_FIGURES, TINY

from showerlearn.engine.run_dir import RunDir

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"

# One torch (OpenMP) thread in this process and in the processes its tests start, unless the caller
# chose: the tests' networks are too small to gain from a second thread, and on a machine whose cores
# are busy (a shared CI runner) two threads spin-wait on each other: 15 steps of a tiny gamma-PhysNet
# took 14.5 CPU seconds instead of 1.4. Set before anything imports torch, which reads it once.
os.environ.setdefault("OMP_NUM_THREADS", "1")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The modules that hold ``slow`` tests first, each module's tests kept together and in order.

    ``pytest -n 2`` hands out the tests in this order; the last ones handed out decide how long one worker waits for
    the other at the end. A minute-long test there (the compile check, a README tour) kept one core idle for most of
    that minute; short tests there keep both busy to the end.
    """
    slow_files = {item.path for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: item.path not in slow_files)  # stable: the order within each group is kept


@pytest.fixture(autouse=True)
def _session_thread_count() -> Iterator[None]:
    """Back to the session's thread count after each test: a training whose config asks for more
    (``trainer.threads``: 2 in the small examples) sets it for the whole process."""
    yield
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"].split(",")[0]))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The reference files in ``../shared/data``; tests using them skip on a user's clone without it."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"reference data not found at {SHARED_DATA} (only present in the developers' checkout)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def tabular_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small, learnable two-class feature table (CSV with header)."""
    rng = np.random.default_rng(0)
    features = rng.normal(size=(400, 3))
    labels = np.where(features[:, 0] + 0.5 * features[:, 1] > 0, "g", "h")
    path = tmp_path_factory.mktemp("tabular") / "events.csv"
    lines = ["a,b,c,cls"] + [",".join(f"{v:.6f}" for v in row) + f",{label}" for row, label in zip(features, labels)]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def tabular_config(tabular_csv: Path, tmp_path: Path) -> dict:
    """A complete experiment on the table above with a user model given by import path."""
    return {
        "name": "tabular",
        "seed": 3,
        "output_dir": str(tmp_path / "runs"),
        "data": {
            "name": "tabular",
            "params": {"source": {"path": str(tabular_csv)}, "features": ["a", "b", "c"], "label": "cls", "batch_size": 64},
        },
        "model": {"name": "engine_plugins:TinyClassifier", "params": {"hidden": 8}},
        "task": {"heads": {"label": {"loss": "cross_entropy", "metrics": ["accuracy", "auroc"]}}},
        "trainer": {"max_epochs": 3, "checkpoint_every_n_steps": 2},
        # no figures: every engine test trains, and drawing them is most of a run's time; the tests that
        # look at a run's figures set PNG (the PDF copies are test_evaluation's to check)
        "evaluation": {"name": "classification", "params": {"figure_formats": []}},
    }


@pytest.fixture(scope="session")
def iact_workspace(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """Overrides that put the runs and the cached simulated training set of the IACT examples in one
    folder of the session: the tiny trainings of every test module simulate their events once."""
    folder = tmp_path_factory.mktemp("iact_workspace")
    return [f"output_dir={folder / 'runs'}", f"data.params.cache_dir={folder / 'cache'}"]


@pytest.fixture(scope="session")
def tiny_small_example(iact_workspace: list[str]) -> RunDir:
    """``examples/gamma_physnet_da_small.yaml`` (what `make demo` trains) trained for seconds, once a session,
    with its figures (PNG), which the end-to-end tests look at."""
    # imported here, not above: every pytest run loads this file, few need the training stack
    from showerlearn.config import load_config
    from showerlearn.engine.runner import train

    overrides = [*iact_workspace, *TINY, *PNG_FIGURES]
    return train(load_config(EXAMPLES / "gamma_physnet_da_small.yaml", overrides), progress=False)
