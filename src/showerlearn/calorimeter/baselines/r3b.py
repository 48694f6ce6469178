"""The R3B cluster finder as R3BRoot implements it (``califa/clustering/R3BCalifaCrystalCal2Cluster.cxx`` and
``R3BCalifaClusterMatcher.h``), re-implemented from its rules:

1. only hits with an energy strictly above the crystal threshold take part;
2. they are sorted by decreasing energy;
3. the most energetic unused hit seeds a cluster, unless it is below the cluster-start threshold, which
   ends the clustering (the remaining hits stay in no cluster);
4. every unused hit inside the window *around the seed* joins the seed's cluster (the seed itself always
   does); the window does not move or grow as hits join; no time window;
5. repeat from 3. A cluster's position and time are its seed's, its energy the sum.

Windows ("matchers"): ``rectangle`` |d theta| < dtheta and |d phi| < dphi (R3BRoot's default, 14.3 x 14.3 deg,
azimuths in (-pi, pi] *without* wrap-around, so two hits on either side of phi = +-180 deg never match; the
option ``phi_wrap`` takes the shorter way round instead); ``cone`` angle to the seed below a half-angle
(recent R3B analyses use 0.4 rad); ``sphere`` distance between crystal centres within a radius (3-D).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import numpy as np

from showerlearn.calorimeter.baselines.base import HitClusterer, Hits, require
from showerlearn.calorimeter.geometry import geometry_by_name, unit_vectors, wrap_phi

__all__ = ["R3B_RECTANGLE_RAD", "R3BClustering"]

#: R3BRoot's default window: R3BCalifaRectangle(14.3 * degree, 14.3 * degree)
R3B_RECTANGLE_RAD = float(np.radians(14.3))


class R3BClustering(HitClusterer):
    """R3BRoot's CALIFA cluster finder.

    Parameters
    ----------
    window
        ``rectangle`` (in theta and phi), ``cone`` (half-angle) or ``sphere`` (3-D distance of crystal centres).
    dtheta, dphi
        Rectangle half-widths [rad] (R3BRoot: 14.3 deg each).
    half_angle
        Cone half-angle [rad].
    radius
        Sphere radius [mm] (needs ``crystal_id`` in the hits and the ``geometry``).
    crystal_threshold_mev
        Hits must be above this to take part [MeV] (R3BRoot: 100 keV).
    cluster_threshold_mev
        A hit below this may join clusters but not start one [MeV] (R3BRoot: 0).
    phi_wrap
        Rectangle only: measure d phi the shorter way round (R3BRoot does not).
    geometry
        Name of the geometry giving crystal centres to the sphere window (``showerlearn train`` passes the hit
        files' own; in Python it is the caller's to give).
    """

    def __init__(
        self, window: Literal["rectangle", "cone", "sphere"] = "rectangle", dtheta: float = R3B_RECTANGLE_RAD,
        dphi: float = R3B_RECTANGLE_RAD, half_angle: float = 0.25, radius: float = 100.0,
        crystal_threshold_mev: float = 0.1, cluster_threshold_mev: float = 0.0, phi_wrap: bool = False,
        geometry: str = "califa",
    ) -> None:
        self.window = window
        self.dtheta = dtheta
        self.dphi = dphi
        self.half_angle = half_angle
        self.radius = radius
        self.crystal_threshold_mev = crystal_threshold_mev
        self.cluster_threshold_mev = cluster_threshold_mev
        self.phi_wrap = phi_wrap
        self.geometry = geometry

    @classmethod
    def config_problems(cls, params: Mapping[str, Any], path: str) -> list[str]:
        """Window sizes that are not positive and thresholds below 0 (checked by the config check, before any work,
        and by :meth:`fit`): a window of size 0 or less holds no hit but its seed."""
        def number(value: Any) -> bool:
            return isinstance(value, (int, float)) and not isinstance(value, bool) and np.isfinite(value)

        sizes = [f"{path}.{name}: a window size is > 0, got {params[name]!r}" for name in ("dtheta", "dphi", "half_angle", "radius")
                 if name in params and not (number(params[name]) and params[name] > 0)]
        thresholds = [f"{path}.{name}: a threshold is >= 0 [MeV], got {params[name]!r}"
                      for name in ("crystal_threshold_mev", "cluster_threshold_mev")
                      if name in params and not (number(params[name]) and params[name] >= 0)]
        return sizes + thresholds

    def fit(self, events: Any = None, y: Any = None) -> R3BClustering:
        """Check the settings (there is nothing to learn); returns self."""
        if problems := self.config_problems(self.get_params(), type(self).__name__):
            raise ValueError("; ".join(problems))
        return self

    def cluster(self, hits: Hits) -> np.ndarray:
        require(hits, ("energy", "theta", "phi"), "R3BClustering")
        energy = np.asarray(hits["energy"], dtype=float)
        labels = np.full(len(energy), -1, dtype=np.int64)
        candidate = energy > self.crystal_threshold_mev
        unused = candidate.copy()
        matcher = self._matcher(hits)
        label = 0
        for seed in np.flatnonzero(candidate)[np.argsort(-energy[candidate], kind="stable")]:
            if not unused[seed]:
                continue
            if energy[seed] < self.cluster_threshold_mev:
                break
            members = unused & matcher(seed)
            members[seed] = True
            labels[members] = label
            unused &= ~members
            label += 1
        return labels

    def _matcher(self, hits: Hits):
        """A function: seed index -> which hits are inside its window."""
        if self.window == "rectangle":
            theta, phi = np.asarray(hits["theta"], float), wrap_phi(hits["phi"])

            def rectangle(seed: int) -> np.ndarray:
                dphi = np.abs(phi - phi[seed])
                if self.phi_wrap:
                    dphi = np.minimum(dphi, 2 * np.pi - dphi)
                return (np.abs(theta - theta[seed]) < self.dtheta) & (dphi < self.dphi)

            return rectangle
        if self.window == "cone":
            direction = unit_vectors(np.asarray(hits["theta"], float), np.asarray(hits["phi"], float))
            cos_half = np.cos(self.half_angle)
            return lambda seed: direction @ direction[seed] > cos_half
        if self.window == "sphere":
            require(hits, ("crystal_id",), "R3BClustering(window='sphere')")
            centre = geometry_by_name(self.geometry).centres(hits["crystal_id"])
            return lambda seed: np.linalg.norm(centre - centre[seed], axis=1) <= self.radius
        raise ValueError(f"unknown window {self.window!r}: use rectangle, cone or sphere")
