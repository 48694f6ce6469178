"""From energy deposits to crystal hits: summing per crystal, uncorrelated background, and the detector
response (energy resolution, saturation, threshold, time resolution), with the truth of every hit.

A *contribution* is the energy one source (a primary gamma, or -1 for background) left in one crystal of
one event; a *hit* is a crystal of an event with its contributions summed. The hit's true gamma is the
source of its largest contribution, its true fraction that contribution over the hit's true energy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["DetectorResponse", "build_hits", "energy_sigma"]

#: FWHM of a Gaussian over its standard deviation, 2 sqrt(2 ln 2)
FWHM_PER_SIGMA = 2.0 * np.sqrt(2.0 * np.log(2.0))
_REFERENCE_MEV = 0.662  # the 137Cs line at which the resolution is quoted


@dataclass(frozen=True)
class DetectorResponse:
    """Per-crystal response. ``resolution_fwhm_662``: relative FWHM at 662 keV, scaling as 1/sqrt(E);
    ``threshold``: hits below it are not read out [MeV]; ``saturation``: the gamma range's end, higher
    energies read as this value with ``saturated`` set [MeV]; ``time_resolution``: Gaussian sigma [ns]."""

    resolution_fwhm_662: float = 0.077
    threshold: float = 0.1
    saturation: float = 30.0
    time_resolution: float = 1.0


def energy_sigma(energy: np.ndarray, resolution_fwhm_662: float) -> np.ndarray:
    """Standard deviation [MeV] of the measured energy: sigma/E = (FWHM_662 / 2.355) sqrt(0.662 MeV / E)."""
    return resolution_fwhm_662 / FWHM_PER_SIGMA * np.sqrt(_REFERENCE_MEV * np.asarray(energy))


def build_hits(
    event: np.ndarray, crystal: np.ndarray, source: np.ndarray, energy: np.ndarray, time: np.ndarray,
    n_crystals: int, response: DetectorResponse, rng: np.random.Generator,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Sum deposits into hits and apply the response.

    Args:
        event, crystal, source, energy, time: one entry per deposit: event row, crystal row of the geometry
            table, source (primary gamma row, -1 background), energy [MeV], time [ns].
        n_crystals: crystals in the geometry.

    Returns:
        ``(hits, contributions)``: hits sorted by (event, crystal) with ``event``, ``crystal``, ``energy``
        (measured), ``time`` (measured), ``true_energy``, ``true_time``, ``saturated``, ``main_source``,
        ``true_fraction``; contributions of the kept hits with ``hit`` (row in hits), ``source``, ``energy``.
    """
    contribution = _sum_by_key(event, crystal, source, energy, time, n_crystals)
    hit_key = contribution["hit_key"]
    # the largest contribution first within each hit
    order = np.lexsort((-contribution["energy"], hit_key))
    contribution = {key: value[order] for key, value in contribution.items()}
    hit_key = contribution["hit_key"]
    first = np.flatnonzero(np.r_[True, hit_key[1:] != hit_key[:-1]])
    true_energy = np.add.reduceat(contribution["energy"], first) if len(first) else np.zeros(0)
    hits = {
        "event": hit_key[first] // n_crystals,
        "crystal": hit_key[first] % n_crystals,
        "true_energy": true_energy,
        "true_time": contribution["time"][first],
        "main_source": contribution["source"][first],
        "true_fraction": contribution["energy"][first] / np.where(true_energy > 0, true_energy, 1.0),
    }
    measured = hits["true_energy"] + rng.normal(size=len(first)) * energy_sigma(hits["true_energy"], response.resolution_fwhm_662)
    hits["saturated"] = measured > response.saturation
    hits["energy"] = np.minimum(measured, response.saturation)
    hits["time"] = hits["true_time"] + rng.normal(size=len(first)) * response.time_resolution
    kept = hits["energy"] >= response.threshold
    hit_row = np.cumsum(kept) - 1
    group = np.repeat(np.arange(len(first)), np.diff(np.r_[first, len(hit_key)]))
    contributions = {
        "hit": hit_row[group][kept[group]],
        "source": contribution["source"][kept[group]],
        "energy": contribution["energy"][kept[group]],
    }
    return {key: value[kept] for key, value in hits.items()}, contributions


def _sum_by_key(
    event: np.ndarray, crystal: np.ndarray, source: np.ndarray, energy: np.ndarray, time: np.ndarray, n_crystals: int,
) -> dict[str, np.ndarray]:
    """One row per (event, crystal, source): summed energy and earliest time."""
    hit_key = event.astype(np.int64) * n_crystals + crystal
    n_sources = int(source.max()) + 2 if len(source) else 1
    key = hit_key * n_sources + (source + 1)
    order = np.argsort(key, kind="stable")
    key = key[order]
    first = np.flatnonzero(np.r_[True, key[1:] != key[:-1]]) if len(key) else np.zeros(0, np.int64)
    if not len(first):
        return {"hit_key": np.zeros(0, np.int64), "source": np.zeros(0, np.int64), "energy": np.zeros(0), "time": np.zeros(0)}
    return {
        "hit_key": key[first] // n_sources,
        "source": key[first] % n_sources - 1,
        "energy": np.add.reduceat(energy[order], first),
        "time": np.minimum.reduceat(time[order], first),
    }
