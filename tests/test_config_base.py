"""The base of typed settings: which field types take only numbers, so that a boolean given to them is refused."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import pytest
from pydantic import Field, PositiveInt, ValidationError

import torch

from showerlearn.config.base import SettingsModel, misplaced_boolean, refuses_booleans


@pytest.mark.parametrize(("annotation", "expected"), [
    (int, True),
    (float, True),
    (PositiveInt, True),
    (Annotated[float, Field(gt=0)], True),
    (int | float, True),
    (float | None, True),
    (float | torch.Tensor, True),  # torch's learning rate: a Tensor takes no boolean either
    (int | str, True),
    (bool, False),
    (bool | int, False),  # a boolean is one of the things it takes
    (int | Literal[True, "auto"], False),
    (str, False),
    (Any, False),
    (list[int], False),  # its items are checked one by one (misplaced_boolean)
    (Literal["a", "b"], False),
    (type(None), False),
])
def test_which_types_refuse_booleans(annotation: Any, expected: bool) -> None:
    assert refuses_booleans(annotation) is expected


@pytest.mark.parametrize(("annotation", "value", "place"), [
    (int, True, "."),
    (int, 3, None),
    (list[int], [1, True], ".1"),
    (tuple[float, ...], (1.0, False), ".1"),
    (tuple[str, int], ("a", True), ".1"),
    (tuple[bool, int], (True, 2), None),
    (list[int] | None, [True], ".0"),
    (list[bool], [True], None),
    (list[Any], [True], None),
])
def test_where_a_boolean_is_misplaced(annotation: Any, value: Any, place: str | None) -> None:
    assert misplaced_boolean(annotation, value) == place


class _Settings(SettingsModel):
    count: int = 1
    widths: list[int] = [1]
    scale: float | None = None
    flag: bool = False
    anything: Any = None


def test_a_boolean_is_refused_for_a_number_and_kept_elsewhere() -> None:
    kept = _Settings.model_validate({"count": 3, "scale": 2, "flag": True, "anything": True})
    assert (kept.count, kept.scale, kept.flag, kept.anything) == (3, 2.0, True, True)
    for key in ("count", "scale"):
        with pytest.raises(ValidationError, match=f"{key}\n.*expected a number, not a boolean"):
            _Settings.model_validate({key: True})
    with pytest.raises(ValidationError, match="widths\n.*item 1: expected a number, not a boolean"):
        _Settings.model_validate({"widths": [4, True]})


def test_unknown_keys_are_refused() -> None:
    with pytest.raises(ValidationError, match="cuont"):
        _Settings.model_validate({"cuont": 3})
