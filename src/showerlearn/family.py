"""Detector families: what the generic commands ask of a family, and how the installed ones are found.

A family is a package (``showerlearn.iact``, a user's own ``my_detector``...) holding everything that
knows one kind of detector: its simulation, readers, DataModules, models, baselines, evaluators,
explanation adapter and figures. The core never imports a family. Instead:

* a family **registers its components by name** in :mod:`showerlearn.registry` when its modules are
  imported; the registries import every module of every installed family (``Family.packages``) on their
  first lookup, so a config can say ``model: {name: gamma_physnet}``;
* a family is **installed** through the entry-point group ``showerlearn.families`` (an object of a
  :class:`Family` subclass), so a user's package adds one without forking this one;
* a run **belongs to** the family of its DataModule (``ShowerDataModule.family``), which answers the
  questions the generic commands ask about it: how its board is drawn and labelled, how its network is
  explained, which ``showerlearn simulate`` sub-commands it adds.

The base class is the family of detector-agnostic data (feature tables, and any DataModule that names
no family): every hook has a generic answer, so a new family overrides only what it needs.

May import: the standard library only (the hooks import what they need when called, so discovering the
families stays cheap and ``showerlearn --help`` fast).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from importlib.metadata import entry_points
from importlib.util import find_spec
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    import typer

    from showerlearn.config import ExperimentConfig
    from showerlearn.explain.driver import ExplainAdapter
    from showerlearn.explain.loading import TrainedRun

#: The entry-point group through which packages declare their families.
ENTRY_POINT_GROUP = "showerlearn.families"


@dataclass(frozen=True)
class BoardStyle:
    """How a family's metrics read on the board and in curve figures.

    Attributes:
        metric_style: metric (the part of a curve name before ``_vs_``) -> ``{"ylabel", "logy", "hline",
            "missing", "empty_limit"}`` (``missing``: why a bin with events may have no value, e.g. an AUC of one
            class; ``empty_limit``: ``"lower"`` or ``"upper"`` where a bin's value is such a limit when its count
            is 0, e.g. a rejection where the cut keeps no background event).
        axis_labels: curve x quantity (after ``_vs_``) -> axis label with its unit.
        axis_counts: curve x quantity -> what the per-bin counts (``n_events``) of curves against it count, plural
            (``gammas``: one per gamma, not per event); one not named counts ``events``. One word reads per bin
            (``gammas / bin``); a phrase is its own axis label (``background events kept``: those a cut at the
            bin's centre keeps, not a count in the bin).
        scalar_direction: scalar -> ``"higher"``, ``"lower"`` or ``"zero"``: which value is best.
        scalar_order: scalars shown first in the metrics table, in this order.
        scalar_units: scalar -> its unit (astropy string, e.g. ``"deg"``), shown next to its value in
            terminal tables; a scalar not named is a dimensionless number (a count, a fraction, an AUC).
        positive_class: what the positive class of a ROC is called (its y axis: "<it> efficiency").
        run_figures: figures of a run's ``plots/`` folder (PNG file stems) the board shows with the run, for what
            no per-bin curve can show (the calorimeter's energy spectra with the truth).
    """

    metric_style: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    axis_labels: Mapping[str, str] = field(default_factory=dict)
    axis_counts: Mapping[str, str] = field(default_factory=dict)
    scalar_direction: Mapping[str, str] = field(default_factory=dict)
    scalar_order: tuple[str, ...] = ()
    scalar_units: Mapping[str, str] = field(default_factory=dict)
    positive_class: str = "signal"
    run_figures: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for metric, style in self.metric_style.items():
            if style.get("empty_limit") not in (None, "lower", "upper"):
                raise ValueError(f"metric_style[{metric!r}]['empty_limit'] must be 'lower', 'upper' or None, got "
                                 f"{style['empty_limit']!r}")


#: how an AUC-per-bin curve reads, the same in every family that draws one
AUC_STYLE: Mapping[str, Any] = {"ylabel": "AUC", "logy": False, "missing": "no AUC: one class only in the bin"}


class Family:
    """A detector family; this base class is the generic family of detector-agnostic data."""

    #: short name, used in messages and as the family's section on the board
    name: ClassVar[str] = "generic"
    #: one line for humans
    title: ClassVar[str] = "detector-agnostic data (feature tables)"
    #: packages whose modules register the family's components (imported on a registry's first lookup)
    packages: ClassVar[tuple[str, ...]] = ()
    #: modules the family's packages import (its pyproject extra), and the extra's name
    requires: ClassVar[tuple[str, ...]] = ()
    extra: ClassVar[str | None] = None

    def missing_modules(self) -> list[str]:
        """The required modules that are not installed (looked up without importing them)."""
        return [name for name in self.requires if find_spec(name) is None]

    def install_hint(self) -> str:
        """What to install so that the family works, e.g. ``pip install 'showerlearn[collider]'``."""
        missing = ", ".join(self.missing_modules())
        # binary wheels only: pip would otherwise build a newer sdist (Pythia 8.318 has no Python 3.11 wheel)
        extra = f"pip install --prefer-binary 'showerlearn[{self.extra}]'" if self.extra else f"install {missing}"
        return f"the {self.name} family needs {missing}: {extra}"

    def add_commands(self, simulate: typer.Typer) -> None:
        """Add the family's ``showerlearn simulate NAME`` sub-commands (none by default)."""

    def add_convert_commands(self, convert: typer.Typer) -> None:
        """Add the family's ``showerlearn convert NAME`` sub-commands, from the field's files to those its data
        read (none by default)."""

    def add_plot_commands(self, plot: typer.Typer) -> None:
        """Add the family's ``showerlearn plot NAME`` sub-commands, quick-look figures of its prediction files
        (none by default)."""

    def experiment_problems(self, config: ExperimentConfig) -> list[str]:
        """Problems between sections of a new experiment of this family, which no single component sees (one
        line each, named by their keys); checked by :func:`new_run_problems`. None by default."""
        return []

    def scored_file_problems(self, config: ExperimentConfig, attributes: Mapping[str, Any]) -> list[str]:
        """Problems between the evaluation of ``config`` and the new file whose predictions it scores (``showerlearn
        evaluate RUN --predictions FILE``), one line each named by its key. ``attributes``: the predictions file's
        (its stamp, and what the DataModule's ``prediction_attributes`` recorded of the file predicted).
        By default those of a new experiment (:meth:`experiment_problems`); a family whose checks compare the
        evaluation with the run's data set compares it with the file instead (the calorimeter's photopeak window
        with the crystal resolution the file was simulated with)."""
        return self.experiment_problems(config)

    def input_file_problems(self, config: ExperimentConfig) -> list[str]:
        """Files a new experiment reads besides its data that are not there (an evaluator's reference files), one
        line each named by its key: checked by :func:`new_run_problems` before the run's folder exists, never when a
        finished run's config is read again (``predict --set``, from any working folder). None by default."""
        return []

    def board_style(self) -> BoardStyle:
        """Labels, units and best directions of the family's metrics (generic classification by default)."""
        return BoardStyle(
            metric_style={"auc": AUC_STYLE},
            scalar_direction={"auc": "higher", "precision": "higher", "recall": "higher", "accuracy": "higher"},
            scalar_order=("auc", "accuracy", "precision", "recall"),
        )

    def reference_curves(self, folder: Path) -> dict[str, dict[str, Any]]:
        """Reference curves a board overlays (``set name -> metric -> ReferenceCurve``), read from ``folder``,
        in the order the board offers the sets (the first is shown first).

        The generic family has none (an empty dict); the IACT family reads CTA requirement files."""
        return {}

    def classification_columns(self, columns: Mapping[str, Any]) -> tuple[Any, Any] | None:
        """``(labels, scores)`` of a binary classification in a predictions table (1 = positive), for the
        board's ROC of runs whose metrics.json has none; None when the table has no such columns."""
        if {"label", "score"} <= columns.keys():
            return columns["label"], columns["score"]
        return None

    def explain_adapter(self, trained: TrainedRun) -> ExplainAdapter:
        """The adapter through which ``showerlearn explain`` reads the events of the ``trained`` run and draws
        its maps (:class:`showerlearn.explain.driver.ExplainAdapter`)."""
        raise ValueError(f"the {self.name} family has no explanation adapter: `showerlearn explain` cannot explain its runs")

    def __repr__(self) -> str:
        return f"<family {self.name}: {self.title}>"


#: the family of DataModules that name none
GENERIC = Family()


@lru_cache(maxsize=1)
def installed_families() -> dict[str, Family]:
    """Every family declared in the ``showerlearn.families`` entry-point group, by name."""
    found: dict[str, Family] = {}
    for point in entry_points(group=ENTRY_POINT_GROUP):
        family = point.load()
        if not isinstance(family, Family):
            raise TypeError(f"entry point {point.name!r} of {ENTRY_POINT_GROUP} is a {type(family).__name__}, not a Family")
        if family.name in found and found[family.name] is not family:
            raise ValueError(f"two installed packages declare the detector family {family.name!r}")
        found[family.name] = family
    return found


def family_packages() -> list[str]:
    """The packages of every installed family whose required modules are present: their modules register
    components. A family without its extra registers nothing, instead of breaking every lookup."""
    return [
        package for family in installed_families().values() if not family.missing_modules() for package in family.packages
    ]


def family_of_component(component: Any) -> Family:
    """The family of a registered component: the one it names (a DataModule class's ``family``), else the
    installed family whose packages define it (an evaluator), else the generic family."""
    named = getattr(component, "family", None)
    if isinstance(named, Family):
        return named
    module = getattr(component, "__module__", None) or ""
    for family in installed_families().values():
        if any(module == package or module.startswith(package + ".") for package in family.packages):
            return family
    return GENERIC


def new_run_problems(config: ExperimentConfig) -> list[str]:
    """What a new run refuses and ``config validate`` reports beyond the schema: the sections the experiment would
    ignore (``ExperimentConfig.ignored_sections``) and the problems between sections its family checks
    (:meth:`Family.experiment_problems`)."""
    return (_run_name_problems(config.name) + config.ignored_sections() + _empty_test_split(config)
            + _optimizer_problems(config) + _trainer_name_problems(config) + _init_from_problems(config)
            + _averaging_problems(config) + _data_problems(config)
            + family_of(config).experiment_problems(config) + family_of(config).input_file_problems(config))


def _data_problems(config: ExperimentConfig) -> list[str]:
    """What the DataModule cannot start a new run with (:meth:`ShowerDataModule.new_run_problems`)."""
    from showerlearn.registry import DATAMODULES

    check = getattr(DATAMODULES.get(config.data.name), "new_run_problems", None)  # not on a plain LightningDataModule
    return check(config.data.params) if check is not None else []


def _run_name_problems(name: str) -> list[str]:
    """The name is one folder of ``output_dir``: a path in it would put runs anywhere (``../../x``) or nest them.
    A new run's rule, not the schema's: runs named otherwise by earlier versions still load."""
    if name and name not in (".", "..") and not any(separator in name for separator in ("/", "\\")):
        return []
    return [f"name: {name!r} is not the name of one folder in output_dir: without / or \\, and not . or .."]


def _optimizer_problems(config: ExperimentConfig) -> list[str]:
    """What the optimizer's own constructor refuses (a negative learning rate, betas outside [0, 1)): torch checks
    its values only when it is built, after the run's folder exists, so it is built here on one stand-in tensor;
    then the scheduler on it (:func:`_scheduler_problems`)."""
    if config.model is None:
        return []
    import torch

    from showerlearn.config.components import ComponentProblem, build
    from showerlearn.registry import OPTIMIZERS

    try:
        optimizer = build(config.optimizer, OPTIMIZERS, "optimizer", params=[torch.zeros(1, requires_grad=True)])
    except ComponentProblem:  # its keys and types: reported by the schema check already
        return []
    except (ValueError, TypeError, RuntimeError) as error:  # RuntimeError: options torch cannot combine (fused, foreach)
        return [f"optimizer.params: {error}"]
    return _scheduler_problems(config, optimizer)


def _scheduler_problems(config: ExperimentConfig, optimizer: Any) -> list[str]:
    """What the scheduler refuses when built on ``optimizer`` (``milestones: 5``, not a list) or fails on in its
    first epochs (cosine's ``T_max: 0`` divides by zero): torch finds these only in training, with a traceback."""
    params = (config.scheduler.params or {}) if config.scheduler is not None else {}
    # per-group lists (max_lr: [...]) fit the groups of the run's optimizer (the balancer's parameters make a
    # second one), not those of the stand-in: left to training
    if config.scheduler is None or any(isinstance(value, list | tuple) for value in params.values()):
        return []
    import inspect
    import warnings

    from showerlearn.config.components import ComponentProblem, build
    from showerlearn.registry import SCHEDULERS

    try:
        scheduler = build(config.scheduler, SCHEDULERS, "scheduler", optimizer=optimizer)
        # a scheduler stepped on a metric (ReduceLROnPlateau) gets a stand-in value
        needed = [p for p in inspect.signature(scheduler.step).parameters.values() if p.default is inspect.Parameter.empty
                  and p.kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # the epochs Lightning steps it after, at most those the run trains (OneCycleLR counts its steps)
            epochs = config.trainer.max_epochs
            for _ in range(2 if epochs < 0 else min(2, epochs)):
                optimizer.step()
                scheduler.step(*[0.0] * len(needed))
    except ComponentProblem:  # its keys and types: reported by the schema check already
        return []
    except Exception as error:  # noqa: BLE001 - torch's schedulers raise many kinds (KeyError for initial_lr...)
        return [f"scheduler.params: scheduler {config.scheduler.name!r} fails with these params when it is built and "
                f"stepped: {type(error).__name__}: {error}"]
    return []


def _averaging_problems(config: ExperimentConfig) -> list[str]:
    """Lightning's stochastic weight averaging swaps the averaged weights into the network only when training ends,
    after the run saved best.ckpt, which it predicts and evaluates with: the average would be thrown away unseen
    (only SWA's learning-rate schedule would act), so the callback is refused rather than ignored."""
    from lightning.pytorch.callbacks import StochasticWeightAveraging

    from showerlearn.registry import CALLBACKS, UnknownComponentError

    def averages(name: str) -> bool:
        try:
            factory = CALLBACKS.get(name)
        except UnknownComponentError:  # reported by the schema check already
            return False
        return isinstance(factory, type) and issubclass(factory, StochasticWeightAveraging)

    return [f"callbacks.{index}: {callback.name}: a run predicts with its best checkpoint, saved before stochastic weight "
            "averaging swaps the averaged weights in, so they would never be used; not supported (remove it, or average "
            "with ema_weight_averaging, whose average is what the run checkpoints)"
            for index, callback in enumerate(config.callbacks) if averages(callback.name)]


def _init_from_problems(config: ExperimentConfig) -> list[str]:
    """An ``init_from`` that is not there, found otherwise only after the run's folder is made."""
    if config.init_from is None or config.init_from.exists():
        return []
    return [f"init_from: {config.init_from}: no such file or folder; expected a checkpoint (.ckpt) or a run folder"]


def _trainer_name_problems(config: ExperimentConfig) -> list[str]:
    """An accelerator or strategy name Lightning does not know, which its Trainer would refuse only once the data is
    loaded. Names only, not this machine's devices: a config meant for a GPU cluster still validates on a laptop."""
    if config.model is None:
        return []
    from lightning.pytorch.accelerators import AcceleratorRegistry
    from lightning.pytorch.strategies import StrategyRegistry

    from showerlearn.config.errors import suggestion

    known = {
        "accelerator": {"auto", "gpu", *AcceleratorRegistry.available_accelerators()},
        "strategy": {"auto", *StrategyRegistry.available_strategies()},
    }
    # Lightning reads a strategy's name in any case, an accelerator's as written
    settings = {"accelerator": config.trainer.accelerator, "strategy": config.trainer.strategy}
    as_read = {"accelerator": config.trainer.accelerator, "strategy": config.trainer.strategy.lower()}
    return [f"trainer.{key}: {value!r} is not a name Lightning knows{suggestion(value, known[key])}; it knows "
            f"{', '.join(sorted(known[key]))}" for key, value in settings.items() if as_read[key] not in known[key]]


def _empty_test_split(config: ExperimentConfig) -> list[str]:
    """A run ends by predicting and evaluating its test split (``split``, the one convention of every DataModule,
    :mod:`showerlearn.data.split`): without one it would fail only after training."""
    split = config.data.params.get("split")
    fractions = split.get("fractions") if isinstance(split, dict) else None
    if fractions is not None and len(fractions) == 3 and fractions[2] <= 0:
        return [f"data.params.split.fractions: {list(fractions)} leaves no test events; a run predicts and evaluates "
                "its test split: give it a share (0.15, say)"]
    return []


def family_of(config: Any) -> Family:
    """The family a run belongs to: that of its DataModule class (``config.data.name`` of an
    :class:`~showerlearn.config.ExperimentConfig`)."""
    from showerlearn.registry import DATAMODULES  # the registry imports the families' modules: only when asked

    return family_of_component(DATAMODULES.get(config.data.name))
