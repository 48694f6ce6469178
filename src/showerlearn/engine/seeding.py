"""One seed drives everything: python, numpy, torch, data order (DataLoader generators) and
simulation (data modules receive the seed)."""

from __future__ import annotations

import lightning as L
import torch


def seed_everything(seed: int, deterministic: bool = True) -> None:
    L.seed_everything(seed, workers=True, verbose=False)
    # warn_only: a few CPU kernels have no deterministic variant but are deterministic on CPU anyway
    torch.use_deterministic_algorithms(deterministic, warn_only=True)
