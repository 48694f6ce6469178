"""Per-element losses and masks, loss kinds, pairwise BCE and object condensation against naive loops."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from showerlearn.config.schema import Component, HeadConfig
from showerlearn.tasks.balancing import FixedWeights, UncertaintyWeighting
from showerlearn.tasks.condensation import object_condensation
from showerlearn.tasks.losses import HeadLoss, declare_kind, kind_of, loss_kind, masked_mean, pairwise_bce
from showerlearn.tasks.module import MultiTaskModule, RunningSelection


def undeclared_loss(prediction: torch.Tensor, truth: torch.Tensor, scale: float = 1.0) -> torch.Tensor:
    """A user's loss by import path: no declared kind, its own argument names, one parameter."""
    return scale * (prediction - truth).abs().reshape(len(prediction), -1).mean(dim=1)


# --- masked_mean over elements ------------------------------------------------------------------
def test_per_element_values_average_over_all_selected_elements_of_the_batch() -> None:
    values = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    mask = torch.tensor([[True, True, False], [True, False, False]])
    weights = torch.tensor([1.0, 3.0])
    # every selected element counts once, times its event's weight: (1 + 2 + 3 * 4) / (1 + 1 + 3)
    assert masked_mean(values, mask, weights).item() == pytest.approx((1 + 2 + 3 * 4) / 5)
    # a per-event mask selects all elements of its events
    assert masked_mean(values, torch.tensor([False, True])).item() == pytest.approx(5.0)


def test_an_element_mask_under_per_event_values_counts_events_with_any_element() -> None:
    values = torch.tensor([1.0, 10.0, 100.0])
    mask = torch.tensor([[True, False], [False, False], [False, True]])
    assert masked_mean(values, mask).item() == pytest.approx(50.5)


def test_no_selected_element_gives_zero_with_a_gradient_and_padding_nan_stays_out() -> None:
    values = torch.tensor([[1.0, float("nan")], [float("inf"), 2.0]], requires_grad=True)
    nothing = masked_mean(values, torch.zeros(2, 2, dtype=torch.bool))
    assert nothing.item() == 0.0
    nothing.backward()
    assert torch.equal(values.grad, torch.zeros(2, 2))
    assert masked_mean(values, torch.tensor([[True, False], [False, True]])).item() == pytest.approx(1.5)


def test_a_mask_that_does_not_fit_the_values_is_named() -> None:
    with pytest.raises(ValueError, match="do not fit"):
        masked_mean(torch.zeros(2, 3), torch.ones(3, dtype=torch.bool))


# --- element-wise losses ---------------------------------------------------------------------------
def test_a_per_event_loss_applies_element_by_element_under_an_element_mask() -> None:
    torch.manual_seed(0)
    logits, classes = torch.randn(2, 4, 3), torch.randint(0, 3, (2, 4))
    mask = torch.tensor([[True, True, True, False], [True, False, False, False]])
    values = HeadLoss.resolve("cross_entropy").values(logits, classes, mask)
    expected = torch.tensor([[F.cross_entropy(logits[b, n][None], classes[b, n][None]).item() for n in range(4)] for b in range(2)])
    torch.testing.assert_close(values[mask], expected[mask])  # masked-out elements: a neutral target, never used
    # vector targets per element: the components of each element average, elements stay apart
    positions, truth = torch.randn(2, 4, 3), torch.randn(2, 4, 3)
    l1 = HeadLoss.resolve("l1").values(positions, truth, mask)
    torch.testing.assert_close(l1[mask], (positions - truth).abs().mean(dim=-1)[mask])


def test_pairwise_bce_matches_the_formula_with_pos_weight() -> None:
    torch.manual_seed(1)
    logits, same = torch.randn(2, 3, 3, dtype=torch.float64), torch.randint(0, 2, (2, 3, 3)).double()
    loss = HeadLoss.resolve("pairwise_bce", {"pos_weight": 3.0})
    mask = torch.ones(2, 3, 3, dtype=torch.bool)
    values = loss.values(logits, same, mask)
    for b in range(2):
        for i in range(3):
            for j in range(3):
                p = 1.0 / (1.0 + math.exp(-logits[b, i, j].item()))
                y = same[b, i, j].item()
                assert values[b, i, j].item() == pytest.approx(-(3.0 * y * math.log(p) + (1 - y) * math.log(1 - p)))
    # without an element mask the pairs of an event average into one value
    torch.testing.assert_close(pairwise_bce(logits, same, pos_weight=3.0), values.mean(dim=(1, 2)))


