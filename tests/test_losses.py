"""Per-event losses and the masked mean every head goes through."""

from __future__ import annotations

import torch

from showerlearn.tasks.losses import cross_entropy, l1, masked_mean


def test_masked_mean_matches_the_mean_over_selected_events() -> None:
    values = torch.tensor([1.0, 2.0, 3.0, 4.0])
    mask = torch.tensor([True, False, True, False])
    assert masked_mean(values, mask) == 2.0
    weights = torch.tensor([1.0, 5.0, 3.0, 5.0])
    assert torch.isclose(masked_mean(values, mask, weights), torch.tensor((1.0 * 1 + 3.0 * 3) / 4))


def test_batch_without_selected_events_gives_zero_with_a_gradient_path() -> None:
    values = torch.tensor([1.0, 2.0], requires_grad=True)
    result = masked_mean(values, torch.tensor([False, False]))
    assert result.item() == 0.0
    result.backward()
    assert torch.equal(values.grad, torch.zeros(2))


def test_nan_on_a_masked_event_does_not_poison_the_loss() -> None:
    values = torch.tensor([1.0, float("nan"), float("inf")])
    assert masked_mean(values, torch.tensor([True, False, False])) == 1.0


def test_vector_targets_count_once_per_event() -> None:
    output = torch.tensor([[0.0, 0.0], [1.0, 3.0]])
    target = torch.zeros(2, 2)
    torch.testing.assert_close(l1(output, target), torch.tensor([0.0, 2.0]))
    logits = torch.tensor([[10.0, -10.0], [-10.0, 10.0]])
    assert (cross_entropy(logits, torch.tensor([0, 1])) < 1e-6).all()
