"""IACT evaluator: prediction columns -> IRF-style metrics (JSON-ready) and figures.

Regression metrics (angular / energy resolution, energy bias) use every true gamma, before any
gammaness cut: they measure the reconstruction itself, as gamma-PhysNet reports them. The effective
area uses the gammas kept by the gammaness cut. Classification metrics use every event with a finite
gammaness (a baseline may leave some events unclassified; their number is reported).

metrics.json layout (``schema`` 1)::

    {"evaluator": "iact", "schema": 1, "settings": {...},
     "scalars": {"n_events", "n_gamma", "n_proton", "auc", "precision", "recall", "gamma_efficiency",
                 "proton_rejection", "angular_resolution_deg", "energy_resolution", "energy_bias", ...},
     "curves": {"angular_resolution_vs_true_energy": <curve record>, ...},
     "roc": {"fpr": [...], "tpr": [...]},
     "migration": {"true_edges", "reco_edges", "probability"},
     "baseline": {"label", "scalars", "curves", "roc"}    # when a baseline run is given
     "caption": "simulated LSTCam events (...); cuts: ...; test split: N events (...)",  # the figures' first line
     "figures": ["angular_resolution_vs_true_energy.png", ...]}
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import astropy.units as u
import numpy as np
from ctapipe.instrument import CameraGeometry
from matplotlib.figure import Figure

from showerlearn.evaluation.curves import (
    NON_NEGATIVE,
    SHARE,
    as_array,
    binned_curve_record,
    curve_record,
    json_float,
    json_list,
    roc_record,
    save_curve_figures,
)
from showerlearn.evaluation.scope import reads_data_set
from showerlearn.iact.data.targets import COLUMN_UNITS
from showerlearn.iact.evaluation.requirements import DEFAULT_REQUIREMENT_SET, RequirementSet, load_requirements
from showerlearn.iact.family import BOARD_STYLE
from showerlearn.io.tables import PREDICTIONS_KEY, convert_units, read_columns
from showerlearn.metrics import classification as cls
from showerlearn.metrics import resolution as res
from showerlearn.metrics.binning import as_edges, bin_counts, quantity_values
from showerlearn.iact.evaluation.irf import SimulatedEvents, effective_area_per_energy, migration_matrix
from showerlearn.iact.particles import GAMMA_LABEL, PROTON_PRIMARY_ID, gamma_labels
from showerlearn.registry import EVALUATORS, BinEdges, NonNegative, Probability, ScoreCut
from showerlearn.iact.viz.camera import camera_images_figure
from showerlearn.viz.classification import RocSeries, roc_figure, score_distributions_figure
from showerlearn.viz.figures import FIGURE_FORMATS, FigureFormat, caption_line, save_figure
from showerlearn.viz.resolution import migration_figure
from showerlearn.viz.training import training_curves_figure

#: Default energy binning: 0.01-100 TeV, 5 bins per decade (TeV).
DEFAULT_ENERGY_BINS = tuple(np.geomspace(0.01, 100.0, 21).tolist())

#: Name of the predictions file in a run directory (docs/architecture.md).
PREDICTIONS_FILE = "predictions.h5"

REQUIRED_COLUMNS = (
    "true_shower_primary_id",
    "true_energy",
    "reco_energy",
    "true_alt",
    "true_az",
    "reco_alt",
    "reco_az",
    "gammaness",
)


@dataclass(frozen=True)
class CameraExamples:
    """Camera images to show (shape (n, n_pixels)) on ``geometry``, with one title per image."""

    geometry: CameraGeometry
    images: np.ndarray
    titles: Sequence[str] | None = None


def _check_columns(predictions: Mapping[str, Any], what: str) -> int:
    missing = [c for c in REQUIRED_COLUMNS if c not in predictions]
    if missing:
        raise KeyError(f"{what} lack the columns {missing}; the IACT evaluator needs {list(REQUIRED_COLUMNS)}")
    lengths = {c: np.shape(predictions[c]) for c in REQUIRED_COLUMNS}
    if len(set(lengths.values())) != 1 or len(next(iter(lengths.values()))) != 1:
        raise ValueError(f"{what}: columns must be 1-d of equal length, got shapes {lengths}")
    _check_values(predictions, what)
    return int(next(iter(lengths.values()))[0])


def _check_values(predictions: Mapping[str, Any], what: str) -> None:
    """Values no reconstruction gives (a gammaness of 7, a negative energy) refused, naming the column: they
    would move every curve without a word. NaN stays allowed where it means "not reconstructed"."""
    gammaness = np.asarray(predictions["gammaness"], dtype=float)
    ranges = {
        "gammaness": (gammaness, (gammaness < 0) | (gammaness > 1), "in [0, 1] (NaN: unclassified)"),
        "reco_energy": (reco := quantity_values(predictions["reco_energy"], u.TeV, "reco_energy"),
                        (reco <= 0) | np.isinf(reco), "> 0 and finite (NaN: not reconstructed)"),
        "true_energy": (true := quantity_values(predictions["true_energy"], u.TeV, "true_energy"),
                        ~(true > 0) | np.isinf(true), "> 0 and finite"),
    }  # fmt: skip
    for column, (values, bad, expected) in ranges.items():
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise ValueError(f"{what}: {column} must be {expected}; {int(bad.sum())} values are not, the first "
                             f"{values[row]} in row {row}")


def iact_metrics(
    predictions: Mapping[str, Any],
    *,
    energy_bins: Any = DEFAULT_ENERGY_BINS,
    gammaness_cut: float = 0.5,
    simulated: SimulatedEvents | None = None,
    n_bootstrap: NonNegative = 200,
    confidence_level: Probability = 0.95,
    seed: int = 0,
    what: str = "predictions",
) -> dict[str, Any]:
    """Scalars, per-bin curves, ROC and migration matrix of one predictions table (no figures)."""
    n_events = _check_columns(predictions, what)
    edges = as_edges(quantity_values(energy_bins, u.TeV, "energy_bins"), "energy_bins")
    # Quantities keep their unit (the metric functions convert); anything else becomes an array
    p = {c: v if isinstance(v := predictions[c], u.Quantity) else np.asarray(v) for c in REQUIRED_COLUMNS}
    labels = gamma_labels(p["true_shower_primary_id"])
    gamma = labels == GAMMA_LABEL
    g = {c: v[gamma] for c, v in p.items()}
    boot = {"n_bootstrap": n_bootstrap, "confidence_level": confidence_level, "seed": seed}

    curves: dict[str, dict[str, Any]] = {}
    for axis in ("true_energy", "reco_energy"):
        curves[f"angular_resolution_vs_{axis}"] = binned_curve_record(
            res.angular_resolution_per_bin(
                g["true_alt"], g["true_az"], g["reco_alt"], g["reco_az"], g[axis], edges, **boot
            ),
            x=axis,
            x_unit="TeV",
            unit="deg",
            confidence_level=confidence_level,
            bounds=NON_NEGATIVE,
        )
        curves[f"energy_resolution_vs_{axis}"] = binned_curve_record(
            res.energy_resolution_per_bin(g["true_energy"], g["reco_energy"], g[axis], edges, **boot),
            x=axis,
            x_unit="TeV",
            unit="",
            confidence_level=confidence_level,
            bounds=NON_NEGATIVE,
        )
        curves[f"energy_bias_vs_{axis}"] = binned_curve_record(
            res.energy_bias_per_bin(g["true_energy"], g["reco_energy"], g[axis], edges, **boot),
            x=axis,
            x_unit="TeV",
            unit="",
            confidence_level=confidence_level,
        )

    gammaness = np.asarray(p["gammaness"], dtype=float)
    classified = np.isfinite(gammaness)
    y, score = labels[classified], gammaness[classified]
    reco_energy = quantity_values(p["reco_energy"], u.TeV, "reco_energy")[classified]
    auc_values, _ = cls.auc_per_energy_bin(y, score, reco_energy, edges)
    # the events of both classes in each bin: a bin of one class has events but no AUC
    curves["auc_vs_reco_energy"] = curve_record(
        edges, auc_values, bin_counts(reco_energy, edges), x="reco_energy", x_unit="TeV", unit="", bounds=SHARE
    )
    if simulated is not None:
        kept = gamma & (gammaness >= gammaness_cut)
        area = effective_area_per_energy(p["true_energy"][kept], edges, simulated)
        counts = bin_counts(quantity_values(p["true_energy"][kept], u.TeV, "true_energy"), edges)
        curves["effective_area_vs_true_energy"] = curve_record(
            edges, area, counts, x="true_energy", x_unit="TeV", unit="m2", bounds=NON_NEGATIVE
        )

    at_cut = cls.performance_at_cut(y, score, gammaness_cut)
    scalars = {
        "n_events": n_events,
        "n_gamma": int(gamma.sum()),
        "n_proton": int(np.count_nonzero(np.asarray(p["true_shower_primary_id"]) == PROTON_PRIMARY_ID)),
        "n_unclassified": int((~classified).sum()),
        # the resolutions leave them out: how many says whether they describe the whole sample
        "n_gamma_without_energy": int(np.isnan(np.asarray(g["reco_energy"], dtype=float)).sum()),
        "n_gamma_without_direction": int((~np.isfinite(np.asarray(g["reco_alt"], dtype=float))
                                          | ~np.isfinite(np.asarray(g["reco_az"], dtype=float))).sum()),
        "auc": cls.auc(y, score),
        "precision": at_cut.precision,
        "recall": at_cut.recall,
        "gamma_efficiency": at_cut.recall,
        "proton_rejection": at_cut.background_rejection,
        "angular_resolution_deg": res.angular_resolution(g["true_alt"], g["true_az"], g["reco_alt"], g["reco_az"]),
        "energy_resolution": res.energy_resolution(g["true_energy"], g["reco_energy"]),
        "energy_bias": res.energy_bias(g["true_energy"], g["reco_energy"]),
    }
    return {
        "scalars": {k: (json_float(v) if isinstance(v, float) else v) for k, v in scalars.items()},
        "curves": curves,
        "roc": roc_record(cls.roc_curve(y, score)),
        "migration": {
            "true_edges": edges.tolist(),
            "reco_edges": edges.tolist(),
            "probability": [
                json_list(row) for row in migration_matrix(g["true_energy"], g["reco_energy"], edges, edges)
            ],
        },
    }


def baseline_file(path: str | Path) -> Path:
    """The predictions file a ``baseline`` names: the file itself, or a run folder's ``predictions.h5``."""
    path = Path(path)
    return path / PREDICTIONS_FILE if path.is_dir() else path


