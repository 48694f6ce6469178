"""Shipped networks: packed from a run without its optimizer state or machine paths, evaluated as runs."""

from __future__ import annotations

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

