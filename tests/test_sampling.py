"""The training order: per-epoch permutations, DDP shards with padding, resuming part way."""

from __future__ import annotations

import pytest

from showerlearn.data.sampling import EpochShuffleSampler


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
