"""The training-set order: a seeded shuffle per epoch, one shard per process, resumable mid-epoch.

A run that is killed and resumed (``showerlearn train --resume``) must see the same events in the
same order as a run that was never interrupted, so that the two end with the same weights. That
needs three things the default ``DataLoader(shuffle=True)`` does not give:

* the order of epoch ``e`` depends only on the seed and ``e``, not on how many epochs this process
  has already drawn from a generator; (seed, epoch) pairs are mixed by a ``SeedSequence``, so sweep
  seeds ``s`` and ``s + 1`` do not share orders one epoch apart;
* a resumed epoch starts after the batches already trained on, not from its beginning;
* both are in place when the loader is built, before Lightning first iterates it: the DataModule
  reads the restored loop position from the trainer then (:func:`resume_position`). From there the
  sampler counts its epochs itself, one per pass: the epoch number Lightning hands to ``set_epoch``
  runs one ahead after resuming a ``max_steps`` run from an epoch end.

Under DDP each process reads its own shard (``num_replicas``, ``rank``). As torch's
``DistributedSampler``, whose subclass this is so that Lightning keeps it instead of wrapping it,
the permutation is padded with its first events to a multiple of the number of processes.

With per-event ``weights`` an epoch is instead as many events drawn with replacement, each with
probability proportional to its weight (from the same ``(seed, epoch)`` generator, so resuming and
sharding work alike): how a rare part of a spectrum is shown more often without changing the loss.
:func:`flattening_weights` gives such weights for a steeply falling distribution (a simulated energy
spectrum), per group (a particle class) so that the groups keep their shares of the epoch.

With a :class:`SizeGrouping` (sets of elements: the hits of a calorimeter event), each batch holds events of
similar size, so that padding them to the batch's largest costs little (:func:`grouped_by_size`). The epoch's
events and the batches' order stay random, both drawn from ``(seed, epoch)``, and the batches are cut at the
same multiples of the batch size as before: resuming and sharding are unchanged. Every event still weighs the
same in the epoch's loss when the task module divides by a running mean of the selected elements
(:class:`~showerlearn.tasks.module.MultiTaskModule`), not by each batch's own count. Under DDP the batches of
every process come in the same order of pools, so that the processes' batches of one step have similar sizes.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sized
from dataclasses import dataclass

import lightning as L
import numpy as np
import torch
from torch.utils.data.distributed import DistributedSampler

__all__ = ["EpochShuffleSampler", "SizeGrouping", "flattening_weights", "grouped_by_size", "resume_position"]


@dataclass(frozen=True)
class SizeGrouping:
    """Batches of events of similar size: ``sizes`` per event of the dataset (what its batch is padded to),
    ``batch_size`` events per batch, sorted by size in pools of ``pool`` batches (:func:`grouped_by_size`)."""

    sizes: np.ndarray
    batch_size: int
    pool: int

    def __post_init__(self) -> None:
        if self.batch_size < 1 or self.pool < 1 or np.ndim(self.sizes) != 1:
            raise ValueError(f"size grouping: need one size per event, batch_size >= 1 and pool >= 1 (got sizes shaped "
                             f"{np.shape(self.sizes)}, {self.batch_size}, {self.pool})")


def grouped_by_size(order: list[int], grouping: SizeGrouping, generator: torch.Generator) -> list[int]:
    """``order`` rearranged so that every run of ``batch_size`` events holds events of similar size: the full
    batches' events are sorted by size within pools of ``pool`` consecutive batches, cut into batches, and the
    batches shuffled with ``generator``. A last, partial batch keeps its events and stays last (a resumed epoch
    skips whole batches). A pool of random events spans the whole size distribution, so each batch's events
    are a near-random draw of their size; larger pools pad less."""
    events = np.asarray(order, dtype=np.int64)
    full = len(events) // grouping.batch_size * grouping.batch_size
    step = grouping.batch_size * grouping.pool
    batches: list[np.ndarray] = []
    for start in range(0, full, step):
        pool = events[start : min(start + step, full)]
        pool = pool[np.argsort(grouping.sizes[pool], kind="stable")]
        batches += np.split(pool, len(pool) // grouping.batch_size)
    shuffled = torch.randperm(len(batches), generator=generator).tolist()
    return [int(event) for b in shuffled for event in batches[b]] + events[full:].tolist()


class EpochShuffleSampler(DistributedSampler):
    """Shuffled per epoch from ``(seed, epoch)``, sharded over processes, and able to start an epoch part way.

    Every pass over the sampler is the next epoch, starting at 0 or at :meth:`resume_at`'s.
    ``len()`` stays the full shard: Lightning counts the batches a resumed epoch still has to run
    from its restored progress, which is exactly what the skipped start leaves.
    """

    def __init__(self, dataset: Sized, seed: int, num_replicas: int = 1, rank: int = 0, weights: np.ndarray | None = None,
                 grouping: SizeGrouping | None = None) -> None:
        super().__init__(dataset, num_replicas=num_replicas, rank=rank, shuffle=True, seed=seed, drop_last=False)  # type: ignore[arg-type]
        self.start = 0
        if grouping is not None and len(grouping.sizes) != len(dataset):
            raise ValueError(f"size grouping: {len(grouping.sizes)} sizes for a dataset of {len(dataset)} events")
        self.grouping = grouping
        if weights is not None:
            weights = np.asarray(weights, dtype=np.float64)
            if weights.shape != (len(dataset),) or not np.all(np.isfinite(weights)) or weights.min() < 0 or weights.sum() <= 0:
                raise ValueError(f"sampling weights: expected {len(dataset)} finite, non-negative weights with a positive sum, "
                                 f"got shape {weights.shape}")
        self.weights = None if weights is None else torch.from_numpy(weights)

    def resume_at(self, epoch: int, samples_done: int) -> None:
        """Start at ``epoch``, after the first ``samples_done`` samples of this process's shard."""
        if not 0 <= samples_done <= self.num_samples:
            raise ValueError(f"cannot resume after {samples_done} samples of an epoch of {self.num_samples}")
        self.epoch = epoch
        self.start = samples_done

    def set_epoch(self, epoch: int) -> None:
        """Ignored (the sampler counts its passes), so that Lightning's off-by-one after a resume cannot shift orders."""

    def epoch_order(self) -> list[int]:
        """This epoch's events of the whole dataset, padded to a multiple of the number of processes: a permutation,
        or with ``weights`` as many draws with replacement."""
        generator = self._generator()
        if self.weights is None:
            order = torch.randperm(len(self.dataset), generator=generator).tolist()  # type: ignore[arg-type]
        else:
            # inverse-CDF draws: torch.multinomial refuses more than 2**24 categories (events)
            cumulative = torch.cumsum(self.weights, 0)
            uniform = torch.rand(len(cumulative), generator=generator, dtype=cumulative.dtype) * cumulative[-1]
            order = torch.searchsorted(cumulative, uniform, right=True).clamp_(max=len(cumulative) - 1).tolist()
        padding = self.total_size - len(order)
        return order + (order * math.ceil(padding / len(order)))[:padding] if padding else order

    def _generator(self, *stream: int) -> torch.Generator:
        """A generator seeded by ``(seed, epoch, *stream)``: one per use, so that each draws the same numbers
        whatever the others drew."""
        seed = np.random.SeedSequence([self.seed, self.epoch, *stream]).generate_state(1, np.uint64)[0]
        return torch.Generator().manual_seed(int(seed >> np.uint64(1)))  # manual_seed wants < 2**63

    def __iter__(self) -> Iterator[int]:
        shard = self.epoch_order()[self.rank : self.total_size : self.num_replicas]
        if self.grouping is not None:
            # the batches in the same order on every process (not a generator per rank): every shard has as many
            # pools and batches, so the processes' t-th batches hold events of similar sizes and none waits long for
            # another's batch of large events at the step's gradient exchange
            shard = grouped_by_size(shard, self.grouping, self._generator(1))
        start, self.start = self.start, 0  # only the epoch a run resumes in starts part way
        self.epoch += 1
        return iter(shard[start:])


