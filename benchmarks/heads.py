"""gamma-PhysNet-DA's heads: the paper's flattened local path against translation-invariant options.

Trains the same network (``examples/gamma_physnet_da_small.yaml``) once per head variant on one simulated
set (same seed, events, split and schedule) and writes side-by-side tables of the test-set metrics (AUC,
angular and energy resolution per energy bin), each variant against the paper's heads:

* ``paper``: particle logits and direction from the flattened local path (Jacquemont et al.);
* ``vote``: direction voted by every pixel of the last stage (``direction_head: vote``);
* ``pool_vote``: also the particle logits from the globally pooled features (``particle_head: pool``).

    python benchmarks/heads.py                                   # small CPU network, 30k events, 4 epochs
    python benchmarks/heads.py --runs PAPER_RUN VOTE_RUN POOL_VOTE_RUN   # only re-render finished runs
"""

from __future__ import annotations

import argparse
from pathlib import Path

from _compare import check_same_test_set, comparison_lines
from _machine import command_line

from showerlearn.cli.common import quiet_libraries
from showerlearn.config import load_config
from showerlearn.engine.run_dir import RunDir
from showerlearn.engine.runner import train
from showerlearn.io.atomic import write_text_atomic

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "examples" / "gamma_physnet_da_small.yaml"
VARIANTS = {
    "paper": ["model.params.particle_head=flatten", "model.params.direction_head=flatten"],
    "vote": ["model.params.particle_head=flatten", "model.params.direction_head=vote"],
    "pool_vote": ["model.params.particle_head=pool", "model.params.direction_head=vote"],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=30_000, help="Triggered events to simulate.")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--seed", type=int, default=1, help="Seed of the simulation and of every training.")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="Further override of every variant's config (repeatable).")
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "results" / "heads")
    parser.add_argument("--runs", type=Path, nargs=len(VARIANTS), metavar=tuple(f"{v.upper()}_RUN" for v in VARIANTS),
                        help="Only re-render the comparison of finished run directories.")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/showerlearn_bench_cache"), help="Simulated files.")
    args = parser.parse_args()
    quiet_libraries()
    common = [
        f"seed={args.seed}", f"output_dir={args.output / 'runs'}", f"data.params.cache_dir={args.cache}",
        f"data.params.simulate.events={args.events}", f"data.params.simulate.seed={args.seed}",
        f"trainer.max_epochs={args.epochs}", *args.overrides,
    ]
    if args.runs:
        runs = {name: RunDir.existing(path) for name, path in zip(VARIANTS, args.runs, strict=True)}
        for name in ("vote", "pool_vote"):
            check_same_test_set(runs[name], runs["paper"])
    else:
        runs = {
            name: RunDir.existing(train(load_config(CONFIG, [*common, *overrides, f"name=heads_{name}"])).path)
            for name, overrides in VARIANTS.items()
        }
    metrics = {name: run.metrics() for name, run in runs.items()}
    paper = metrics["paper"]
    lines = [
        "# gamma-PhysNet-DA heads: paper (flattened local path) against voting and pooling",
        "",
        f"Command: `{command_line()}`",
        "",
        f"Runs: {', '.join(str(run.path) for run in runs.values())}; one seed per variant." if args.runs else
        f"Network: examples/gamma_physnet_da_small.yaml with {', '.join(common[3:])}; one seed per variant.",
        f"Test set: {paper['scalars']['n_gamma']} gammas, {paper['scalars']['n_proton']} protons.",
        "",
        "| variant | overrides | test AUC | angular resolution 68 % [deg] | energy resolution 68 % | training [s] |",
        "|---|---|---|---|---|---|",
    ]
    for name, run in runs.items():
        scalars = metrics[name]["scalars"]
        seconds = run.status().get("train_seconds")
        lines.append(f"| {name} | {', '.join(VARIANTS[name])} | {scalars['auc']:.3f} | "
                     f"{scalars['angular_resolution_deg']:.3f} | {scalars['energy_resolution']:.3f} | {seconds} |")
    for name in ("vote", "pool_vote"):
        table, _ = comparison_lines(metrics[name], paper, name, "paper")
        lines += ["", f"# {name} against paper", "", *table]
    args.output.mkdir(parents=True, exist_ok=True)
    write_text_atomic(args.output / "heads.md", "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
