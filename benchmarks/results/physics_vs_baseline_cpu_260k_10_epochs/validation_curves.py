"""Validation curves of a run trained over several attempts (resumed, or continued with a larger budget).

    python validation_curves.py RUN_DIR_OR_FOLDER_OF_CSVS OUTPUT.png --baseline-auc 0.874 --lr-step 6

Reads every ``attempt_*/metrics.csv`` (Lightning CSV logs) under the folder. An epoch validated more
than once (a time limit that stopped it halfway, then the resumed epoch) counts with its last,
complete validation: the one at the highest step.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def validations(folder: Path) -> list[dict[str, str]]:
    """One validation row per epoch, in epoch order."""
    by_epoch: dict[int, dict[str, str]] = {}
    for log in sorted(folder.rglob("metrics.csv")):
        with log.open() as handle:
            for row in csv.DictReader(handle):
                if row.get("val/loss"):
                    epoch = int(row["epoch"])
                    if epoch not in by_epoch or int(row["step"]) > int(by_epoch[epoch]["step"]):
                        by_epoch[epoch] = row
    return [by_epoch[e] for e in sorted(by_epoch)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("logs", type=Path, help="run directory or folder holding attempt_*/metrics.csv")
    parser.add_argument("output", type=Path)
    parser.add_argument("--baseline-auc", type=float, help="test AUC of the baseline, drawn dashed")
    parser.add_argument("--lr-step", type=int, help="epochs after which the learning rate was divided by 10")
    args = parser.parse_args()
    rows = validations(args.logs)
    epochs = [int(r["epoch"]) + 1 for r in rows]
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    axes[0].plot(epochs, [float(r["val/particle_auroc"]) for r in rows], "o-", label="network (validation set)")
    if args.baseline_auc is not None:
        axes[0].axhline(args.baseline_auc, color="k", ls="--", label="Hillas + RF (test set)")
    axes[0].set(xlabel="epoch", ylabel="AUC", title="gamma/proton AUC")
    for key, name in [("val/direction_loss", "direction"), ("val/energy_loss", "energy"), ("val/impact_loss", "impact")]:
        axes[1].plot(epochs, [float(r[key]) for r in rows], "o-", label=name)
    axes[1].set(xlabel="epoch", ylabel="L1 loss (encoded targets)", title="validation regression losses")
    for axis in axes:
        if args.lr_step:
            axis.axvline(args.lr_step + 0.5, color="grey", lw=0.8, ls=":", label="learning rate / 10")
        axis.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(args.output, dpi=110)


if __name__ == "__main__":
    main()
