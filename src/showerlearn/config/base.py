"""The base of every typed settings model: config sections, component parameters, simulation settings.

One place for what all of them refuse: unknown keys (a misspelt key is an error, not silently ignored)
and a boolean where a number is expected. Pydantic reads ``true`` as 1 for an int or float, so
``epochs: yes`` or ``--set seed=true`` would run silently with 1; a settings file means a number there.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Sequence
from typing import Annotated, Any, ForwardRef, Literal, TypeVar, Union

from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator

#: the key naming the member of a tagged union (the collider ``source``'s reader): another one starts afresh when
#: configs merge, and an unknown one is named as such
DISCRIMINATOR = "kind"


class SettingsModel(BaseModel):
    """Settings read from a config file or the command line: no unknown keys, no boolean for a number, no NaN or
    infinity for a number (a NaN passes every range check: a cut at nan removes every event, a learning rate of nan
    trains nothing, silently; a bound left open is ``None``).

    Subclasses add their own options (``frozen``...) to ``model_config``; pydantic merges them.
    """

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    @field_validator("*", mode="before")
    @classmethod
    def _no_boolean_for_a_number(cls, value: Any, info: ValidationInfo) -> Any:
        if info.field_name is not None and (place := misplaced_boolean(cls.model_fields[info.field_name].annotation, value)):
            raise ValueError(f"{'' if place == '.' else f'item {place[1:]}: '}expected a number, not a boolean")
        return value


def misplaced_boolean(annotation: Any, value: Any) -> str | None:
    """Where ``value`` holds a boolean that a field of type ``annotation`` would take as a number: ``"."`` for the
    value itself, ``".2"`` for its item 2 (in a list or tuple of numbers); None when it holds none."""
    if isinstance(value, bool):
        return "." if refuses_booleans(annotation) else None
    if isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            if (item_type := _item_type(annotation, i)) is not None and misplaced_boolean(item_type, item) == ".":
                return f".{i}"
    return None


def refuses_booleans(annotation: Any) -> bool:
    """Whether a field of this type takes a number, but no boolean: pydantic would read ``true`` as 1 there (an int,
    a float, a constrained one, ``float | Tensor`` as torch's learning rate). A field that also takes booleans (or
    anything: ``Any``) keeps them."""
    members = _members(annotation)
    return any(_is_number(member) for member in members) and not any(_admits_boolean(member) for member in members)


def _members(annotation: Any) -> list[Any]:
    """The types a value of ``annotation`` may have: a union's members, without Annotated's metadata or None."""
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        return _members(typing.get_args(annotation)[0])
    if origin is Union or origin is types.UnionType:
        return [member for arg in typing.get_args(annotation) for member in _members(arg)]
    return [] if annotation is type(None) else [annotation]


def _is_number(member: Any) -> bool:
    return isinstance(member, type) and issubclass(member, int | float) and not issubclass(member, bool)


def _admits_boolean(member: Any) -> bool:
    if member is Any or member is object or isinstance(member, str | ForwardRef | TypeVar):  # unknown: give way
        return True
    if typing.get_origin(member) is Literal:
        return any(isinstance(choice, bool) for choice in typing.get_args(member))
    return isinstance(member, type) and issubclass(member, bool)


def _item_type(annotation: Any, index: int) -> Any:
    """The type of item ``index`` of a list or tuple of ``annotation`` (its first sequence member); None if none."""
    for member in _members(annotation):
        origin, args = typing.get_origin(member), typing.get_args(member)
        if origin is tuple and args and not (len(args) == 2 and args[1] is Ellipsis):
            return args[index] if index < len(args) else None  # a fixed tuple: each place its own type
        if isinstance(origin, type) and issubclass(origin, Sequence) and not issubclass(origin, str) and args:
            return args[0]
    return None
