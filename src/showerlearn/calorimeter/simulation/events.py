"""One chunk of events: draw the gammas, transport them (or draw the toy clusters), build the hits.

A chunk is a dict of flat arrays in three tables, with event rows local to the chunk:

* hits (one row per crystal read out, sorted by event then crystal id): ``hit_event``, ``crystal_id``,
  ``energy``, ``time``, ``theta``, ``phi``, ``saturated``, ``true_energy``, ``true_gamma`` (index of the
  gamma within its event, -1 background), ``true_fraction``;
* contributions: ``contribution_hit`` (hit row), ``contribution_gamma`` (gamma index within the event, -1
  background), ``contribution_energy``;
* gammas: ``gamma_event``, ``gamma_energy_rest``, ``gamma_energy_lab``, ``gamma_theta``, ``gamma_phi``
  (lab direction), ``gamma_deposited`` (all its energy left in crystals, before any threshold),
  ``gamma_escaped``;
* events: ``n_hits``, ``n_gammas``, ``beta``.
"""

from __future__ import annotations

import numpy as np

from showerlearn.calorimeter.geometry import CrystalGeometry, geometry_by_name
from showerlearn.calorimeter.kinematics import boost_to_lab, isotropic_directions
from showerlearn.calorimeter.simulation.config import CalorimeterSimulationConfig
from showerlearn.calorimeter.simulation.materials import attenuation_table
from showerlearn.calorimeter.simulation.response import DetectorResponse, build_hits
from showerlearn.calorimeter.simulation.source import gamma_counts, rest_energies
from showerlearn.calorimeter.simulation.toy import toy_deposits
from showerlearn.calorimeter.simulation.transport import TransportSettings, transport_photons

__all__ = ["chunk_rng", "chunk_sizes", "simulate_chunk"]


def chunk_sizes(n_events: int, chunk_size: int) -> list[int]:
    return [min(chunk_size, n_events - start) for start in range(0, n_events, chunk_size)]


def chunk_rng(seed: int, index: int) -> np.random.Generator:
    """The random stream of chunk ``index``: the same for any number of workers."""
    return np.random.default_rng(np.random.SeedSequence([seed, index]))


def simulate_chunk(config: CalorimeterSimulationConfig, seed: int, index: int, size: int) -> dict[str, np.ndarray]:
    """Events ``index * chunk_size ...`` of the production, as the arrays described in the module docstring."""
    rng = chunk_rng(seed, index)
    geometry = geometry_by_name(config.geometry)
    n_gammas = gamma_counts(config, size, rng)
    gamma_event = np.repeat(np.arange(size), n_gammas)
    if config.geometry == "toy_grid":
        gammas, deposits = toy_deposits(config, geometry, gamma_event, rng)
    else:
        gammas, deposits = _transported(config, geometry, gamma_event, rng)
    deposits["event"] = gamma_event[deposits["source"]]
    deposits = _with_background(config, geometry, size, deposits, rng)
    return _chunk(config, geometry, size, n_gammas, gammas, deposits, rng)


