"""Headline figures of a benchmark, as JSON: what ``run_all.py`` gathers into one table.

Each benchmark prints its own detailed markdown table; with ``--summary PATH`` it also writes the few
figures that answer "how fast, against what" (the ones issue 21 names), each with the reference it is
compared with. The ratio is always ``value / reference_value`` and is derived, never stored by hand, so
that it cannot disagree with the numbers it comes from. Standard library (and ``showerlearn.io.atomic``,
itself standard library only), so that a benchmark measuring memory can import it freely.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from showerlearn.io.atomic import write_json_atomic


@dataclass(frozen=True)
class Figure:
    """One headline figure: ``value`` (in ``unit``) against ``reference_value`` (what ``reference_label`` gives).

    ``reference_value`` is None where no reference could be measured (say indexedconv is not installed).
    """

    benchmark: str
    figure: str
    value: float
    unit: str
    reference_label: str
    reference_value: float | None
    notes: str = ""

    @property
    def ratio(self) -> float | None:
        """``value / reference_value``: above 1 for a faster rate, or a larger memory peak, than the reference."""
        if self.reference_value is None or self.reference_value == 0 or not math.isfinite(self.reference_value):
            return None
        return self.value / self.reference_value


_FIELDS = tuple(field.name for field in dataclasses.fields(Figure))


def write_summary(path: str | os.PathLike[str], figures: Iterable[Figure]) -> None:
    """Write ``figures`` (and their ratios, for readers of the JSON) to ``path`` atomically."""
    write_json_atomic(path, {"figures": [{**dataclasses.asdict(f), "ratio": f.ratio} for f in figures]})


def read_summary(path: str | os.PathLike[str]) -> list[Figure]:
    """The figures ``write_summary`` wrote to ``path``; ``ValueError`` naming the file if it holds something else."""
    try:
        records = json.loads(Path(path).read_text())["figures"]
        return [Figure(**{name: record[name] for name in _FIELDS}) for record in records]
    except (json.JSONDecodeError, KeyError, TypeError) as error:
        raise ValueError(f"{path} is not a benchmark summary ({type(error).__name__}: {error})") from error
