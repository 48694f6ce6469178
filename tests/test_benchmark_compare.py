"""The benchmarks' run comparison (benchmarks/_compare.py): which runs share a test set, and issue 19's margins."""

from __future__ import annotations

import copy
import sys
from pathlib import Path

import pytest

from showerlearn.config import resolve_config

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import _compare  # noqa: E402  (its test_set_differences, imported by name, would be collected as a test)


def test_a_null_split_seed_is_the_experiment_seed_that_draws_it(tabular_config: dict) -> None:
    explicit = copy.deepcopy(tabular_config)
    explicit["data"]["params"]["split"] = {"seed": tabular_config["seed"]}
    assert _compare.test_set_differences(resolve_config(tabular_config), resolve_config(explicit)) == []
    other_seed = {**copy.deepcopy(tabular_config), "seed": tabular_config["seed"] + 1}
    assert _compare.test_set_differences(resolve_config(other_seed), resolve_config(tabular_config)) == ["data.params.split"]
    other_seed["data"]["params"]["split"] = {"seed": tabular_config["seed"]}  # trained with another seed, same split
    assert _compare.test_set_differences(resolve_config(other_seed), resolve_config(tabular_config)) == []


def _metrics(values: list[float], half_width: float) -> dict:
    curve = {"edges": [0.1, 0.4, 1.0, 1.58, 4.0], "n_events": [100] * 4, "value": values,
             "ci_low": [v - half_width for v in values], "ci_high": [v + half_width for v in values]}
    return {"curves": {"angular_resolution_vs_true_energy": curve, "energy_resolution_vs_true_energy": curve}}


@pytest.mark.parametrize(("ours", "verdict"), [
    ([0.80, 0.85, 0.90, 1.00], "met; disjoint in 2/3"),  # margins 20 / 15 / 10 %, the last bin equal
    ([0.80, 0.95, 0.80, 1.00], "not met; disjoint in 2/3"),  # 5 % in the second bin
    ([0.80, 0.80, 0.80, 1.20], "not met; disjoint in 3/3"),  # above 1.6 TeV worse by more than the interval
    ([0.80, 0.80, 0.80, 1.05], "met; disjoint in 3/3"),  # worse there, but inside the interval
])
def test_acceptance_margins_per_bin(ours: list[float], verdict: str) -> None:
    lines = _compare.acceptance_lines({"1": _metrics(ours, 0.06)}, _metrics([1.0, 1.0, 1.0, 1.0], 0.06), "baseline")
    rows = [line for line in lines if line.startswith("| 1 |")]
    assert len(rows) == 2 and all(verdict in row for row in rows)
    assert "+20%*" in rows[0] and ("worse" in rows[0]) == (ours[3] == 1.20)
