"""Validation curves of the CPU run: python validation_curves.py network_run/training_log.csv validation_curves.png"""
import csv, sys
import matplotlib; matplotlib.use("Agg")
import matplotlib.pyplot as plt
log, out = sys.argv[1], sys.argv[2]
rows = [r for r in csv.DictReader(open(log)) if r["val/loss"]]
ep = [int(r["epoch"]) + 1 for r in rows]
fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
axes[0].plot(ep, [float(r["val/particle_auroc"]) for r in rows], "o-", label="gamma-PhysNet-DA (validation)")
axes[0].axhline(0.874, color="k", ls="--", label="Hillas + RF (test)")
axes[0].set(xlabel="epoch (the 6th stopped halfway by max_time)", ylabel="AUC", title="gamma/proton AUC")
axes[0].legend(fontsize=8)
for key, name in [("val/direction_loss", "direction"), ("val/energy_loss", "energy"), ("val/impact_loss", "impact")]:
    axes[1].plot(ep, [float(r[key]) for r in rows], "o-", label=name)
axes[1].set(xlabel="epoch", ylabel="L1 loss (encoded targets)", title="validation regression losses")
axes[1].legend(fontsize=8)
fig.tight_layout(); fig.savefig(out, dpi=110)
