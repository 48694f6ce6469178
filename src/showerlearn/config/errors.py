"""Config errors that name the key's full path, what was expected, and a close match."""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pydantic import BaseModel, Tag, ValidationError

from showerlearn.config.base import DISCRIMINATOR


class ConfigError(ValueError):
    """An invalid experiment config; ``problems`` holds one line per offending key."""

    def __init__(self, source: str, problems: Sequence[str]) -> None:
        self.source = source
        self.problems = list(problems)
        super().__init__(f"invalid config {source}:\n" + "\n".join(f"  - {p}" for p in self.problems))

    def __reduce__(self) -> tuple[type, tuple[str, list[str]], dict]:
        # rebuilt from both arguments (and any notes): a worker process (a benchmark's runs) sends its errors pickled
        return type(self), (self.source, self.problems), self.__dict__


def suggestion(key: str, candidates: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest candidate, or an empty string."""
    close = difflib.get_close_matches(str(key), list(candidates), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def format_validation_error(error: ValidationError, schema: type[BaseModel], prefix: Sequence[str | int] = ()) -> list[str]:
    """One line per offending key: full dotted key path, message, input, and a close-match suggestion.

    A value that fits no member of a union (``lr: float | Tensor``) gets one error per member from
    pydantic; those become one line, "expected a number or ...", at the key the user wrote."""
    lines: list[str | None] = []  # None: the place of the next key's value errors, written once all are known
    order: list[str] = []
    mismatches: dict[str, list[dict[str, Any]]] = {}  # path -> its value errors, in order of appearance
    for item in error.errors():
        loc = tuple(prefix) + _keys(schema, tuple(item["loc"]))
        path = ".".join(str(part) for part in loc) or "<top level>"
        if item["type"] == "extra_forbidden":
            known = _field_names_at(schema, tuple(item["loc"])[:-1])
            # the key as a field further down (exact) before a misspelling of one here (close)
            hint = _nested_hint(schema, tuple(item["loc"])) or suggestion(str(item["loc"][-1]), known)
            allowed = f"; allowed keys here: {', '.join(sorted(known))}" if known else ""
            lines.append(f"{path}: unknown key{hint}{allowed}")
        elif item["type"] == "missing":
            lines.append(_missing_line(loc, item.get("input"), _walk(schema, tuple(item["loc"])[:-1])[1]))
        elif item["type"] in ("union_tag_invalid", "union_tag_not_found"):  # pydantic's words name its function
            tags = [tag for tag, _ in tagged_members(_walk(schema, tuple(item["loc"]))[1]) if tag is not None]
            tag = item.get("ctx", {}).get("tag")
            problem = f"unknown {DISCRIMINATOR} {tag!r}{suggestion(tag, tags)}" if tag is not None else "none given"
            lines.append(f"{path}.{DISCRIMINATOR}: {problem}; expected one of {', '.join(tags)}")
        else:
            if path not in mismatches:
                lines.append(None)
                order.append(path)
            mismatches.setdefault(path, []).append(item)
    pending = iter(order)
    # each line once: a list two values short is two missing positions, one problem
    return list(dict.fromkeys(line if line is not None else _mismatch_line(path := next(pending), mismatches[path])
                              for line in lines))


def _missing_line(loc: tuple[str | int, ...], given: Any, parent: Any) -> str:
    """``key: required key is missing``; a list too short for a tuple of fixed length (``split.fractions: [0.5,
    0.5]``: train, val and test) is named as such, not by its first missing position. ``parent``: the annotation of
    what holds the key."""
    if loc and isinstance(loc[-1], int) and isinstance(given, (list, tuple)) and typing.get_origin(parent) is tuple:
        path = ".".join(str(part) for part in loc[:-1])
        return f"{path}: expected {len(typing.get_args(parent))} values, got {len(given)} ({_short(given)})"
    return f"{'.'.join(str(part) for part in loc) or '<top level>'}: required key is missing"


def _mismatch_line(path: str, items: list[dict[str, Any]]) -> str:
    """``path: message (got input)``; several messages (one per union member) joined as what was expected."""
    got = f"(got {_short(items[0].get('input'))})"
    messages = [_message(item) for item in items]
    if len(items) == 1:
        return f"{path}: {messages[0]} {got}"
    if not all(message.startswith(_SHOULD_BE) for message in messages):  # not only type mismatches: say each
        return f"{path}: {'; '.join(dict.fromkeys(messages))} {got}"
    # members may name the same thing ("a dictionary or an instance of X", "a dictionary"): each alternative once
    expected = dict.fromkeys(part for message in messages for part in _expectation(message).split(" or "))
    return f"{path}: expected {' or '.join(expected)} {got}"


def _message(item: dict[str, Any]) -> str:
    """pydantic's message without the "Value error, " it puts before what a validator says."""
    message = item["msg"]
    return message.removeprefix(_VALUE_ERROR) if item["type"] == "value_error" else message


_VALUE_ERROR = "Value error, "


def _expectation(message: str) -> str:
    """pydantic's "Input should be a valid integer, got ..." as "an integer" (what one union member wants); a
    list of choices ("'default', 'reduce-overhead' or 'max-autotune'") is kept whole."""
    wanted = message[len(_SHOULD_BE) :]
    if wanted.startswith("a valid "):  # "a valid integer, unable to parse ..." -> "an integer"
        noun = wanted[len("a valid ") :].split(",")[0]
        wanted = f"{'an' if noun[:1] in 'aeiou' else 'a'} {noun}"
    return wanted


_SHOULD_BE = "Input should be "


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _keys(schema: Any, loc: tuple[str | int, ...]) -> tuple[str | int, ...]:
    """``loc`` as config keys: pydantic puts the tag of a tagged-union member (the collider source's ``kind``,
    e.g. ``simulate``) or the label of a plain union's member (``float``, ``is-instance[Tensor]`` of
    ``lr: float | Tensor``) in the location, where a user wrote no key."""
    return _walk(schema, loc)[0]


def _walk(schema: Any, loc: tuple[str | int, ...]) -> tuple[tuple[str | int, ...], Any]:
    """``(config keys of loc, the annotation loc leads to)``; the annotation is None once unknown."""
    keys: list[str | int] = []
    current = schema
    for key in loc:
        choices = _untagged_choices(current)
        if isinstance(key, str) and key in dict(tagged_members(current)):
            current = _descend(current, key)
        elif isinstance(key, str) and choices:  # the member label of a plain union
            current = _member_labelled(choices, key)
        else:
            keys.append(key)
            current = _descend(current, key)
    return tuple(keys), current


def _untagged_choices(annotation: Any) -> list[Any]:
    """The members of a plain (untagged) union of two or more types besides None, else []: pydantic names
    the member in the location of each of its errors (None is no member: pydantic makes it "nullable")."""
    members = tagged_members(annotation)
    choices = [member for tag, member in members if member is not type(None)]
    return choices if len(choices) > 1 and all(tag is None for tag, _ in members) else []


def _member_labelled(choices: list[Any], label: str) -> Any:
    """The union member pydantic labels ``label`` (a model by its class name, ``int``, ``list[int]``), or None."""
    for member in choices:
        name = getattr(member, "__name__", None) if isinstance(member, type) else None
        if label in (name, repr(member).replace(" ", "")):
            return member
    return None


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
    current = _walk(schema, loc)[1]
    if current is None:
        return []
    model = as_model(current)
    return list(model.model_fields) if model else []


def _nested_hint(schema: Any, loc: tuple[str | int, ...]) -> str:
    """`` (did you mean 'selection.generator_margin'?)`` for a key written a level or two above where it belongs:
    every path from the key's level to such a field (the nearest first); else an empty string."""
    key, below = str(loc[-1]), _walk(schema, loc[:-1])[1]
    found = sorted((path for path in _field_paths(below, depth=2) if path.rpartition(".")[2] == key), key=len)
    return f" (did you mean {' or '.join(map(repr, found))}?)" if found else ""


def _field_paths(annotation: Any, depth: int) -> list[str]:
    """The dotted paths of the fields nested ``depth`` levels down in the fields of the model(s) ``annotation``
    holds (every member of a union: each source kind of the collider's ``source``)."""
    if annotation is None or depth == 0:
        return []
    paths: list[str] = []
    for model in _models(annotation):
        for name, field in model.model_fields.items():
            for inner in _models(field.annotation):
                paths += [f"{name}.{path}" for path in (*inner.model_fields, *_field_paths(inner, depth - 1))]
    return list(dict.fromkeys(paths))


def _models(annotation: Any) -> list[type[BaseModel]]:
    """The pydantic models among an annotation's union members (itself, if it is one)."""
    return [member for _, member in tagged_members(annotation) if isinstance(member, type) and issubclass(member, BaseModel)]


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
