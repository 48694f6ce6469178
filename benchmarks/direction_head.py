"""Direction head of gamma-PhysNet-DA: the paper's flatten -> fully connected output against pixel voting.

Trains the same network twice on one simulated set (same seed, same events, same schedule), once with
``direction_head: flatten`` and once with ``direction_head: vote``, and writes the side-by-side table
of the test-set metrics (AUC, angular and energy resolution per energy bin).

    python benchmarks/direction_head.py                       # small CPU network, 30k events, 4 epochs
    python benchmarks/direction_head.py --runs VOTE_RUN FLATTEN_RUN   # only re-render two finished runs
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from _compare import comparison_lines

from showerlearn.cli.common import quiet_libraries
from showerlearn.config import load_config
from showerlearn.engine.run_dir import RunDir
from showerlearn.engine.runner import train
from showerlearn.io.atomic import write_text_atomic

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "examples" / "gamma_physnet_da_small.yaml"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=30_000, help="Triggered events to simulate.")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--seed", type=int, default=1, help="Seed of the simulation and of both trainings.")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="Further override of both configs (repeatable).")
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "results" / "direction_head")
    parser.add_argument("--runs", type=Path, nargs=2, metavar=("VOTE_RUN", "FLATTEN_RUN"),
                        help="Only re-render the comparison of two finished run directories.")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/showerlearn_bench_cache"), help="Simulated files.")
    args = parser.parse_args()
    quiet_libraries()
    common = [
        f"seed={args.seed}", f"output_dir={args.output / 'runs'}", f"data.params.cache_dir={args.cache}",
        f"data.params.simulate.events={args.events}", f"data.params.simulate.seed={args.seed}",
        f"trainer.max_epochs={args.epochs}", *args.overrides,
    ]
    if args.runs:
        vote, flatten = (RunDir.existing(path) for path in args.runs)
    else:
        runs = {}
        for head in ("vote", "flatten"):
            config = load_config(CONFIG, [*common, f"model.params.direction_head={head}", f"name=direction_{head}"])
            runs[head] = RunDir.existing(train(config).path)
        vote, flatten = runs["vote"], runs["flatten"]
    ours, theirs = vote.metrics(), flatten.metrics()
    lines = [
        "# gamma-PhysNet-DA direction head: vote against flatten (same data, seed and schedule)",
        "",
        f"Command: `python benchmarks/direction_head.py {' '.join(sys.argv[1:])}`",
        "",
        f"Network: examples/gamma_physnet_da_small.yaml with {', '.join(common[3:]) or 'no overrides'}; one seed.",
        f"Test set: {ours['scalars']['n_gamma']} gammas, {ours['scalars']['n_proton']} protons.",
        "",
    ]
    table, _ = comparison_lines(ours, theirs, "vote", "flatten")
    lines += table
    args.output.mkdir(parents=True, exist_ok=True)
    write_text_atomic(args.output / "direction_head.md", "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
