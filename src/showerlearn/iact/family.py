"""The IACT family as the core sees it: its packages, its ``simulate`` command, how its runs read on
the board and how its networks are explained."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from showerlearn.family import AUC_STYLE, BoardStyle, Family

if TYPE_CHECKING:
    import typer

    from showerlearn.config import ExperimentConfig
    from showerlearn.explain.driver import ExplainAdapter
    from showerlearn.explain.loading import TrainedRun
    from showerlearn.viz.resolution import ReferenceCurve

#: IRF curves and classification scalars of the IACT evaluator: labels, units (TeV, deg), best directions
BOARD_STYLE = BoardStyle(
    metric_style={
        "angular_resolution": {"ylabel": "angular resolution (68% containment) [deg]", "logy": True},
        "energy_resolution": {"ylabel": "energy resolution (68% of |ΔE|/E)", "logy": False},
        "energy_bias": {"ylabel": "energy bias (median ΔE/E)", "logy": False, "hline": 0.0},
        "effective_area": {"ylabel": "effective area [m²]", "logy": True},
        "auc": AUC_STYLE,
    },
    axis_labels={"true_energy": "true energy [TeV]", "reco_energy": "reconstructed energy [TeV]"},
    scalar_direction={
        "auc": "higher", "precision": "higher", "recall": "higher", "gamma_efficiency": "higher",
        "proton_rejection": "higher", "accuracy": "higher",
        "angular_resolution_deg": "lower", "energy_resolution": "lower", "energy_bias": "zero",
    },
    scalar_order=("auc", "angular_resolution_deg", "energy_resolution", "energy_bias", "gamma_efficiency",
                  "proton_rejection", "precision", "recall"),
    # the energy resolution and bias are relative (ΔE/E), efficiencies and the AUC fractions: no unit
    scalar_units={"angular_resolution_deg": "deg"},
    positive_class="gamma",
)


class IACTFamily(Family):
    """Cherenkov-telescope images on their pixel lattice."""

    name: ClassVar[str] = "iact"
    title: ClassVar[str] = "Cherenkov telescope images"
    packages: ClassVar[tuple[str, ...]] = ("showerlearn.iact",)

    def add_commands(self, simulate: typer.Typer) -> None:
        from showerlearn.iact.cli import simulate_iact

        simulate.command("iact")(simulate_iact)

    def add_plot_commands(self, plot: typer.Typer) -> None:
        from showerlearn.iact.cli import plot_iact

        plot.command("iact")(plot_iact)

    def classification_columns(self, columns: Mapping[str, Any]) -> tuple[Any, Any] | None:
        from showerlearn.iact.particles import gamma_labels

        if {"true_shower_primary_id", "gammaness"} <= columns.keys():
            return gamma_labels(columns["true_shower_primary_id"]), columns["gammaness"]
        return super().classification_columns(columns)

    def board_style(self) -> BoardStyle:
        return BOARD_STYLE

    def reference_curves(self, folder: Path) -> dict[str, dict[str, ReferenceCurve]]:
        """Every CTA requirement set with files in ``folder`` (``North-LST`` first)."""
        from showerlearn.iact.evaluation.requirements import collect_requirements

        return collect_requirements(folder)

    def explain_adapter(self, trained: TrainedRun) -> ExplainAdapter:
        from showerlearn.iact.explain.adapter import IACTExplainAdapter

        return IACTExplainAdapter(trained)

    def input_file_problems(self, config: ExperimentConfig) -> list[str]:
        return _evaluation_input_problems(config)


def _evaluation_input_problems(config: ExperimentConfig) -> list[str]:
    """The files the evaluator reads once the network is trained (the baseline's predictions, the CTA requirement
    curves), looked for before training: a wrong path would fail the run after all its compute, and a finished
    run's settings cannot be changed."""
    if config.evaluation is None or config.evaluation.name != "iact":
        return []
    from showerlearn.iact.evaluation.evaluator import PREDICTIONS_FILE, baseline_file
    from showerlearn.iact.evaluation.requirements import DEFAULT_REQUIREMENT_SET, REQUIREMENT_SETS, load_requirements

    params, problems = config.evaluation.params or {}, []
    if isinstance(baseline := params.get("baseline"), str) and not (found := baseline_file(baseline)).is_file():
        problems.append(f"evaluation.params.baseline: {found} not found (give a predictions file, or a run folder "
                        f"holding {PREDICTIONS_FILE})")
    # a set that is none is the schema's to name (requirement_set), not the folder's
    requirement_set = params.get("requirement_set", DEFAULT_REQUIREMENT_SET)
    if (requirements := params.get("requirements")) is not None and requirement_set in REQUIREMENT_SETS:
        try:
            load_requirements(requirements, requirement_set)
        except (OSError, ValueError) as error:
            problems.append(f"evaluation.params.requirements: {error}")
    return problems


#: the object the ``showerlearn.families`` entry point names
FAMILY = IACTFamily()
