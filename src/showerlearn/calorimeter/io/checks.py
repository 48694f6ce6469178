"""Checks both hit readers make of the hits they read (flat arrays, one count of hits per event)."""

from __future__ import annotations

import numpy as np

__all__ = ["repeated_crystals"]


def repeated_crystals(ids: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Which hits are in a crystal an earlier hit of their event is in: a crystal is read out once per event, so
    a repeat marks merged or concatenated data."""
    events = np.repeat(np.arange(len(counts)), counts)
    order = np.lexsort((ids, events))  # stable: of the hits of one crystal in one event, the first comes first
    same = (ids[order][1:] == ids[order][:-1]) & (events[order][1:] == events[order][:-1])
    repeated = np.zeros(len(ids), dtype=bool)
    repeated[order[1:][same]] = True
    return repeated
