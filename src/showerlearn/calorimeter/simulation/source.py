"""The gamma source: how many gammas an event has and their energies in the emitting fragment's frame."""

from __future__ import annotations

import numpy as np

from showerlearn.calorimeter.simulation.config import CalorimeterSimulationConfig

__all__ = ["gamma_counts", "rest_energies"]


def gamma_counts(config: CalorimeterSimulationConfig, size: int, rng: np.random.Generator) -> np.ndarray:
    """Gammas in each of ``size`` events."""
    if config.n_gammas_min is None:
        return np.full(size, config.n_gammas, dtype=np.int64)
    return rng.integers(config.n_gammas_min, config.n_gammas + 1, size)


def rest_energies(config: CalorimeterSimulationConfig, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` gamma energies in the fragment's frame [MeV]."""
    if config.energy_lines_mev:
        return rng.choice(np.asarray(config.energy_lines_mev, dtype=float), n)
    if config.energy_spectrum == "log_uniform":
        return np.exp(rng.uniform(np.log(config.energy_min_mev), np.log(config.energy_max_mev), n))
    return rng.uniform(config.energy_min_mev, config.energy_max_mev, n)
