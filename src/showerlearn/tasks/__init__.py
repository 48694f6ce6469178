"""The multi-task LightningModule, per-head losses of declared kinds (classification, regression,
pairwise, object condensation; per-event or per-element masks), validation head metrics, task
balancing (fixed, homoscedastic uncertainty, GradNorm), optimizers and schedulers.

May import: showerlearn.registry, showerlearn.config, torch, lightning, torchmetrics.
"""
