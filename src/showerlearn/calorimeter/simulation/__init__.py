"""The calorimeter simulator: gammas from a fragment in flight (Doppler boost), photon transport through CsI
(photoabsorption, Klein-Nishina Compton scattering, pair production and annihilation, bremsstrahlung of fast
electrons), crystal response and background, written as the family's HDF5 hit files.

May import: showerlearn.calorimeter.geometry, showerlearn.calorimeter.io, showerlearn.calorimeter.kinematics,
showerlearn.io, showerlearn.config.base (typed settings), showerlearn.parallel, showerlearn.progress,
showerlearn.cli.common (the progress bar's console), numpy, pydantic, rich, scipy; xraylib inside the
function that needs it (the ``calorimeter`` extra).

``simulate_calorimeter(config, output, seed, n_jobs)`` writes a hit file; ``simulate_chunk`` gives one chunk in
memory. Physics, sources and knobs: ``docs/calorimeter.md``.
"""

from showerlearn.calorimeter.simulation.config import CalorimeterSimulationConfig
from showerlearn.calorimeter.simulation.events import simulate_chunk
from showerlearn.calorimeter.simulation.materials import CSI_DENSITY, mass_attenuation
from showerlearn.calorimeter.simulation.response import DetectorResponse, energy_sigma
from showerlearn.calorimeter.simulation.run import SimulationSummary, simulate_calorimeter

__all__ = [
    "CSI_DENSITY",
    "CalorimeterSimulationConfig",
    "DetectorResponse",
    "SimulationSummary",
    "energy_sigma",
    "mass_attenuation",
    "simulate_calorimeter",
    "simulate_chunk",
]
