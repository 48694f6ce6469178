"""Config errors that name the key's full path, what was expected, and a close match."""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pydantic import BaseModel, Tag, ValidationError


class ConfigError(ValueError):
    """An invalid experiment config; ``problems`` holds one line per offending key."""

    def __init__(self, source: str, problems: Sequence[str]) -> None:
        self.source = source
        self.problems = list(problems)
        super().__init__(f"invalid config {source}:\n" + "\n".join(f"  - {p}" for p in self.problems))


def suggestion(key: str, candidates: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest candidate, or an empty string."""
    close = difflib.get_close_matches(str(key), list(candidates), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def format_validation_error(error: ValidationError, schema: type[BaseModel], prefix: Sequence[str | int] = ()) -> list[str]:
    """One line per pydantic error: full dotted key path, message, input, and a close-match suggestion."""
    lines = []
    for item in error.errors():
        loc = tuple(prefix) + _keys(schema, tuple(item["loc"]))
        path = ".".join(str(part) for part in loc) or "<top level>"
        if item["type"] == "extra_forbidden":
            known = _field_names_at(schema, tuple(item["loc"])[:-1])
            hint = suggestion(str(item["loc"][-1]), known)
            allowed = f"; allowed keys here: {', '.join(sorted(known))}" if known else ""
            lines.append(f"{path}: unknown key{hint}{allowed}")
        elif item["type"] == "missing":
            lines.append(f"{path}: required key is missing")
        else:
            lines.append(f"{path}: {item['msg']} (got {_short(item.get('input'))})")
    return lines


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _keys(schema: Any, loc: tuple[str | int, ...]) -> tuple[str | int, ...]:
    """``loc`` as config keys: pydantic puts the tag of a tagged-union member (the collider source's ``kind``,
    e.g. ``simulate``) in the location, where a user wrote no key."""
    keys, current = [], schema
    for key in loc:
        if not (isinstance(key, str) and key in dict(tagged_members(current))):
            keys.append(key)
        current = _descend(current, key)
    return tuple(keys)


def tagged_members(annotation: Any) -> list[tuple[str | None, Any]]:
    """The members of a (tagged) union, each with its tag (None when untagged); the annotation itself, untagged,
    when it is no union."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return [member for argument in typing.get_args(annotation) for member in tagged_members(argument)]
    if origin is typing.Annotated:
        inner, *metadata = typing.get_args(annotation)
        tag = next((item.tag for item in metadata if isinstance(item, Tag)), None)
        return [(tag or inner_tag, member) for inner_tag, member in tagged_members(inner)]
    return [(None, annotation)]


def _field_names_at(schema: Any, loc: tuple[str | int, ...]) -> list[str]:
    """Field names of the pydantic model found by following ``loc`` from ``schema``."""
    current: Any = schema
    for key in loc:
        current = _descend(current, key)
        if current is None:
            return []
    model = as_model(current)
    return list(model.model_fields) if model else []


def as_model(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model an annotation holds (the first of a union's)."""
    for _, member in tagged_members(annotation):
        if isinstance(member, type) and issubclass(member, BaseModel):
            return member
    return None


def _descend(annotation: Any, key: str | int) -> Any:
    tagged = {tag: member for tag, member in tagged_members(annotation) if tag is not None}
    if key in tagged:  # the member a tagged union chose
        return tagged[key]
    model = as_model(annotation)
    if model is not None:
        field = model.model_fields.get(str(key))
        return field.annotation if field else None
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if isinstance(origin, type) and issubclass(origin, Mapping) and len(args) == 2:
        return args[1]
    if isinstance(origin, type) and issubclass(origin, Sequence) and args:
        return args[0]
    return None
