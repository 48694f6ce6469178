"""The hard regime of issue 22, where fixed windows fail: a gamma with another gamma of its event within
``separation`` (their clusters overlap in the window), or a gamma above ``energy_mev`` in an event of at least
``multiplicity`` gammas (large showers among many others). An event is hard when it holds a hard gamma."""

from __future__ import annotations

import numpy as np

from showerlearn.calorimeter.geometry import unit_vectors

__all__ = ["hard_events", "hard_gammas", "nearest_gamma_angle"]


def nearest_gamma_angle(gammas: dict[str, np.ndarray]) -> np.ndarray:
    """Per gamma, the angle to the closest other gamma of its event (lab directions) [rad]; inf when alone.

    ``gammas`` has ``event``, ``theta``, ``phi``, with the gammas of an event in consecutive rows."""
    direction = unit_vectors(np.asarray(gammas["theta"], float), np.asarray(gammas["phi"], float))
    event = np.asarray(gammas["event"])
    nearest = np.full(len(event), np.inf)
    bounds = np.r_[0, np.flatnonzero(np.diff(event)) + 1, len(event)]
    for a, b in zip(bounds[:-1], bounds[1:]):
        if b - a < 2:
            continue
        angle = np.arccos(np.clip(direction[a:b] @ direction[a:b].T, -1.0, 1.0))
        np.fill_diagonal(angle, np.inf)
        nearest[a:b] = angle.min(axis=1)
    return nearest


def hard_gammas(gammas: dict[str, np.ndarray], separation: float = 0.25, energy_mev: float = 5.0,
                multiplicity: int = 5) -> np.ndarray:
    """Which gammas are in the hard regime (``energy_rest`` is the energy compared with ``energy_mev``)."""
    event = np.asarray(gammas["event"])
    per_event = np.bincount(event)[event] if len(event) else np.zeros(0, np.int64)
    crowded = (per_event >= multiplicity) & (np.asarray(gammas["energy_rest"]) > energy_mev)
    return (nearest_gamma_angle(gammas) < separation) | crowded


def hard_events(gammas: dict[str, np.ndarray], hard: np.ndarray, n_events: int) -> np.ndarray:
    """Per event, whether it holds a hard gamma."""
    return np.bincount(np.asarray(gammas["event"])[hard], minlength=n_events) > 0
