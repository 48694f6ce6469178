"""The core contracts a detector family builds on: padded sets in batches (``data.collate``), the
DataModule's collate hook, per-element heads through the engine, and config checks of heads.

A whole throw-away family through the command line is tested in ``test_family_acceptance.py``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
from torch.utils.data import Dataset, default_collate

from showerlearn.config import ConfigError, resolve_config
from showerlearn.data.base import ShowerDataModule
from showerlearn.data.collate import collate_padded, pad_sets, pair_mask


# --- pad_sets and collate_padded ------------------------------------------------------------------
def test_pad_sets_pads_truncates_and_masks() -> None:
    sets = [np.arange(6.0).reshape(3, 2), np.zeros((0, 2)), np.ones((5, 2))]
    padded, mask = pad_sets(sets)
    assert padded.shape == (3, 5, 2) and padded.dtype == torch.float64
    assert mask.tolist() == [[True] * 3 + [False] * 2, [False] * 5, [True] * 5]
    for row, values in enumerate(sets):  # reference: element by element
        for n in range(5):
            expected = values[n] if n < len(values) else np.zeros(2)
            np.testing.assert_array_equal(padded[row, n].numpy(), expected)
    cut, cut_mask = pad_sets(sets, size=2)
    assert cut.shape == (3, 2, 2) and cut_mask.sum(dim=1).tolist() == [2, 0, 2]
    np.testing.assert_array_equal(cut[0].numpy(), sets[0][:2])
    pairs, pairs_mask = pad_sets([torch.ones(2, 2), torch.ones(3, 3)], set_axes=2)
    assert pairs.shape == (2, 3, 3) and pairs[0].sum() == 4 and pairs_mask.tolist() == [[True, True, False], [True] * 3]
    with pytest.raises(ValueError, match="same F"):
        pad_sets([np.zeros((2, 3)), np.zeros((2, 4))])
    with pytest.raises(ValueError, match="n_i, n_i"):
        pad_sets([np.zeros((2, 3))], set_axes=2)


def _event(n: int, energy_mask: bool, own_hit_mask: bool = False) -> dict[str, Any]:
    sample = {
        "inputs": {"hits": torch.full((n, 2), float(n)), "summary": torch.tensor([float(n)])},
        "targets": {"cluster": torch.arange(n), "same": torch.eye(n), "energy": torch.tensor(float(n))},
        "masks": {"energy": torch.tensor(energy_mask)},
        "weights": torch.tensor(1.0),
        "meta": {"event_id": torch.tensor(n), "hit_id": torch.arange(n) + 100 * n},
    }
    if own_hit_mask:
        sample["masks"]["cluster"] = torch.arange(n) % 2 == 0
    return sample


def test_collate_padded_layout_of_streams_targets_masks_and_meta() -> None:
    samples = [_event(2, True, own_hit_mask=True), _event(4, False, own_hit_mask=True)]
    batch = collate_padded(samples, elements=["inputs.hits", "targets.cluster", "meta.hit_id"], pairs=["targets.same"])
    assert batch["inputs"]["hits"].shape == (2, 4, 2) and batch["inputs"]["summary"].shape == (2, 1)
    assert batch["inputs"]["hits_mask"].tolist() == [[True, True, False, False], [True] * 4]
    assert batch["meta"]["hit_id_mask"].tolist() == batch["inputs"]["hits_mask"].tolist()
    assert batch["meta"]["hit_id"][1].tolist() == [400, 401, 402, 403] and batch["meta"]["event_id"].tolist() == [2, 4]
    # per-event entries as default_collate makes them
    assert batch["masks"]["energy"].tolist() == [True, False] and batch["weights"].shape == (2,)
    # a padded target's mask: real elements and-ed with the sample's own per-element mask
    assert batch["masks"]["cluster"].tolist() == [[True, False, False, False], [True, False, True, False]]
    # pairs: both real and different elements
    torch.testing.assert_close(batch["masks"]["same"], pair_mask(batch["inputs"]["hits_mask"]))
    assert not batch["masks"]["same"].diagonal(dim1=1, dim2=2).any() and batch["masks"]["same"][0].sum() == 2


def test_collate_padded_broadcasts_a_per_event_mask_and_fixes_the_size() -> None:
    samples = [_event(3, True), _event(1, False)]
    for sample in samples:
        sample["masks"]["cluster"] = sample["masks"]["energy"]  # per event
    batch = collate_padded(samples, elements=["inputs.hits", "targets.cluster", "meta.hit_id"], pairs=["targets.same"], size=2)
    assert batch["targets"]["cluster"].shape == (2, 2) and batch["targets"]["same"].shape == (2, 2, 2)
    assert batch["inputs"]["hits_mask"].tolist() == [[True, True], [True, False]]
    assert batch["masks"]["cluster"].tolist() == [[True, True], [False, False]]
    with pytest.raises(ValueError, match="section"):
        collate_padded(samples, elements=["hits"])
    with pytest.raises(KeyError, match="no inputs"):
        collate_padded(samples, elements=["inputs.tracks"])


class _Events(Dataset):
    def __init__(self, sizes: list[int]) -> None:
        self.sizes = sizes

    def __len__(self) -> int:
        return len(self.sizes)

    def __getitem__(self, i: int) -> dict[str, Any]:
        return _event(self.sizes[i], True)


def test_the_datamodule_collate_hook_feeds_the_loaders() -> None:
    class Plain(ShowerDataModule):
        def setup(self, stage: str | None = None) -> None:
            self.test_set = _Events([2, 2, 2])

    class Padded(Plain):
        def setup(self, stage: str | None = None) -> None:
            self.test_set = _Events([1, 3, 2])

        def collate(self, samples: list[dict[str, Any]]) -> dict[str, Any]:
            return collate_padded(samples, elements=["inputs.hits", "targets.cluster", "meta.hit_id"], pairs=["targets.same"])

    plain, padded = Plain(batch_size=3), Padded(batch_size=3)
    for datamodule in (plain, padded):
        datamodule.setup()
    assert plain.test_dataloader().collate_fn is default_collate  # the default, unchanged
    batch = next(iter(padded.test_dataloader()))
    assert batch["inputs"]["hits"].shape == (3, 3, 2) and batch["inputs"]["hits_mask"].sum().item() == 6


# --- config checks of heads ---------------------------------------------------------------------------
def test_head_metrics_and_loss_params_are_checked_with_everything_else(tabular_config: dict) -> None:
    tabular_config["data"]["params"]["batch_sise"] = 3
    tabular_config["task"]["heads"]["label"]["metrics"] = ["accuracy", "aurco"]
    tabular_config["task"]["heads"]["pairs"] = {"loss": "pairwise_bce", "loss_params": {"pos_weigth": 2.0}}
    tabular_config["task"]["heads"]["other"] = {"loss": "l1", "metrics": ["no_such_module:metric"]}
    with pytest.raises(ConfigError) as error:
        resolve_config(tabular_config)
    problems = "\n".join(error.value.problems)
    assert "data.params.batch_sise: unknown key (did you mean 'batch_size'?)" in problems
    assert "task.heads.label.metrics: unknown head metric 'aurco'. Did you mean 'auroc'" in problems
    assert "task.heads.pairs.loss_params.pos_weigth: unknown key (did you mean 'pos_weight'?)" in problems
    assert "task.heads.other.metrics: head metric 'no_such_module:metric': cannot import module" in problems
    assert len(error.value.problems) == 4


def test_loss_params_resolve_with_their_defaults(tabular_config: dict) -> None:
    tabular_config["task"]["heads"]["label"] = {"loss": "object_condensation", "loss_params": {"q_min": 0.5}}
    config = resolve_config(tabular_config)
    assert config.task.heads["label"].loss_params == {"q_min": 0.5, "noise_weight": 1.0}


def test_every_registered_network_declares_the_heads_it_returns() -> None:
    """``config validate`` checks the task's heads against them (each family's model tests compare them with
    what ``forward`` returns)."""
    from showerlearn.registry import MODELS

    assert [name for name in MODELS.names() if getattr(MODELS.get(name), "output_heads", None) is None] == []
