"""The training order: per-epoch permutations, DDP shards with padding, resuming part way; weighted draws;
batches of events of similar size."""

from __future__ import annotations

import numpy as np
import pytest

from showerlearn.data.sampling import EpochShuffleSampler, SizeGrouping, flattening_weights


def _epochs(n: int, seed: int, replicas: int, rank: int, epochs: int) -> list[list[int]]:
    sampler = EpochShuffleSampler(range(n), seed=seed, num_replicas=replicas, rank=rank)  # type: ignore[arg-type]
    return [list(sampler) for _ in range(epochs)]


def test_every_epoch_is_a_new_permutation_of_the_whole_set() -> None:
    epochs = _epochs(101, seed=5, replicas=1, rank=0, epochs=4)
    for order in epochs:
        assert sorted(order) == list(range(101))
    assert len({tuple(order) for order in epochs}) == 4
    assert epochs == _epochs(101, seed=5, replicas=1, rank=0, epochs=4)  # the seed fixes them
    sampler = EpochShuffleSampler(range(101), seed=5)  # type: ignore[arg-type]
    sampler.set_epoch(7)  # Lightning's epoch number is ignored: the sampler counts its own passes
    assert list(sampler) == epochs[0]


def test_neighbouring_seeds_do_not_share_orders_one_epoch_apart() -> None:
    """A sweep trains seeds s, s + 1, ...: with orders from seed + epoch, seed s's epoch 1 would be seed s + 1's epoch 0."""
    first, second = _epochs(50, seed=3, replicas=1, rank=0, epochs=2), _epochs(50, seed=4, replicas=1, rank=0, epochs=2)
    assert first[1] != second[0] and first[0] != second[0]


