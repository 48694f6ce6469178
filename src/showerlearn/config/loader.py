"""Loading an experiment: YAML file -> ``--set`` overrides -> schema -> component parameters (and each
head's loss, loss parameters and metric names).

Every problem found is reported at once, before any work starts, as a :class:`ConfigError`.
"""

from __future__ import annotations

import inspect
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import PydanticUndefined

from showerlearn import registry
from showerlearn.registry import UnknownComponentError
from showerlearn.config.components import (
    ComponentProblem, declared_heads, own_problems, params_model, resolved_params, validate_params
)
from showerlearn.config.base import DISCRIMINATOR
from showerlearn.config.errors import ConfigError, format_validation_error, suggestion, tagged_members
from showerlearn.config.schema import Component, ExperimentConfig, HeadConfig, TaskConfig


def _load_yaml(text: str) -> Any:
    """YAML's safe load, refusing a key given twice in one mapping: PyYAML keeps the last silently, so a second
    ``seed:`` further down would win unseen. Checked on the document as written (composed, before ``<<`` merges
    copy keys into mappings, which may then override them, as YAML intends)."""
    stack, visited = [yaml.compose(text, Loader=yaml.SafeLoader)], set()
    while stack:
        node = stack.pop()
        if node is None or id(node) in visited:  # an alias: the node it names, checked once
            continue
        visited.add(id(node))
        if isinstance(node, yaml.MappingNode):
            keys: set[tuple[str, str]] = set()
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode) and key.tag != "tag:yaml.org,2002:merge":
                    if (key.tag, key.value) in keys:
                        raise yaml.constructor.ConstructorError(
                            "while reading a mapping", node.start_mark, f"found the key {key.value!r} twice", key.start_mark)
                    keys.add((key.tag, key.value))
                stack += [key, value]
        elif isinstance(node, yaml.SequenceNode):
            stack += node.value
    return yaml.safe_load(text)


def _not_a_config_file(path: Path) -> str:
    """Why ``path``, which is no file, cannot be read as a config; a run's folder points to the config it holds."""
    if not path.is_dir():
        return f"no such config file: {path}"
    inside = path / "config.yaml"
    return f"a folder, not a config file: {path}" + (f" (the config of the run there: {inside})" if inside.is_file() else "")


def read_yaml(path: str | Path, _chain: tuple[Path, ...] = ()) -> dict[str, Any]:
    """Read a config file; ``extends: OTHER.yaml`` (relative to this file) starts from OTHER's keys,
    merged key by key (see :func:`_merge`: another component ``name`` or ``kind`` replaces the old one
    whole), so a variant states only what it changes."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(str(path), [_not_a_config_file(path)])
    try:
        data = _load_yaml(path.read_text())
    except yaml.YAMLError as error:
        raise ConfigError(str(path), [f"not valid YAML: {error}"]) from None
    except UnicodeDecodeError:  # an image, an HDF5 file... given where a config goes
        raise ConfigError(str(path), ["not a YAML text file (it holds bytes that are not UTF-8 text)"]) from None
    if data is None:
        raise ConfigError(str(path), ["the file is empty (or only comments): a config is a mapping of keys"])
    if not isinstance(data, dict):
        raise ConfigError(str(path), [f"expected a mapping of keys at the top level, got {_yaml_kind(data)}"])
    if "extends" not in data:
        return data
    extends = data.pop("extends")
    if not isinstance(extends, str) or not extends.strip():
        raise ConfigError(str(path), [f"extends: expected the name of one config file, got {extends!r}"])
    base_path = path.parent / Path(extends).expanduser()
    if (base := base_path.resolve()) in (chain := (*_chain, path.resolve())):
        names = " -> ".join(str(step) for step in (*chain[chain.index(base):], base))
        raise ConfigError(str(path), [f"extends: {extends}: the configs extend each other in a cycle: {names}"])
    if not base_path.is_file():  # named from the file that refers to it, relative to which it is looked for
        found = "a folder, not a config file" if base_path.is_dir() else "no such config file"
        raise ConfigError(str(path), [f"extends: {extends}: {found} ({base_path.resolve()})"])
    return _merge(read_yaml(base_path, (*_chain, path.resolve())), data)


def _yaml_kind(data: Any) -> str:
    """What a YAML document holds, in YAML's words: a list, a string, a number..."""
    kinds = {list: "a list", str: "a string", bool: "a boolean", int: "a number", float: "a number"}
    return next((name for kind, name in kinds.items() if isinstance(data, kind)), type(data).__name__)



