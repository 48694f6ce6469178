"""Checks both hit readers make of the hits they read (flat arrays, one count of hits per event)."""

from __future__ import annotations

import numpy as np

__all__ = ["repeated_crystals"]


def repeated_crystals(ids: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Which hits are in a crystal an earlier hit of their event is in: a crystal is read out once per event, so
    a repeat marks merged or concatenated data."""
    repeated = np.zeros(len(ids), dtype=bool)
    if not len(ids):
        return repeated
    ids = np.asarray(ids, dtype=np.int64)
    low = int(ids.min())
    # one key per (event, crystal), sorted once: a file's millions of hits are read whole for training
    key = np.repeat(np.arange(len(counts), dtype=np.int64), counts) * (int(ids.max()) - low + 1) + (ids - low)
    order = np.argsort(key, kind="stable")  # of the hits of one crystal in one event, the first comes first
    ordered = key[order]
    repeated[order[1:][ordered[1:] == ordered[:-1]]] = True
    return repeated
