"""Values the config used to accept that then failed only in training, after the run's folder was made: refused by
``config validate`` (the schema, or ``new_run_problems``) with the key and what was expected."""

from __future__ import annotations

import copy

import pytest
import yaml

from showerlearn.config import ConfigError, resolve_config
from showerlearn.family import new_run_problems


def _with(config: dict, **sections: dict) -> dict:
    changed = copy.deepcopy(config)
    for section, values in sections.items():
        changed[section] = {**(changed.get(section) or {}), **values}
    return changed


@pytest.mark.parametrize(("trainer", "expected"), [
    ({"limit_train_batches": 2.5}, r"trainer\.limit_train_batches: a float outside \[0, 1\] and not whole"),
    ({"limit_val_batches": -3}, r"trainer\.limit_val_batches: expected a number of batches >= 0"),
    ({"max_steps": -5}, r"trainer\.max_steps: Input should be greater than or equal to -1"),
    ({"max_steps": 0}, r"trainer\.max_steps: 0 trains nothing"),
    ({"gradient_clip_val": -1}, r"trainer\.gradient_clip_val: Input should be greater than or equal to 0"),
])
def test_trainer_limits_lightning_would_refuse_in_training(tabular_config: dict, trainer: dict, expected: str) -> None:
    with pytest.raises(ConfigError, match=expected):
        resolve_config(_with(tabular_config, trainer=trainer))


def test_a_max_time_yaml_reads_as_a_number_is_refused_with_the_form_that_stays_text(tabular_config: dict) -> None:
    """Unquoted, ``1:00:00:00`` is YAML 1.1's base-60 number 216000 (which duration was meant is lost)."""
    written = yaml.safe_load("max_time: 1:00:00:00")
    assert written == {"max_time": 216000}
    with pytest.raises(ConfigError, match=r"trainer\.max_time: expected 'DD:HH:MM:SS' as text, in quotes \('1:00:00:00'\), not a number"):
        resolve_config(_with(tabular_config, trainer=written))
    kept = yaml.safe_load("max_time: 01:00:00:00")
    assert resolve_config(_with(tabular_config, trainer=kept)).trainer.max_time == "01:00:00:00"


def test_values_lightning_takes_are_accepted(tabular_config: dict) -> None:
    """No clipping written as Lightning 1.x's default 0, and a whole number of batches written as a float."""
    config = resolve_config(_with(tabular_config, trainer={"gradient_clip_val": 0.0, "limit_train_batches": 10.0}))
    assert config.trainer.gradient_clip_val == 0.0 and config.trainer.limit_train_batches == 10
    assert isinstance(config.trainer.limit_train_batches, int)


def test_a_task_without_heads_is_refused(tabular_config: dict) -> None:
    with pytest.raises(ConfigError, match=r"task\.heads: no head"):
        resolve_config(_with(tabular_config, task={"heads": {}}))


@pytest.mark.parametrize(("scheduler", "expected"), [
    ({"name": "cosine", "params": {"T_max": 0}}, "ZeroDivisionError"),
    ({"name": "multistep", "params": {"milestones": 5}}, "'int' object is not iterable"),
])
def test_a_scheduler_that_fails_when_built_or_stepped_is_a_config_problem(
    tabular_config: dict, scheduler: dict, expected: str
) -> None:
    problems = new_run_problems(resolve_config({**tabular_config, "scheduler": scheduler}))
    assert len(problems) == 1 and problems[0].startswith(f"scheduler.params: scheduler {scheduler['name']!r}")
    assert expected in problems[0]


def test_working_schedulers_and_an_existing_init_from_pass(tabular_config: dict, tmp_path) -> None:
    for scheduler in ({"name": "cosine", "params": {"T_max": 3}}, {"name": "torch.optim.lr_scheduler:ReduceLROnPlateau"}):
        assert new_run_problems(resolve_config({**tabular_config, "scheduler": scheduler})) == []
    assert new_run_problems(resolve_config({**tabular_config, "init_from": str(tmp_path)})) == []


def test_a_missing_init_from_is_a_config_problem(tabular_config: dict, tmp_path) -> None:
    problems = new_run_problems(resolve_config({**tabular_config, "init_from": str(tmp_path / "none.ckpt")}))
    assert problems == [f"init_from: {tmp_path / 'none.ckpt'}: no such file or folder; expected a checkpoint (.ckpt) or "
                        "a run folder"]


def test_stochastic_weight_averaging_is_refused_not_ignored(tabular_config: dict) -> None:
    callback = {"name": "stochastic_weight_averaging", "params": {"swa_lrs": 0.01}}
    problems = new_run_problems(resolve_config({**tabular_config, "callbacks": [{"name": "lr_monitor"}, callback]}))
    assert len(problems) == 1 and problems[0].startswith("callbacks.1: stochastic_weight_averaging: a run predicts with")
