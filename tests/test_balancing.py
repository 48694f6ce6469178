"""Task balancers against hand-computed values and gradients."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from showerlearn.models.mlp import MLP
from showerlearn.registry import BALANCERS
from showerlearn.tasks.balancing import FixedWeights, GradNorm, UncertaintyWeighting

HEADS = {"particle": "classification", "energy": "regression"}


def test_registered_names() -> None:
    assert BALANCERS.get("fixed") is FixedWeights
    assert BALANCERS.get("uncertainty") is UncertaintyWeighting
    assert BALANCERS.get("gradnorm") is GradNorm


def test_fixed_weights_value_and_defaults() -> None:
    balancer = FixedWeights(HEADS, weights={"energy": 2.5})
    losses = {"particle": torch.tensor(0.7), "energy": torch.tensor(1.3)}
    assert balancer(losses).item() == pytest.approx(0.7 * 1.0 + 1.3 * 2.5)
    assert balancer.current_weights() == {"particle": 1.0, "energy": 2.5}
    assert list(balancer.parameters()) == []


def test_bad_heads_and_losses_are_named() -> None:
    with pytest.raises(ValueError, match="unknown heads \\['impact'\\]"):
        FixedWeights(HEADS, weights={"impact": 1.0})
    with pytest.raises(ValueError, match="kind must be"):
        FixedWeights({"particle": "segmentation"})
    with pytest.raises(KeyError, match="missing \\['energy'\\]"):
        FixedWeights(HEADS)({"particle": torch.tensor(1.0)})
    with pytest.raises(ValueError, match="must be a scalar"):
        FixedWeights(HEADS)({"particle": torch.ones(3), "energy": torch.tensor(1.0)})


@pytest.mark.parametrize("form", ["kendall", "gammalearn"])
def test_uncertainty_value_and_gradients_by_hand(form: str) -> None:
    balancer = UncertaintyWeighting(HEADS, form=form)
    s_c, s_r, l_c, l_r = 0.3, -0.2, 0.7, 1.3
    with torch.no_grad():
        balancer.log_vars.copy_(torch.tensor([s_c, s_r]))
    losses = {"particle": torch.tensor(l_c, requires_grad=True), "energy": torch.tensor(l_r, requires_grad=True)}
    total = balancer(losses)
    total.backward()
    if form == "kendall":  # classification exp(-s)L + s/2, regression exp(-s)L/2 + s/2
        a_c, a_r, b = 1.0, 0.5, 0.5
    else:  # GammaLearn: exp(-s)L + s for every head
        a_c, a_r, b = 1.0, 1.0, 1.0
    expected = a_c * math.exp(-s_c) * l_c + b * s_c + a_r * math.exp(-s_r) * l_r + b * s_r
    assert total.item() == pytest.approx(expected, rel=1e-6)
    ds = [-a_c * math.exp(-s_c) * l_c + b, -a_r * math.exp(-s_r) * l_r + b]
    assert balancer.log_vars.grad.tolist() == pytest.approx(ds, rel=1e-6)
    assert losses["particle"].grad.item() == pytest.approx(a_c * math.exp(-s_c), rel=1e-6)
    assert losses["energy"].grad.item() == pytest.approx(a_r * math.exp(-s_r), rel=1e-6)
    assert balancer.current_weights() == pytest.approx(
        {"particle": a_c * math.exp(-s_c), "energy": a_r * math.exp(-s_r)}, rel=1e-6
    )


def test_uncertainty_optimum_is_log_of_loss() -> None:
    # minimising over s with fixed losses: Kendall regression optimum s = log L, classification s = log 2L
    balancer = UncertaintyWeighting(HEADS)
    losses = {"particle": torch.tensor(0.4), "energy": torch.tensor(3.0)}
    optimizer = torch.optim.LBFGS(
        balancer.parameters(), max_iter=200, tolerance_grad=1e-9, tolerance_change=1e-12, line_search_fn="strong_wolfe"
    )

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        total = balancer(losses)
        total.backward()
        return total

    optimizer.step(closure)
    assert balancer.log_vars.tolist() == pytest.approx([math.log(0.8), math.log(3.0)], abs=1e-4)


def test_uncertainty_weights_learn_while_training_a_tiny_model() -> None:
    torch.manual_seed(0)
    model = MLP(heads={"particle": 2, "energy": 1}, hidden=(8,), in_features=5)
    balancer = UncertaintyWeighting(HEADS)
    optimizer = torch.optim.Adam([*model.parameters(), *balancer.parameters()], lr=0.05)
    x = torch.randn(32, 5)
    labels, energy = (x[:, 0] > 0).long(), 3.0 * x[:, 1]
    start = balancer.log_vars.detach().clone()
    for _ in range(5):
        out = model(x)
        losses = {
            "particle": nn.functional.cross_entropy(out["particle"], labels),
            "energy": nn.functional.l1_loss(out["energy"], energy),
        }
        optimizer.zero_grad()
        balancer(losses).backward()
        assert balancer.log_vars.grad is not None and torch.all(balancer.log_vars.grad != 0)
        optimizer.step()
    assert not torch.allclose(balancer.log_vars.detach(), start)
    # the energy loss (~2.4) exceeds its log-variance optimum at s=0, so its weight must drop
    assert balancer.current_weights()["energy"] < 0.5


def _toy_problem() -> tuple[nn.Parameter, dict[str, torch.Tensor]]:
    """Shared parameter W=(1,2): L_a = |W|^2 (gradient 2W, norm 2 sqrt 5), L_b = 3 W_0 (gradient (3, 0), norm 3)."""
    w = nn.Parameter(torch.tensor([1.0, 2.0]))
    return w, {"particle": (w**2).sum(), "energy": 3.0 * w[0]}


def test_gradnorm_first_step_by_hand() -> None:
    shared, losses = _toy_problem()
    balancer = GradNorm(HEADS, alpha=1.5)
    total = balancer(losses, [shared])
    norm_a, norm_b = 2 * math.sqrt(5), 3.0
    target = (norm_a + norm_b) / 2  # first step: L/L(0) = 1, so r = 1 for both heads
    gradnorm_loss = abs(norm_a - target) + abs(norm_b - target)
    assert total.item() == pytest.approx(5.0 + 3.0 + gradnorm_loss, rel=1e-6)
    total.backward()
    # weights receive only d L_grad / d w_i = sign(G_i - target) * ||grad L_i||
    assert balancer.weights.grad.tolist() == pytest.approx([norm_a, -norm_b], rel=1e-6)
    # the network receives only the gradient of sum_i w_i L_i (w = 1): 2W + (3, 0)
    assert shared.grad.tolist() == pytest.approx([2 * 1.0 + 3.0, 2 * 2.0], rel=1e-6)
    assert balancer.initial_losses.tolist() == pytest.approx([5.0, 3.0])


def test_gradnorm_relative_rates_by_hand() -> None:
    shared, losses = _toy_problem()
    balancer = GradNorm(HEADS, alpha=1.5)
    balancer(losses, [shared])  # records L(0) = (5, 3)
    with torch.no_grad():
        shared.copy_(torch.tensor([0.5, 2.0]))
        balancer.weights.copy_(torch.tensor([0.8, 1.2]))
    losses = {"particle": (shared**2).sum(), "energy": 3.0 * shared[0]}  # 4.25 and 1.5
    total = balancer(losses, [shared])
    ratio_a, ratio_b = 4.25 / 5.0, 1.5 / 3.0
    mean_ratio = (ratio_a + ratio_b) / 2
    g_a, g_b = 0.8 * math.sqrt(17), 1.2 * 3.0  # grad L_a = 2W = (1, 4)
    mean_g = (g_a + g_b) / 2
    t_a, t_b = mean_g * (ratio_a / mean_ratio) ** 1.5, mean_g * (ratio_b / mean_ratio) ** 1.5
    expected = 0.8 * 4.25 + 1.2 * 1.5 + abs(g_a - t_a) + abs(g_b - t_b)
    assert total.item() == pytest.approx(expected, rel=1e-6)
    total.backward()
    expected_grad = [math.copysign(math.sqrt(17), g_a - t_a), math.copysign(3.0, g_b - t_b)]
    assert balancer.weights.grad.tolist() == pytest.approx(expected_grad, rel=1e-6)


def test_gradnorm_moves_weights_toward_equal_gradient_norms() -> None:
    shared, _ = _toy_problem()
    balancer = GradNorm(HEADS, alpha=0.0)  # alpha = 0: the target is equal weighted gradient norms
    optimizer = torch.optim.SGD(balancer.parameters(), lr=0.005)
    gaps = []
    for _ in range(300):
        losses = {"particle": (shared**2).sum(), "energy": 3.0 * shared[0]}
        optimizer.zero_grad()
        balancer(losses, [shared]).backward()
        optimizer.step()
        balancer.after_optimizer_step()
        g = balancer.last_gradient_norms
        gaps.append(abs(g["particle"] - g["energy"]))
    norm_a, norm_b = 2 * math.sqrt(5), 3.0
    w = balancer.current_weights()
    assert sum(w.values()) == pytest.approx(2.0)
    # equilibrium: w_a norm_a = w_b norm_b with w_a + w_b = 2
    assert w["particle"] == pytest.approx(2 * norm_b / (norm_a + norm_b), abs=0.03)
    assert gaps[-1] < 0.1 * gaps[0]


def test_gradnorm_outside_training_and_errors() -> None:
    shared, losses = _toy_problem()
    balancer = GradNorm(HEADS)
    with pytest.raises(ValueError, match="shared parameters"):
        balancer(losses)
    with torch.no_grad():
        total = balancer({"particle": torch.tensor(5.0), "energy": torch.tensor(3.0)})
    assert total.item() == pytest.approx(8.0)
    assert torch.isnan(balancer.initial_losses).all()  # validation never records L(0)


def test_gradnorm_ignores_a_head_with_zero_loss() -> None:
    # a batch without gammas: masked regression losses are exactly 0 and must not steer the weights
    shared, losses = _toy_problem()
    balancer = GradNorm(HEADS)
    losses["energy"] = 0.0 * losses["energy"]
    total = balancer(losses, [shared])
    assert total.item() == pytest.approx(5.0)  # L_grad over the one active head is |G - mean G| = 0
    total.backward()
    assert balancer.weights.grad.tolist() == pytest.approx([0.0, 0.0])
    assert math.isnan(balancer.initial_losses[1].item())


def test_gradnorm_renormalises_to_number_of_heads() -> None:
    balancer = GradNorm(HEADS, min_weight=0.01)
    with torch.no_grad():
        balancer.weights.copy_(torch.tensor([-0.5, 3.0]))
    balancer.after_optimizer_step()
    assert balancer.current_weights() == pytest.approx({"particle": 2 * 0.01 / 3.01, "energy": 2 * 3.0 / 3.01})
