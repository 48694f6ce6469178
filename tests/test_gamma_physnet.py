"""gamma-PhysNet(-DA) and Dual Attention on the real LST camera lattice."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from showerlearn.config import ConfigError, load_config
from showerlearn.config.components import declared_heads
from showerlearn.iact.geometry import LST_EQUIVALENT_FOCAL_LENGTH, Lattice, lst_camera
from showerlearn.iact.models.gamma_physnet import GammaPhysNet, GammaPhysNetDA
from showerlearn.models.mlp import MLP
from showerlearn.iact.nn import DualAttention
from showerlearn.registry import MODELS
from showerlearn.tasks.balancing import GradNorm, UncertaintyWeighting
from showerlearn.tasks.losses import cross_entropy, l1, masked_mean

TINY = {"depth": 8, "widths": (4, 8, 16), "fc_width": 16}  # 1 basic block per stage: fast on 2 cores
HEADS = {"particle": "classification", "energy": "regression", "direction": "regression", "impact": "regression"}


@pytest.fixture(scope="module")
def lattice() -> Lattice:
    return Lattice.from_camera(lst_camera())


def _fake_batch(lattice: Lattice, batch: int = 8, seed: int = 0) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    generator = torch.Generator().manual_seed(seed)
    images = torch.randn(batch, 2, lattice.n_pixels, generator=generator)
    targets = {
        "particle": torch.arange(batch) % 2,  # half gammas (0), half protons (1)
        "energy": torch.randn(batch, generator=generator),
        "direction": torch.randn(batch, 2, generator=generator),
        "impact": torch.randn(batch, 2, generator=generator),
    }
    return images, targets


def _head_losses(outputs: dict[str, torch.Tensor], targets: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    gammas = targets["particle"] == 0  # regression heads learn from gammas only
    losses = {"particle": masked_mean(cross_entropy(outputs["particle"], targets["particle"]))}
    for head in ("energy", "direction", "impact"):
        losses[head] = masked_mean(l1(outputs[head], targets[head]), gammas)
    return losses


# ---------------------------------------------------------------------------------- Dual Attention
def test_dual_attention_matches_formula_and_only_amplifies(lattice: Lattice) -> None:
    torch.manual_seed(0)
    block = DualAttention(32, lattice, ratio=16).eval()
    x = torch.randn(3, 32, lattice.n_pixels)
    out = block(x)
    # channel path written out independently: squeeze (mean over pixels) -> FC -> ReLU -> FC -> sigmoid
    hidden = torch.relu(x.mean(2) @ block.squeeze.weight.T + block.squeeze.bias)
    channel = torch.sigmoid(hidden @ block.excite.weight.T + block.excite.bias)
    spatial = block.last_spatial_map
    assert spatial.shape == (3, lattice.n_pixels)
    assert not spatial.requires_grad
    assert torch.all(spatial >= 1.0) and torch.all(spatial <= 2.0)
    torch.testing.assert_close(out, x * channel[:, :, None] * spatial[:, None, :])
    # the spatial factor never shrinks a pixel: |out| / |x * channel| is in [1, 2]
    factor = out.abs() / (x * channel[:, :, None]).abs()
    assert factor.min() >= 1.0 - 1e-6 and factor.max() <= 2.0 + 1e-6


@pytest.mark.parametrize(("bias", "expected"), [(-100.0, 1.0), (100.0, 2.0)])
def test_dual_attention_spatial_factor_saturates_at_one_and_two(lattice: Lattice, bias: float, expected: float) -> None:
    block = DualAttention(8, lattice).eval()
    with torch.no_grad():
        block.spatial[-1].weight.zero_()
        block.spatial[-1].bias.fill_(bias)
    block(torch.randn(2, 8, lattice.n_pixels))
    assert torch.all(block.last_spatial_map == expected)


def test_dual_attention_rejects_wrong_shape(lattice: Lattice) -> None:
    with pytest.raises(ValueError, match="expects \\(batch, 8, 1855\\)"):
        DualAttention(8, lattice)(torch.randn(2, 8, 100))


# ---------------------------------------------------------------------------------- the network
@pytest.mark.parametrize("local_head", ["full", "light"])
def test_outputs_keys_and_shapes(lattice: Lattice, local_head: str) -> None:
    model = GammaPhysNet(lattice, in_channels=3, n_classes=2, local_head=local_head, **TINY).eval()
    outputs = model(torch.randn(5, 3, lattice.n_pixels))
    assert {k: tuple(v.shape) for k, v in outputs.items()} == {
        "particle": (5, 2),
        "energy": (5,),
        "direction": (5, 2),
        "impact": (5, 2),
    }
    assert declared_heads(GammaPhysNet, {}) == set(outputs)  # what the config check reads
    assert model.attention_modules() == []


def test_registry_names_and_attention_defaults(lattice: Lattice) -> None:
    assert MODELS.get("gamma_physnet") is GammaPhysNet
    assert MODELS.get("gamma_physnet_da") is GammaPhysNetDA
    model = MODELS.get("gamma_physnet_da")(lattice=lattice, in_channels=2, n_classes=2, **TINY)
    assert len(model.attention_modules()) == 3


def test_da_spatial_maps_are_retrievable_per_stage(lattice: Lattice) -> None:
    model = GammaPhysNetDA(lattice, **TINY).eval()
    with pytest.raises(RuntimeError, match="forward pass"):
        model.attention_maps()
    model(torch.randn(4, 2, lattice.n_pixels))
    maps = model.attention_maps()
    sizes = [stage.n_pixels for stage in model.backbone.stage_lattices]
    assert [tuple(m.shape) for m in maps] == [(4, n) for n in sizes]
    assert sizes[0] == lattice.n_pixels and sizes[0] > sizes[1] > sizes[2]
    for spatial in maps:
        assert torch.all(spatial >= 1.0) and torch.all(spatial <= 2.0)


def _count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_parameter_counts_full_versus_light(lattice: Lattice) -> None:
    full = GammaPhysNetDA(lattice)  # the paper's ResNet-56 with Dual Attention
    light = GammaPhysNetDA(lattice, local_head="light", local_channels=4)
    n_out = full.backbone.out_lattice.n_pixels
    assert full.backbone.out_channels == 64
    # flatten -> FC layers written out by hand: fusion (C N -> 256) and classifier (C N -> 2)
    assert _count(full.fusion) == 64 * n_out * 256 + 256
    assert _count(full.particle_head) == 64 * n_out * 2 + 2
    assert _count(light.fusion) == 4 * n_out * 256 + 256
    local_full = _count(full.fusion) + _count(full.particle_head)
    assert local_full / _count(full) > 0.7  # GammaLearn's layout: the local path dominates (74 % on LSTCam)
    assert _count(full) - _count(light) == local_full - (
        _count(light.fusion) + _count(light.particle_head) + _count(light.local_reduce)
    )
    assert _count(light) < 0.35 * _count(full)


MOMENT_HEADS = {
    "image_moments": True, "direction_head": "axis", "camera": lst_camera(), "focal_length": LST_EQUIVALENT_FOCAL_LENGTH
}


@pytest.mark.parametrize("heads", [{}, MOMENT_HEADS], ids=["paper_heads", "moments_and_axis_head"])
def test_a_few_steps_reduce_the_loss_and_train_the_uncertainty_weights(lattice: Lattice, heads: dict) -> None:
    torch.manual_seed(0)
    model = GammaPhysNetDA(lattice, local_head="light", **TINY, **heads)
    balancer = UncertaintyWeighting(HEADS)
    optimizer = torch.optim.Adam([*model.parameters(), *balancer.parameters()], lr=3e-3)
    images, targets = _fake_batch(lattice)
    first = last = None
    for _ in range(6):
        losses = _head_losses(model(images), targets)
        total = sum(losses.values()).item()
        optimizer.zero_grad()
        balancer(losses).backward()
        assert balancer.log_vars.grad is not None and torch.all(balancer.log_vars.grad != 0)
        optimizer.step()
        first = total if first is None else first
        last = total
    assert last < 0.8 * first
    assert not torch.allclose(balancer.log_vars.detach(), torch.zeros(4))


def test_regression_heads_ignore_protons(lattice: Lattice) -> None:
    model = GammaPhysNet(lattice, **TINY)
    images, targets = _fake_batch(lattice, batch=4)
    targets["particle"] = torch.ones(4, dtype=torch.long)  # protons only
    losses = _head_losses(model(images), targets)
    assert losses["energy"].item() == 0.0 and not torch.isnan(losses["energy"])
    losses["energy"].backward()
    assert all(p.grad is None or torch.all(p.grad == 0) for p in model.parameters())


def test_shared_parameters_feed_every_head_and_gradnorm(lattice: Lattice) -> None:
    model = GammaPhysNetDA(lattice, **TINY)
    shared = model.shared_parameters()
    assert shared and all(any(s is p for p in model.backbone.parameters()) for s in shared)
    images, targets = _fake_batch(lattice)
    losses = _head_losses(model(images), targets)
    for head, loss in losses.items():
        grads = torch.autograd.grad(loss, shared, retain_graph=True, allow_unused=True)
        assert any(g is not None and g.abs().sum() > 0 for g in grads), head
    balancer = GradNorm(HEADS)
    balancer(losses, shared).backward()
    assert balancer.weights.grad is not None and balancer.weights.grad.abs().sum() > 0


# ---------------------------------------------------------------------------------- the generic mlp
def test_mlp_sizes_itself_from_the_lattice_and_returns_one_output_per_head(lattice: Lattice) -> None:
    model = MODELS.get("mlp")(heads={"particle": 2, "energy": 1, "direction": 2}, in_channels=2, lattice=lattice)
    assert isinstance(model, MLP) and model.in_features == 2 * lattice.n_pixels
    outputs = model(torch.randn(3, 2, lattice.n_pixels))
    assert {k: tuple(v.shape) for k, v in outputs.items()} == {"particle": (3, 2), "energy": (3,), "direction": (3, 2)}
    assert declared_heads(MLP, {"heads": {"particle": 2, "energy": 1, "direction": 2}}) == set(outputs)
    with pytest.raises(ValueError, match="expects 3710 features"):
        model(torch.randn(3, 1, lattice.n_pixels))
    with pytest.raises(ValueError, match="needs in_features"):
        MLP(heads={"energy": 1})


@pytest.mark.parametrize("size", ["", "_small"])
def test_example_pairs_differ_only_by_attention(size: str) -> None:
    """gamma_physnet{size}.yaml must be gamma_physnet_da{size}.yaml without attention, nothing else."""
    from pathlib import Path

    from showerlearn.config import load_config

    examples = Path(__file__).resolve().parents[1] / "examples"
    plain, attention = (load_config(examples / f"{name}{size}.yaml") for name in ("gamma_physnet", "gamma_physnet_da"))
    assert plain.model.name == "gamma_physnet" and attention.model.name == "gamma_physnet_da"
    same = {key: value for key, value in plain.model.params.items() if key != "attention"}
    assert same == {key: value for key, value in attention.model.params.items() if key != "attention"}
    assert plain.data == attention.data and plain.trainer == attention.trainer and plain.task == attention.task


@pytest.mark.parametrize("depth", [57, 2])
def test_a_depth_the_backbone_cannot_have_is_a_config_error(depth: int) -> None:
    """Found by the config check (exit 2, before any work), not when the network is built in the run."""
    example = Path(__file__).resolve().parents[1] / "examples" / "gamma_physnet_da_small.yaml"
    with pytest.raises(ConfigError, match=rf"model\.params\.depth: must be 6 n \+ 2 with n >= 1 .*got {depth}"):
        load_config(example, [f"model.params.depth={depth}"])
    assert load_config(example, ["model.params.depth=20"]).model.params["depth"] == 20
    with pytest.raises(ValueError, match=rf"depth must be 6 n \+ 2 .*got {depth}"):  # the Python API says it too
        GammaPhysNet(Lattice.from_camera(lst_camera()), depth=depth)