def flattening_weights(values: np.ndarray, groups: np.ndarray, strength: float, bins: int = 20, max_weight: float = 20.0) -> np.ndarray:
    """Sampling weights that flatten the distribution of ``values`` within each group, by ``strength``.

    An event in a histogram bin (``bins`` equal bins over its group's range) holding a share ``p`` of its group
    weighs ``p ** -strength``: 0 leaves the distribution, 1 makes it flat (every bin drawn as often). Weights have a
    mean of 1 per group, so each group keeps its share of the draws, and none is above ``max_weight``, so that a bin
    of a few events is not drawn dozens of times an epoch (:func:`_capped_unit_mean`).
    """
    values, groups = np.asarray(values, dtype=np.float64), np.asarray(groups)
    if not 0 <= strength <= 1 or max_weight < 1 or bins < 1:
        raise ValueError(f"flattening_weights: need 0 <= strength <= 1, max_weight >= 1, bins >= 1 (got {strength}, {max_weight}, {bins})")
    if values.shape != groups.shape or values.ndim != 1:
        raise ValueError(f"flattening_weights: values {values.shape} and groups {groups.shape} must be equal 1-D shapes")
    if not np.all(np.isfinite(values)):
        raise ValueError("flattening_weights: the values to flatten hold NaN or infinite entries")
    weights = np.ones(len(values))
    for group in np.unique(groups):
        members = groups == group
        counts, edges = np.histogram(values[members], bins=bins)
        share = counts[np.clip(np.searchsorted(edges, values[members], side="right") - 1, 0, bins - 1)] / members.sum()
        weights[members] = _capped_unit_mean(share ** -strength, max_weight)
    return weights


