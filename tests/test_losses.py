"""Per-event losses and the masked mean every head goes through."""

from __future__ import annotations

import torch

from showerlearn.tasks.losses import HeadLoss, cross_entropy, l1, masked_mean


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


def test_masked_targets_reach_neither_the_loss_nor_the_gradient() -> None:
    """NaN regression targets and -1 ("no label") class targets on masked events, per event and per element."""
    mask = torch.tensor([True, False, True])
    for name, target in (("mse", torch.tensor([[1.0, 1.0], [float("nan"), 0.0], [2.0, 2.0]])),
                         ("smooth_l1", torch.tensor([[1.0, 1.0], [float("nan"), 0.0], [2.0, 2.0]])),
                         ("cross_entropy", torch.tensor([0, -1, 1]))):  # fmt: skip
        output = torch.zeros(3, 2, requires_grad=True)
        masked_mean(HeadLoss.resolve(name).values(output, target, mask), mask).backward()
        assert torch.isfinite(output.grad).all() and (output.grad[1] == 0).all(), name
    output = torch.zeros(1, 3, 2, requires_grad=True)
    element_mask = mask[None]
    masked_mean(HeadLoss.resolve("cross_entropy").values(output, torch.tensor([[0, -1, 1]]), element_mask), element_mask).backward()
    assert torch.isfinite(output.grad).all() and (output.grad[0, 1] == 0).all()


def test_negative_event_weights_count_with_their_sign() -> None:
    values, weights = torch.tensor([1.0, 2.0, 3.0]), torch.tensor([1.0, -0.5, 1.0])
    torch.testing.assert_close(masked_mean(values, weights=weights), (values * weights).sum() / weights.sum())


def test_vector_targets_count_once_per_event() -> None:
    output = torch.tensor([[0.0, 0.0], [1.0, 3.0]])
    target = torch.zeros(2, 2)
    torch.testing.assert_close(l1(output, target), torch.tensor([0.0, 2.0]))
    logits = torch.tensor([[10.0, -10.0], [-10.0, 10.0]])
    assert (cross_entropy(logits, torch.tensor([0, 1])) < 1e-6).all()
