"""How the cleaning of the input image changes how fast gamma-PhysNet learns (examples/*.yaml choose 'mask').

Trains the reduced CPU network of ``physics_vs_baseline.py`` (depth 8, 8/16/32 channels, light head)
through the engine three times on one simulated set, changing only ``data.params.cleaning.as``:

* ``none``: charge and peak time of every pixel, NSB noise included;
* ``channel``: the same plus the tailcuts mask as a third channel;
* ``mask``: charge and time zeroed outside the tailcuts mask.

and writes the validation AUC of the particle head after each epoch (from the run's CSV log).

    python benchmarks/input_cleaning.py --events 30000 --epochs 3
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

from showerlearn.cli.common import quiet_libraries
from showerlearn.config import load_config
from showerlearn.engine.runner import train
from showerlearn.io.atomic import write_text_atomic

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from _machine import command_line  # noqa: E402
from physics_vs_baseline import NETWORK, PRESETS  # noqa: E402  (the same reduced network)

CLEANINGS = ("none", "channel", "mask")


def validation_auc(run_path: Path) -> list[float]:
    """``val/particle_auroc`` per epoch from the run's CSV log."""
    (log,) = sorted(run_path.glob("logs/csv/attempt_*/metrics.csv"), key=lambda p: int(p.parent.name.split("_")[1]))[-1:]
    with log.open() as handle:
        return [float(row["val/particle_auroc"]) for row in csv.DictReader(handle) if row.get("val/particle_auroc")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=30000, help="Simulated triggered events (all splits).")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--work-dir", type=Path, default=Path("/tmp/showerlearn_input_cleaning"))
    parser.add_argument("--cache", type=Path, default=Path("/tmp/showerlearn_bench_cache"), help="Simulated files.")
    parser.add_argument("--table", type=Path, default=ROOT / "benchmarks" / "results" / "input_cleaning.md")
    args = parser.parse_args()
    quiet_libraries()
    common = [
        f"seed={args.seed}", f"output_dir={args.work_dir}", f"data.params.cache_dir={args.cache}",
        f"data.params.simulate.events={args.events}", f"data.params.simulate.seed={args.seed}",
        "data.params.simulate.n_jobs=2", "data.params.simulate.config={gamma_source: diffuse}",
        *PRESETS["cpu"][1], f"trainer.max_epochs={args.epochs}", "trainer.threads=2", "data.params.num_workers=1",
    ]
    curves = {}
    for cleaning in CLEANINGS:
        run = train(load_config(NETWORK, [*common, f"name=cleaning_{cleaning}", f"data.params.cleaning.as={cleaning}"]))
        curves[cleaning] = validation_auc(run.path)
    lines = [
        "# Input cleaning and learning speed (validation AUC of the particle head)",
        "",
        f"Command: `{command_line()}`",
        "",
        f"Network: {PRESETS['cpu'][0]}; {args.events} simulated events, seed {args.seed}; only "
        "`data.params.cleaning.as` changes. In brackets: the difference to `none` (the uncleaned image) in the same epoch.",
        "",
        "| epoch | " + " | ".join(f"`{c}`" for c in CLEANINGS) + " |",
        "|---" * (len(CLEANINGS) + 1) + "|",
    ]
    for epoch in range(args.epochs):
        lines.append(f"| {epoch + 1} | " + " | ".join(_cell(curves, c, epoch) for c in CLEANINGS) + " |")
    write_text_atomic(args.table, "\n".join(lines) + "\n")
    print("\n".join(lines))


def _cell(curves: dict[str, list[float]], cleaning: str, epoch: int) -> str:
    """One epoch's validation AUC of a cleaning, with its difference to the uncleaned image's."""
    if epoch >= len(curves[cleaning]):
        return "-"
    value, reference = curves[cleaning][epoch], curves["none"]
    if cleaning == "none" or epoch >= len(reference):
        return f"{value:.3f}"
    return f"{value:.3f} ({value - reference[epoch]:+.3f})"


if __name__ == "__main__":
    main()
