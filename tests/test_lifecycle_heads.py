"""A head whose loss or metric does not fit its target fails at its first step with the head named, not torch's error."""

from __future__ import annotations

import pytest

from showerlearn.config import resolve_config
from showerlearn.engine.runner import train


@pytest.mark.parametrize(("head", "expected"), [
    ({"loss": "l1"}, r"task\.heads\.label: its loss 'l1' failed on the network's output, shaped \(\d+, 2\)"),
    ({"loss": "cross_entropy", "metrics": ["mae"]}, r"task\.heads\.label: its metrics \['mae'\] failed on"),
])
def test_a_head_of_another_kind_than_its_target_is_named(tabular_config: dict, head: dict, expected: str) -> None:
    tabular_config["task"]["heads"]["label"] = head
    tabular_config["trainer"]["max_epochs"] = 1
    with pytest.raises(ValueError, match=expected):
        train(resolve_config(tabular_config), progress=False)
