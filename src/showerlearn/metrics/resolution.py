"""Angular and energy resolution, energy bias: per bin of (true or reconstructed) energy.

Conventions (the ones of pyirf, checked against pyirf and ctaplot in ``tests/test_metrics_reference.py``):

- containment fraction ``ONE_SIGMA_CONTAINMENT`` = 0.6827 (the fraction of a normal distribution within
  one sigma), quantiles with numpy's default linear interpolation;
- angular resolution = containment radius of the great-circle distance theta between true and
  reconstructed (alt, az). ctaplot takes the percentile of theta^2 and its square root: the same order
  statistics, but interpolated in theta^2, so it differs from this one by less than the gap between two
  neighbouring events;
- energy resolution = containment of ``|reco - true| / true`` (pyirf ``energy_resolution_absolute_68``,
  ctaplot ``energy_resolution``); energy bias = median of ``(reco - true) / true``;
- the binning variable is whatever the caller passes: true energy (IRF style) or reconstructed
  energy (what an observer can cut on; ctaplot's ``energy_resolution_per_energy`` bins in it).

Inputs may be astropy Quantities or plain arrays in the documented units (deg, TeV).
"""

from __future__ import annotations

from typing import Any

import astropy.units as u
import numpy as np
from astropy.coordinates import angular_separation as _astropy_angular_separation
from scipy.stats import norm

from showerlearn.metrics.binning import BinnedCurve, binned_statistic, quantity_values

#: Fraction of a normal distribution within +-1 sigma (0.682689...), pyirf's ``ONE_SIGMA_QUANTILE``.
ONE_SIGMA_CONTAINMENT: float = float(norm.cdf(1) - norm.cdf(-1))


def angular_separation(true_alt: Any, true_az: Any, reco_alt: Any, reco_az: Any) -> np.ndarray:
    """Great-circle distance in deg between true and reconstructed directions (alt/az in deg).

    Uses astropy's Vincenty formula, accurate from 0 to 180 deg (arccos of the dot product loses
    all digits below ~1e-4 deg, where good reconstructions live).
    """
    names = ("true_alt", "true_az", "reco_alt", "reco_az")
    angles = [quantity_values(a, u.deg, n) for a, n in zip((true_alt, true_az, reco_alt, reco_az), names, strict=True)]
    if len({a.shape for a in angles}) != 1:
        raise ValueError(f"true/reco alt/az must have equal shapes, got {[a.shape for a in angles]}")
    true_alt, true_az, reco_alt, reco_az = np.deg2rad(angles)
    return np.rad2deg(_astropy_angular_separation(true_az, true_alt, reco_az, reco_alt))


def containment(values: np.ndarray, fraction: float = ONE_SIGMA_CONTAINMENT, axis: int | None = None) -> np.ndarray:
    """Radius containing ``fraction`` of ``values`` (linear-interpolated quantile, NaN ignored)."""
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"containment fraction must be in (0, 1), got {fraction}")
    values = np.asarray(values, dtype=float)
    if values.size == 0:
        return np.float64(np.nan)
    # same numbers; nanquantile along an axis loops in Python, too slow for bootstrap replicas
    quantile = np.nanquantile if np.isnan(values).any() else np.quantile
    return quantile(values, fraction, axis=axis)


def relative_energy_error(true_energy: Any, reco_energy: Any) -> np.ndarray:
    """``(reco - true) / true``; NaN where the true energy is not positive."""
    true = quantity_values(true_energy, u.TeV, "true_energy")
    reco = quantity_values(reco_energy, u.TeV, "reco_energy")
    if true.shape != reco.shape:
        raise ValueError(f"true_energy and reco_energy must have equal shapes, got {true.shape} and {reco.shape}")
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(true > 0, reco / true - 1.0, np.nan)


def _median(values: np.ndarray, axis: int | None = None) -> np.ndarray:
    return np.median(values, axis=axis)


def _binned_containment(
    values: np.ndarray,
    energy: Any,
    energy_edges: Any,
    fraction: float,
    n_bootstrap: int,
    confidence_level: float,
    seed: int | np.random.Generator | None,
) -> BinnedCurve:
    """Containment radius of ``values`` per energy bin, with bootstrap interval (both resolutions)."""
    return binned_statistic(
        values,
        quantity_values(energy, u.TeV, "energy"),
        quantity_values(energy_edges, u.TeV, "energy_edges"),
        lambda v, axis=None: containment(v, fraction, axis=axis),
        n_bootstrap=n_bootstrap,
        confidence_level=confidence_level,
        seed=seed,
    )


def angular_resolution_per_bin(
    true_alt: Any,
    true_az: Any,
    reco_alt: Any,
    reco_az: Any,
    energy: Any,
    energy_edges: Any,
    *,
    fraction: float = ONE_SIGMA_CONTAINMENT,
    n_bootstrap: int = 200,
    confidence_level: float = 0.95,
    seed: int | np.random.Generator | None = 0,
) -> BinnedCurve:
    """Containment radius (deg) of the true-reco angular distance per bin of ``energy`` (TeV)."""
    theta = angular_separation(true_alt, true_az, reco_alt, reco_az)
    return _binned_containment(theta, energy, energy_edges, fraction, n_bootstrap, confidence_level, seed)


def energy_resolution_per_bin(
    true_energy: Any,
    reco_energy: Any,
    energy: Any,
    energy_edges: Any,
    *,
    fraction: float = ONE_SIGMA_CONTAINMENT,
    n_bootstrap: int = 200,
    confidence_level: float = 0.95,
    seed: int | np.random.Generator | None = 0,
) -> BinnedCurve:
    """Containment of ``|reco - true| / true`` per bin of ``energy`` (pass true or reco energy)."""
    errors = np.abs(relative_energy_error(true_energy, reco_energy))
    return _binned_containment(errors, energy, energy_edges, fraction, n_bootstrap, confidence_level, seed)


def energy_bias_per_bin(
    true_energy: Any,
    reco_energy: Any,
    energy: Any,
    energy_edges: Any,
    *,
    n_bootstrap: int = 200,
    confidence_level: float = 0.95,
    seed: int | np.random.Generator | None = 0,
) -> BinnedCurve:
    """Median of ``(reco - true) / true`` per bin of ``energy`` (pass true or reco energy)."""
    return binned_statistic(
        relative_energy_error(true_energy, reco_energy),
        quantity_values(energy, u.TeV, "energy"),
        quantity_values(energy_edges, u.TeV, "energy_edges"),
        _median,
        n_bootstrap=n_bootstrap,
        confidence_level=confidence_level,
        seed=seed,
    )


def angular_resolution(
    true_alt: Any, true_az: Any, reco_alt: Any, reco_az: Any, fraction: float = ONE_SIGMA_CONTAINMENT
) -> float:
    """Containment radius (deg) over all events; NaN without events."""
    return float(containment(angular_separation(true_alt, true_az, reco_alt, reco_az), fraction))


def energy_resolution(true_energy: Any, reco_energy: Any, fraction: float = ONE_SIGMA_CONTAINMENT) -> float:
    """Containment of ``|reco - true| / true`` over all events; NaN without events."""
    return float(containment(np.abs(relative_energy_error(true_energy, reco_energy)), fraction))


def energy_bias(true_energy: Any, reco_energy: Any) -> float:
    """Median of ``(reco - true) / true`` over all events; NaN without events."""
    error = relative_energy_error(true_energy, reco_energy)
    return float(np.nanmedian(error)) if np.any(np.isfinite(error)) else np.nan
