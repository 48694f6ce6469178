"""The base of every typed settings model: config sections, component parameters, simulation settings.

One place for what all of them refuse: unknown keys (a misspelt key is an error, not silently ignored)
and a boolean where a number is expected. Pydantic reads ``true`` as 1 for an int or float, so
``epochs: yes`` or ``--set seed=true`` would run silently with 1; a settings file means a number there.
"""

from __future__ import annotations

import types
import typing
from typing import Annotated, Any, Union

from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator


class SettingsModel(BaseModel):
    """Settings read from a config file or the command line: no unknown keys, no boolean for a number.

    Subclasses add their own options (``frozen``, ``allow_inf_nan``...) to ``model_config``; pydantic merges them.
    """

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="before")
    @classmethod
    def _no_boolean_for_a_number(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, bool) and info.field_name is not None:
            annotation = cls.model_fields[info.field_name].annotation
            if numbers_only(annotation):
                raise ValueError("expected a number, not a boolean")
        return value


def numbers_only(annotation: Any) -> bool:
    """Whether a field of this type takes numbers and nothing else (``None`` aside): int, float, their
    constrained forms and unions of them. A boolean given to such a field is a mistake, not a 0 or 1."""
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        return numbers_only(typing.get_args(annotation)[0])
    if origin is Union or origin is types.UnionType:
        members = [member for member in typing.get_args(annotation) if member is not type(None)]
        return bool(members) and all(numbers_only(member) for member in members)
    return isinstance(annotation, type) and issubclass(annotation, int | float) and not issubclass(annotation, bool)
