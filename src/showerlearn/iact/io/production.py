"""The simulated production behind DL1 files: ctapipe's ``/configuration/simulation/run`` rows (one per simulation
run), which say how many showers were thrown, over which energies, spectrum, area and view cone; and those of
several files summed into one production, as the effective area needs it (``SimulatedEvents`` of the IACT
evaluator takes the result as it is).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import astropy.units as u
import numpy as np

__all__ = ["RUN_TABLE", "combined_production", "production_particle", "simulation_runs"]

RUN_TABLE = "/configuration/simulation/run"
#: the columns a production is made of, and the unit each is read in
_SHARED = {"energy_range_min": u.TeV, "energy_range_max": u.TeV, "spectral_index": u.one, "max_scatter_range": u.m,
           "min_viewcone_radius": u.deg, "max_viewcone_radius": u.deg}
_COUNTS = ("n_showers", "shower_reuse")


def simulation_runs(path: str | Path) -> dict[str, np.ndarray] | None:
    """The run rows of a DL1 file as plain arrays (energies in TeV, the scatter range in m, view cones in deg);
    None where the file has no such table (measured data, an lstchain file) or lacks one of its columns."""
    import tables
    from ctapipe.io import read_table

    try:
        table = read_table(path, RUN_TABLE)
    except (tables.NoSuchNodeError, OSError, KeyError):
        return None
    if any(name not in table.colnames for name in (*_SHARED, *_COUNTS)):
        return None
    columns = {name: np.asarray(table[name], dtype=np.float64) for name in _COUNTS}
    for name, unit in _SHARED.items():
        column = table[name]
        columns[name] = (u.Quantity(column).to_value(unit) if column.unit is not None else np.asarray(column, np.float64))
    return columns


def production_particle(path: str | Path) -> str | None:
    """The particle the run rows describe, where the file says (this package's simulator, whose files mix gammas
    and protons, writes ``showerlearn_run_particle``); None elsewhere (a ctapipe production: one particle per
    file)."""
    import tables

    with tables.open_file(str(path)) as file:
        try:
            attributes = file.get_node(RUN_TABLE).attrs
        except tables.NoSuchNodeError:
            return None
        return str(attributes["showerlearn_run_particle"]) if "showerlearn_run_particle" in attributes else None


def combined_production(runs: Sequence[Mapping[str, Any]]) -> dict[str, float]:
    """One production from run rows (of :func:`simulation_runs`, of one or several files): the showers thrown
    summed (``n_showers * shower_reuse``), the spectrum, area and cone, which every row must share.

    Returns the keyword arguments of the IACT evaluator's ``SimulatedEvents``: ``n_showers``, ``energy_min``,
    ``energy_max`` [TeV], ``spectral_index``, ``max_impact`` [m], ``viewcone_min``, ``viewcone_max`` [deg].

    Raises:
        ValueError: the rows differ in a shared column (productions that cannot be combined).
    """
    shared = {}
    for name in _SHARED:
        values = np.concatenate([np.atleast_1d(np.asarray(run[name], dtype=np.float64)) for run in runs])
        if not np.allclose(values, values[0]):
            raise ValueError(f"simulation runs differ in {name} ({np.unique(values).tolist()}): cannot combine them")
        shared[name] = float(values[0])
    n_showers = sum(float(np.sum(np.asarray(run["n_showers"], np.float64) * np.asarray(run["shower_reuse"], np.float64)))
                    for run in runs)
    return {
        "n_showers": n_showers, "energy_min": shared["energy_range_min"], "energy_max": shared["energy_range_max"],
        "spectral_index": shared["spectral_index"], "max_impact": shared["max_scatter_range"],
        "viewcone_min": shared["min_viewcone_radius"], "viewcone_max": shared["max_viewcone_radius"],
    }
