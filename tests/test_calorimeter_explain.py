"""The calorimeter explanation's criterion and attention profile against naive loops over hits and pairs."""

from __future__ import annotations

import numpy as np

from showerlearn.calorimeter.explain.adapter import same_gamma_shares
from showerlearn.calorimeter.explain.figures import ANGLE_EDGES, AngleProfile


def _naive_shares(attention: np.ndarray, gammas: list[list[int]]) -> tuple[list[float], list[float]]:
    shares, chances = [], []
    for event, gamma in enumerate(gammas):
        per_hit, per_hit_chance = [], []
        for i, g in enumerate(gamma):
            others = [j for j in range(len(gamma)) if j != i]
            same = [j for j in others if gamma[j] == g]
            if g < 0 or not same or len(same) == len(others):
                continue
            per_hit.append(sum(attention[event, i, j] for j in same) / sum(attention[event, i, j] for j in others))
            per_hit_chance.append(len(same) / len(others))
        shares.append(np.mean(per_hit) if per_hit else np.nan)
        chances.append(np.mean(per_hit_chance) if per_hit_chance else np.nan)
    return shares, chances


def test_same_gamma_share_is_counted_hit_by_hit_over_real_hits_only() -> None:
    # events of 5, 3, 2 and 4 hits in 6 slots: background hits (-1), a gamma alone, an event of one gamma only
    gammas = [[0, 0, 1, -1, 1], [2, 2, 2], [0, 1], [1, 0, 0, -1]]
    rng = np.random.default_rng(3)
    attention = rng.random((len(gammas), 6, 6))
    attention /= attention.sum(axis=2, keepdims=True)  # padding slots get weight too: they must not count
    truth = np.full((len(gammas), 6), np.nan)
    for event, gamma in enumerate(gammas):
        truth[event, : len(gamma)] = gamma
    shares, chances = same_gamma_shares(attention, truth)
    expected, expected_chance = _naive_shares(attention, gammas)
    np.testing.assert_allclose(shares, expected, atol=1e-12)
    np.testing.assert_allclose(chances, expected_chance, atol=1e-12)
    assert np.isnan(shares[1]) and np.isnan(shares[2])  # one gamma only; no gamma with two hits


def test_attention_profile_is_the_mean_per_angle_bin_of_same_and_other_pairs() -> None:
    rng = np.random.default_rng(4)
    angle, values, same = rng.uniform(0, np.pi, 500), rng.random(500), rng.random(500) < 0.3
    profile = AngleProfile()
    profile.add(angle[:200], values[:200], same[:200])
    profile.add(angle[200:], values[200:], same[200:])  # added in parts: the same means
    for row, chosen in enumerate((same, ~same)):
        for k in range(len(ANGLE_EDGES) - 1):
            inside = chosen & (angle >= ANGLE_EDGES[k]) & (angle < ANGLE_EDGES[k + 1])
            expected = values[inside].mean() if inside.any() else np.nan
            np.testing.assert_allclose(profile.mean()[row, k], expected, atol=1e-12)
