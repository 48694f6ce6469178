"""The calorimeter explanation's criterion and attention profile against naive loops over hits and pairs; what
explain says of a calorimeter network it can show nothing of."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from showerlearn.calorimeter.data.features import FeatureSpec
from showerlearn.calorimeter.explain.adapter import same_gamma_shares
from showerlearn.calorimeter.explain.figures import ANGLE_EDGES, AngleProfile, attention_vs_angle_figure
from showerlearn.calorimeter.models.pairwise import HitPairMLP
from showerlearn.explain.driver import _MapMaker


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


def test_a_network_without_attention_or_per_event_output_has_nothing_explain_can_show() -> None:
    """The pair MLP: without --target it was told to name one, with --target pairs to go without: a circle.
    Both ways now say that there is nothing to show, and send the user nowhere."""
    model = HitPairMLP(FeatureSpec(("energy", "x", "y", "z"), (0.0,) * 4, (1.0,) * 4), hidden=4, layers=1)
    adapter = SimpleNamespace(default_targets=lambda outputs, kinds: [], attention_maps=lambda model, records: {},
                              projection=lambda model, layer: None)  # the calorimeter's: no per-event target
    trained = SimpleNamespace(model=model, head_kinds={"pairs": "pairwise"}, config=SimpleNamespace(seed=0))
    inputs = {"hits": torch.randn(2, 3, 4, generator=torch.Generator().manual_seed(0))}
    masks = {"objects": torch.ones(2, 3, dtype=torch.bool), "pairs": torch.ones(2, 3, 3, dtype=torch.bool)}
    for targets in (None, ["pairs"]):
        maker = _MapMaker(trained, adapter, targets, None, "gradcam", "none", control=False)
        with pytest.raises(ValueError, match="there is nothing explain can show for it") as refused:
            maker(inputs, masks)
        assert "name one with --target" not in str(refused.value) and "are explained without" not in str(refused.value)


def test_without_truth_the_angle_figure_shows_all_pairs_as_one_curve() -> None:
    """Measured hits carry true_gamma -1, the background's code: every pair counted as 'other gamma or background'
    beside a 'same gamma (0 pairs)' curve read as a finding."""
    profile = AngleProfile()
    profile.add(np.array([0.1, 0.3, 1.2]), np.array([2.0, 1.0, 0.5]), np.zeros(3, dtype=bool))
    labels = [text.get_text() for text in attention_vs_angle_figure({"h0": profile}, truth=False).axes[0].get_legend().get_texts()]
    assert labels == ["all pairs (no truth) (3 pairs)"]
    labels = [text.get_text() for text in attention_vs_angle_figure({"h0": profile}).axes[0].get_legend().get_texts()]
    assert labels == ["same gamma (0 pairs)", "other gamma or background (3 pairs)"]
