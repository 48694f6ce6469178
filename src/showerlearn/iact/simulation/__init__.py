"""Event simulators that write the field's own file formats (IACT: ctapipe DL1 HDF5).

May import: showerlearn.iact.geometry, showerlearn.iact.particles, showerlearn.io, showerlearn.config.base
(typed settings), showerlearn.parallel, showerlearn.progress, ctapipe, astropy, numexpr, numpy, pydantic, rich,
scipy, tables.

``simulate_iact(config, output, seed, n_jobs)`` writes ctapipe DL1 HDF5; ``simulate_iact_arrays`` gives the
same events in memory. Physics, sources and knobs: ``docs/simulation.md``.
"""

from showerlearn.iact.simulation.config import IACTSimulationConfig
from showerlearn.iact.simulation.dl1 import lst_subarray, simulate_iact
from showerlearn.iact.simulation.showers import EVENT_COLUMNS, simulate_iact_arrays

__all__ = [
    "EVENT_COLUMNS",
    "IACTSimulationConfig",
    "lst_subarray",
    "simulate_iact",
    "simulate_iact_arrays",
]