# --- object condensation -----------------------------------------------------------------------------
def _naive_condensation(output: np.ndarray, target: np.ndarray, real: np.ndarray, q_min: float, s_b: float) -> list[float]:
    """Kieseler 2020, eqs. (2)-(5), one event and one pair of hits at a time."""
    losses = []
    for event in range(len(output)):
        hits = [i for i in range(output.shape[1]) if real[event, i]]
        beta = {i: min(1 / (1 + math.exp(-output[event, i, 0])), 1 - 1e-4) for i in hits}
        x = {i: output[event, i, 1:] for i in hits}
        q = {i: math.atanh(beta[i]) ** 2 + q_min for i in hits}
        objects = sorted({int(target[event, i]) for i in hits if target[event, i] >= 0})
        alpha = {}
        for k in objects:
            members = [i for i in hits if target[event, i] == k]
            alpha[k] = max(members, key=lambda i: (q[i], -i))  # the first of equal charges, as argmax
        potential = 0.0
        for j in hits:
            for k in objects:
                distance = math.sqrt(sum((x[j][d] - x[alpha[k]][d]) ** 2 for d in range(len(x[j]))))
                if target[event, j] == k:
                    potential += q[j] * distance**2 * q[alpha[k]]
                else:
                    potential += q[j] * max(0.0, 1.0 - distance) * q[alpha[k]]
        noise = [i for i in hits if target[event, i] < 0]
        loss = potential / len(hits) if hits else 0.0
        loss += sum(1 - beta[alpha[k]] for k in objects) / len(objects) if objects else 0.0
        loss += s_b * sum(beta[i] for i in noise) / len(noise) if noise else 0.0
        losses.append(loss)
    return losses


def test_object_condensation_matches_a_naive_loop() -> None:
    rng = np.random.default_rng(4)
    output = rng.normal(size=(4, 7, 3))
    target = rng.integers(-1, 3, size=(4, 7))
    target[1] = -1  # an event of noise only
    target[2, :3] = 5  # sparse object indices
    real = np.ones((4, 7), dtype=bool)
    real[0, 5:] = False
    real[3, :] = False  # an event without hits
    values = object_condensation(
        torch.from_numpy(output), torch.from_numpy(target), torch.from_numpy(real), q_min=0.3, noise_weight=2.0
    )
    np.testing.assert_allclose(values.numpy(), _naive_condensation(output, target, real, 0.3, 2.0), rtol=1e-10)


def test_object_condensation_ignores_padding_and_has_finite_gradients() -> None:
    torch.manual_seed(2)
    output = torch.randn(2, 5, 4, requires_grad=True)
    target, mask = torch.tensor([[0, 0, 1, -1, 0], [1, 1, 1, 0, 0]]), torch.tensor([[1, 1, 1, 1, 0], [1, 1, 1, 0, 0]]).bool()
    loss = HeadLoss.resolve("object_condensation")
    value = masked_mean(loss.values(output, target, mask), mask)
    value.backward()
    assert torch.isfinite(output.grad).all() and (output.grad[~mask] == 0).all()
    garbage = output.detach().clone()
    garbage[~mask] = float("nan")
    torch.testing.assert_close(loss.values(garbage, target, mask), loss.values(output.detach(), target, mask))


def test_object_condensation_is_finite_in_half_precision_and_costs_by_objects_not_by_their_ids() -> None:
    """bf16 rounds 1 - 1e-4 to 1 (atanh infinite); object ids as large as Geant4 track numbers give the same loss."""
    output = torch.tensor([[[7.0, 0.1, 0.2], [8.0, 0.3, 0.1], [-2.0, 1.0, 1.0]]])
    target, mask = torch.tensor([[0, 0, 1]]), torch.ones(1, 3, dtype=torch.bool)
    reference = object_condensation(output, target, mask)
    assert torch.isfinite(object_condensation(output.bfloat16(), target, mask)).all()
    torch.testing.assert_close(object_condensation(output, target * 10**9 + 7, mask), reference)


# --- kinds ---------------------------------------------------------------------------------------------
def _module(**heads: HeadConfig) -> MultiTaskModule:
    return MultiTaskModule(torch.nn.Linear(1, 1), heads, Component(name="uncertainty"), Component(name="adam"))


def test_head_kinds_come_from_the_losses_and_set_the_uncertainty_form() -> None:
    module = _module(
        particle=HeadConfig(loss="cross_entropy"),
        energy=HeadConfig(loss="l1"),
        pairs=HeadConfig(loss="pairwise_bce"),
        showers=HeadConfig(loss="object_condensation"),
        mine=HeadConfig(loss="test_losses_elements:undeclared_loss", loss_params={"scale": 2.0}),
    )
    assert module.head_kinds == {
        "particle": "classification", "energy": "regression", "pairs": "pairwise",
        "showers": "object_condensation", "mine": "regression",
    }
    # Kendall: categorical likelihoods exp(-s) L, the others 0.5 exp(-s) L
    assert module.balancer.current_weights() == {"particle": 1.0, "energy": 0.5, "pairs": 1.0, "showers": 0.5, "mine": 0.5}
    values = module.losses["mine"].values(torch.ones(2, 1), torch.zeros(2, 1))
    torch.testing.assert_close(values, torch.tensor([2.0, 2.0]))  # its loss_params are bound


