"""What ``showerlearn predict --set`` may change of a run's config, and what it may not: settings the run's
estimator, fitted preprocessing or decoded outputs would ignore are refused (silently ignored, they would still be
stamped on the output), settings that change what the network reads are allowed with a warning, and a run's own
test split is refused under settings that change which events it holds."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from showerlearn.config import ExperimentConfig, load_config
from showerlearn.config.components import declared_heads
from showerlearn.data.base import ShowerDataModule
from showerlearn.engine.run_dir import RunDir
from showerlearn.engine.runner import trained_outputs
from showerlearn.engine.safe_load import ESTIMATOR_FILE
from showerlearn.registry import DATAMODULES, ESTIMATORS, MODELS

__all__ = [
    "refuse_estimator_changes", "refuse_fitted_changes", "refuse_ignored_changes", "refuse_other_events", "run_outputs",
    "warn_of_input_changes",
]

log = logging.getLogger(__name__)


def refuse_estimator_changes(
    run: RunDir, trained: ExperimentConfig | None, config: ExperimentConfig, overrides: Sequence[str]
) -> None:
    """Refuse overrides of an estimator run's ``estimator``: the run predicts with the estimator it fitted, saved
    whole with its parameters, which the config's would not change (silently, with the output stamped with them)."""
    if trained is None or config.estimator is None:
        return
    if trained.estimator is not None and trained.estimator.model_dump(mode="json") == config.estimator.model_dump(mode="json"):
        return
    keys = [key for key in (override.partition("=")[0] for override in overrides) if _nested(key, "estimator")]
    raise ValueError(
        f"predict: cannot --set {', '.join(keys) or 'estimator'}: {run.path} predicts with the estimator it fitted "
        f"({ESTIMATOR_FILE}, saved with its parameters); train a new run with these settings (an estimator that "
        "fits nothing, such as a clustering window, takes seconds)"
    )


def refuse_fitted_changes(
    run: RunDir, trained: ExperimentConfig | None, config: ExperimentConfig, datamodule: ShowerDataModule,
    overrides: Sequence[str],
) -> None:
    """Refuse overrides of the data settings a restored fitted state stands in for
    (:attr:`~ShowerDataModule.fitted_settings`): they would be ignored, silently, or feed the network inputs
    other than those it was trained on. Named as given (``--set``), with the settings they change."""
    if trained is None:  # no --set: the run's own config, which its fitted state was fitted with
        return
    before, used = (c.data.model_dump(mode="json")["params"] for c in (trained, config))
    changed = [f"data.params.{path}" for path in datamodule.changed_fitted_settings(before, used)]
    if not changed:
        return
    keys = _given_keys(overrides, changed)
    settings = "" if keys == changed else f" ({', '.join(changed)})"
    raise ValueError(
        f"predict: cannot --set {', '.join(keys)}: {run.path} predicts with the data preprocessing it fitted on its "
        f"training split and the settings it was fitted for{settings}, restored from its checkpoint, since its network "
        "needs its inputs as it was trained on them; train a new run to change it"
    )


def warn_of_input_changes(
    trained: ExperimentConfig | None, config: ExperimentConfig, datamodule: ShowerDataModule, overrides: Sequence[str]
) -> None:
    """Say when ``--set`` changes what the network reads of each event (:attr:`~ShowerDataModule.input_settings`:
    the IACT cleaning or transforms): allowed, to study the network under the change, but its predictions are then
    no longer those of the inputs it was trained on."""
    if trained is None or not isinstance(datamodule, ShowerDataModule):
        return
    before, used = (c.data.model_dump(mode="json")["params"] for c in (trained, config))
    if changed := [f"data.params.{path}" for path in datamodule.changed_input_settings(before, used)]:
        log.warning("predict --set %s: the network reads its inputs otherwise than it was trained to (%s); its "
                    "predictions show it under that change", " ".join(_given_keys(overrides, changed)), ", ".join(changed))


def refuse_ignored_changes(
    run: RunDir, trained: ExperimentConfig | None, config: ExperimentConfig, overrides: Sequence[str]
) -> None:
    """Refuse overrides of prediction settings that the run's outputs are not read with, which its DataModule
    names (``ignored_prediction_settings``: the calorimeter's pair threshold for a network decoded from its
    slots): they would change no prediction, while the output's config claims them."""
    datamodule = DATAMODULES.get(config.data.name)
    known = isinstance(datamodule, type) and issubclass(datamodule, ShowerDataModule)
    outputs = run_outputs(config) if trained is not None and known else None
    if outputs is None:  # no --set, or a network that declares no outputs
        return
    before, used = (c.data.model_dump(mode="json")["params"] for c in (trained, config))
    reasons = {f"data.params.{path}": why
               for path, why in datamodule.ignored_prediction_settings(outputs, before, used).items()}
    if not reasons:
        return
    keys = _given_keys(overrides, list(reasons))
    component = config.estimator or config.model
    raise ValueError(
        f"predict: cannot --set {', '.join(keys)}: the predictions of {run.path} ({component.name}) are "
        f"{'; '.join(dict.fromkeys(reasons.values()))}: {'it has' if len(keys) == 1 else 'they have'} no effect "
        "on them (set only those its output reads)"
    )


def run_outputs(config: ExperimentConfig) -> frozenset[str] | None:
    """The outputs the run's model predicts and its predictions are decoded from, as the network (the trained
    ones of its heads) or the estimator declares them (``output_heads``); None when it declares none."""
    if config.estimator is not None:
        return declared_heads(ESTIMATORS.get(config.estimator.name), config.estimator.params or {})
    declared = declared_heads(MODELS.get(config.model.name), config.model.params or {})
    return None if declared is None else frozenset(trained_outputs(dict.fromkeys(declared), config))


def _given_keys(overrides: Sequence[str], changed: Sequence[str]) -> list[str]:
    """The ``--set`` keys of ``overrides`` that set (or hold) the ``changed`` settings; ``changed`` itself when
    none does (a change no key names: a data.name override dropping the params)."""
    given = (override.partition("=")[0] for override in overrides)
    return [key for key in given if any(_nested(key, setting) for setting in changed)] or list(changed)


def refuse_other_events(run: RunDir, config: ExperimentConfig, what: str) -> None:
    """Refuse a test split predicted with data settings (``config``) that change which events it holds (its
    split, cuts, files: :meth:`~ShowerDataModule.changed_event_settings`): it would hold training events, and
    its metrics would not be the test split's. ``what``: the ``--set`` or the file, for the message."""
    trained = load_config(run.config_file)
    if trained.data.name != config.data.name:
        raise ValueError(f"{what}: the test split of {run.path} is read by its data {trained.data.name!r}, not {config.data.name!r}")
    cls = DATAMODULES.get(config.data.name)
    changed = [f"data.params.{path}" for path in cls.changed_event_settings(
        *(c.data.model_dump(mode="json")["params"] for c in (trained, config)))]  # fmt: skip
    if trained.seed != config.seed:  # it draws the split (and a simulation) unless their own seeds are set
        changed.insert(0, "seed")
    if changed:
        raise ValueError(
            f"{what}: {', '.join(changed)} {'changes' if len(changed) == 1 else 'change'} which events the test split "
            f"of {run.path} holds (it could hold "
            f"training events); only data.params {', '.join(sorted(cls.prediction_settings))} may change for it: "
            "predict files, or train a run with these settings"
        )


def _nested(key: str, path: str) -> bool:
    """Whether the dotted ``key`` and ``path`` are the same setting or one holds the other."""
    return key == path or path.startswith(f"{key}.") or key.startswith(f"{path}.")
