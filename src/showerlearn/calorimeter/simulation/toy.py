"""The seed study's "generic" toy: gammas as Gaussian energy profiles on the 10 x 10 grid, no transport.

Each gamma puts its energy (drawn like the transported ones) at a uniform random point of the grid and
spreads it over the cells with a 2-D Gaussian of ``toy_spread_cells`` (each cell gets the Gaussian's integral
over its area); the energy falling outside the grid is lost (counted as escaped). The crystal response and background are those of the full simulation.
"""

from __future__ import annotations

import numpy as np
from scipy.special import erf

from showerlearn.calorimeter.geometry import CrystalGeometry
from showerlearn.calorimeter.simulation.config import CalorimeterSimulationConfig
from showerlearn.calorimeter.simulation.source import rest_energies

__all__ = ["toy_deposits"]


def toy_deposits(
    config: CalorimeterSimulationConfig, geometry: CrystalGeometry, gamma_event: np.ndarray, rng: np.random.Generator,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """(gamma table, deposits) of the toy; the gammas' 'lab' quantities equal the rest-frame ones."""
    n, side = len(gamma_event), len(geometry.rows)
    table = geometry.table()
    row, column = np.divmod(np.arange(side * side), side)  # ids 1..n*n row by row = table order
    centre = rng.uniform(0.0, side, (n, 2))  # continuous cell coordinates (row, column)
    # each cell gets the Gaussian's integral over its area (a product of the two axes' integrals), so a narrow
    # spread never gives the cells more than the gamma's energy; what misses the grid is lost
    profile = _cell_shares(row, centre[:, :1], config.toy_spread_cells) * _cell_shares(column, centre[:, 1:], config.toy_spread_cells)
    energy = rest_energies(config, n, rng)
    cell_energy = energy[:, None] * profile
    gamma, cell = np.nonzero(cell_energy > 0)
    deposits = {"source": gamma, "crystal": cell, "energy": cell_energy[gamma, cell], "time": np.zeros(len(gamma))}
    cell_size = table["theta_max"][0] - table["theta_min"][0]
    gammas = {
        "energy_rest": energy, "energy_lab": energy,
        "theta": table["theta_min"].min() + centre[:, 0] * cell_size,
        "phi": table["phi_min"].min() + centre[:, 1] * cell_size,
        "escaped": np.maximum(energy - cell_energy.sum(axis=1), 0.0),  # the cells' shares sum to 1 up to rounding
    }
    return gammas, deposits


def _cell_shares(index: np.ndarray, centre: np.ndarray, sigma: float) -> np.ndarray:
    """Share of a 1-D Gaussian (``centre`` (n, 1), ``sigma``) falling in cells ``[index, index + 1)``."""
    scale = sigma * np.sqrt(2.0)
    return 0.5 * (erf((index[None, :] + 1 - centre) / scale) - erf((index[None, :] - centre) / scale))
