"""The main job on the embedded default (`make demo`): simulate a small LST data set, train a small
gamma-PhysNet-DA on it, fit the Hillas + random-forest baseline on the same events, evaluate both on
the same test set, and write a comparison table, overlay figures and the HTML board.

Everything is generated here: no download. About 6 minutes on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rich.console import Console
from rich.table import Table

from showerlearn.cli.board import board as write_board
from showerlearn.cli.common import quiet_libraries
from showerlearn.config import load_config
from showerlearn.engine.runner import train
from showerlearn.evaluation.aggregate import plot_aggregates
from showerlearn.iact.family import FAMILY
from showerlearn.io.atomic import write_text_atomic

EXAMPLES = Path(__file__).parent
NETWORK_CONFIG = EXAMPLES / "gamma_physnet_da_small.yaml"
BASELINE_CONFIG = EXAMPLES / "hillas_rf_small.yaml"
#: (metrics.json scalar, label, format): what the comparison table shows
ROWS = [
    ("auc", "gamma/proton AUC", "{:.3f}"),
    ("precision", "precision (gammaness > 0.5)", "{:.3f}"),
    ("recall", "recall (gammaness > 0.5)", "{:.3f}"),
    ("angular_resolution_deg", "angular resolution 68 % [deg]", "{:.3f}"),
    ("energy_resolution", "energy resolution 68 %", "{:.3f}"),
    ("energy_bias", "energy bias", "{:+.3f}"),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", type=Path, default=Path("demo_runs"), help="Folder for runs and results.")
    args = parser.parse_args()
    quiet_libraries()
    console = Console()
    # quoted: a folder named e.g. "2024" must stay text, not become a YAML number
    overrides = [f"output_dir={json.dumps(str(args.output))}", f"data.params.cache_dir={json.dumps(str(args.output / 'cache'))}"]

    console.rule("1/3  gamma-PhysNet-DA (small CPU variant) on simulated LST events")
    network = train(load_config(NETWORK_CONFIG, overrides))
    console.rule("2/3  Hillas + random forests on the same events")
    baseline = train(load_config(BASELINE_CONFIG, overrides))

    console.rule("3/3  comparison on the same test set")
    ours, theirs = network.metrics(), baseline.metrics()
    table = Table(title="gamma-PhysNet-DA (small) vs Hillas + RF, same simulated test set")
    for column in ("metric", "gamma-PhysNet-DA", "Hillas + RF"):
        table.add_column(column)
    lines = ["| metric | gamma-PhysNet-DA (small) | Hillas + RF |", "|---|---|---|"]
    for key, label, form in ROWS:
        cells = [_format(m["scalars"].get(key), form) for m in (ours, theirs)]
        table.add_row(label, *cells)
        lines.append(f"| {label} | {cells[0]} | {cells[1]} |")
    console.print(table)
    results = args.output / "results"
    write_text_atomic(results / "comparison.md", "\n".join(lines) + "\n")
    figures = plot_aggregates(
        {"gamma-PhysNet-DA (small)": ours}, results, baseline=theirs, baseline_label="Hillas + RF", style=FAMILY.board_style()
    )
    board = results / "board.html"
    write_board([network.path], board, baseline=baseline.path)

    console.print(f"\n[bold green]done.[/] metrics table: {results / 'comparison.md'}")
    console.print(f"figures (with the baseline overlaid): {results} ({len(figures)} files)")
    console.print(f"board (open in a browser): {board}")
    console.print(f"runs: {network.path}\n      {baseline.path}")


def _format(value: float | None, form: str) -> str:
    return "n/a" if value is None else form.format(value)


if __name__ == "__main__":
    main()
