"""One-sided limits among a run's scalars: where a sample cannot tell a quantity, only a bound on it (a collider
working point that keeps no test background event: its rejection is at least the 95 % CL limit the sample size
gives). metrics.json names them, and every table shows them so."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["LEGACY_UNBOUNDED", "LIMIT_SIGNS", "SCALAR_LIMITS", "limit_prefix", "scalar_limits"]

#: metrics.json's map of the scalars that are one-sided limits rather than estimates, name -> ``"lower"`` or
#: ``"upper"``: a background rejection where no test background event was kept is only known to be above the
#: 95 % CL limit its sample size gives. Tables show them as such (>= x, <= x), and a mean over runs with one such
#: value is a limit of the same side.
SCALAR_LIMITS = "limits"
#: how a limit's side reads before its value (terminal tables, the board)
LIMIT_SIGNS = {"lower": "\u2265", "upper": "\u2264"}


def limit_prefix(side: str | None) -> str:
    """What reads before a scalar that is a limit of ``side`` (``"\u2265 "``, ``"\u2264 "``); "" for an estimate."""
    return f"{LIMIT_SIGNS[side]} " if side in LIMIT_SIGNS else ""


#: what metrics.json files of earlier versions named the scalars they wrote as null for +infinity (a rejection where
#: no test background event was kept): read as lower limits of unknown value
LEGACY_UNBOUNDED = "unbounded"


def scalar_limits(metrics: Mapping[str, Any]) -> dict[str, str]:
    """A metrics dict's one-sided limits, name -> side: its ``limits``, and the ``unbounded`` names of a file written
    before them as lower limits (its null is "above any number", so a mean without it is a lower limit too)."""
    limits = metrics.get(SCALAR_LIMITS, {})
    legacy = metrics.get(LEGACY_UNBOUNDED, [])
    return {**{name: "lower" for name in legacy if isinstance(name, str)}, **limits} if isinstance(legacy, list) else dict(limits)