@pytest.mark.parametrize(("n", "replicas"), [(100, 2), (101, 2), (10, 3), (2, 4)])
def test_shards_cover_the_set_once_plus_padding(n: int, replicas: int) -> None:
    shards = [_epochs(n, seed=1, replicas=replicas, rank=rank, epochs=2) for rank in range(replicas)]
    per_rank = -(-n // replicas)  # ceil
    for epoch in range(2):
        together = [i for rank in range(replicas) for i in shards[rank][epoch]]
        assert all(len(shards[rank][epoch]) == per_rank for rank in range(replicas))
        assert set(together) == set(range(n))
        assert len(together) - n == per_rank * replicas - n  # only the padding repeats


def test_resume_at_skips_the_batches_done_then_goes_on() -> None:
    full = _epochs(64, seed=2, replicas=2, rank=1, epochs=3)
    sampler = EpochShuffleSampler(range(64), seed=2, num_replicas=2, rank=1)  # type: ignore[arg-type]
    sampler.resume_at(epoch=1, samples_done=10)
    assert list(sampler) == full[1][10:]
    assert list(sampler) == full[2]
    with pytest.raises(ValueError, match="cannot resume after 40 samples of an epoch of 32"):
        sampler.resume_at(epoch=0, samples_done=40)


def _naive_flattening(values: np.ndarray, groups: np.ndarray, strength: float, bins: int, cap: float) -> np.ndarray:
    """The weights event by event: its bin's share of its group, to the power -strength, scaled to a unit mean per
    group; the cap by bisection on the scale of the uncapped weights."""
    weights = np.empty(len(values))
    for group in set(groups.tolist()):
        members = np.nonzero(groups == group)[0]
        low, high = values[members].min(), values[members].max()
        width = (high - low) / bins
        raw = []
        for i in members:
            index = min(int((values[i] - low) / width), bins - 1)
            in_bin = sum(1 for j in members if min(int((values[j] - low) / width), bins - 1) == index)
            raw.append((in_bin / len(members)) ** -strength)
        raw = np.array(raw)
        lo, hi = 0.0, len(members) / raw.sum() * 1e3
        for _ in range(200):
            scale = 0.5 * (lo + hi)
            lo, hi = (scale, hi) if np.minimum(scale * raw, cap).mean() < 1 else (lo, scale)
        weights[members] = np.minimum(scale * raw, cap)
    return weights


@pytest.mark.parametrize(("strength", "cap"), [(0.0, 20.0), (0.5, 20.0), (1.0, 20.0), (1.0, 3.0)])
def test_flattening_weights_equal_a_naive_computation(strength: float, cap: float) -> None:
    rng = np.random.default_rng(4)
    values = np.concatenate([rng.exponential(1.0, 400), rng.exponential(0.5, 200)])  # falling spectra
    groups = np.repeat([0, 1], [400, 200])
    weights = flattening_weights(values, groups, strength, bins=10, max_weight=cap)
    np.testing.assert_allclose(weights, _naive_flattening(values, groups, strength, 10, cap), rtol=1e-6)
    for group in (0, 1):
        assert weights[groups == group].mean() == pytest.approx(1.0)  # the groups keep their shares
    assert weights.max() <= cap * (1 + 1e-9)


def test_full_flattening_draws_every_bin_equally_often() -> None:
    values = np.repeat(np.arange(5.0), [500, 200, 80, 30, 10])  # one value per bin, steeply falling
    weights = flattening_weights(values, np.zeros(len(values)), 1.0, bins=5, max_weight=1000.0)
    per_bin = np.bincount(values.astype(int), weights=weights)
    np.testing.assert_allclose(per_bin, len(values) / 5)


def test_weighted_epochs_draw_with_replacement_by_weight_and_resume_alike() -> None:
    weights = np.array([1.0, 0.0, 3.0, 6.0])
    sampler = EpochShuffleSampler(range(4), seed=9, weights=weights)  # type: ignore[arg-type]
    draws = np.concatenate([list(sampler) for _ in range(3000)])
    assert len(draws) == 4 * 3000
    frequencies = np.bincount(draws, minlength=4) / len(draws)
    np.testing.assert_allclose(frequencies, weights / weights.sum(), atol=0.01)  # 12,000 draws: sigma < 0.005
    first = EpochShuffleSampler(range(4), seed=9, weights=weights)  # type: ignore[arg-type]
    orders = [list(first) for _ in range(3)]
    resumed = EpochShuffleSampler(range(4), seed=9, weights=weights)  # type: ignore[arg-type]
    resumed.resume_at(epoch=1, samples_done=1)
    assert [list(resumed), list(resumed)] == [orders[1][1:], orders[2]]


@pytest.mark.parametrize("weights", [np.ones(3), np.array([1.0, np.nan, 1.0, 1.0]), np.array([1.0, -1.0, 1.0, 1.0]), np.zeros(4)])
def test_bad_sampling_weights_are_refused(weights: np.ndarray) -> None:
    with pytest.raises(ValueError, match="sampling weights: expected 4 finite, non-negative weights"):
        EpochShuffleSampler(range(4), seed=0, weights=weights)  # type: ignore[arg-type]


def _grouped_epochs(sizes: np.ndarray, batch_size: int, pool: int, replicas: int = 1, rank: int = 0,
                    epochs: int = 2, resume: tuple[int, int] | None = None) -> list[list[int]]:
    sampler = EpochShuffleSampler(range(len(sizes)), seed=3, num_replicas=replicas, rank=rank,  # type: ignore[arg-type]
                                  grouping=SizeGrouping(sizes, batch_size, pool))
    if resume is not None:
        sampler.resume_at(*resume)
    return [list(sampler) for _ in range(epochs)]


def _batches(order: list[int], batch_size: int) -> list[list[int]]:
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


def test_grouped_batches_hold_events_of_similar_size_and_the_same_events_as_without() -> None:
    sizes = np.random.default_rng(0).integers(1, 40, size=1003)
    plain, grouped = _epochs(1003, seed=3, replicas=1, rank=0, epochs=2), _grouped_epochs(sizes, 10, pool=25)
    for before, after in zip(plain, grouped, strict=True):
        assert sorted(after) == list(range(1003))
        # the pools are the plain order's runs of 250 events, each cut into batches of ten
        pools = [set(before[i : i + 250]) for i in range(0, 1000, 250)]
        for batch in _batches(after[:1000], 10):
            assert sum(set(batch) <= pool for pool in pools) == 1
        assert after[1000:] == before[1000:]  # the partial batch stays last: a resume skips whole batches
        padded = {name: sum(len(b) * sizes[b].max() for b in _batches(order, 10)) for name, order in
                  (("plain", before), ("grouped", after))}
        assert padded["grouped"] < 0.7 * padded["plain"]
        spreads = [np.ptp(sizes[b]) for b in _batches(after[:1000], 10)]
        assert np.mean(spreads) < 3  # 25 batches share a pool of 39 sizes: neighbours in size
    assert grouped[0] != grouped[1]
    assert grouped == _grouped_epochs(sizes, 10, pool=25)  # the seed fixes the order


def test_grouped_batches_resume_part_way_and_shard() -> None:
    sizes = np.random.default_rng(1).integers(1, 30, size=130)
    full = _grouped_epochs(sizes, 8, pool=4, replicas=2, rank=1, epochs=3)
    assert _grouped_epochs(sizes, 8, pool=4, replicas=2, rank=1, epochs=2, resume=(1, 16)) == [full[1][16:], full[2]]
    other = _grouped_epochs(sizes, 8, pool=4, replicas=2, rank=0, epochs=1)[0]
    assert set(other) | set(full[0]) == set(range(130)) and len(other) == len(full[0]) == 65


def test_a_grouping_of_another_dataset_is_refused() -> None:
    with pytest.raises(ValueError, match="10 sizes for a dataset of 12 events"):
        EpochShuffleSampler(range(12), seed=0, grouping=SizeGrouping(np.ones(10), 4, 2))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="pool >= 1"):
        SizeGrouping(np.ones(10), 4, 0)