def _merge(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """``changes`` over ``base``, key by key: a mapping over a mapping is merged the same way, anything else
    replaces the base's value. A mapping that names another component (another ``name``: a component keeps
    nothing of the old one's params) or another member of a tagged union (another ``kind`` than the base
    states: a collider ``source: {kind: columnar, ...}`` over ``{kind: simulate, events: ...}`` keeps none of
    the simulation's keys) replaces the base's mapping whole. Of the same kind, or giving none, its keys are
    merged into the base's."""
    merged = dict(base)
    for key, value in changes.items():
        base_value = merged.get(key)
        if isinstance(value, dict) and isinstance(base_value, dict) and not _replaces(key, base_value, value):
            value = _merge(base_value, value)
        merged[key] = value
    return merged


def _replaces(key: str, base: dict[str, Any], changes: dict[str, Any]) -> bool:
    """Whether the mapping ``changes`` at ``key`` replaces ``base`` whole: another component, or another member of a
    tagged union (not in a component's ``params`` themselves, where a ``kind`` is a constructor argument)."""
    kind = changes.get(DISCRIMINATOR, base.get(DISCRIMINATOR))
    return _renamed(base, changes) or (key != "params" and _kind_changed(base, kind))


def _renamed(base: dict[str, Any], changes: dict[str, Any]) -> bool:
    """Whether ``changes`` names another component than ``base`` (a component replaced by another keeps
    nothing of the old one's params)."""
    return changes.get("name", base.get("name")) != base.get("name")


def _kind_changed(base: dict[str, Any], kind: Any) -> bool:
    """Whether ``kind`` is another member of a tagged union than the one ``base`` states. A base that states
    no kind (the union's default, which only its schema knows) is merged into: its keys that the new kind
    lacks are then reported as unknown keys, rather than silently dropped."""
    return DISCRIMINATOR in base and base[DISCRIMINATOR] != kind


def apply_overrides(data: dict[str, Any], overrides: Iterable[str], source: str = "--set") -> dict[str, Any]:
    """Apply ``a.b.c=value`` overrides (value parsed as YAML) to a nested dict, in place.

    A section that is null (``early_stopping: null`` in a dumped config) is set as an empty one. A
    component given another ``name`` keeps nothing of the old one's ``params``, and a tagged-union member
    given another ``kind`` (``data.params.source.kind=generated`` over a simulated source) keeps none of the
    old member's keys, as with ``extends``; params and keys set by these same overrides are kept, whatever
    their order. A section the config leaves out starts as the schema's default (``optimizer.params.lr`` sets
    the learning rate of the default optimizer, adam), before a ``name`` override may replace it; below a component's
    ``params``, as that component's parameter's default (the collider source's default processes)."""
    parsed = [(key.split("."), key, _override_value(key, text, source))
              for key, text in (_split_override(override, source) for override in overrides)]  # fmt: skip
    for parts, _, _ in parsed:
        _fill_defaults(data, parts[:-1])
    for parts, key, value in parsed:
        if (parts[-1] == "name" or (parts[-1] == DISCRIMINATOR and parts[-2:-1] != ["params"])) and len(parts) > 1:
            last = [v for p, _, v in parsed if p == parts][-1]
            _drop_keys_of_replaced(data, parts[:-1], parts[-1], last)
    for parts, key, value in parsed:
        _set(_node(data, parts[:-1], key, source), parts[-1], key, value, source)
    return data


def _split_override(override: str, source: str) -> tuple[str, str]:
    key, sep, text = override.partition("=")
    if not sep or not key:
        raise ConfigError(source, [f"override {override!r} is not of the form key.path=value"])
    return key, text


def _override_value(key: str, text: str, source: str) -> Any:
    if re.fullmatch(r"[-+]?0[0-9]+", text.strip()):  # YAML 1.1 reads 010 as octal 8: on a command line it is ten
        return int(text.strip(), 10)
    if re.fullmatch(r"[0-9]+(:[0-9]+)+", text.strip()):  # and 1:00:00:00 as base-60 216000: here it is a time
        return text.strip()
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:  # e.g. a !!python tag: safe_load refuses it, say so without a traceback
        problem = str(getattr(error, "problem", None) or error).splitlines()[0]
        raise ConfigError(source, [f"{key}: the value {text!r} is not plain YAML ({problem})"]) from None


def _node(data: dict[str, Any], parts: list[str], key: str, source: str) -> dict[str, Any] | list[Any]:
    """The mapping (or list: ``callbacks.0.params.x`` indexes one) at ``parts``, a mapping made where missing or
    null."""
    node: dict[str, Any] | list[Any] = data
    for depth, part in enumerate(parts):
        where = ".".join(parts[: depth + 1])
        if isinstance(node, list):
            node = node[_index(node, part, where, key, source)]
        else:
            if node.get(part) is None:  # made: a list where the next part indexes one (there is no entry yet)
                node[part] = [] if key.split(".")[depth + 1].isdigit() else {}
            node = node[part]
        if not isinstance(node, (dict, list)):
            raise ConfigError(source, [f"{where} is a value, cannot set {key}"])
    return node


def _index(items: list[Any], part: str, where: str, key: str, source: str) -> int:
    """``part`` as the index of an entry of the list ``items`` (at ``where``, without its last part)."""
    if not part.isdigit() or int(part) >= len(items):
        listed = where.rpartition(".")[0]
        raise ConfigError(source, [f"{listed} is a list of {len(items)} entr{'y' if len(items) == 1 else 'ies'}: {key} needs an index 0 to "
                                   f"{len(items) - 1} after {listed}, got {part!r}" if items else
                                   f"{listed} is an empty list: {key} has no entry to set"])
    return int(part)


def _set(node: dict[str, Any] | list[Any], last: str, key: str, value: Any, source: str) -> None:
    if isinstance(node, list):
        node[_index(node, last, key, key, source)] = value
    else:
        node[last] = value


def _fill_defaults(data: dict[str, Any], parts: list[str]) -> None:
    """Put the schema's default at each key along ``parts`` that ``data`` leaves out (or null) where the override
    below it would otherwise lose what that default holds: a mapping's entries (the collider's default processes)
    or a component's name (the default optimizer). A section of settings that all have defaults starts empty (the
    schema fills in the rest, as for a section the config leaves out), so that the walk goes on into it. Nothing is
    added to a mapping the config gives (its own processes replace the default ones whole)."""
    node: Any = data
    for depth, part in enumerate(parts):
        if not isinstance(node, dict):
            return
        if node.get(part) is None:
            if depth and _schema_default(parts[:depth], data)[1] is None:
                return  # an entry of a mapping (the processes): the config's, or the default's, replaced whole
            default, model = _schema_default(parts[: depth + 1], data)
            if model is not None and not _has_required_fields(model):
                default = {}
            if not isinstance(default, dict):
                return
            node[part] = default
        node = node[part]


def _schema_default(parts: Sequence[str], data: Mapping[str, Any] | None) -> tuple[Any, type[BaseModel] | None]:
    """The default the schema gives the key at ``parts`` (``["optimizer"]``: adam and its learning rate) as plain
    data, or None where it has none (a required key, an unknown key); with the settings model of the value there
    (None: not a model). Below a component's ``params``, that of the component's own parameter: of the component the
    config ``data`` names there (else the schema's default one), and in a tagged union, of the member of the ``kind``
    that ``data`` (else the default) gives."""
    model: type[BaseModel] | None = ExperimentConfig
    default: Any = None
    for depth, part in enumerate(parts):
        field = model.model_fields.get(part) if model is not None else None
        if isinstance(default, dict) and part in default:  # within a default: its own keys
            value = default[part]
        elif field is not None:
            value = _plain(field.get_default(call_default_factory=True))
        else:
            value = None
        if part == "params" and (factory := _component_at(parts[:depth], data, default)) is not None:
            model = params_model(factory)
        else:
            model = _model_of(field.annotation, _config_value(data, parts[: depth + 1]), value) if field else None
        default = value
    return (None if default is PydanticUndefined else default), model


#: the registry of the components at each section of an experiment
_COMPONENT_SECTIONS = {
    ("data",): registry.DATAMODULES, ("model",): registry.MODELS, ("estimator",): registry.ESTIMATORS,
    ("optimizer",): registry.OPTIMIZERS, ("scheduler",): registry.SCHEDULERS, ("evaluation",): registry.EVALUATORS,
    ("task", "balancing"): registry.BALANCERS,
}


def _component_at(prefix: Sequence[str], data: Mapping[str, Any] | None, default: Any) -> Callable[..., Any] | None:
    """The factory of the component at ``prefix`` (a section of :data:`_COMPONENT_SECTIONS`): the one ``data`` names
    there, else the schema's ``default`` one; None for another section or a name unknown (the check names it)."""
    section = _COMPONENT_SECTIONS.get(tuple(prefix))
    given = _config_value(data, prefix)
    name = (given if isinstance(given, dict) else {}).get("name") or (default if isinstance(default, dict) else {}).get("name")
    if section is None or not isinstance(name, str):
        return None
    try:
        return section.get(name)
    except Exception:  # an unknown name or import path: the config check reports it with its suggestion
        return None


def _model_of(annotation: Any, given: Any, default: Any) -> type[BaseModel] | None:
    """The settings model a value of type ``annotation`` is (None: not one, a mapping of them is not); of a tagged
    union, the member of the ``kind`` the config's value ``given`` has, else the ``default``'s, else the first."""
    members = [(tag, member) for tag, member in tagged_members(annotation) if _is_model(member)]
    kind = next((value[DISCRIMINATOR] for value in (given, default) if isinstance(value, dict) and DISCRIMINATOR in value), None)
    return next((member for tag, member in members if tag is not None and tag == kind), members[0][1] if members else None)


def _has_required_fields(model: type[BaseModel]) -> bool:
    return any(field.is_required() for field in model.model_fields.values())


def _config_value(data: Any, parts: Sequence[str]) -> Any:
    """What the config ``data`` holds at ``parts`` (None where it holds nothing)."""
    for part in parts:
        if isinstance(data, list) and part.isdigit() and int(part) < len(data):
            data = data[int(part)]
        else:
            data = data.get(part) if isinstance(data, dict) else None
    return data


def _plain(value: Any) -> Any:
    """A default as plain data: settings models (also in a mapping or a list) as their dumps."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


def _is_model(kind: Any) -> bool:
    return isinstance(kind, type) and issubclass(kind, BaseModel)


def _drop_keys_of_replaced(data: dict[str, Any], parts: list[str], key: str, value: Any) -> None:
    """Before any override sets new keys: drop the params of the component at ``parts`` if ``value`` is
    another ``name`` (``key``), or all the keys of the tagged-union member at ``parts`` if it is another
    ``kind`` (a new component's params, a new member's keys, are not the old one's)."""
    node = _config_value(data, parts)
    if not isinstance(node, dict):
        return
    if key == "name" and "name" in node and node["name"] != value:
        node.pop("params", None)
    elif key == DISCRIMINATOR and _kind_changed(node, value):
        node.clear()


def load_config(path: str | Path, overrides: Sequence[str] = ()) -> ExperimentConfig:
    """Read, override, validate and fully resolve (defaults filled in) an experiment config."""
    return resolve_config(apply_overrides(read_yaml(path), overrides), source=config_source(path, overrides))


def config_source(path: str | Path, overrides: Sequence[str] = ()) -> str:
    """What a ConfigError names as the source of a config: the file, and its overrides (a problem may be in
    either), e.g. ``run/config.yaml with --set a=1 --set b=2``."""
    return _WITH_OVERRIDES.join([str(path), " --set ".join(overrides)]) if overrides else str(path)


#: between a config file's path and its overrides in the source of a ConfigError
_WITH_OVERRIDES = " with --set "


def config_file_of(source: str) -> str:
    """The config file a ConfigError's ``source`` names, without the overrides :func:`load_config` added to it."""
    return source.split(_WITH_OVERRIDES)[0]


def resolve_config(data: dict[str, Any], source: str = "<config>") -> ExperimentConfig:
    """Validate ``data`` and its components' parameters; one ConfigError listing every problem found.

    Problems of the top-level keys do not hide those of the components: the keys at fault are set aside
    and the rest is checked too, so that a config with several misspelt keys is fixed in one go.
    """
    problems: list[str] = []
    try:
        config = ExperimentConfig.model_validate(data)
    except ValidationError as error:
        problems = format_validation_error(error, ExperimentConfig)
        faulty = {entry["loc"][0] for entry in error.errors() if entry["loc"]}
        try:
            config = ExperimentConfig.model_validate({k: v for k, v in data.items() if k not in faulty})
        except ValidationError:  # a required key at fault: its problems are all that can be said
            raise ConfigError(source, problems) from None
    problems.extend(_component_problems(config))
    if problems:
        raise ConfigError(source, problems)
    return config


def _component_problems(config: ExperimentConfig) -> list[str]:
    """The problems of every component's parameters and of the heads; resolves the parameters of the valid ones."""
    problems: list[str] = []
    model_inputs: frozenset[str] = frozenset()
    network: Callable[..., Any] | None = None

    def check(
        component: Component | None, reg: registry.Registry, injected: Iterable[str], path: str
    ) -> Callable[..., Any] | None:
        """The component's factory once its params are valid (resolved in place), else None."""
        if component is None:
            return None
        try:
            factory, validated = validate_params(component, reg, set(injected), path)
        except ComponentProblem as problem:
            problems.extend(problem.problems)
            return None
        component.params = resolved_params(validated)
        problems.extend(own_problems(factory, component.params, f"{path}.params"))
        return factory

    check(config.data, registry.DATAMODULES, {"seed"}, "data")
    if config.data.name in registry.DATAMODULES:  # else the model's injected inputs are unknown: skip it
        model_inputs = getattr(registry.DATAMODULES.get(config.data.name), "model_input_names", frozenset())
        network = check(config.model, registry.MODELS, model_inputs, "model")
        check(config.estimator, registry.ESTIMATORS, model_inputs | {"seed"}, "estimator")
    if config.model is not None:
        check(config.optimizer, registry.OPTIMIZERS, {"params"}, "optimizer")
        check(config.scheduler, registry.SCHEDULERS, {"optimizer"}, "scheduler")
        for index, callback in enumerate(config.callbacks):
            check(callback, registry.CALLBACKS, (), f"callbacks.{index}")
    if config.task is not None:
        check(config.task.balancing, registry.BALANCERS, {"heads"}, "task.balancing")
        problems.extend(_balancing_problems(config.task.balancing, list(config.task.heads)))
        for head, spec in config.task.heads.items():
            problems.extend(_head_problems(head, spec))
        if network is not None:
            problems.extend(_unproduced_heads(config.model, network, list(config.task.heads)))
        problems.extend(_unlogged_monitors(config, config.task))
    check(config.evaluation, registry.EVALUATORS, EVALUATOR_INJECTED, "evaluation")
    return problems


def _balancing_problems(balancing: Component, heads: list[str]) -> list[str]:
    """Fixed weights of heads the task does not have (a misspelt head would silently keep weight 1), negative
    weights, and weights that are all 0 (the loss would be 0: nothing trains)."""
    weights = balancing.params.get("weights") if balancing.name == "fixed" else None
    if not isinstance(weights, Mapping):
        return []
    key = "task.balancing.params.weights"
    problems = [
        f"{key}.{name}: unknown head{suggestion(str(name), heads)}; the heads of task.heads are {', '.join(heads)}"
        for name in weights
        if name not in heads
    ]
    # (the params' own types refuse what is not a finite number)
    problems += [f"{key}.{name}: expected a weight >= 0, got {value!r}" for name, value in weights.items()
                 if isinstance(value, (int, float)) and value < 0]
    if not problems and all(weights.get(head, 1) == 0 for head in heads):
        problems.append(f"{key}: every head weighs 0, so the loss is 0 and nothing trains: give one a weight > 0")
    return problems


def _unproduced_heads(model: Component, network: Callable[..., Any], heads: list[str]) -> list[str]:
    """Task heads the network does not return (by its declared ``output_heads``): the task would otherwise
    find them missing at the first training step, after the data is read or simulated."""
    produced = declared_heads(network, model.params)
    if produced is None:
        return []
    known = sorted(produced)
    return [
        f"task.heads.{head}: unknown head{suggestion(head, known)}; model {model.name} returns the heads {', '.join(known)}"
        for head in heads
        if head not in produced
    ]


def _unlogged_monitors(config: ExperimentConfig, task: TaskConfig) -> list[str]:
    """Early-stopping monitors the training never logs (``val_loss`` for ``val/loss``): Lightning would stop
    the run at the end of its first epoch, after the data is read and an epoch trained. Only early stopping
    is checked, and not with ``strict: false``: other callbacks may watch what they log themselves."""
    monitors = {
        f"callbacks.{i}.params.monitor": c.params.get("monitor") for i, c in enumerate(config.callbacks)
        if c.name == "early_stopping" and c.params.get("strict", True)
    }
    if config.trainer.early_stopping is not None:
        monitors["trainer.early_stopping.monitor"] = config.trainer.early_stopping.monitor
    logged = task.logged_quantities()
    return [
        f"{path}: {name!r} is never logged{suggestion(str(name), logged)}; the training logs {', '.join(logged)} "
        "(and lr-<optimizer>, the learning rate)"
        for path, name in monitors.items()
        if isinstance(name, str) and name not in logged and not name.startswith("lr-")
    ]


def _head_problems(head: str, spec: HeadConfig) -> list[str]:
    """Problems of a head's loss, its ``loss_params`` (checked against the loss's signature; resolved in
    place) and its metric names."""
    path = f"task.heads.{head}"
    problems = []
    try:
        loss = registry.LOSSES.get(spec.loss)
    except UnknownComponentError as error:
        problems.append(f"{path}.loss: {error}")
    else:
        model = params_model(loss, loss_injected(loss))
        try:
            spec.loss_params = resolved_params(model.model_validate(spec.loss_params))
        except ValidationError as error:
            problems += format_validation_error(error, model, prefix=(*path.split("."), "loss_params"))
    for metric in spec.metrics:
        try:
            registry.HEAD_METRICS.get(metric)
        except UnknownComponentError as error:
            problems.append(f"{path}.metrics: {error}")
    return problems


def dump_config(config: ExperimentConfig) -> str:
    """The resolved config as YAML (what ``config show`` prints and every run directory keeps)."""
    return yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False)



def flatten_config(config: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """Nested config -> ``{"model.params.depth": "3", ...}``; lists and scalars shown as JSON."""
    flat: dict[str, str] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            flat.update(flatten_config(value, f"{name}."))
        else:
            flat[name] = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    return flat

#: arguments the engine gives evaluators itself (``tables``: the per-element prediction tables; ``scored_sample``:
#: what the events are, the test split or a new file predicted)
EVALUATOR_INJECTED = frozenset({"predictions", "tables", "output_dir", "log_dir", "run_name", "caption", "test_share",
                                "scored_sample"})


def loss_injected(loss: Callable[..., Any]) -> frozenset[str]:
    """The arguments the task module gives a loss itself: its first two (output and target, passed by
    position whatever their names) and ``mask``; the others are the head's ``loss_params``."""
    return frozenset({*list(inspect.signature(loss).parameters)[:2], "mask"})
