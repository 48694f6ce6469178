"""Instrument-response quantities: effective area from the simulated spectrum, energy migration.

The effective area in a true-energy bin is ``A_sim * N_selected / N_simulated``, where ``A_sim`` is
the disc of radius ``max_impact`` over which shower cores were scattered and ``N_simulated`` the
expected number of simulated showers in the bin, integrated from the simulated power law (CORSIKA
draws energies from ``E^index`` between ``energy_min`` and ``energy_max``). This is pyirf's
``effective_area_per_energy``; for a diffuse simulation (view cone) it is the area averaged over the
cone. Bins: ``edges[i] <= E < edges[i + 1]``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import astropy.units as u
import numpy as np

from showerlearn.iact.io.production import combined_production
from showerlearn.metrics.binning import as_edges, bin_counts, bin_indices, quantity_values


@dataclass(frozen=True)
class SimulatedEvents:
    """What was simulated: needed to turn counts of selected events into an effective area.

    ``n_showers`` counts every thrown shower including reuse; energies in TeV, ``max_impact`` in m,
    view cone radii in deg (both 0 for a point-like simulation).
    """

    n_showers: float
    energy_min: float
    energy_max: float
    spectral_index: float
    max_impact: float
    viewcone_min: float = 0.0
    viewcone_max: float = 0.0

    def __post_init__(self) -> None:
        if not self.n_showers > 0:
            raise ValueError(f"n_showers must be > 0, got {self.n_showers}")
        if not 0 < self.energy_min < self.energy_max:
            raise ValueError(f"need 0 < energy_min < energy_max, got {self.energy_min}, {self.energy_max} TeV")
        if not self.max_impact > 0:
            raise ValueError(f"max_impact must be > 0 m, got {self.max_impact}")

    @classmethod
    def from_ctapipe(cls, runs: Mapping[str, Any]) -> SimulatedEvents:
        """From ctapipe's ``/configuration/simulation/run`` columns (one row per simulation run).

        Runs are summed (``n_showers * shower_reuse``); they must share spectrum, impact and cone.
        """
        required = (
            "n_showers",
            "shower_reuse",
            "energy_range_min",
            "energy_range_max",
            "spectral_index",
            "max_scatter_range",
            "min_viewcone_radius",
            "max_viewcone_radius",
        )
        missing = [key for key in required if key not in runs]
        if missing:
            raise KeyError(f"simulation configuration lacks columns {missing}; expected ctapipe's {list(required)}")
        units = {"energy_range_min": u.TeV, "energy_range_max": u.TeV, "spectral_index": u.one, "max_scatter_range": u.m,
                 "min_viewcone_radius": u.deg, "max_viewcone_radius": u.deg, "n_showers": u.one, "shower_reuse": u.one}
        return cls(**combined_production([{key: quantity_values(runs[key], unit, key) for key, unit in units.items()}]))

    @property
    def area(self) -> float:
        """Area (m^2) over which shower cores were scattered."""
        return float(np.pi * self.max_impact**2)

    def n_showers_per_energy(self, energy_edges: Any) -> np.ndarray:
        """Expected number of simulated showers in each true-energy bin (TeV edges)."""
        edges = as_edges(quantity_values(energy_edges, u.TeV, "energy_edges"), "energy_edges")
        low = np.clip(edges[:-1], self.energy_min, self.energy_max)
        high = np.clip(edges[1:], self.energy_min, self.energy_max)
        return self.n_showers * _power_law_fraction(low, high, self)


def _power_law_fraction(low: np.ndarray, high: np.ndarray, sim: SimulatedEvents) -> np.ndarray:
    """Fraction of a ``E^index`` spectrum on [energy_min, energy_max] between ``low`` and ``high``.

    Integrated per bin (not as a difference of CDFs), which would cancel catastrophically far above
    ``energy_min`` for steep spectra.
    """
    if np.isclose(sim.spectral_index, -1.0):
        return np.log(high / low) / np.log(sim.energy_max / sim.energy_min)
    k = sim.spectral_index + 1.0
    return (high**k - low**k) / (sim.energy_max**k - sim.energy_min**k)


def effective_area_per_energy(selected_true_energy: Any, energy_edges: Any, simulated: SimulatedEvents) -> np.ndarray:
    """Effective area (m^2) per true-energy bin; NaN in bins outside the simulated energy range."""
    edges = as_edges(quantity_values(energy_edges, u.TeV, "energy_edges"), "energy_edges")
    energy = quantity_values(selected_true_energy, u.TeV, "selected_true_energy")
    n_selected = bin_counts(energy, edges)
    n_simulated = simulated.n_showers_per_energy(edges)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(n_simulated > 0, simulated.area * n_selected / n_simulated, np.nan)


def migration_matrix(true_energy: Any, reco_energy: Any, true_edges: Any, reco_edges: Any) -> np.ndarray:
    """Probability of each reco-energy bin given the true-energy bin, shape (n_true, n_reco).

    Each row sums to the fraction of that bin's events reconstructed inside ``reco_edges``; rows of
    empty true bins are NaN.
    """
    true = quantity_values(true_energy, u.TeV, "true_energy")
    reco = quantity_values(reco_energy, u.TeV, "reco_energy")
    if true.shape != reco.shape:
        raise ValueError(f"true_energy and reco_energy must have equal shapes, got {true.shape} and {reco.shape}")
    t_edges = as_edges(quantity_values(true_edges, u.TeV, "true_edges"), "true_edges")
    r_edges = as_edges(quantity_values(reco_edges, u.TeV, "reco_edges"), "reco_edges")
    t_index, r_index = bin_indices(true, t_edges), bin_indices(reco, r_edges)
    counts = np.zeros((len(t_edges) - 1, len(r_edges) - 1))
    both = (t_index >= 0) & (r_index >= 0)
    np.add.at(counts, (t_index[both], r_index[both]), 1)
    n_true = bin_counts(true, t_edges)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(n_true[:, None] > 0, counts / n_true[:, None], np.nan)