def _transported(
    config: CalorimeterSimulationConfig, geometry: CrystalGeometry, gamma_event: np.ndarray, rng: np.random.Generator,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Gammas isotropic in the fragment's frame, boosted to the lab, transported from the target."""
    n = len(gamma_event)
    energy_rest = rest_energies(config, n, rng)
    rest_direction = isotropic_directions(n, rng)
    energy_lab, cos_lab = boost_to_lab(energy_rest, rest_direction[:, 2], config.beta)
    phi = np.arctan2(rest_direction[:, 1], rest_direction[:, 0])  # the boost keeps the azimuth
    sin_lab = np.sqrt(np.clip(1 - cos_lab**2, 0.0, None))
    direction = np.stack([sin_lab * np.cos(phi), sin_lab * np.sin(phi), cos_lab], axis=1)
    settings = TransportSettings(config.photon_cut_mev, config.brems_threshold_mev, config.brems_photon_cut_mev)
    deposits, escaped = transport_photons(geometry, attenuation_table(), direction, energy_lab, rng, settings)
    gammas = {"energy_rest": energy_rest, "energy_lab": energy_lab, "theta": np.arccos(cos_lab), "phi": phi,
              "escaped": escaped}
    return gammas, {"source": deposits.gamma, "crystal": deposits.crystal, "energy": deposits.energy,
                    "time": deposits.time}


def _with_background(
    config: CalorimeterSimulationConfig, geometry: CrystalGeometry, size: int, deposits: dict[str, np.ndarray],
    rng: np.random.Generator,
) -> dict[str, np.ndarray]:
    """Add uncorrelated hits: Poisson in number, uniform over crystals and over the readout window."""
    counts = rng.poisson(config.background_hits_mean, size) if config.background_hits_mean > 0 else np.zeros(size, np.int64)
    n = int(counts.sum())
    background = {
        "event": np.repeat(np.arange(size), counts),
        "source": np.full(n, -1, dtype=np.int64),
        "crystal": rng.integers(0, geometry.n_crystals, n),
        "energy": config.crystal_threshold_mev + rng.exponential(config.background_energy_mev, n),
        "time": rng.uniform(*config.readout_window_ns, n),
    }
    return {key: np.concatenate([deposits[key], background[key]]) for key in background}


def _chunk(
    config: CalorimeterSimulationConfig, geometry: CrystalGeometry, size: int, n_gammas: np.ndarray,
    gammas: dict[str, np.ndarray], deposits: dict[str, np.ndarray], rng: np.random.Generator,
) -> dict[str, np.ndarray]:
    response = DetectorResponse(config.resolution_fwhm_662, config.crystal_threshold_mev, config.saturation_mev,
                                config.time_resolution_ns)
    hits, contributions = build_hits(deposits["event"], deposits["crystal"], deposits["source"], deposits["energy"],
                                     deposits["time"], geometry.n_crystals, response, rng)
    gamma_start = np.r_[0, np.cumsum(n_gammas)[:-1]]
    from_gamma = deposits["source"] >= 0
    deposited = np.bincount(deposits["source"][from_gamma], deposits["energy"][from_gamma], minlength=int(n_gammas.sum()))
    table = geometry.table()
    local = _local_gamma(hits["main_source"], hits["event"], gamma_start)
    contribution_event = hits["event"][contributions["hit"]]
    return {
        "hit_event": hits["event"],
        "crystal_id": table["crystal_id"][hits["crystal"]],
        "energy": hits["energy"], "time": hits["time"],
        "theta": table["theta"][hits["crystal"]], "phi": table["phi"][hits["crystal"]],
        "saturated": hits["saturated"], "true_energy": hits["true_energy"],
        "true_gamma": local, "true_fraction": hits["true_fraction"],
        "contribution_hit": contributions["hit"],
        "contribution_gamma": _local_gamma(contributions["source"], contribution_event, gamma_start),
        "contribution_energy": contributions["energy"],
        "gamma_event": np.repeat(np.arange(size), n_gammas),
        "gamma_energy_rest": gammas["energy_rest"], "gamma_energy_lab": gammas["energy_lab"],
        "gamma_theta": gammas["theta"], "gamma_phi": gammas["phi"],
        "gamma_deposited": deposited, "gamma_escaped": gammas["escaped"],
        "n_hits": np.bincount(hits["event"], minlength=size), "n_gammas": n_gammas,
        "beta": np.full(size, config.beta if config.geometry == "califa" else 0.0),
    }


def _local_gamma(source: np.ndarray, event: np.ndarray, gamma_start: np.ndarray) -> np.ndarray:
    """Gamma rows of the chunk -> index within the event (background stays -1)."""
    return np.where(source >= 0, source - gamma_start[event], -1)