def test_a_family_declares_a_kind_next_to_its_loss_and_balancers_accept_it() -> None:
    declare_kind("test_segmentation", categorical=True)

    @loss_kind("test_segmentation")
    def segmentation(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return output.sum(dim=1)

    assert kind_of(segmentation).name == "test_segmentation"
    assert UncertaintyWeighting({"masks": "test_segmentation", "energy": "regression"}).current_weights() == {"masks": 1.0, "energy": 0.5}
    with pytest.raises(ValueError, match="declared twice"):
        declare_kind("test_segmentation", categorical=False)
    with pytest.raises(ValueError, match="not declared"):
        loss_kind("no_such_kind")
    with pytest.raises(ValueError, match="head 'x': kind must be one of the declared"):
        FixedWeights({"x": "no_such_kind"})


# --- grouped batches ------------------------------------------------------------------------------------
def _pair_batch(sizes: list[int], seed: int) -> dict:
    """Events of ``sizes`` hits as a padded batch: pair outputs, 0/1 targets and the pair mask."""
    generator = torch.Generator().manual_seed(seed)
    n = max(sizes)
    mask = torch.zeros(len(sizes), n, dtype=torch.bool)
    for row, size in enumerate(sizes):
        mask[row, :size] = True
    pairs = mask[:, :, None] & mask[:, None, :] & ~torch.eye(n, dtype=torch.bool)
    return {"outputs": {"pairs": torch.randn(len(sizes), n, n, generator=generator)},
            "targets": {"pairs": torch.randint(0, 2, (len(sizes), n, n), generator=generator).float()},
            "masks": {"pairs": pairs}}


def test_a_running_selection_weighs_every_pair_alike_over_batches_of_other_sizes() -> None:
    """Batches of 2-hit events and of 9-hit events: divided by their own pairs, a pair of a small event would weigh
    36 times one of a large event. The first batch divides by its own count, every later one by its events times
    the mean pairs per event so far: once that mean has settled, a pair weighs the same in every batch."""
    module = _module(pairs=HeadConfig(loss="pairwise_bce"))
    module.divide_by_running_selection()
    batches = [_pair_batch([2, 2, 2], seed=1), _pair_batch([9, 9, 9], seed=2)]
    losses = [module.head_losses(b["outputs"], b, training=True)["pairs"] for b in batches]
    values = [module.losses["pairs"].values(b["outputs"]["pairs"], b["targets"]["pairs"], b["masks"]["pairs"])[b["masks"]["pairs"]]
              for b in batches]
    torch.testing.assert_close(losses[0], values[0].mean())
    torch.testing.assert_close(losses[1], values[1].sum() / (3 * (6 + 216) / 6))
    assert module.running_selection.state_dict() == {"selected": {"pairs": 222.0}, "events": {"pairs": 6}}
    # validation batches keep their own mean and leave the running mean alone
    torch.testing.assert_close(module.head_losses(batches[1]["outputs"], batches[1])["pairs"], values[1].mean())
    assert module.running_selection.events == {"pairs": 6}
    # a resumed run divides as the uninterrupted one: the running mean travels in the checkpoint
    checkpoint: dict = {}
    module.on_save_checkpoint(checkpoint)
    resumed = _module(pairs=HeadConfig(loss="pairwise_bce"))
    resumed.divide_by_running_selection()
    resumed.on_load_checkpoint(checkpoint)
    torch.testing.assert_close(resumed.head_losses(batches[0]["outputs"], batches[0], training=True)["pairs"],
                               module.head_losses(batches[0]["outputs"], batches[0], training=True)["pairs"])
    for _ in range(200):  # settled: a batch of small events and one of large events divide alike
        for batch in batches:
            module.head_losses(batch["outputs"], batch, training=True)
    small, large = (float(v.sum() / module.head_losses(b["outputs"], b, training=True)["pairs"]) for v, b in zip(values, batches))
    assert small == pytest.approx(large, rel=0.01) and small == pytest.approx(3 * 222 / 6, rel=0.01)
    # under DDP the counts are summed over the processes: two processes with these batches keep the same mean
    both = RunningSelection()
    torch.testing.assert_close(both.denominator("pairs", torch.tensor(6.0), 3, lambda x: 2 * x), torch.tensor(6.0))
    assert both.state_dict() == {"selected": {"pairs": 12.0}, "events": {"pairs": 6}}
    # with a warm-up, the batches divide by their own pairs until its events are counted
    warming = _module(pairs=HeadConfig(loss="pairwise_bce"))
    warming.divide_by_running_selection(warmup_events=7)
    own = [warming.head_losses(b["outputs"], b, training=True)["pairs"] for b in batches]
    torch.testing.assert_close(own, [v.mean() for v in values])
    torch.testing.assert_close(warming.head_losses(batches[0]["outputs"], batches[0], training=True)["pairs"],
                               values[0].sum() / (3 * (6 + 216 + 6) / 9))
