"""What a calorimeter prediction file must hold before anything is scored or drawn from it: per-element tables
in event order whose rows per event are the per-event table's counts, and values a simulation or a detector gives.

A file damaged by hand or by another tool (rows cut off, a NaN, an event index out of place) would otherwise be
scored without complaint, or fail deep inside a metric; the first bad value is named with its table, column and
row instead.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

__all__ = ["prediction_table_problem"]

#: per table: the per-event column counting its rows
_COUNTS = {"hits": "n_hits", "gammas": "n_gammas", "clusters": "n_clusters"}

#: per table and column: (lowest, highest, what a valid file holds), NaN and infinities refused
_BOUNDS = {
    "hits": {"energy": (0.0, np.inf, "a deposited energy [MeV], at least 0"),
             "theta": (0.0, np.pi, "a polar angle in [0, pi]"), "phi": (-np.inf, np.inf, "a finite azimuth")},
    "gammas": {"energy_lab": (0.0, np.inf, "a gamma energy [MeV], at least 0"),
               "energy_rest": (0.0, np.inf, "a gamma energy [MeV], at least 0"),
               "theta": (0.0, np.pi, "a polar angle in [0, pi]"), "phi": (-np.inf, np.inf, "a finite azimuth")},
    "clusters": {"energy": (0.0, np.inf, "a cluster energy [MeV], at least 0"),
                 "theta": (0.0, np.pi, "a polar angle in [0, pi]")},
}


def prediction_table_problem(predictions: Mapping[str, np.ndarray], tables: Mapping[str, Mapping[str, np.ndarray]]
                             ) -> str | None:
    """The first thing wrong with a calorimeter prediction file's tables (``predictions``: its per-event table;
    ``tables``: the per-element tables read, each with its ``event_index``), or None.

    Checked: each table's rows lie in event order, as many per event as the per-event count says (``n_hits``...,
    where the file has it); the bounded columns (:data:`_BOUNDS`) hold finite values in their range; ``beta`` is
    in [0, 1), or NaN (unknown: measured data converted without it); a hit's ``true_gamma`` and a gamma's ``index``
    name a gamma of the event (-1: a hit of no gamma).
    """
    n_events = len(next(iter(predictions.values()), ()))
    for name, columns in tables.items():
        if "event_index" in columns and (problem := _rows_problem(name, np.asarray(columns["event_index"]), predictions,
                                                                  n_events)):
            return problem
        for column, bounds in _BOUNDS.get(name, {}).items():
            if column in columns and (problem := _outside(f"{name}.{column}", np.asarray(columns[column], float), bounds)):
                return problem
    if "beta" in predictions:
        beta = np.asarray(predictions["beta"], float)
        if problem := _outside("predictions.beta", beta, (0.0, np.nextafter(1.0, 0.0), "a velocity in [0, 1), or NaN "
                                                          "(unknown)"), allowed=np.isnan(beta)):
            return problem
    return _gamma_reference_problem(predictions, tables)


def _rows_problem(name: str, event: np.ndarray, predictions: Mapping[str, np.ndarray], n_events: int) -> str | None:
    """Rows out of event order, or other than the per-event count of the table's rows."""
    if event.dtype.kind not in "iu":
        return f"{name}.event_index holds {event.dtype} values; expected whole numbers (the row of its event)"
    if problem := _outside(f"{name}.event_index", event, (0, n_events - 1, f"an event row in [0, {n_events})")):
        return problem
    if len(event) > 1 and (back := np.flatnonzero(np.diff(event) < 0)).size:
        row = int(back[0]) + 1
        return f"{name}.event_index is {event[row]} at row {row}, after {event[row - 1]}; expected the rows in event order"
    count = _COUNTS.get(name)
    if count is None or count not in predictions:
        return None
    expected = np.asarray(predictions[count])
    found = np.bincount(event, minlength=n_events)
    if (differ := np.flatnonzero(found != expected)).size:
        event_row = int(differ[0])
        return (f"the {name} table has {found[event_row]} rows of event row {event_row}, where predictions.{count} says "
                f"{expected[event_row]} ({len(event)} rows in all, {int(expected.sum())} counted): rows lost or added")
    return None


def _gamma_reference_problem(predictions: Mapping[str, np.ndarray], tables: Mapping[str, Mapping[str, np.ndarray]]
                             ) -> str | None:
    """A hit's ``true_gamma`` or a gamma's ``index`` that names no gamma of its event."""
    if "n_gammas" not in predictions:
        return None
    n_gammas = np.asarray(predictions["n_gammas"])
    for name, column, lowest in (("hits", "true_gamma", -1), ("gammas", "index", 0)):
        columns = tables.get(name, {})
        if column not in columns or "event_index" not in columns:
            continue
        values, event = np.asarray(columns[column]), np.asarray(columns["event_index"])
        bad = (values < lowest) | (values >= n_gammas[event])
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            return (f"{name}.{column} is {values[row]} at row {row}; expected a gamma of its event ({lowest} to "
                    f"{n_gammas[event[row]] - 1}: event row {event[row]} has {n_gammas[event[row]]} gammas)")
    return None


def _outside(column: str, values: np.ndarray, bounds: tuple[float, float, str], allowed: np.ndarray | None = None
             ) -> str | None:
    """The first value of ``column`` outside ``bounds`` (lowest, highest, what a valid file holds), NaN and
    infinities included, unless ``allowed``."""
    low, high, expected = bounds
    with np.errstate(invalid="ignore"):
        bad = ~(np.isfinite(values) & (values >= low) & (values <= high))
    if allowed is not None:
        bad &= ~allowed
    if not bad.any():
        return None
    row = int(np.flatnonzero(bad)[0])
    return f"{column} is {values[row]} at row {row}; expected {expected}"
