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
    """Config keys in which ``a`` and ``b`` select or split their events differently (empty if none).

    A split or simulation seed left null is the experiment seed: that is the seed compared."""
    params = [_with_effective_seeds(config) for config in (a, b)]
    differences = [f"data.params.{key}" for key in _TEST_SET_KEYS if params[0].get(key) != params[1].get(key)]
    cleaning = [{k: v for k, v in (p.get("cleaning") or {}).items() if k != "as"} for p in params]
    if cleaning[0] != cleaning[1]:
        differences.append("data.params.cleaning thresholds")
    simulations = [p.get("simulate") or {} for p in params]
    return differences + [f"data.params.simulate.{k}" for k in _SIMULATION_KEYS if simulations[0].get(k) != simulations[1].get(k)]


def _with_effective_seeds(config: ExperimentConfig) -> dict[str, Any]:
    """The data params with a null ``split.seed`` and ``simulate.seed`` replaced by the experiment seed, which draws them."""
    params = dict(config.data.params)
    for key in ("split", "simulate"):
        if params.get(key) is not None and params[key].get("seed") is None:
            params[key] = {**params[key], "seed": config.seed}
    if params.get("split") is None:
        params["split"] = {"seed": config.seed}
    return params


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


#: issue 19's acceptance: resolution bins whose upper edge is at most this [TeV] must be won by this margin
ACCEPTANCE_MAX_ENERGY = 1.6
ACCEPTANCE_MARGIN = 0.10
_RESOLUTIONS = [curve for curve in CURVES if curve[2] is min]


def acceptance_lines(seeds: dict[str, dict[str, Any]], theirs: dict[str, Any], their_name: str) -> list[str]:
    """Issue 19's acceptance per resolution curve and training seed (``seeds``: label -> metrics): in every
    true-energy bin from 0.1 TeV to ``ACCEPTANCE_MAX_ENERGY`` the network's resolution is at least
    ``ACCEPTANCE_MARGIN`` below the baseline's (margin = 1 - ours / theirs), preferably with disjoint 95 %
    bootstrap intervals; above it no bin is worse by more than its interval (the network's whole interval
    above the baseline's value)."""
    lines = [f"## Acceptance (issue 19): resolution margins over {their_name}", "",
             f"Margin = 1 - network / baseline per true-energy bin; needed: >= {ACCEPTANCE_MARGIN:.0%} in every bin from 0.1 to "
             f"{ACCEPTANCE_MAX_ENERGY} TeV, disjoint 95 % bootstrap intervals in most; above: never worse than the baseline by "
             "more than the bin's interval (marked 'worse'). '*': intervals disjoint.", ""]
    for name, label, _ in _RESOLUTIONS:
        theirs_curve = theirs["curves"][name]
        edges = theirs_curve["edges"]
        bins = [i for i in range(len(edges) - 1) if edges[i] >= 0.1 - 1e-9 and theirs_curve["value"][i] is not None
                and theirs_curve["n_events"][i] >= MIN_EVENTS_PER_BIN]
        lines += [f"### {label}", "", "| seed | " + " | ".join(f"{edges[i]:.3g}-{edges[i + 1]:.3g}" for i in bins)
                  + " | criterion |", "|---|" + "---:|" * len(bins) + "---|"]
        for seed, ours in seeds.items():
            cells, met, disjoint, in_range = [], True, 0, 0
            for i in bins:
                inside = edges[i + 1] <= ACCEPTANCE_MAX_ENERGY * 1.01
                cell, ok = _margin_cell(ours["curves"][name], theirs_curve, i, inside)
                cells.append(cell)
                met &= ok
                in_range += inside
                disjoint += inside and cell.endswith("*")
            verdict = f"{'met' if met else 'not met'}; disjoint in {disjoint}/{in_range} bins to {ACCEPTANCE_MAX_ENERGY} TeV"
            lines.append(f"| {seed} | " + " | ".join(cells) + f" | {verdict} |")
        lines.append("")
    return lines


def _margin_cell(ours: dict[str, Any], theirs: dict[str, Any], i: int, in_range: bool) -> tuple[str, bool]:
    """The margin of bin ``i`` as a table cell, and whether it meets the acceptance for its energy."""
    a, b = ours["value"][i], theirs["value"][i]
    if a is None:
        return "-", not in_range
    margin = 1.0 - a / b
    disjoint = ours["ci_high"][i] is not None and theirs["ci_low"][i] is not None and ours["ci_high"][i] < theirs["ci_low"][i]
    cell = f"{margin:+.0%}{'*' if disjoint else ''}"
    if in_range:
        return cell, margin >= ACCEPTANCE_MARGIN
    worse = ours["ci_low"][i] is not None and ours["ci_low"][i] > b
    return cell + (" worse" if worse else ""), not worse
