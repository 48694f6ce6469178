"""The ``calorimeter`` evaluator: a run's prediction tables -> clustering metrics (JSON-ready) and figures.

metrics.json layout::

    {"evaluator": "calorimeter", "settings": {...},
     "scalars": {"photopeak_efficiency", "reconstruction_efficiency", "fake_cluster_rate", "fake_clusters_per_event",
                 "adjusted_rand_index", the same with "_hard" (the hard regime), "energy_resolution",
                 "cluster_multiplicity_difference", "n_events", "n_gammas", "n_gammas_hard"},
     "curves": {"photopeak_efficiency_vs_gamma_energy", "photopeak_efficiency_hard_vs_gamma_energy",
                "reconstruction_efficiency_vs_gamma_energy", "energy_resolution_vs_gamma_energy",
                "clusters_per_event_vs_gammas_with_hits"},
     "multiplicity": {"confusion"}, "spectra": {"edges", "lab", "doppler_corrected", "truth_lab", "truth_rest"},
     "figures": [...]}
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from showerlearn.calorimeter.evaluation.figures import spectra_figure
from showerlearn.calorimeter.evaluation.report import DEFAULT_ENERGY_BINS, ReportSettings, clustering_report, split_tables
from showerlearn.calorimeter.family import BOARD_STYLE
from showerlearn.evaluation.curves import save_curve_figures
from showerlearn.evaluation.scope import TEST_SPLIT, reads_predictions_only
from showerlearn.registry import EVALUATORS, BinEdges, Count, Positive
from showerlearn.viz.figures import FIGURE_FORMATS, FigureFormat, add_caption, caption_line, save_figure
from showerlearn.viz.training import training_curves_figure

__all__ = ["evaluate_calorimeter"]


@EVALUATORS.register("calorimeter")
@reads_predictions_only  # per event its beta; the hits, their clusters and the gammas' truth: all in the tables
def evaluate_calorimeter(
    predictions: Mapping[str, np.ndarray],
    output_dir: str | Path,
    tables: Mapping[str, Mapping[str, np.ndarray]],
    *,
    energy_bins: BinEdges = DEFAULT_ENERGY_BINS,
    tolerance: Positive = 0.05,
    resolution_fwhm_662: Positive = 0.077,
    n_sigma: Positive = 3.0,
    hard_separation_rad: Positive = 0.25,
    hard_energy_mev: Positive = 5.0,
    hard_multiplicity: Count = 5,
    spectrum_max_mev: Positive = 25.0,
    spectrum_bin_mev: Positive = 0.1,
    label: str | None = None,
    log_dir: str | Path | None = None,
    figure_formats: Sequence[FigureFormat] = FIGURE_FORMATS,
    run_name: str = "method",
    caption: str = "",
    scored_sample: str = TEST_SPLIT,
) -> dict[str, Any]:
    """Clustering metrics of a calorimeter run (docs/calorimeter.md, "Metrics") and their figures.

    Parameters
    ----------
    energy_bins
        Edges of the gammas' rest-frame energy [MeV] for the per-energy curves (at least two, increasing).
    tolerance
        A gamma is reconstructed when its primary cluster holds its hits' energy within this fraction.
    resolution_fwhm_662
        Crystal resolution (FWHM at 662 keV) of the simulation: the width of the photopeak window.
    n_sigma
        Half-width of the photopeak window in crystal resolutions.
    hard_separation_rad
        Hard regime: a gamma with another gamma of its event closer than this [rad] ...
    hard_energy_mev, hard_multiplicity
        ... or above this rest-frame energy [MeV] in an event of at least this many gammas.
    spectrum_max_mev, spectrum_bin_mev
        Range and bin width of the energy spectra [MeV].
    label
        The method's name in the figures (default: ``run_name``, the experiment's name, given by the engine).
    figure_formats
        File formats of every figure (``png``, ``pdf``).
    caption
        The data set (given by the engine), the first line of every figure with the events scored.
    scored_sample
        What the events are (given by the engine): the test split, or the new hit file predicted.

    Raises
    ------
    ValueError
        Predictions without truth (of a hit file without ``/gammas``: measured data): every metric compares the
        clusters with the true gammas.
    """
    settings = ReportSettings(tuple(energy_bins), tolerance, resolution_fwhm_662, n_sigma, hard_separation_rad,
                              hard_energy_mev, hard_multiplicity, spectrum_max_mev, spectrum_bin_mev)
    hits, gammas, beta = split_tables(predictions, tables)
    _check_truth(gammas, beta)
    metrics: dict[str, Any] = {"evaluator": "calorimeter", **clustering_report(hits, gammas, beta, settings)}
    output_dir = Path(output_dir)
    label = label or run_name
    caption = caption_line(caption, f"{scored_sample}: {len(beta)} events")
    written = save_curve_figures(
        {label: metrics["curves"]}, output_dir, style=BOARD_STYLE, formats=figure_formats, caption=caption
    )
    spectra = spectra_figure({label: metrics["spectra"]})
    add_caption(spectra, caption)
    written += save_figure(spectra, output_dir / "energy_spectra", formats=figure_formats)
    if log_dir is not None and (training := training_curves_figure(log_dir)) is not None:
        written += save_figure(training, output_dir / "training_curves", formats=figure_formats)
    metrics["caption"] = caption
    metrics["figures"] = sorted(str(path.relative_to(output_dir)) for path in written)
    return metrics


def _check_truth(gammas: Mapping[str, np.ndarray], beta: np.ndarray) -> None:
    """Events without a single true gamma are predictions of a hit file without truth (every simulated event has
    gammas): scored, every cluster would count as fake and no efficiency would be defined."""
    if len(beta) and not len(gammas["index"]):
        raise ValueError(f"the {len(beta)} events hold no true gammas (their hit file has no truth, /gammas: measured "
                         "data, or converted without it): there is no truth to score their clusters against "
                         "(`showerlearn plot calorimeter` draws their energy spectra)")
    if (unknown := np.flatnonzero(np.isnan(beta))).size:
        raise ValueError(f"{unknown.size} events have no velocity (predictions.beta is NaN from row {unknown[0]}; a "
                         "hit file converted without --beta or --beta-branch): their clusters' Doppler-corrected "
                         "energies, which the scores compare with the gammas' rest-frame energies, are unknown")
