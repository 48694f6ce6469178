"""Train / val / test splits: the settings every DataModule takes (``data.params.split``) and the draw.

``split: {fractions: [0.7, 0.15, 0.15], seed: null}`` means the same for every DataModule: shuffle the
candidate events with the seed and cut them into consecutive parts of those fractions. A family adds
its own settings by subclassing :class:`SplitSpec` (the IACT DataModule's ``by: event | file``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from pydantic import ConfigDict, Field, model_validator

from showerlearn.config.base import SettingsModel

__all__ = ["SplitSpec", "split_indices"]


def split_indices(n: int, fractions: Sequence[float], seed: int) -> list[np.ndarray]:
    """Shuffle ``range(n)`` with ``seed`` and cut it into consecutive parts of the given fractions."""
    if not np.isclose(sum(fractions), 1.0):
        raise ValueError(f"split fractions must sum to 1, got {list(fractions)}")
    order = np.random.default_rng(seed).permutation(n)
    bounds = np.round(np.cumsum(fractions)[:-1] * n).astype(int)
    return [np.sort(part) for part in np.split(order, bounds)]


class SplitSpec(SettingsModel):
    """How events are divided into train / val / test."""

    model_config = ConfigDict(frozen=True)

    fractions: tuple[float, float, float] = Field((0.7, 0.15, 0.15), description="train, val, test fractions.")
    seed: int | None = Field(
        None, ge=0, lt=2**32,
        description="Seed of the split; null: the experiment seed, so a seed sweep also redraws the split. Fix it "
        "to vary only initialisation and batch order across seeds (with simulated data fix the simulation seed "
        "too). All seeds then share one test set, which an ensemble of the sweep needs.",
    )

    @model_validator(mode="after")
    def _sum(self) -> SplitSpec:
        if not np.isclose(sum(self.fractions), 1.0) or min(self.fractions) < 0:
            raise ValueError(f"split fractions must be >= 0 and sum to 1, got {list(self.fractions)}")
        return self

    def seed_for(self, experiment_seed: int) -> int:
        """The seed that draws the split: ``seed``, or else the experiment's."""
        return experiment_seed if self.seed is None else self.seed

    def indices(self, n: int, experiment_seed: int) -> list[np.ndarray]:
        """Sorted train, val and test indices into ``n`` candidates (:func:`split_indices`)."""
        return split_indices(n, self.fractions, self.seed_for(experiment_seed))
