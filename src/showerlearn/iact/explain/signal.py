"""The explanation acceptance measure of the IACT family (issue 7, docs/explain.md): the fraction of a
Grad-CAM map's mass on the true Cherenkov signal of well-reconstructed gammas, next to its chance level
and, optionally, the same for the network with random weights."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from showerlearn.engine.run_dir import RunDir
from showerlearn.explain.driver import CONTROL_PREFIX, GRADCAM_PREFIX, CriteriaSettings, explain_run
from showerlearn.iact.particles import GAMMA_PRIMARY_ID

__all__ = ["SignalFraction", "grad_cam_signal_fraction"]


@dataclass(frozen=True)
class SignalFraction:
    """Grad-CAM mass on the true signal per event, the chance level (``area``: the signal region's share
    of the camera), and which events count as well reconstructed; ``median``/``mean`` over those.
    ``control_median``: the same median for the network with random weights (None without control)."""

    fraction: np.ndarray
    area: np.ndarray
    well_reconstructed: np.ndarray
    median: float
    mean: float
    median_area: float
    control_median: float | None = None


def grad_cam_signal_fraction(
    run_dir: str | Path | RunDir,
    input_file: str | Path,
    target: str = "particle:0",
    *,
    min_gammaness: float = 0.5,
    min_true_pe: float = 50.0,
    max_events: int | None = None,
    settings: CriteriaSettings = CriteriaSettings(),
    method: str = "gradcam",
    layer: str | None = None,
    control: bool = False,
    reference: str = "none",
) -> SignalFraction:
    """Fraction of the Grad-CAM mass of ``target`` on the (dilated) true signal pixels, per event.

    Well-reconstructed events: true gammas classified as gammas (gammaness >= ``min_gammaness``) with
    at least ``min_true_pe`` true photo-electrons in the image; ``median``/``mean`` are over those.
    ``control``: also the median for the same network with random weights; ``reference``: what the
    activations are measured against (both as in :func:`showerlearn.explain.driver.explain_run`).
    """
    explanation = explain_run(
        run_dir, input_file, events=(), targets=[target], layer=layer, max_events=max_events, settings=settings,
        method=method, control=control, reference=reference,
    )
    if explanation.criteria is None:
        raise ValueError(f"{input_file}: no true p.e. images (simulated files with /simulation/event/telescope/images needed)")
    criteria = explanation.criteria[GRADCAM_PREFIX + target]
    fraction, area = criteria["signal_fraction"], criteria["signal_area"]
    predictions, size = explanation.predictions, explanation.true_size
    assert size is not None  # present whenever criteria are
    well = (
        (np.asarray(predictions["true_shower_primary_id"]) == GAMMA_PRIMARY_ID)
        & (np.asarray(predictions["gammaness"]) >= min_gammaness)
        & (size >= min_true_pe)
        & np.isfinite(fraction)
    )
    chosen = fraction[well]
    control_median = None
    if control:
        control_fraction = explanation.criteria[CONTROL_PREFIX + GRADCAM_PREFIX + target]["signal_fraction"][well]
        control_median = float(np.nanmedian(control_fraction)) if chosen.size else float("nan")
    return SignalFraction(
        fraction=fraction,
        area=area,
        well_reconstructed=well,
        median=float(np.median(chosen)) if chosen.size else float("nan"),
        mean=float(np.mean(chosen)) if chosen.size else float("nan"),
        median_area=float(np.median(area[well])) if chosen.size else float("nan"),
        control_median=control_median,
    )
