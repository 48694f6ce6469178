"""The multi-task LightningModule, per-head losses (with per-event masks), task balancing
(fixed, homoscedastic uncertainty, GradNorm), optimizers and schedulers.

May import: showerlearn.registry, showerlearn.iact.nn, torch, lightning.
"""
