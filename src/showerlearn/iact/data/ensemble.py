"""Averaging the IACT predictions of several models for the same events (a deep ensemble).

The averages are taken where the networks themselves work, so that an ensemble of runs and the
test-time views of one run (:func:`showerlearn.iact.data.augment.average_views`) follow one rule:
gammaness is the mean class probability, energy the mean of log10 E (a geometric mean), direction
the mean offset from the pointing in the telescope frame, impact the mean ground position.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from showerlearn.iact.data.targets import META_COLUMNS, decode_direction, encode_direction

__all__ = ["AVERAGED_COLUMNS", "average_prediction_tables"]

AVERAGED_COLUMNS = ("gammaness", "reco_energy", "reco_alt", "reco_az", "reco_core_x", "reco_core_y")


def average_prediction_tables(
    tables: Sequence[Mapping[str, np.ndarray]], names: Sequence[str]
) -> dict[str, np.ndarray]:
    """One prediction table from ``tables`` of the same events (rows in the same order).

    ``names`` label the tables in errors. The id, truth and pointing columns must be equal in every
    table: members that predicted other events (another data set, split or seed) cannot be averaged.
    A member abstains for an event it has no value for (NaN: a head it lacks) or could not
    reconstruct (``hillas_valid`` false: the Hillas + RF baseline's stand-in values); where every member
    abstains, the plain mean of their values is kept. Further columns are kept where all members have
    them with equal values (e.g. ``hillas_intensity``) and dropped otherwise.
    """
    if not tables or len(tables) != len(names):
        raise ValueError(f"an ensemble averages at least one prediction table, one name each: got {len(tables)} and {len(names)}")
    reference, reference_name = tables[0], names[0]
    identity = [column for column in META_COLUMNS if column in reference]
    if not {"event_id", "pointing_alt", "pointing_az"} <= set(identity):
        raise ValueError(f"{reference_name}: no IACT prediction table (needs event_id, pointing_alt, pointing_az)")
    for table, name in zip(tables, names, strict=True):
        _check_same_events(table, name, reference, reference_name, identity)
    averaged = {column: np.asarray(reference[column]) for column in identity}
    for column in reference:
        if column not in averaged and column not in AVERAGED_COLUMNS and all(
            column in table and np.array_equal(np.asarray(table[column]), np.asarray(reference[column]), equal_nan=True)
            for table in tables
        ):
            averaged[column] = np.asarray(reference[column])

    n = len(reference["event_id"])
    valid = np.stack([np.asarray(table.get("hillas_valid", np.ones(n)), dtype=bool) for table in tables])
    for values, name in zip((table["reco_energy"] for table in tables), names, strict=True):
        if (np.asarray(values)[np.isfinite(values)] <= 0).any():
            raise ValueError(f"{name}: reco_energy has values <= 0, which have no logarithm to average")
    # each quantity in the space the networks predict it in; a point's coordinates abstain together
    averaged["gammaness"] = _mean(np.stack([table["gammaness"] for table in tables])[..., None], valid)[:, 0]
    with np.errstate(divide="ignore", invalid="ignore"):
        log_energy = np.log10(np.stack([table["reco_energy"] for table in tables]).astype(np.float64))
    averaged["reco_energy"] = 10.0 ** _mean(log_energy[..., None], valid)[:, 0]
    pointing_alt, pointing_az = np.asarray(reference["pointing_alt"]), np.asarray(reference["pointing_az"])
    offsets = np.stack([_offsets(table["reco_alt"], table["reco_az"], pointing_alt, pointing_az) for table in tables])
    mean_offset = _mean(offsets, valid)
    averaged["reco_alt"], averaged["reco_az"] = np.full(len(mean_offset), np.nan), np.full(len(mean_offset), np.nan)
    known = np.isfinite(mean_offset).all(axis=1)
    if known.any():
        averaged["reco_alt"][known], averaged["reco_az"][known] = decode_direction(
            mean_offset[known], pointing_alt[known], pointing_az[known]
        )
    core = _mean(np.stack([np.stack([table["reco_core_x"], table["reco_core_y"]], axis=1) for table in tables]), valid)
    averaged["reco_core_x"], averaged["reco_core_y"] = core[:, 0], core[:, 1]
    return averaged


def _check_same_events(
    table: Mapping[str, np.ndarray], name: str, reference: Mapping[str, np.ndarray], reference_name: str, identity: list[str]
) -> None:
    missing = [column for column in (*identity, *AVERAGED_COLUMNS) if column not in table]
    if missing:
        raise ValueError(f"{name}: prediction table lacks columns {missing}")
    if len(table["event_id"]) != len(reference["event_id"]):
        raise ValueError(
            f"{name}: {len(table['event_id'])} events, {reference_name}: {len(reference['event_id'])}; "
            "members must predict the same events"
        )
    for column in identity:
        if not np.array_equal(np.asarray(table[column]), np.asarray(reference[column]), equal_nan=True):
            raise ValueError(
                f"{name}: column {column!r} differs from {reference_name}'s: the members did not predict the same "
                "events in the same order (same data, cuts and split? runs of other seeds share a test set only "
                "with a fixed data.params.split.seed, and simulate.seed for simulated data)"
            )


def _offsets(alt: np.ndarray, az: np.ndarray, pointing_alt: np.ndarray, pointing_az: np.ndarray) -> np.ndarray:
    """(n, 2) telescope-frame offsets of the directions that are known, NaN elsewhere."""
    alt, az = np.asarray(alt, dtype=np.float64), np.asarray(az, dtype=np.float64)
    offsets = np.full((len(alt), 2), np.nan)
    known = np.isfinite(alt) & np.isfinite(az)
    if known.any():
        offsets[known] = encode_direction(alt[known], az[known], pointing_alt[known], pointing_az[known])
    return offsets


def _mean(values: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """(members, n, k) -> (n, k): mean over the members whose k values are all finite and ``valid``
    (members, n); where there is none, over those with finite values; NaN where no member has one."""
    values = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(values).all(axis=2)
    voters = finite & valid
    voters = np.where(voters.any(axis=0), voters, finite)
    count = voters.sum(axis=0)
    total = np.where(voters[..., None], values, 0.0).sum(axis=0)
    return np.where(count[:, None] > 0, total / np.maximum(count, 1)[:, None], np.nan)
