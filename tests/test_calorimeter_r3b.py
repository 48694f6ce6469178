"""R3BRoot's CALIFA cluster finder on hand-made events, one rule at a time: thresholds, energy ordering,
the window around the seed that does not grow, each matcher, and the phi = +-180 deg edge."""

from __future__ import annotations

import awkward as ak
import numpy as np
import pytest
from sklearn.base import clone

from showerlearn.calorimeter.baselines import R3B_RECTANGLE_RAD, R3BClustering
from showerlearn.calorimeter.evaluation import cluster_table
from showerlearn.calorimeter.geometry import califa

HALF_PI = np.pi / 2


def _hits(energy: list[float], theta: list[float], phi: list[float], **extra: list[float]) -> dict[str, np.ndarray]:
    return {"energy": np.array(energy), "theta": np.array(theta), "phi": np.array(phi),
            "time": np.arange(len(energy), dtype=float), **{k: np.array(v) for k, v in extra.items()}}


def test_default_window_is_r3broots_rectangle_of_14_3_degrees() -> None:
    finder = R3BClustering()
    assert finder.window == "rectangle" and finder.dtheta == finder.dphi == R3B_RECTANGLE_RAD
    assert np.degrees(R3B_RECTANGLE_RAD) == pytest.approx(14.3) and finder.phi_wrap is False


def test_seeds_go_by_decreasing_energy_in_any_input_order() -> None:
    hits = _hits([0.5, 3.0, 1.0], [1.0, 2.0, 1.5], [0.0, 0.0, 0.0])  # three isolated hits
    assert R3BClustering().cluster(hits).tolist() == [2, 0, 1]


def test_the_window_stays_around_the_seed_and_does_not_grow() -> None:
    # a chain 0.2 rad apart: the third hit is within 0.25 rad of the second but 0.4 rad from the seed
    hits = _hits([3.0, 2.0, 1.0], [HALF_PI, HALF_PI + 0.2, HALF_PI + 0.4], [0.0, 0.0, 0.0])
    assert R3BClustering(dtheta=0.25).cluster(hits).tolist() == [0, 0, 1]


def test_crystal_threshold_is_strict_and_cluster_threshold_only_blocks_seeds() -> None:
    hits = _hits([0.1, 0.09, 2.0, 0.5, 0.6], [HALF_PI, 0.5, 1.0, 1.05, 2.5], [0.0, 0.0, 0.0, 0.0, 0.0])
    labels = R3BClustering(crystal_threshold_mev=0.1, cluster_threshold_mev=1.0).cluster(hits)
    # 0.1 and 0.09 MeV are not above the 0.1 MeV threshold; 0.5 MeV joins the 2 MeV seed; the isolated
    # 0.6 MeV hit may not start a cluster
    assert labels.tolist() == [-1, -1, 0, 0, -1]
    assert R3BClustering(cluster_threshold_mev=0.0).cluster(hits).tolist() == [-1, -1, 0, 0, 1]


def test_rectangle_cone_and_their_difference_on_the_diagonal() -> None:
    hits = _hits([2.0, 1.0], [HALF_PI, HALF_PI + 0.2], [0.0, 0.2])  # 0.2 rad in theta and phi: 0.283 rad apart
    assert R3BClustering(window="rectangle", dtheta=0.25, dphi=0.25).cluster(hits).tolist() == [0, 0]
    assert R3BClustering(window="rectangle", dtheta=0.25, dphi=0.15).cluster(hits).tolist() == [0, 1]
    assert R3BClustering(window="cone", half_angle=0.25).cluster(hits).tolist() == [0, 1]
    assert R3BClustering(window="cone", half_angle=0.3).cluster(hits).tolist() == [0, 0]


def test_phi_edge_splits_without_wrap_around_and_joins_with_it() -> None:
    hits = _hits([2.0, 1.0], [HALF_PI, HALF_PI], [3.10, -3.10])  # 0.083 rad apart across phi = 180 deg
    assert R3BClustering().cluster(hits).tolist() == [0, 1]  # R3BRoot: |d phi| = 6.2 rad
    assert R3BClustering(phi_wrap=True).cluster(hits).tolist() == [0, 0]
    assert R3BClustering(window="cone", half_angle=0.25).cluster(hits).tolist() == [0, 0]  # 3-D angle: no edge


def test_sphere_matches_crystal_centres_within_the_radius() -> None:
    geometry = califa()
    ids = [33 + 4 * 128, 34 + 4 * 128, 33 + 4 * 128 + 64]  # two crystals of one alveolus, one 16 alveoli away
    theta, phi = geometry.angles(ids)
    hits = _hits([2.0, 1.0, 1.5], theta.tolist(), phi.tolist(), crystal_id=ids)
    distance = np.linalg.norm(np.subtract(*geometry.centres(ids[:2])))
    assert R3BClustering(window="sphere", radius=distance + 1).cluster(hits).tolist() == [0, 0, 1]
    assert R3BClustering(window="sphere", radius=distance - 1).cluster(hits).tolist() == [0, 2, 1]
    with pytest.raises(KeyError, match="crystal_id"):
        R3BClustering(window="sphere").cluster(_hits([1.0], [1.0], [0.0]))


def test_a_cluster_sits_at_its_seed_with_the_seed_time_and_the_summed_energy() -> None:
    hits = _hits([1.0, 3.0, 0.5], [HALF_PI + 0.1, HALF_PI, HALF_PI - 0.1], [0.0, 0.05, 0.1])
    hits["time"] = np.array([12.0, 7.0, 30.0])
    labels = R3BClustering().cluster(hits)
    clusters = cluster_table({**hits, "event": np.zeros(3, np.int64)}, labels)
    assert clusters["energy"].tolist() == [4.5] and clusters["time"].tolist() == [7.0]
    assert clusters["theta"][0] == HALF_PI and clusters["phi"][0] == 0.05


def test_estimator_api_clone_and_awkward_input() -> None:
    finder = R3BClustering(window="cone", half_angle=0.4)
    copy = clone(finder)
    assert copy.get_params() == finder.get_params() and copy is not finder
    events = [_hits([2.0, 1.0], [HALF_PI, HALF_PI + 0.1], [0.0, 0.0]), _hits([1.0], [1.0], [1.0]), _hits([], [], [])]
    as_awkward = ak.Array([{k: v.tolist() for k, v in event.items()} for event in events])
    as_records = ak.zip({k: as_awkward[k] for k in as_awkward.fields})
    expected = [[0, 0], [0], []]
    assert [labels.tolist() for labels in finder.fit(events).predict(events)] == expected
    assert [labels.tolist() for labels in finder.predict(as_records)] == expected
    with pytest.raises(ValueError, match="unknown window"):
        R3BClustering(window="hexagon").cluster(events[0])


def test_a_window_of_no_size_or_a_negative_threshold_is_refused_before_clustering() -> None:
    problems = R3BClustering.config_problems({"half_angle": -1.0, "radius": float("nan"), "dphi": 0.2,
                                              "cluster_threshold_mev": -0.5}, "estimator.params")
    assert problems == ["estimator.params.half_angle: a window size is > 0, got -1.0",
                        "estimator.params.radius: a window size is > 0, got nan",
                        "estimator.params.cluster_threshold_mev: a threshold is >= 0 [MeV], got -0.5"]
    with pytest.raises(ValueError, match="R3BClustering.dtheta: a window size is > 0, got 0"):
        R3BClustering(dtheta=0).fit()
    assert clone(R3BClustering(half_angle=0.4)).fit().half_angle == 0.4
