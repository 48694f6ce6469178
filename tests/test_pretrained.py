"""Shipped networks: packed from a run without its optimizer state or machine paths, evaluated as runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from showerlearn.config import resolve_config
from showerlearn.engine.pretrained import pack
from showerlearn.engine.runner import train
from showerlearn.engine.safe_load import CONFIG_KEY, load_checkpoint

pytestmark = pytest.mark.slow


def test_a_packed_network_evaluates_as_the_run_it_came_from(tabular_config: dict, tmp_path: Path) -> None:
    source = train(resolve_config(tabular_config), progress=False)
    shipped = pack(source, tmp_path / "shipped" / "tiny", {"command": "pytest", "metrics": source.metrics()["scalars"]})
    stored = load_checkpoint(shipped.checkpoint)
    assert set(stored) == {"state_dict", CONFIG_KEY}  # no optimizer state, loops or callbacks
    assert "output_dir" not in stored[CONFIG_KEY] and shipped.provenance["command"] == "pytest"
    original = load_checkpoint(source.best_checkpoint())["state_dict"]
    assert all(torch.equal(original[k], stored["state_dict"][k]) for k in original)

    run = shipped.evaluate([f"output_dir={tmp_path / 'elsewhere'}"], progress=False)
    assert run.path.is_relative_to(tmp_path / "elsewhere")
    assert run.status()["pretrained"]["command"] == "pytest"
    assert run.metrics()["scalars"]["auc"] == pytest.approx(source.metrics()["scalars"]["auc"])



def test_the_shipped_benchmark_network_carries_its_provenance_and_runs_on_fresh_events(tmp_path: Path) -> None:
    from showerlearn.iact.pretrained import CPU_BENCHMARK

    assert CPU_BENCHMARK.checkpoint.stat().st_size < 10 * 2**20  # small enough to ship in the wheel
    provenance = CPU_BENCHMARK.provenance
    assert {"command", "commit", "training_data", "train_seconds", "test_metrics"} <= set(provenance)
    assert len(provenance["training_data"]["sha256"]) == 64 and len(provenance["commit"]["commit"]) == 40
    benchmark = provenance["test_metrics"]
    assert benchmark["network"]["auc"] > benchmark["hillas_rf"]["auc"]  # what the benchmark showed

    fresh = ["data.params.simulate.config.n_events=3000", "data.params.simulate.seed=7"]
    folders = [f"output_dir={json.dumps(str(tmp_path))}", f"data.params.cache_dir={json.dumps(str(tmp_path / 'cache'))}"]
    run = CPU_BENCHMARK.evaluate([*folders, *fresh], progress=False)
    assert run.status()["pretrained"] == provenance
    scalars = run.metrics()["scalars"]
    # ~250 test events after the intensity cut: the benchmark's 0.88 to within a few statistical errors
    assert scalars["auc"] > 0.75 and scalars["angular_resolution_deg"] < 0.5
