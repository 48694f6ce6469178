"""Side-by-side tables of two evaluated runs (their ``metrics.json``): shared by the benchmarks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from showerlearn.config import ExperimentConfig, load_config
from showerlearn.engine.run_dir import RunDir
from showerlearn.io.tables import read_columns

CURVES: list[tuple[str, str, Callable[[float, float], float]]] = [
    ("auc_vs_reco_energy", "AUC (per reconstructed-energy bin)", max),
    ("angular_resolution_vs_true_energy", "angular resolution 68 % [deg]", min),
    ("energy_resolution_vs_true_energy", "energy resolution 68 %", min),
]
#: bins with fewer test gammas are not compared (their 68 % containment is mostly noise)
MIN_EVENTS_PER_BIN = 30
#: data settings that decide which events form the test set: input files, split, cuts, and the cleaning
#: thresholds (the intensity cut of simulated files is computed with them)
_TEST_SET_KEYS = ("files", "split", "cuts")
_SIMULATION_KEYS = ("events", "seed", "config")
_EVENT_ID = ("obs_id", "event_id", "tel_id")


def test_set_differences(a: ExperimentConfig, b: ExperimentConfig) -> list[str]:
    """Config keys in which ``a`` and ``b`` select or split their events differently (empty if none)."""
    params = [a.data.params, b.data.params]
    differences = [f"data.params.{key}" for key in _TEST_SET_KEYS if params[0].get(key) != params[1].get(key)]
    cleaning = [{k: v for k, v in (p.get("cleaning") or {}).items() if k != "as"} for p in params]
    if cleaning[0] != cleaning[1]:
        differences.append("data.params.cleaning thresholds")
    simulations = [p.get("simulate") or {} for p in params]
    differences += [f"data.params.simulate.{k}" for k in _SIMULATION_KEYS if simulations[0].get(k) != simulations[1].get(k)]
    # equal in both, or already a difference
    split_seed = (params[0].get("split") or {}).get("seed")
    simulated_by_experiment_seed = any(s and s.get("seed") is None for s in simulations)
    if a.seed != b.seed and (split_seed is None or simulated_by_experiment_seed):
        differences.append("seed (it splits or simulates the events)")
    return differences


def check_same_test_set(ours: RunDir, theirs: RunDir) -> None:
    """Refuse to compare runs evaluated on different test events.

    With both runs' predictions at hand their event ids decide; otherwise their configs must select and
    split the events alike. Raises ``SystemExit`` naming what differs.
    """
    differences = test_set_differences(load_config(ours.config_file), load_config(theirs.config_file))
    if ours.predictions_file.is_file() and theirs.predictions_file.is_file():
        ids = [read_columns(run.predictions_file) for run in (ours, theirs)]
        if all(np.array_equal(ids[0][key], ids[1][key]) for key in _EVENT_ID):
            return
        differences = ["the event ids of predictions.h5", *differences]
    if differences:
        raise SystemExit(
            f"{ours.path} and {theirs.path} were not evaluated on the same test set: they differ in {', '.join(differences)}"
        )


def comparison_lines(
    ours: dict[str, Any], theirs: dict[str, Any], our_name: str, their_name: str
) -> tuple[list[str], dict[str, tuple[int, int]]]:
    """Markdown tables per curve (one row per energy bin) and, per curve, (bins won by ``ours``, bins
    compared) above 100 GeV."""
    lines = [f"Overall AUC: {our_name} {ours['scalars']['auc']:.3f}, {their_name} {theirs['scalars']['auc']:.3f}.", ""]
    wins: dict[str, tuple[int, int]] = {}
    for name, label, better in CURVES:
        ours_curve, theirs_curve = ours["curves"][name], theirs["curves"][name]
        edges = ours_curve["edges"]
        axis = "reconstructed" if name.endswith("reco_energy") else "true"
        lines += [f"## {label}", "", f"| {axis} energy [TeV] | {our_name} | {their_name} | better |", "|---|---|---|---|"]
        won = compared = 0
        rows = zip(edges[:-1], edges[1:], ours_curve["value"], theirs_curve["value"], ours_curve["n_events"], strict=True)
        for low, high, a, b, n_events in rows:
            if a is None or b is None or n_events < MIN_EVENTS_PER_BIN:
                continue
            ours_better = better(a, b) == a and a != b
            if low >= 0.1:
                won += ours_better
                compared += 1
            lines.append(f"| {low:.3g}-{high:.3g} | {a:.3f} | {b:.3f} | {our_name if ours_better else their_name} |")
        lines.append("")
        wins[label] = (won, compared)
    lines.append(f"Bins above 100 GeV where {our_name} is better: " + ", ".join(
        f"{label}: {won}/{total}" for label, (won, total) in wins.items()
    ))
    return lines, wins
