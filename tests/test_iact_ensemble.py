"""Averaging IACT prediction tables of several runs (deep ensembles), against independent references."""

from __future__ import annotations

import numpy as np
import pytest

from showerlearn.iact.data.ensemble import average_prediction_tables


def unit_vectors(alt_deg: np.ndarray, az_deg: np.ndarray) -> np.ndarray:
    alt, az = np.radians(alt_deg), np.radians(az_deg)
    return np.stack([np.cos(alt) * np.cos(az), np.cos(alt) * np.sin(az), np.sin(alt)], axis=-1)


def table(rng: np.random.Generator, n: int = 50, **columns: np.ndarray) -> dict[str, np.ndarray]:
    """A prediction table of ``n`` events pointed at (alt 70, az 10) deg with random reconstructions."""
    base = {
        "obs_id": np.ones(n, dtype=np.int64),
        "event_id": np.arange(n, dtype=np.int64),
        "tel_id": np.ones(n, dtype=np.int64),
        "true_shower_primary_id": np.zeros(n, dtype=np.int64),
        "true_energy": np.full(n, 0.5),
        "true_alt": np.full(n, 70.0),
        "true_az": np.full(n, 10.0),
        "pointing_alt": np.full(n, 70.0),
        "pointing_az": np.full(n, 10.0),
        "hillas_intensity": np.linspace(50, 5000, n),
        "gammaness": rng.uniform(0, 1, n),
        "reco_energy": 10 ** rng.uniform(-1.5, 1.0, n),
        "reco_alt": 70.0 + rng.uniform(-1, 1, n),
        "reco_az": 10.0 + rng.uniform(-1, 1, n),
        "reco_core_x": rng.uniform(-300, 300, n),
        "reco_core_y": rng.uniform(-300, 300, n),
    }
    return {**base, **columns}


def test_members_average_as_probability_log_energy_mean_direction_and_mean_core() -> None:
    rng = np.random.default_rng(1)
    members = [table(rng), table(rng), table(rng)]
    averaged = average_prediction_tables(members, ["a", "b", "c"])

    np.testing.assert_allclose(averaged["gammaness"], np.mean([m["gammaness"] for m in members], axis=0))
    geometric = np.prod([m["reco_energy"] for m in members], axis=0) ** (1 / 3)
    np.testing.assert_allclose(averaged["reco_energy"], geometric, rtol=1e-12)
    np.testing.assert_allclose(averaged["reco_core_x"], np.mean([m["reco_core_x"] for m in members], axis=0))
    # direction: the normalised mean of unit vectors (numpy) agrees with the telescope-frame mean
    # (astropy/ctapipe) to second order in the ~1 deg offsets
    mean_vector = np.mean([unit_vectors(m["reco_alt"], m["reco_az"]) for m in members], axis=0)
    mean_vector /= np.linalg.norm(mean_vector, axis=1, keepdims=True)
    separation = np.degrees(np.arccos(np.clip(np.sum(mean_vector * unit_vectors(averaged["reco_alt"], averaged["reco_az"]), axis=1), -1, 1)))
    assert separation.max() < 2e-3
    np.testing.assert_array_equal(averaged["event_id"], members[0]["event_id"])
    np.testing.assert_array_equal(averaged["hillas_intensity"], members[0]["hillas_intensity"])


def test_directions_along_the_pointing_meridian_average_exactly_in_altitude() -> None:
    rng = np.random.default_rng(2)
    n = 4
    low = table(rng, n, reco_alt=np.full(n, 70.2), reco_az=np.full(n, 10.0))
    high = table(rng, n, reco_alt=np.full(n, 70.6), reco_az=np.full(n, 10.0))
    averaged = average_prediction_tables([low, high], ["low", "high"])
    np.testing.assert_allclose(averaged["reco_alt"], 70.4, atol=1e-9)
    np.testing.assert_allclose(averaged["reco_az"], 10.0, atol=1e-9)
    # mirror images about the pointing meridian average onto it
    east = table(rng, n, reco_alt=np.full(n, 70.3), reco_az=np.full(n, 10.8))
    west = table(rng, n, reco_alt=np.full(n, 70.3), reco_az=np.full(n, 9.2))
    np.testing.assert_allclose(average_prediction_tables([east, west], ["e", "w"])["reco_az"], 10.0, atol=1e-9)


