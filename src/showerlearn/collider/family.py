"""The collider family as the core sees it: its packages, its ``simulate`` command, how its runs read on
the board and how its networks are explained.

Its modules need the ``collider`` extra (Pythia, FastJet, awkward, uproot, vector): without it the family
registers nothing (:func:`showerlearn.family.family_packages`) and its command says what to install.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from showerlearn.family import BoardStyle, Family

if TYPE_CHECKING:
    import typer

    from showerlearn.config import ExperimentConfig
    from showerlearn.explain.driver import ExplainAdapter
    from showerlearn.explain.loading import TrainedRun

#: the ``collider`` evaluator's scalars and rejection curve: labels, scales, best directions
BOARD_STYLE = BoardStyle(
    metric_style={
        # where the cut keeps no background event, the rejection is the 95 % CL lower limit the sample gives
        "background_rejection": {"ylabel": "background rejection 1/ε_B", "logy": True, "empty_limit": "lower"},
        "auc": {"ylabel": "AUC", "logy": False},
    },
    axis_labels={"signal_efficiency": "signal efficiency ε_S"},
    # the rejection curve's counts are the background events its cut at a bin's centre keeps, not the bin's events
    axis_counts={"signal_efficiency": "background events kept"},
    scalar_direction={
        "auc": "higher", "accuracy": "higher", "auc_macro": "higher",
        **{f"{name}_at_{p}": "higher" for name in ("background_rejection", "significance", "signal") for p in (30, 50)},
        **{f"{name}_at_{p}": "lower" for name in ("background", "n_background") for p in (30, 50)},
    },
    scalar_order=("auc", "background_rejection_at_30", "background_rejection_at_50", "significance_at_30",
                  "significance_at_50", "auc_macro", "accuracy"),
)  # fmt: skip


class ColliderFamily(Family):
    """LHC events: jet constituents and reconstructed objects (Pythia 8 + FastJet + a CMS-like detector)."""

    name: ClassVar[str] = "collider"
    title: ClassVar[str] = "collider events (jet constituents and reconstructed objects)"
    packages: ClassVar[tuple[str, ...]] = ("showerlearn.collider",)
    requires: ClassVar[tuple[str, ...]] = ("pythia8mc", "fastjet", "awkward", "uproot", "vector")
    extra: ClassVar[str | None] = "collider"

    def add_commands(self, simulate: typer.Typer) -> None:
        from showerlearn.collider.cli import simulate_collider

        simulate.command("collider")(simulate_collider)

    def add_plot_commands(self, plot: typer.Typer) -> None:
        from showerlearn.collider.cli import plot_collider

        plot.command("collider")(plot_collider)

    def board_style(self) -> BoardStyle:
        return BOARD_STYLE

    def experiment_problems(self, config: ExperimentConfig) -> list[str]:
        """Found here before any data is read, not at the first batch or after training: a network reading
        pairwise features without the tokens' p4 (``pair_inputs``), and a ``signal_class`` the data has not."""
        return _pair_input_problems(config) + _signal_class_problems(config)

    def explain_adapter(self, trained: TrainedRun) -> ExplainAdapter:
        from showerlearn.collider.explain.adapter import ColliderExplainAdapter

        return ColliderExplainAdapter(trained)


def _pair_input_problems(config: ExperimentConfig) -> list[str]:
    params = config.model.params if config.model is not None else {}
    wanted = [f"model.params.{key}" for key in ("pair_features", "cross_pair_features") if params.get(key)]
    if not wanted or (config.data.params or {}).get("pair_inputs"):
        return []
    return [f"{' and '.join(wanted)}: the network computes pairwise features from each token's p4, which the data "
            "gives only with data.params.pair_inputs: true"]


def _signal_class_problems(config: ExperimentConfig) -> list[str]:
    """The evaluator's signal class must be one the source's classes can be called: else the run would fail
    when it is scored, after training."""
    if config.evaluation is None or config.evaluation.name != "collider" or "source" not in (config.data.params or {}):
        return []
    from showerlearn.collider.data.datamodule import SOURCE

    signal = (config.evaluation.params or {}).get("signal_class", "signal")
    problem = SOURCE.validate_python(config.data.params["source"]).class_name_problem(signal)
    return [] if problem is None else [f"evaluation.params.signal_class: {signal!r} is no class of data.params.source: {problem}"]


#: the object the ``showerlearn.families`` entry point names
FAMILY = ColliderFamily()
