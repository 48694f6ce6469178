"""Collider event generation: Pythia 8 for the hard process, shower and hadronisation, a CMS-like
parametrised detector, FastJet jets and N-subjettiness, the selection into the signal's kinematic
region, and the columnar HDF5 file with cross sections and event weights.

May import: showerlearn.collider.particles, showerlearn.collider.kinematics, showerlearn.collider.io,
showerlearn.io, showerlearn.config.base (typed settings), showerlearn.parallel, showerlearn.progress, pythia8mc,
fastjet, awkward, vector, h5py, numpy, pydantic, rich.

``simulate_collider(config, output, seed, n_jobs)`` writes a file; ``generate_chunk`` gives one chunk of
one process in memory. Processes, detector card and sources: ``docs/collider.md``.
"""

from showerlearn.collider.simulation.card import DetectorCard
from showerlearn.collider.simulation.config import (
    PLACEHOLDERS,
    ColliderSimulationConfig,
    JetConfig,
    ProcessConfig,
    SelectionConfig,
    default_processes,
)
from showerlearn.collider.simulation.detector import Detector, EFlow, Particles
from showerlearn.collider.simulation.generator import Chunk, ChunkStats, generate_chunk
from showerlearn.collider.simulation.run import RunSummary, mass_point_path, simulate_collider

__all__ = [
    "PLACEHOLDERS",
    "Chunk",
    "ChunkStats",
    "ColliderSimulationConfig",
    "Detector",
    "DetectorCard",
    "EFlow",
    "JetConfig",
    "Particles",
    "ProcessConfig",
    "RunSummary",
    "SelectionConfig",
    "default_processes",
    "generate_chunk",
    "mass_point_path",
    "simulate_collider",
]
