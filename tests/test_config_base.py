"""The base of typed settings: which field types take only numbers, so that a boolean given to them is refused."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import pytest
from pydantic import Field, PositiveInt, ValidationError

from showerlearn.config.base import SettingsModel, numbers_only


@pytest.mark.parametrize(("annotation", "expected"), [
    (int, True),
    (float, True),
    (PositiveInt, True),
    (Annotated[float, Field(gt=0)], True),
    (int | float, True),
    (float | None, True),
    (bool, False),
    (bool | int, False),  # a boolean is one of the things it takes
    (str, False),
    (Any, False),
    (list[int], False),
    (Literal["a", "b"], False),
    (type(None), False),
])
def test_numbers_only(annotation: Any, expected: bool) -> None:
    assert numbers_only(annotation) is expected


class _Settings(SettingsModel):
    count: int = 1
    scale: float | None = None
    flag: bool = False
    anything: Any = None


def test_a_boolean_is_refused_for_a_number_and_kept_elsewhere() -> None:
    kept = _Settings.model_validate({"count": 3, "scale": 2, "flag": True, "anything": True})
    assert (kept.count, kept.scale, kept.flag, kept.anything) == (3, 2.0, True, True)
    for key in ("count", "scale"):
        with pytest.raises(ValidationError, match=f"{key}\n.*expected a number, not a boolean"):
            _Settings.model_validate({key: True})


def test_unknown_keys_are_refused() -> None:
    with pytest.raises(ValidationError, match="cuont"):
        _Settings.model_validate({"cuont": 3})