def test_a_member_without_a_value_abstains_and_differing_extra_columns_are_dropped() -> None:
    rng = np.random.default_rng(3)
    first, second = table(rng), table(rng)
    for column in ("gammaness", "reco_energy", "reco_alt", "reco_core_y"):
        second[column] = second[column].copy()
        second[column][0] = np.nan
    second["hillas_valid"] = np.ones(len(second["event_id"]), dtype=bool)  # only one member has it
    first["note"] = np.zeros(50)
    second["note"] = np.ones(50)
    averaged = average_prediction_tables([first, second], ["first", "second"])
    # an impact point, like a direction, abstains as a whole
    for column in ("gammaness", "reco_energy", "reco_alt", "reco_az", "reco_core_x", "reco_core_y"):
        assert averaged[column][0] == pytest.approx(first[column][0], abs=1e-9)
        assert averaged[column][1] != pytest.approx(first[column][1], abs=1e-9)  # both members vote
    assert "hillas_valid" not in averaged and "note" not in averaged
    # where every member lacks a value, so does the ensemble
    first["gammaness"][1] = second["gammaness"][1] = np.nan
    first["reco_az"][1] = second["reco_az"][1] = np.nan
    both_missing = average_prediction_tables([first, second], ["first", "second"])
    assert np.isnan(both_missing["gammaness"][1]) and np.isnan(both_missing["reco_alt"][1])


def test_stand_in_values_of_images_hillas_could_not_parametrise_do_not_vote() -> None:
    rng = np.random.default_rng(5)
    network, baseline = table(rng), table(rng)
    baseline["hillas_valid"] = np.ones(50, dtype=bool)
    baseline["hillas_valid"][:3] = False  # the baseline writes finite stand-ins for these
    averaged = average_prediction_tables([network, baseline], ["network", "baseline"])
    for column in ("gammaness", "reco_energy", "reco_alt", "reco_az", "reco_core_x"):
        np.testing.assert_allclose(averaged[column][:3], network[column][:3], atol=1e-9)
    assert averaged["gammaness"][3] == pytest.approx((network["gammaness"][3] + baseline["gammaness"][3]) / 2)
    # no member could: the plain mean of the stand-ins, as the baseline alone would report them
    other = {**baseline, "gammaness": rng.uniform(0, 1, 50)}
    alone = average_prediction_tables([baseline, other], ["baseline", "other"])
    assert alone["gammaness"][0] == pytest.approx((baseline["gammaness"][0] + other["gammaness"][0]) / 2)
    np.testing.assert_array_equal(alone["hillas_valid"], baseline["hillas_valid"])


def test_directions_either_side_of_north_average_across_it() -> None:
    rng = np.random.default_rng(6)
    n = 3
    pointing = {"pointing_alt": np.full(n, 80.0), "pointing_az": np.full(n, 0.5)}
    west = table(rng, n, **pointing, reco_alt=np.full(n, 80.0), reco_az=np.full(n, 359.5))
    east = table(rng, n, **pointing, reco_alt=np.full(n, 80.0), reco_az=np.full(n, 1.5))
    averaged = average_prediction_tables([west, east], ["west", "east"])
    np.testing.assert_allclose(averaged["reco_az"], 0.5, atol=1e-6)  # not 180
    assert (averaged["reco_alt"] > 80.0).all() and (averaged["reco_alt"] < 80.01).all()  # the great circle between them bulges above their altitude


def test_members_of_other_events_or_without_columns_are_refused_by_name() -> None:
    rng = np.random.default_rng(4)
    first, shuffled = table(rng), table(rng)
    shuffled["event_id"] = shuffled["event_id"][::-1].copy()
    with pytest.raises(ValueError, match=r"run_b: column 'event_id' differs from run_a"):
        average_prediction_tables([first, shuffled], ["run_a", "run_b"])
    shorter = {name: values[:10] for name, values in table(rng).items()}
    with pytest.raises(ValueError, match=r"run_b: 10 events, run_a: 50"):
        average_prediction_tables([first, shorter], ["run_a", "run_b"])
    incomplete = {name: values for name, values in table(rng).items() if name != "reco_az"}
    with pytest.raises(ValueError, match=r"run_b: prediction table lacks columns \['reco_az'\]"):
        average_prediction_tables([first, incomplete], ["run_a", "run_b"])
    negative = table(rng, reco_energy=-np.ones(50))
    with pytest.raises(ValueError, match=r"run_b: reco_energy has values <= 0"):
        average_prediction_tables([first, negative], ["run_a", "run_b"])
