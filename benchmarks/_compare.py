"""Side-by-side tables of two evaluated runs (their ``metrics.json``): shared by the benchmarks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

CURVES: list[tuple[str, str, Callable[[float, float], float]]] = [
    ("auc_vs_reco_energy", "AUC (per reconstructed-energy bin)", max),
    ("angular_resolution_vs_true_energy", "angular resolution 68 % [deg]", min),
    ("energy_resolution_vs_true_energy", "energy resolution 68 %", min),
]
#: bins with fewer test gammas are not compared (their 68 % containment is mostly noise)
MIN_EVENTS_PER_BIN = 30


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