def _read_predictions(path: Path) -> dict[str, np.ndarray]:
    """Prediction columns from a predictions file or a run directory's ``predictions.h5``."""
    file = baseline_file(path)
    if not file.is_file():
        raise FileNotFoundError(f"baseline predictions {file} not found (give a predictions file or a run directory)")
    # a baseline written by another tool may hold its energies in GeV, say: in the units of the run's own
    return convert_units(file, {PREDICTIONS_KEY: read_columns(file)}, {PREDICTIONS_KEY: COLUMN_UNITS})[PREDICTIONS_KEY]


def _roc_series(result: Mapping[str, Any], label: str, baseline: bool = False) -> RocSeries:
    auc = result["scalars"]["auc"]
    return RocSeries(
        label,
        np.array(result["roc"]["fpr"]),
        np.array(result["roc"]["tpr"]),
        np.nan if auc is None else auc,
        baseline=baseline,
    )


@EVALUATORS.register("iact")
@reads_data_set("its effective area counts the showers the run's data set simulated, scaled to the share of its "
                "events in the test split, and a baseline's predictions are of that test split")
def evaluate_iact(
    predictions: Mapping[str, Any],
    output_dir: str | Path,
    *,
    energy_bins: BinEdges = DEFAULT_ENERGY_BINS,
    gammaness_cut: ScoreCut = 0.5,
    baseline: Mapping[str, Any] | str | Path | None = None,
    baseline_label: str = "Hillas + RF",
    requirements: str | Path | None = None,
    requirement_set: RequirementSet = DEFAULT_REQUIREMENT_SET,
    simulated: SimulatedEvents | Mapping[str, float] | Literal[False] | None = None,
    log_dir: str | Path | None = None,
    camera_examples: CameraExamples | None = None,
    label: str | None = None,
    run_name: str = "model",
    caption: str = "",
    test_share: float = 1.0,
    n_bootstrap: NonNegative = 200,
    confidence_level: Probability = 0.95,
    seed: int = 0,
    figure_formats: Sequence[FigureFormat] = FIGURE_FORMATS,
) -> dict[str, Any]:
    """Compute the IACT metrics of ``predictions`` and write their figures (PNG + PDF) to ``output_dir``.

    ``baseline``: the predictions of a reference run (Hillas + RF) on the same test set (columns, a
    predictions file or a run directory holding ``predictions.h5``), computed the same way and
    overlaid dashed. ``requirements``: a folder of ``cta_requirements_*.dat`` files, of which the
    ``requirement_set`` curves are overlaid. ``simulated``: the simulated spectrum (or the keyword
    arguments of ``SimulatedEvents``, as a config gives them) of the whole data set, for the effective area:
    its showers are scaled by ``test_share``, the share of the events in the test split (given by the
    engine; 1 for a file of predictions of whole simulated files); ``False``: no effective area, not even the
    one the engine would read from the files (a config's null leaves it to them). ``log_dir``:
    Lightning logs, for the loss / learning-rate figure. ``label``: the run's name in the figures'
    legends (default: ``run_name``, the experiment's name, given by the engine); ``caption``: the data set
    and cuts (given by the engine), the first line of every figure, followed by the test events. Returns
    the JSON-ready metrics (the caller writes metrics.json); figure file names are listed under ``"figures"``.
    """
    output_dir = Path(output_dir)
    label = label or run_name
    baseline_name = "baseline predictions"
    if isinstance(baseline, (str, Path)):
        baseline_name = f"baseline predictions {baseline}"  # its errors name its file, not the run's
        baseline = _read_predictions(Path(baseline))
    if simulated is False:
        simulated = None
    if simulated is not None and not isinstance(simulated, SimulatedEvents):
        simulated = SimulatedEvents(**simulated)
    if simulated is not None:  # the predictions are the test split's: so are the showers behind them
        simulated = dataclasses.replace(simulated, n_showers=simulated.n_showers * test_share)
    common = {
        "energy_bins": energy_bins,
        "gammaness_cut": gammaness_cut,
        "simulated": simulated,
        "n_bootstrap": n_bootstrap,
        "confidence_level": confidence_level,
        "seed": seed,
    }
    metrics: dict[str, Any] = {
        "evaluator": "iact",
        "schema": 1,
        "settings": {
            "gammaness_cut": gammaness_cut,
            "containment": res.ONE_SIGMA_CONTAINMENT,
            "n_bootstrap": n_bootstrap,
            "confidence_level": confidence_level,
            "seed": seed,
            "regression_events": "true gammas, no gammaness cut",
        },
        **iact_metrics(predictions, **common),
    }
    base = None
    if baseline is not None:
        base = {"label": baseline_label, **iact_metrics(baseline, what=baseline_name, **common)}
        base.pop("migration")
        metrics["baseline"] = base
    reference = load_requirements(requirements, requirement_set) if requirements is not None else None
    scalars = metrics["scalars"]
    # every other primary (a muon, a nucleus) is background too: the caption counts what the AUC was computed on
    others = scalars["n_events"] - scalars["n_gamma"] - scalars["n_proton"]
    particles = f"{scalars['n_gamma']} gammas, {scalars['n_proton']} protons" + (f", {others} other" if others else "")
    caption = caption_line(caption, f"test split: {scalars['n_events']} events ({particles})")

    def save(figure: Figure, name: str) -> list[Path]:
        return save_figure(figure, output_dir / name, formats=figure_formats)

    written = save_curve_figures(
        {label: metrics["curves"]},
        output_dir,
        formats=figure_formats,
        baseline=(baseline_label, base["curves"]) if base else None,
        references=reference,
        style=BOARD_STYLE,
        caption=caption,
    )
    rocs = [_roc_series(metrics, label)] + ([_roc_series(base, baseline_label, baseline=True)] if base else [])
    written += save(roc_figure(rocs, caption=caption, positive=BOARD_STYLE.positive_class), "roc")
    gammaness = np.asarray(predictions["gammaness"], dtype=float)
    finite = np.isfinite(gammaness)
    labels = gamma_labels(predictions["true_shower_primary_id"])
    written += save(
        score_distributions_figure(gammaness[finite], labels[finite], cut=gammaness_cut, caption=caption), "gammaness"
    )
    migration = metrics["migration"]
    written += save(
        migration_figure(
            np.array([as_array(row) for row in migration["probability"]]),
            np.array(migration["true_edges"]),
            np.array(migration["reco_edges"]),
            caption=caption_line(caption, "true gammas"),
        ),
        "energy_migration",
    )
    if log_dir is not None and (training := training_curves_figure(log_dir)) is not None:
        written += save(training, "training_curves")
    if camera_examples is not None:
        written += save(
            camera_images_figure(
                camera_examples.geometry, camera_examples.images, camera_examples.titles, title="example events"
            ),
            "camera_examples",
        )
    metrics["caption"] = caption
    metrics["figures"] = sorted(str(path.relative_to(output_dir)) for path in written)
    return metrics
