"""Averaging the IACT predictions of several models for the same events (a deep ensemble).

The averages are taken where the networks themselves work, so that an ensemble of runs and the
test-time views of one run (:func:`showerlearn.data.iact.augment.average_views`) follow one rule:
gammaness is the mean class probability, energy the mean of log10 E (a geometric mean), direction
the mean offset from the pointing in the telescope frame, impact the mean ground position.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from showerlearn.data.iact.targets import META_COLUMNS, decode_direction, encode_direction

__all__ = ["AVERAGED_COLUMNS", "average_prediction_tables"]

AVERAGED_COLUMNS = ("gammaness", "reco_energy", "reco_alt", "reco_az", "reco_core_x", "reco_core_y")


def average_prediction_tables(
    tables: Sequence[Mapping[str, np.ndarray]], names: Sequence[str]
) -> dict[str, np.ndarray]:
    """One prediction table from ``tables`` of the same events (rows in the same order).

    ``names`` label the tables in errors. The id, truth and pointing columns must be equal in every
    table: members that predicted other events (another data set, split or seed) cannot be averaged.
    A member with NaN for an event (a head it lacks, an image it could not parametrise) abstains for
    that event; the result is NaN only where every member abstains. Further columns are kept where all
    members have them with equal values (e.g. ``hillas_intensity``) and dropped otherwise.
    """
    if not tables or len(tables) != len(names):
        raise ValueError(f"{len(tables)} prediction tables but {len(names)} names")
    reference, reference_name = tables[0], names[0]
    identity = [column for column in META_COLUMNS if column in reference]
    if "event_id" not in identity or "pointing_alt" not in identity or "pointing_az" not in identity:
        raise ValueError(f"{reference_name}: no IACT prediction table (needs event_id, pointing_alt, pointing_az)")
    n = len(reference["event_id"])
    for table, name in zip(tables, names, strict=True):
        missing = [column for column in (*identity, *AVERAGED_COLUMNS) if column not in table]
        if missing:
            raise ValueError(f"{name}: prediction table lacks columns {missing}")
        if len(table["event_id"]) != n:
            raise ValueError(f"{name}: {len(table['event_id'])} events, {reference_name}: {n}; members must predict the same events")
        for column in identity:
            if not np.array_equal(np.asarray(table[column]), np.asarray(reference[column]), equal_nan=True):
                raise ValueError(
                    f"{name}: column {column!r} differs from {reference_name}'s: the members did not predict the "
                    "same events in the same order (same data, cuts and split? runs of other seeds share a test set only "
                    "with a fixed data.params.split.seed)"
                )
    averaged: dict[str, np.ndarray] = {column: np.asarray(reference[column]) for column in identity}
    for column in set(reference) - set(identity) - set(AVERAGED_COLUMNS):
        if all(column in table and np.array_equal(np.asarray(table[column]), np.asarray(reference[column]), equal_nan=True) for table in tables):
            averaged[column] = np.asarray(reference[column])
    columns = {column: np.stack([np.asarray(table[column], dtype=np.float64) for table in tables]) for column in AVERAGED_COLUMNS}

    averaged["gammaness"] = _finite_mean(columns["gammaness"])
    energy = columns["reco_energy"]
    for values, name in zip(energy, names, strict=True):
        if (values[np.isfinite(values)] <= 0).any():
            raise ValueError(f"{name}: reco_energy has values <= 0, which have no logarithm to average")
    with np.errstate(invalid="ignore", divide="ignore"):
        averaged["reco_energy"] = 10.0 ** _finite_mean(np.log10(energy))
    pointing_alt, pointing_az = np.asarray(reference["pointing_alt"]), np.asarray(reference["pointing_az"])
    offsets = np.stack([_offsets(alt, az, pointing_alt, pointing_az) for alt, az in zip(columns["reco_alt"], columns["reco_az"], strict=True)])
    # a member's offset counts only where both of its coordinates are known
    offsets[~np.isfinite(offsets).all(axis=2)] = np.nan
    mean_offset = np.stack([_finite_mean(offsets[:, :, 0]), _finite_mean(offsets[:, :, 1])], axis=1)
    averaged["reco_alt"], averaged["reco_az"] = np.full(n, np.nan), np.full(n, np.nan)
    known = np.isfinite(mean_offset).all(axis=1)
    if known.any():
        averaged["reco_alt"][known], averaged["reco_az"][known] = decode_direction(
            mean_offset[known], pointing_alt[known], pointing_az[known]
        )
    averaged["reco_core_x"] = _finite_mean(columns["reco_core_x"])
    averaged["reco_core_y"] = _finite_mean(columns["reco_core_y"])
    return averaged


def _offsets(alt: np.ndarray, az: np.ndarray, pointing_alt: np.ndarray, pointing_az: np.ndarray) -> np.ndarray:
    """(n, 2) telescope-frame offsets of the directions that are known, NaN elsewhere."""
    offsets = np.full((len(alt), 2), np.nan)
    known = np.isfinite(alt) & np.isfinite(az)
    if known.any():
        offsets[known] = encode_direction(alt[known], az[known], pointing_alt[known], pointing_az[known])
    return offsets


def _finite_mean(values: np.ndarray) -> np.ndarray:
    """Mean over axis 0 of the finite entries; NaN where there are none."""
    finite = np.isfinite(values)
    count = finite.sum(axis=0)
    total = np.where(finite, values, 0.0).sum(axis=0)
    return np.where(count > 0, total / np.maximum(count, 1), np.nan)
