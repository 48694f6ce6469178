"""Lightning callbacks available by name in ``callbacks:`` (any other by import path)."""

from __future__ import annotations

from lightning.pytorch import callbacks

from showerlearn.registry import CALLBACKS

CALLBACKS.add("early_stopping", callbacks.EarlyStopping)
CALLBACKS.add("lr_monitor", callbacks.LearningRateMonitor)
CALLBACKS.add("stochastic_weight_averaging", callbacks.StochasticWeightAveraging)
CALLBACKS.add("gradient_accumulation", callbacks.GradientAccumulationScheduler)
CALLBACKS.add("device_stats", callbacks.DeviceStatsMonitor)
