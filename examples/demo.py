"""The main job on the embedded default (`make demo`), in four steps:

1. simulate a small LST data set and train a small gamma-PhysNet-DA on it (a few minutes of CPU);
2. fit the Hillas + random-forest baseline on the same events;
3. evaluate the network the project's own CPU benchmark trained (an hour and a half on 2 cores, shipped with the
   package with its provenance: ``showerlearn.iact.pretrained``) on freshly simulated events, never seen
   in its training, and fit Hillas + RF on the same fresh events;
4. compare: one table of the four runs, overlay figures of each pair, and the HTML board of all of them.

Everything is generated here: no download. About 6 minutes on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from showerlearn.cli.board import board as write_board
from showerlearn.cli.common import quiet_libraries
from showerlearn.config import ExperimentConfig, load_config, resolve_config
from showerlearn.engine.run_dir import RunDir
from showerlearn.engine.runner import train
from showerlearn.evaluation.aggregate import plot_aggregates
from showerlearn.iact.family import FAMILY
from showerlearn.iact.pretrained import CPU_BENCHMARK
from showerlearn.io.atomic import write_text_atomic

EXAMPLES = Path(__file__).parent
NETWORK_CONFIG = EXAMPLES / "gamma_physnet_da_small.yaml"
BASELINE_CONFIG = EXAMPLES / "hillas_rf_small.yaml"
#: fresh events for the shipped network: a seed its training data (seed 1) did not use; 15 % of them
#: (the test split) are evaluated, enough for the AUC to +-0.01
FRESH_EVENTS = 40000
FRESH_SEED = 2
#: (metrics.json scalar, label, format): what the comparison table shows
ROWS = [
    ("auc", "gamma/proton AUC", "{:.3f}"),
    ("precision", "precision (gammaness > 0.5)", "{:.3f}"),
    ("recall", "recall (gammaness > 0.5)", "{:.3f}"),
    ("angular_resolution_deg", "angular resolution 68 % [deg]", "{:.3f}"),
    ("energy_resolution", "energy resolution 68 %", "{:.3f}"),
    ("energy_bias", "energy bias", "{:+.3f}"),
    ("n_gamma", "test gammas", "{:.0f}"),
    ("n_proton", "test protons", "{:.0f}"),
]
#: the four runs, in the table: (name, on which events)
COLUMNS = (
    ("gamma-PhysNet-DA small", "trained here"),
    ("Hillas + RF", "same events"),
    ("gamma-PhysNet-DA benchmark", "shipped, fresh events"),
    ("Hillas + RF", "same fresh events"),
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", type=Path, default=Path("demo_runs"), help="Folder for runs and results.")
    args = parser.parse_args()
    if not CPU_BENCHMARK.checkpoint.is_file():  # before minutes of training, not after
        raise SystemExit(f"{CPU_BENCHMARK.checkpoint}: the shipped network is missing from this installation")
    quiet_libraries()
    console = Console()
    # quoted: a folder named e.g. "2024" must stay text, not become a YAML number
    overrides = [f"output_dir={json.dumps(str(args.output))}", f"data.params.cache_dir={json.dumps(str(args.output / 'cache'))}"]

    console.rule("1/4  gamma-PhysNet-DA (small CPU variant) trained on simulated LST events")
    network = train(load_config(NETWORK_CONFIG, overrides))
    console.rule("2/4  Hillas + random forests on the same events")
    baseline = train(load_config(BASELINE_CONFIG, overrides))

    console.rule(f"3/4  the CPU benchmark's network (shipped) and Hillas + RF on {FRESH_EVENTS} fresh events")
    console.print(*_provenance_lines(CPU_BENCHMARK.provenance), sep="\n")
    fresh = [f"data.params.simulate.config.n_events={FRESH_EVENTS}", f"data.params.simulate.seed={FRESH_SEED}"]
    shipped = CPU_BENCHMARK.evaluate([*overrides, *fresh, "name=benchmark_network_fresh_events"])
    fresh_baseline = train(_baseline_config(CPU_BENCHMARK.config([*overrides, *fresh])))

    console.rule("4/4  comparison")
    runs = (network, baseline, shipped, fresh_baseline)
    results = args.output / "results"
    console.print(_comparison(runs, results / "comparison.md"))
    figures = [
        *_overlay(network, baseline, "gamma-PhysNet-DA (small, trained here)", results / "trained_here"),
        *_overlay(shipped, fresh_baseline, "gamma-PhysNet-DA (CPU benchmark, shipped)", results / "benchmark_network"),
    ]
    board = results / "board.html"
    # each pair on its own events: no one baseline for all; the demo's own results folder, written again each time
    write_board([run.path for run in runs], board, overwrite=True)

    console.print(f"\n[bold green]done.[/] metrics table: {results / 'comparison.md'}")
    console.print(f"figures (each network with its Hillas + RF overlaid): {results} ({len(figures)} files)")
    console.print(f"board (open in a browser): {board}")
    console.print("runs: " + "\n      ".join(str(run.path) for run in runs))


def _baseline_config(network: ExperimentConfig) -> ExperimentConfig:
    """Hillas + RF on exactly the data of ``network`` (simulation, cleaning, cuts, split), on every core."""
    config: dict[str, Any] = network.model_dump(mode="json")
    config.update(name="hillas_rf_fresh_events", model=None, task=None, init_from=None,
                  estimator={"name": "hillas_rf", "params": {"n_jobs": -1}})
    return resolve_config(config, source="the shipped network's data, for Hillas + RF")


def _comparison(runs: tuple[RunDir, ...], markdown: Path) -> Table:
    """The four runs' test-set metrics as a terminal table, also written as a Markdown table."""
    scalars = [run.metrics()["scalars"] for run in runs]
    table = Table(title="gamma-PhysNet-DA vs Hillas + RF, each pair on the same simulated test set")
    table.add_column("metric")
    for name, events in COLUMNS:
        table.add_column(f"{name}\n({events})", justify="right")
    headers = [f"{name} ({events})" for name, events in COLUMNS]
    lines = ["| metric | " + " | ".join(headers) + " |", "|---|" + "---:|" * len(COLUMNS)]
    for key, label, form in ROWS:
        cells = [_format(values.get(key), form) for values in scalars]
        table.add_row(escape(label), *cells)  # "[deg]" is a unit, not console markup
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    write_text_atomic(markdown, "\n".join(lines) + "\n")
    return table


def _overlay(network: RunDir, baseline: RunDir, label: str, folder: Path) -> list[Path]:
    return plot_aggregates(
        {label: network.metrics()}, folder, baseline=baseline.metrics(), baseline_label="Hillas + RF",
        style=FAMILY.board_style(),
    )


def _provenance_lines(provenance: dict[str, Any]) -> list[str]:
    """Where the shipped weights came from, in a few lines."""
    commit = (provenance.get("commit") or {}).get("commit") or "unknown"
    minutes = f"{provenance['train_seconds'] / 60:.0f} min" if provenance.get("train_seconds") else "unrecorded time"
    data = provenance["training_data"]
    benchmark = provenance["test_metrics"]
    return [
        f"trained by: {provenance['command']} (commit {commit[:10]}, {provenance['started'][:10]})",
        f"on: {data['file']} (sha256 {data['sha256'][:16]}...), {minutes} of training",
        f"its benchmark test set: AUC {benchmark['network']['auc']:.3f} against {benchmark['hillas_rf']['auc']:.3f} for Hillas + RF",
    ]


def _format(value: float | None, form: str) -> str:
    return "n/a" if value is None else form.format(value)


if __name__ == "__main__":
    main()
