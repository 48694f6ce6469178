"""Checking and building components: a component's ``params`` are validated against its constructor.

Every registered component (and every user class given by import path) gets a pydantic model made
from its signature, so a misspelt parameter is reported like a misspelt config key, with the same
path and suggestion, before any work starts. Arguments the framework supplies itself (the model's
``lattice``, the optimizer's ``params``...) are *injected* and excluded from what users may set.

What a signature cannot say, a component says itself, and the config check asks it (the core knows no
component's parameters):

* ``config_problems(params, path)``, a classmethod: the problems of its resolved ``params`` that its
  constructor or ``fit`` would only find later (two exclusive parameters both given, a misspelt key in a
  dict of scikit-learn arguments), one line each, named from ``path`` (``data.params``);
* ``output_heads``, on a network: the names of the outputs its ``forward`` returns, or a classmethod of its
  resolved ``params`` giving them, so that a task head it does not return is a config error, not a
  failure at the first training step; and ``trained_with``, a mapping of the outputs that are functions of
  another (``slots`` of ``pairs``: the same shares), trained whenever that one is, which the task need not
  name to have them predicted.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable, Collection, Mapping
from functools import lru_cache
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from showerlearn.config.base import SettingsModel
from showerlearn.config.docstrings import parameter_docs
from showerlearn.config.errors import format_validation_error
from showerlearn.config.schema import Component
from showerlearn.registry import Registry, UnknownComponentError


def params_model(factory: Callable[..., Any], injected: Collection[str] = ()) -> type[BaseModel]:
    """A pydantic model of the user-settable constructor arguments of ``factory``."""
    return _params_model(factory, frozenset(injected))


@lru_cache(maxsize=None)
def _params_model(factory: Callable[..., Any], injected: frozenset[str]) -> type[BaseModel]:
    target = factory.__init__ if inspect.isclass(factory) else factory
    try:
        hints = typing.get_type_hints(target, include_extras=True)  # Annotated keeps constraints and union tags
    except Exception:  # unresolvable forward references: fall back to untyped parameters
        hints = {}
    fields: dict[str, Any] = {}
    extra = "forbid"
    docs = parameter_docs(factory)
    for parameter in inspect.signature(factory).parameters.values():
        if parameter.kind is inspect.Parameter.VAR_KEYWORD:
            extra = "allow"
        elif parameter.kind is not inspect.Parameter.VAR_POSITIONAL and parameter.name not in injected:
            default = ... if parameter.default is inspect.Parameter.empty else parameter.default
            fields[parameter.name] = (hints.get(parameter.name, Any), Field(default, description=docs.get(parameter.name)))
    base = _OpenParams if extra == "allow" else _ClosedParams
    return create_model(f"{getattr(factory, '__name__', 'Component')}Params", __base__=base, **fields)


class _ClosedParams(SettingsModel):
    model_config = ConfigDict(arbitrary_types_allowed=True, protected_namespaces=())


class _OpenParams(_ClosedParams):
    """The params of a component taking ``**kwargs``: keys its signature does not name go through."""

    model_config = ConfigDict(extra="allow")


def validate_params(
    component: Component, registry: Registry, injected: Collection[str], path: str
) -> tuple[Callable[..., Any], BaseModel]:
    """Resolve ``component.name`` in ``registry`` and validate its params; errors carry ``path``."""
    try:
        factory = registry.get(component.name)
    except UnknownComponentError as error:
        raise ComponentProblem([f"{path}.name: {error}"]) from None
    model = params_model(factory, injected)
    try:
        validated = model.model_validate(component.params)
    except ValidationError as error:
        raise ComponentProblem(format_validation_error(error, model, prefix=(*path.split("."), "params"))) from None
    return factory, validated


def build(
    component: Component, registry: Registry, path: str, injected: dict[str, Any] | None = None, **extra: Any
) -> Any:
    """Construct the component: validated user params + the injected arguments it accepts.

    ``extra`` are positional-like framework arguments (``params=`` for optimizers) always passed.
    """
    injected = injected or {}
    factory, validated = validate_params(component, registry, set(injected) | set(extra), path)
    accepted = inspect.signature(factory).parameters
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in accepted.values())
    supplied = {k: v for k, v in injected.items() if takes_any or k in accepted}
    user = {name: getattr(validated, name) for name in type(validated).model_fields}
    user.update(validated.model_extra or {})
    return factory(**extra, **supplied, **user)


def own_problems(factory: Callable[..., Any], params: Mapping[str, Any], path: str) -> list[str]:
    """The problems ``factory`` finds in its resolved ``params`` (its ``config_problems``; none if it has no such
    hook), each line named from ``path``, the component's ``params`` key."""
    check = getattr(factory, "config_problems", None)
    return list(check(params, path)) if callable(check) else []


def declared_heads(factory: Callable[..., Any], params: Mapping[str, Any]) -> frozenset[str] | None:
    """The heads a network class returns with its resolved ``params`` (its ``output_heads``: names, or a
    classmethod of the params); None when it declares none, as a user's network may: its first step checks."""
    heads = getattr(factory, "output_heads", None)
    if callable(heads):
        heads = heads(params)
    return None if heads is None else frozenset(heads)


def resolved_params(validated: BaseModel) -> dict[str, Any]:
    """Fully resolved params (defaults filled in) as plain YAML/JSON values."""
    return validated.model_dump(mode="json", fallback=_plain)


def _plain(value: Any) -> Any:
    # numpy defaults (e.g. energy bin edges) become lists; anything else its text
    return value.tolist() if hasattr(value, "tolist") else str(value)


class ComponentProblem(Exception):
    """Problems found while validating components; collected into one ConfigError by the loader."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems

    def __reduce__(self) -> tuple[type, tuple[list[str]], dict]:
        return type(self), (self.problems,), self.__dict__
