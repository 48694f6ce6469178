"""gamma-PhysNet-DA against the Hillas + random-forest baseline on the same simulated LST test set.

Both are trained through the engine (`showerlearn train` path) on one simulated data set (fixed seed,
same cuts, same split), then compared per true-energy bin: AUC, angular and energy resolution (68 %
containment). Writes a markdown table and overlay figures.

    python benchmarks/physics_vs_baseline.py              # reduced CPU configuration (see --help)
    python benchmarks/physics_vs_baseline.py --full       # the paper recipe: ResNet-56, 25 epochs (GPU)
"""

from __future__ import annotations

import argparse
from pathlib import Path

from showerlearn.cli.common import quiet_libraries
from showerlearn.config import load_config
from showerlearn.engine.run_dir import RunDir
from showerlearn.engine.runner import train
from showerlearn.evaluation.aggregate import plot_aggregates
from showerlearn.io.atomic import write_text_atomic

ROOT = Path(__file__).resolve().parents[1]
NETWORK = ROOT / "examples" / "gamma_physnet_da.yaml"
BASELINE = ROOT / "examples" / "hillas_rf_small.yaml"
CURVES = [
    ("auc_vs_reco_energy", "AUC (per reconstructed-energy bin)", max),
    ("angular_resolution_vs_true_energy", "angular resolution 68 % [deg]", min),
    ("energy_resolution_vs_true_energy", "energy resolution 68 %", min),
]
#: bins with fewer test gammas are not compared (their 68 % containment is mostly noise)
MIN_EVENTS_PER_BIN = 30
#: the CPU variant: what fits about an hour on 2 cores
REDUCED = ["model.params.depth=8", "model.params.widths=[8,16,32]", "model.params.local_head=light",
           "trainer.max_epochs=8", "scheduler.params.step_size=4", "trainer.accelerator=cpu",
           "trainer.devices=1", "trainer.threads=1", "data.params.num_workers=1"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=30000, help="Simulated triggered events (all splits).")
    parser.add_argument("--seed", type=int, default=1, help="Seed of the simulation and of both trainings.")
    parser.add_argument("--full", action="store_true", help="Paper recipe (ResNet-56, 25 epochs): a GPU job.")
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "results" / "physics_vs_baseline")
    parser.add_argument("--runs", type=Path, nargs=2, metavar=("NETWORK_RUN", "BASELINE_RUN"),
                        help="Only re-render the comparison of two finished run directories.")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/showerlearn_bench_cache"), help="Simulated files.")
    args = parser.parse_args()
    quiet_libraries()
    data = [
        f"seed={args.seed}", f"output_dir={args.output / 'runs'}", f"data.params.cache_dir={args.cache}",
        f"data.params.simulate.events={args.events}", f"data.params.simulate.seed={args.seed}",
        "data.params.simulate.n_jobs=2", "data.params.simulate.config={gamma_source: diffuse}",
    ]
    if args.runs:
        network, baseline = (RunDir.existing(path) for path in args.runs)
    else:
        network = train(load_config(NETWORK, data + ([] if args.full else REDUCED)))
        baseline = train(load_config(BASELINE, data))
    ours, theirs = network.metrics(), baseline.metrics()

    recipe = "paper recipe (ResNet-56, 25 epochs)" if args.full else "REDUCED CPU configuration: " + ", ".join(REDUCED)
    lines = [
        "# gamma-PhysNet-DA vs Hillas + RF (same simulated test set)",
        "",
        f"Command: `python benchmarks/physics_vs_baseline.py --events {args.events} --seed {args.seed}"
        f"{' --full' if args.full else ''}`. Network: {recipe}.",
        f"Test set: {ours['scalars']['n_gamma']} gammas, {ours['scalars']['n_proton']} protons.",
        "",
        f"Overall AUC: network {ours['scalars']['auc']:.3f}, baseline {theirs['scalars']['auc']:.3f}.",
        "",
    ]
    wins_above_100_gev = {name: [0, 0] for name, _, _ in CURVES}
    for name, label, better in CURVES:
        ours_curve, theirs_curve = ours["curves"][name], theirs["curves"][name]
        edges = ours_curve["edges"]
        axis = "reconstructed" if name.endswith("reco_energy") else "true"
        lines += [f"## {label}", "", f"| {axis} energy [TeV] | gamma-PhysNet-DA | Hillas + RF | better |", "|---|---|---|---|"]
        rows = zip(edges[:-1], edges[1:], ours_curve["value"], theirs_curve["value"], ours_curve["n_events"], strict=True)
        for low, high, a, b, n_events in rows:
            if a is None or b is None or n_events < MIN_EVENTS_PER_BIN:
                continue
            winner = "network" if better(a, b) == a and a != b else "baseline"
            if low >= 0.1:
                wins_above_100_gev[name][0] += winner == "network"
                wins_above_100_gev[name][1] += 1
            lines.append(f"| {low:.3g}-{high:.3g} | {a:.3f} | {b:.3f} | {winner} |")
        lines.append("")
    lines.append("Bins above 100 GeV where the network is better: " + ", ".join(
        f"{label}: {won}/{total}" for (name, label, _), (won, total) in zip(CURVES, wins_above_100_gev.values())
    ))
    args.output.mkdir(parents=True, exist_ok=True)
    write_text_atomic(args.output / "physics_vs_baseline.md", "\n".join(lines) + "\n")
    plot_aggregates({"gamma-PhysNet-DA": ours}, args.output, baseline=theirs)
    print("\n".join(lines))
    print(f"\nwritten: {args.output / 'physics_vs_baseline.md'} and figures in {args.output}")


if __name__ == "__main__":
    main()
