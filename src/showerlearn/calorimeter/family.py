"""The calorimeter family as the core sees it: its package, its ``simulate`` command, how its runs read on
the board and how its networks are explained (its DataModule, models and evaluator register themselves by name)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from showerlearn.family import BoardStyle, Family

if TYPE_CHECKING:
    import typer

    from showerlearn.config import ExperimentConfig
    from showerlearn.explain.driver import ExplainAdapter
    from showerlearn.explain.loading import TrainedRun

#: the calorimeter evaluator's curves and scalars: labels, units (MeV) and best directions
BOARD_STYLE = BoardStyle(
    metric_style={
        "photopeak_efficiency": {"ylabel": "photopeak efficiency", "logy": False},
        "photopeak_efficiency_hard": {"ylabel": "photopeak efficiency, hard regime", "logy": False},
        "reconstruction_efficiency": {"ylabel": "reconstruction efficiency (cluster = gamma's hits within 5 %)", "logy": False},
        "energy_resolution": {"ylabel": "energy resolution (std of E_Doppler-corrected / E - 1)", "logy": False},
        "clusters_per_event": {"ylabel": "clusters per event"},
    },
    axis_labels={"gamma_energy": "gamma energy, rest frame [MeV]", "gammas_with_hits": "gammas with hits per event"},
    axis_counts={"gamma_energy": "gammas"},  # the per-energy curves count gammas, three to five per event
    scalar_direction={
        "photopeak_efficiency": "higher", "photopeak_efficiency_hard": "higher",
        "reconstruction_efficiency": "higher", "reconstruction_efficiency_hard": "higher",
        "adjusted_rand_index": "higher", "adjusted_rand_index_hard": "higher",
        "fake_cluster_rate": "lower", "fake_cluster_rate_hard": "lower",
        "fake_clusters_per_event": "lower", "fake_clusters_per_event_hard": "lower",
        "energy_resolution": "lower", "cluster_multiplicity_difference": "zero",
    },
    scalar_order=("photopeak_efficiency", "fake_cluster_rate", "reconstruction_efficiency", "adjusted_rand_index",
                  "photopeak_efficiency_hard", "fake_cluster_rate_hard", "energy_resolution",
                  "cluster_multiplicity_difference"),
    run_figures=("energy_spectra",),  # each method's spectra, lab and Doppler-corrected, with the truth
)

#: the attribute of a predictions file that records the crystal resolution of the hit file predicted (FWHM at
#: 662 keV, where the file records it): what scoring the predictions checks the photopeak window against
RESOLUTION_ATTRIBUTE = "crystal_resolution_fwhm_662"


class CalorimeterFamily(Family):
    """Crystal calorimeters: hits (E, theta, phi, t) of CsI crystals clustered into gammas (CALIFA at R3B)."""

    name: ClassVar[str] = "calorimeter"
    title: ClassVar[str] = "calorimeter crystal hits (CALIFA)"
    packages: ClassVar[tuple[str, ...]] = ("showerlearn.calorimeter",)
    requires: ClassVar[tuple[str, ...]] = ("xraylib", "uproot", "awkward")
    extra: ClassVar[str | None] = "calorimeter"

    def add_commands(self, simulate: typer.Typer) -> None:
        from showerlearn.calorimeter.cli import simulate_calorimeter

        simulate.command("calorimeter")(simulate_calorimeter)

    def add_convert_commands(self, convert: typer.Typer) -> None:
        from showerlearn.calorimeter.cli import convert_calorimeter, convert_calorimeter_clusters

        convert.command("calorimeter")(convert_calorimeter)
        convert.command("calorimeter-clusters")(convert_calorimeter_clusters)

    def add_plot_commands(self, plot: typer.Typer) -> None:
        from showerlearn.calorimeter.cli import plot_calorimeter

        plot.command("calorimeter")(plot_calorimeter)

    def board_style(self) -> BoardStyle:
        return BOARD_STYLE

    def experiment_problems(self, config: ExperimentConfig) -> list[str]:
        return _photopeak_window_problems(config) + _test_time_view_problems(config)

    def scored_file_problems(self, config: ExperimentConfig, attributes: Mapping[str, Any]) -> list[str]:
        return _file_window_problems(config, attributes) + _test_time_view_problems(config)

    def explain_adapter(self, trained: TrainedRun) -> ExplainAdapter:
        from showerlearn.calorimeter.explain.adapter import CalorimeterExplainAdapter

        return CalorimeterExplainAdapter(trained)


def _photopeak_window_problems(config: ExperimentConfig) -> list[str]:
    """The evaluator's photopeak window is ``n_sigma`` crystal resolutions wide: on simulated events it must
    use the resolution they were simulated with (the config's simulation, or the one its hit files record), or
    every method's photopeak efficiency is off."""
    if (window := _window_resolution(config)) is None:
        return []
    params = config.data.params or {}
    simulated = (params.get("simulate") or {}).get("config") or {}
    if "resolution_fwhm_662" in simulated:
        crystals = {"data.params.simulate.config.resolution_fwhm_662": simulated["resolution_fwhm_662"]}
    else:
        crystals = _recorded_resolutions(params.get("files"))
    if len(set(crystals.values())) > 1:
        found = ", ".join(f"{where}: {value}" for where, value in crystals.items())
        return [f"data.params.files: hit files simulated with different crystal resolutions ({found}); the photopeak "
                "window has one width: train on files of one resolution"]
    if not crystals or window in crystals.values():
        return []
    where, value = next(iter(crystals.items()))
    return [f"evaluation.params.resolution_fwhm_662: {window} differs from the simulated crystals' {where} ({value}); "
            "the photopeak window is n_sigma of the crystals' resolution: set both to the same value"]


def _file_window_problems(config: ExperimentConfig, attributes: Mapping[str, Any]) -> list[str]:
    """The photopeak window against the crystal resolution the new hit file was simulated with, which its predictions
    file records (:data:`RESOLUTION_ATTRIBUTE`, written by the DataModule when it predicted the file), as a new run's
    against its training files'; nothing for a file that records none (measured data, another writer). Refused
    rather than taken from the file: the window is the config's, as metrics.json records it."""
    if (window := _window_resolution(config)) is None:
        return []
    crystals = attributes.get(RESOLUTION_ATTRIBUTE)
    if crystals is None or crystals == window:
        return []
    name = attributes.get("source", "the file")
    return [f"evaluation.params.resolution_fwhm_662: {window} differs from the crystal resolution {name} was "
            f"simulated with ({crystals}, recorded with its predictions); the photopeak window is n_sigma of the "
            f"crystals' resolution: score it with --set evaluation.params.resolution_fwhm_662={crystals}"]


def _window_resolution(config: ExperimentConfig) -> float | None:
    """The crystal resolution of the calorimeter evaluator's photopeak window; None for another evaluator or none."""
    if config.evaluation is None or config.evaluation.name != "calorimeter":
        return None
    return (config.evaluation.params or {}).get("resolution_fwhm_662", _evaluated_resolution())


def _evaluated_resolution() -> float:
    """The resolution the calorimeter evaluator's photopeak window takes when the config names none."""
    import inspect

    from showerlearn.calorimeter.evaluation.evaluator import evaluate_calorimeter

    return inspect.signature(evaluate_calorimeter).parameters["resolution_fwhm_662"].default


def _recorded_resolutions(patterns: list[str] | None) -> dict[str, float]:
    """The crystal resolution each simulated hit file of ``patterns`` records, by ``<file>'s simulation``: none for
    measured files, nor where the files cannot be read yet (the DataModule says why when it reads them)."""
    from showerlearn.calorimeter.io import recorded_resolution
    from showerlearn.data.files import expand_patterns

    try:
        paths = expand_patterns(patterns, "calorimeter data", FileNotFoundError, find_copies=False) if patterns else []
    except (OSError, ValueError):
        return {}
    found = {f"{path}'s simulation": recorded_resolution(path) for path in paths}
    return {where: value for where, value in found.items() if value is not None}


def _test_time_view_problems(config: ExperimentConfig) -> list[str]:
    """Test-time views average the same-cluster probabilities of pairs: a network without pair outputs (or an
    estimator) has none, found here before training rather than when the run predicts."""
    if not (config.data.params or {}).get("test_time_views"):
        return []
    from showerlearn.calorimeter.data.decoding import PAIR_OUTPUTS
    from showerlearn.config.components import declared_heads
    from showerlearn.registry import MODELS

    if config.model is None:
        return ["data.params.test_time_views: the views average the same-cluster probabilities of pairs, which an "
                "estimator does not give: set it to 0"]
    heads = declared_heads(MODELS.get(config.model.name), config.model.params or {})
    if heads is None or heads <= PAIR_OUTPUTS:  # a network that declares no heads: its predictions tell
        return []
    return [f"data.params.test_time_views: the views average the same-cluster probabilities of pairs; the network "
            f"{config.model.name} returns {sorted(heads)}: set it to 0"]


#: the object the ``showerlearn.families`` entry point names
FAMILY = CalorimeterFamily()
