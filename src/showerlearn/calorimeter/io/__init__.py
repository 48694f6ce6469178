"""Readers and writers of calorimeter hits: the family's HDF5 hit files (one row per hit, an event index,
streamed, read as awkward arrays) and flat ROOT trees of CALIFA crystal hits (through uproot).

May import: showerlearn.calorimeter.geometry, showerlearn.io, h5py, numpy; awkward and uproot inside the
functions that need them (the ``calorimeter`` extra).
"""

from showerlearn.calorimeter.io.errors import CalorimeterFileError
from showerlearn.calorimeter.io.hdf5 import (
    BETA_RANGE, FORMAT, HIT_FIELDS, HitFileWriter, MeasuredHitWriter, geometry_name, has_gammas, iter_events, n_events,
    read_event_chunk, read_event_columns, read_events, read_gammas, recorded_resolution, simulation_settings,
    write_measured_hits,
)
from showerlearn.calorimeter.io.root import RootHitChunk, RootHitReader, read_root_events, read_root_hits

__all__ = [
    "BETA_RANGE",
    "FORMAT",
    "HIT_FIELDS",
    "CalorimeterFileError",
    "HitFileWriter",
    "MeasuredHitWriter",
    "RootHitChunk",
    "RootHitReader",
    "geometry_name",
    "has_gammas",
    "iter_events",
    "n_events",
    "read_event_chunk",
    "read_event_columns",
    "read_events",
    "read_gammas",
    "read_root_events",
    "read_root_hits",
    "recorded_resolution",
    "simulation_settings",
    "write_measured_hits",
]