def _capped_unit_mean(weights: np.ndarray, cap: float) -> np.ndarray:
    """``min(c * weights, cap)`` with the scale ``c`` that gives a mean of 1 (``cap >= 1``): the ``k`` largest
    weights are capped for the smallest ``k`` at which the scale of the others keeps them below the cap."""
    n = len(weights)
    descending = np.sort(weights)[::-1]
    rest = np.cumsum(descending[::-1])[::-1]  # rest[k]: the sum of all but the k largest
    capped = np.arange(n)
    scales = (n - capped * cap) / rest
    fits = scales * descending <= cap * (1 + 1e-12)
    if not fits.any():  # only with cap == 1: every weight 1
        return np.ones(n)
    return np.minimum(scales[np.argmax(fits)] * weights, cap)


def resume_position(trainer: L.Trainer | None, batch_size: int, shard_size: int) -> tuple[int, int] | None:
    """``(epoch, batches already trained in it)`` of a restored fit, or None when nothing was restored.

    From Lightning's restored loop progress. A checkpoint written after the last batch of an epoch
    (at its end, or by a step-interval checkpoint that fell on it) resumes at the next epoch's start.
    """
    if trainer is None or trainer.global_step == 0:
        if trainer is not None and trainer.ckpt_path is not None:
            raise RuntimeError(
                "the training loader was built before the checkpoint was restored (a callback or scheduler asked "
                "for it at setup?): the resumed run would start again from epoch 0"
            )
        return None
    fit_loop = trainer.fit_loop
    epoch = fit_loop.epoch_progress.current.processed
    batches = fit_loop.epoch_loop.batch_progress.current.processed
    epoch_finished = fit_loop.epoch_progress.current.started == epoch  # saved at on_train_epoch_end
    if epoch_finished:
        return epoch, 0
    if batches >= _batches_per_epoch(trainer, math.ceil(shard_size / batch_size)):
        return epoch + 1, 0
    return epoch, batches


def _batches_per_epoch(trainer: L.Trainer, loader_batches: int) -> int:
    """The batches an epoch runs: the loader's, cut by ``limit_train_batches`` as Lightning cuts them."""
    limit = trainer.limit_train_batches
    return min(loader_batches, limit) if isinstance(limit, int) else int(loader_batches * limit)
