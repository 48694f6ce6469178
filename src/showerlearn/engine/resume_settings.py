"""What a continued run (``train --resume``, ``--run-dir``, ``sweep --resume``) may be given otherwise than it was
started with: a new training budget (:data:`BUDGET_KEYS`) and another machine (:data:`MACHINE_KEYS`), nothing that
changes what it trains; each refusal names the settings and how to go on."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from typing import Any

import lightning as L

from showerlearn.config import ConfigError, ExperimentConfig, dump_config, flatten_config
from showerlearn.registry import DATAMODULES

__all__ = ["BUDGET_KEYS", "MACHINE_KEYS", "budget_changes", "check_budget_trains", "machine_changes", "machine_problems"]


#: the settings a continued run may change: how long it trains, not what it trains
BUDGET_KEYS = ("trainer.max_epochs", "trainer.max_steps", "trainer.max_time")


#: settings of where and how fast a run trains, which a resumed run may be given otherwise (moved to a GPU node, or to
#: one with more cores): they change no batch, step or schedule, the numbers only by float rounding. The number of
#: processes must stay what it was (:func:`machine_problems`). Not precision, tf32 or compile: they change the
#: numbers' types, or the names of the weights in the checkpoint; nor the strategy, which may change the checkpoint's
#: form (FSDP, DeepSpeed).
MACHINE_KEYS = ("trainer.accelerator", "trainer.devices", "trainer.num_nodes", "trainer.threads", "trainer.cpu_allocator",
                "trainer.compile_cache")
#: the precision whose numbers' type depends on the accelerator: float16 with a gradient scaler on a GPU, bfloat16
#: without one on a CPU (Lightning's choice)
_ACCELERATOR_BOUND_PRECISION = "16-mixed"

#: settings a resumed run may be given otherwise, as they change nothing of it: where new runs go (it goes on in its
#: own folder)
_RESUME_FREE_KEYS = frozenset({"output_dir"})


def budget_changes(stored: ExperimentConfig, given: ExperimentConfig, source: str) -> dict[str, list[Any]]:
    """``{key: [stored value, given value]}`` for changed budget keys; a ConfigError for any other difference than
    of the budget and of where the run trains (:data:`MACHINE_KEYS`, :func:`machine_changes`)."""
    changed = _changed_keys(stored, given)
    if other := _outermost([k for k in changed if k not in BUDGET_KEYS and k not in MACHINE_KEYS]):
        difference = difflib.unified_diff(
            dump_config(stored).splitlines(), dump_config(given).splitlines(), "run's config.yaml", "given config", lineterm=""
        )
        named = ", ".join(other[:_NAMED_KEYS]) + (f" and {len(other) - _NAMED_KEYS} more" if len(other) > _NAMED_KEYS else "")
        raise ConfigError(source, [
            f"the config differs from the one this run was started with in {named} (pass "
            f"RUN_DIR/config.yaml to resume as is; only the training budget ({', '.join(BUDGET_KEYS)}) and where it "
            f"trains ({', '.join(MACHINE_KEYS)}) may change; to start anew with "
            "this config, give a new folder, or remove this one):",
            *list(difference)[2:32],
        ])
    return _trainer_values(stored, given, [key for key in changed if key in BUDGET_KEYS])


def machine_changes(stored: ExperimentConfig, given: ExperimentConfig) -> dict[str, list[Any]]:
    """``{key: [stored value, given value]}`` for the changed settings of where the run trains (:data:`MACHINE_KEYS`)."""
    return _trainer_values(stored, given, [key for key in _changed_keys(stored, given) if key in MACHINE_KEYS])


def machine_problems(config: ExperimentConfig, checkpoint: Mapping[str, Any]) -> list[str]:
    """Where the trainer settings would go on otherwise on this machine than the run's last ``checkpoint`` was
    trained ('auto' resolved as Lightning resolves it here): another number of processes, or, under
    ``16-mixed``, another number type (a gradient scaler in float16 on a GPU, none in bfloat16 on a CPU). Checked
    before the run is touched (the DataModule checks the processes again when the checkpoint is loaded, but by then
    the run's files say it goes on)."""
    state = checkpoint.get(DATAMODULES.get(config.data.name).__qualname__)  # Lightning's key of the DataModule's state
    saved = state.get("world_size") if isinstance(state, Mapping) else None
    options = config.trainer
    if saved is None and options.precision != _ACCELERATOR_BOUND_PRECISION:  # nothing to compare (an older checkpoint)
        return []
    try:
        trainer = L.Trainer(accelerator=options.accelerator, devices=options.devices, num_nodes=options.num_nodes,
                            strategy=options.strategy, precision=options.precision, logger=False,
                            enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False)
    except Exception as error:  # Lightning's own word on settings this machine cannot run (no GPU, too few devices)
        return [f"trainer.accelerator / devices / num_nodes: {error}"]
    problems = []
    if saved is not None and saved != trainer.world_size:
        problems.append(
            f"this run was trained by {saved} process(es); trainer.accelerator {options.accelerator!r}, devices "
            f"{options.devices!r} and num_nodes {options.num_nodes} give {trainer.world_size} on this machine: set devices "
            f"and num_nodes so that devices x nodes = {saved} ('auto' counts this machine's GPUs)")
    # Lightning keeps the scaler's state in the checkpoint only where it trained with one
    scaled_before, scaled_now = bool(checkpoint.get("MixedPrecision")), getattr(trainer.precision_plugin, "scaler", None) is not None
    if options.precision == _ACCELERATOR_BOUND_PRECISION and scaled_before != scaled_now:
        kind = {True: "float16 (with a gradient scaler, on a GPU)", False: "bfloat16 (no GPU)"}
        problems.append(
            f"precision {_ACCELERATOR_BOUND_PRECISION!r}: this run trained in {kind[scaled_before]} and would go on in "
            f"{kind[scaled_now]} here; resume it on the kind of device it started on")
    return problems


def _changed_keys(stored: ExperimentConfig, given: ExperimentConfig) -> list[str]:
    """The flattened keys whose values differ (but :data:`_RESUME_FREE_KEYS`), sorted."""
    flat_before, flat_after = (flatten_config(config.model_dump(mode="json")) for config in (stored, given))
    return sorted(k for k in flat_before.keys() | flat_after.keys()
                  if flat_before.get(k) != flat_after.get(k) and k not in _RESUME_FREE_KEYS)


def _trainer_values(stored: ExperimentConfig, given: ExperimentConfig, keys: list[str]) -> dict[str, list[Any]]:
    """``{key: [stored value, given value]}`` of trainer settings ``trainer.NAME``."""
    before, after = stored.trainer.model_dump(mode="json"), given.trainer.model_dump(mode="json")
    return {key: [before[key.split(".")[1]], after[key.split(".")[1]]] for key in keys}


#: differing settings a resume refusal names (the diff after it shows them all)
_NAMED_KEYS = 8


def _outermost(keys: list[str]) -> list[str]:
    """The keys that lie in no other of ``keys``: a section set in one config and null in the other
    (``data.params.simulate``) differs in each of its ~70 settings, named once by the section."""
    return [key for key in keys if not any(key.startswith(other + ".") for other in keys)]


def check_budget_trains(config: ExperimentConfig, checkpoint: Callable[[], Mapping[str, Any]] | None, source: str) -> None:
    """Refuse a new budget that the run (its last ``checkpoint``) has already used up: it would only predict again."""
    if config.estimator is not None:
        raise ConfigError(source, ["an estimator run has no training budget: trainer.max_* cannot change"])
    if checkpoint is None:
        return
    state = checkpoint()
    if "loops" not in state:
        raise ConfigError(source, [
            "the run trained nothing (trainer.max_epochs: 0: its checkpoint holds the init_from weights only), so it has "
            "no training to continue: start a new run with init_from set to it"
        ])
    # "processed", as Lightning's own stop check: an epoch-end checkpoint is saved before "completed" counts it
    epochs = state["loops"]["fit_loop"]["epoch_progress"]["current"]["processed"]
    seconds = state["callbacks"].get("Timer", {}).get("time_elapsed", {}).get("train", 0.0)
    trainer, used_up = config.trainer, []
    if trainer.max_epochs <= epochs:
        used_up.append(f"trainer.max_epochs={trainer.max_epochs} (the run has trained {epochs} epochs)")
    if 0 <= trainer.max_steps <= state["global_step"]:
        used_up.append(f"trainer.max_steps={trainer.max_steps} (the run has trained {state['global_step']} steps)")
    if trainer.max_time is not None and _seconds(trainer.max_time) <= seconds:
        used_up.append(f"trainer.max_time={trainer.max_time} (the run has trained {seconds:.0f} s)")
    if used_up:
        raise ConfigError(source, [f"this budget trains nothing more: raise {limit}" for limit in used_up])


def _seconds(duration: str) -> float:
    """'DD:HH:MM:SS' -> seconds."""
    days, hours, minutes, seconds = (int(part) for part in duration.split(":"))
    return float(((days * 24 + hours) * 60 + minutes) * 60 + seconds)
