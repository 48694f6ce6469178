"""Optimizers and learning-rate schedulers available by name (any torch class works by import path)."""

from __future__ import annotations

import torch

from showerlearn.registry import OPTIMIZERS, SCHEDULERS

OPTIMIZERS.add("adam", torch.optim.Adam)
OPTIMIZERS.add("adamw", torch.optim.AdamW)
OPTIMIZERS.add("sgd", torch.optim.SGD)

SCHEDULERS.add("step", torch.optim.lr_scheduler.StepLR)
SCHEDULERS.add("multistep", torch.optim.lr_scheduler.MultiStepLR)
SCHEDULERS.add("cosine", torch.optim.lr_scheduler.CosineAnnealingLR)
SCHEDULERS.add("exponential", torch.optim.lr_scheduler.ExponentialLR)
