"""Explanations: Grad-CAM against a hand implementation and captum, attention maps, seed statistics,
quantitative criteria on hand-made maps."""

from __future__ import annotations

import json
import math
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

from showerlearn.explain.attention import capture_attention
from showerlearn.iact.explain.attention import dual_attention_maps, global_spatial_attention
from showerlearn.iact.explain.criteria import (
    border_mask,
    centroid_distance,
    explanation_criteria,
    intensity_centroid,
    mass_fraction,
    pearson_correlation,
    signal_region,
)
from showerlearn.explain.driver import CriteriaSettings
from showerlearn.explain.gradcam import OutputSelector, resolve_layer
from showerlearn.iact.explain.gradcam import grad_cam
from showerlearn.iact.explain.projection import PixelProjector
from showerlearn.explain.seeds import criteria_table, seed_statistics, stack_over_seeds, summarise_over_seeds
from showerlearn.iact.geometry import Lattice, lst_camera, upsample_to_pixels
from showerlearn.iact.geometry.mappers import AxialMapper
from showerlearn.iact.nn.attention import DualAttention
from showerlearn.iact.nn.lattice import LatticeConv, LatticeMaxPool


def hex_lattice(radius: int = 4) -> Lattice:
    q, r = np.meshgrid(np.arange(-radius, radius + 1), np.arange(-radius, radius + 1))
    keep = np.abs(q + r) <= radius
    q, r = q[keep], r[keep]
    return Lattice.from_positions(q + r / 2, r * math.sqrt(3) / 2)


class TinyLatticeNet(nn.Module):
    """Two lattice stages (conv, pool) and gamma-PhysNet-like heads; optional Dual Attention per stage."""

    def __init__(self, lattice: Lattice, attention: bool = False) -> None:
        super().__init__()
        pool1 = LatticeMaxPool(lattice)
        pool2 = LatticeMaxPool(pool1.out_lattice)
        layers: list[nn.Module] = [LatticeConv(2, 4, lattice), nn.ReLU()]
        layers += [DualAttention(4, lattice, ratio=2)] if attention else []
        layers += [pool1, LatticeConv(4, 6, pool1.out_lattice), nn.ReLU(inplace=True)]
        layers += [DualAttention(6, pool1.out_lattice, ratio=2)] if attention else []
        layers += [pool2]
        self.backbone = nn.Sequential(*layers)
        n_out = pool2.out_lattice.n_pixels
        self.particle = nn.Linear(6 * n_out, 2)
        self.energy = nn.Linear(6, 1)
        self.direction = nn.Linear(6 * n_out, 2)

    def heads(self, features: torch.Tensor) -> dict[str, torch.Tensor]:
        flat = features.flatten(1)
        return {
            "particle": self.particle(flat),
            "energy": self.energy(features.mean(2)).squeeze(1),
            "direction": self.direction(torch.tanh(flat)),
        }

    def forward(self, inputs: torch.Tensor) -> dict[str, torch.Tensor]:
        return self.heads(self.backbone(inputs))


@pytest.fixture(scope="module")
def lattice() -> Lattice:
    return hex_lattice()


@pytest.fixture
def tiny(lattice: Lattice) -> TinyLatticeNet:
    torch.manual_seed(0)
    return TinyLatticeNet(lattice).double().eval()


def _inputs(lattice: Lattice, batch: int = 3) -> torch.Tensor:
    return torch.randn(batch, 2, lattice.n_pixels, generator=torch.Generator().manual_seed(1), dtype=torch.float64)


# ------------------------------------------------------------------------------------- Grad-CAM
@pytest.mark.parametrize("target", ["particle:0", "particle:1", "energy", "direction:1"])
def test_grad_cam_equals_direct_implementation(tiny: TinyLatticeNet, lattice: Lattice, target: str) -> None:
    x = _inputs(lattice)
    result = grad_cam(tiny, x, target, lattice=lattice)
    selector = OutputSelector.parse(target)
    # by hand, event by event: the stage's activation, the gradient of that event's score alone
    activation = tiny.backbone(x)
    for b in range(len(x)):
        score = selector.score(tiny.heads(activation))[b]
        (gradient,) = torch.autograd.grad(score, activation, retain_graph=True)
        alpha = gradient[b].mean(dim=1)  # one weight per channel
        cam = torch.relu((alpha[:, None] * activation[b]).sum(0)).detach()
        torch.testing.assert_close(result.layer_maps[target][b], cam, rtol=1e-12, atol=1e-12)
    pools = [m for m in tiny.backbone if isinstance(m, LatticeMaxPool)]
    expected = upsample_to_pixels(result.layer_maps[target], [p.level for p in pools])
    assert result.maps[target].shape == (3, lattice.n_pixels)
    torch.testing.assert_close(result.maps[target], expected, rtol=0, atol=0)
    assert (result.maps[target] >= 0).all() and result.maps[target].abs().sum() > 0
    torch.testing.assert_close(result.outputs["particle"], tiny(x)["particle"])


@pytest.mark.parametrize("method", ["gradcam", "hirescam"])
def test_grad_cam_against_a_reference_input_by_hand(tiny: TinyLatticeNet, lattice: Lattice, method: str) -> None:
    x = _inputs(lattice)
    empty = torch.zeros_like(x[:1])
    result = grad_cam(tiny, x, "particle:0", lattice=lattice, method=method, reference=empty)
    activation, baseline = tiny.backbone(x), tiny.backbone(empty).detach()
    for b in range(len(x)):
        (gradient,) = torch.autograd.grad(tiny.heads(activation)["particle"][b, 0], activation, retain_graph=True)
        weights = gradient[b].mean(dim=1, keepdim=True) if method == "gradcam" else gradient[b]
        cam = torch.relu((weights * (activation[b] - baseline[0])).sum(0)).detach()
        torch.testing.assert_close(result.layer_maps["particle:0"][b], cam, rtol=1e-12, atol=1e-12)
    # an input equal to the reference has nothing to explain
    same = grad_cam(tiny, empty.expand(2, -1, -1), "particle:0", lattice=lattice, method=method, reference=empty)
    assert same.maps["particle:0"].abs().max() == 0
    with pytest.raises(ValueError, match="reference gives layer activations"):
        grad_cam(tiny, x, "particle:0", lattice=lattice, reference=torch.zeros(2, 2, lattice.n_pixels, dtype=x.dtype))


def test_core_grad_cam_projects_through_the_given_projection(tiny: TinyLatticeNet, lattice: Lattice) -> None:
    from showerlearn.explain.gradcam import grad_cam as core_grad_cam

    x = _inputs(lattice)
    plain = core_grad_cam(tiny, x, "energy")
    torch.testing.assert_close(plain.maps["energy"], plain.layer_maps["energy"])  # no projection: on the layer
    doubled = core_grad_cam(tiny, x, "energy", projection=lambda cam: 2 * cam)
    torch.testing.assert_close(doubled.maps["energy"], 2 * plain.layer_maps["energy"])


def test_grad_cam_several_targets_one_pass_and_mode_restored(tiny: TinyLatticeNet, lattice: Lattice) -> None:
    x = _inputs(lattice)
    tiny.train()
    both = grad_cam(tiny, x, ["particle:0", "energy"], layer="backbone.3")  # the second stage's convolution
    assert tiny.training
    alone = grad_cam(tiny, x, "energy", layer=tiny.backbone[3])
    torch.testing.assert_close(both.maps["energy"], alone.maps["energy"])
    assert both.layer_maps["energy"].shape == (3, tiny.backbone[2].out_lattice.n_pixels)
    assert all(p.grad is None for p in tiny.parameters())  # explaining does not touch training gradients


def test_signed_map_and_relu(tiny: TinyLatticeNet, lattice: Lattice) -> None:
    x = _inputs(lattice)
    signed = grad_cam(tiny, x, "particle:0", relu=False, project=False).maps["particle:0"]
    clipped = grad_cam(tiny, x, "particle:0", project=False).maps["particle:0"]
    assert (signed < 0).any()
    torch.testing.assert_close(clipped, signed.clamp_min(0))


def test_selector_errors(tiny: TinyLatticeNet, lattice: Lattice) -> None:
    x = _inputs(lattice)
    with pytest.raises(KeyError, match="no output 'impact'"):
        grad_cam(tiny, x, "impact")
    with pytest.raises(ValueError, match="select one, e.g. 'particle:0'"):
        grad_cam(tiny, x, "particle")
    with pytest.raises(ValueError, match="no column 5"):
        grad_cam(tiny, x, "direction:5")
    with pytest.raises(ValueError, match="'head' or 'head:index'"):
        OutputSelector.parse("particle:gamma")
    with pytest.raises(ValueError, match="index >= 0"):  # 'particle:-1' would be 'particle:1' under another name
        OutputSelector.parse("particle:-1")
    with pytest.raises(ValueError, match="no column -1"):
        OutputSelector("particle", -1).score(tiny(x))
    with pytest.raises(KeyError, match="no layer 'stage9'"):
        grad_cam(tiny, x, "energy", layer="stage9")
    with pytest.raises(ValueError, match="no positions"):
        grad_cam(tiny, x, "energy", layer=tiny.energy)


def test_projection_takes_a_nearest_coarse_pixel(lattice: Lattice) -> None:
    pool = LatticeMaxPool(lattice)
    coarse = pool.out_lattice
    values = np.arange(coarse.n_pixels, dtype=float) + 10.0
    projected = PixelProjector(pool, lattice)(values)
    fine_xy = lattice.lattice_frame_positions()
    coarse_xy = fine_xy[pool.level.kept]
    distance = np.linalg.norm(fine_xy[:, None] - coarse_xy[None], axis=2)
    for i in range(lattice.n_pixels):
        nearest = np.flatnonzero(np.isclose(distance[i], distance[i].min()))
        assert projected[i] in values[nearest]
    with pytest.raises(ValueError, match="pooling hierarchy has lattices of"):
        PixelProjector(pool, lattice)(np.zeros(5))


@pytest.mark.parametrize("target", ["particle:1", "energy"])
def test_grad_cam_matches_captum_on_lattice(tiny: TinyLatticeNet, lattice: Lattice, target: str) -> None:
    attr = pytest.importorskip("captum.attr")
    x = _inputs(lattice)
    selector = OutputSelector.parse(target)
    ours = grad_cam(tiny, x, target).layer_maps[target]
    theirs = attr.LayerGradCam(lambda inputs: tiny(inputs)[selector.head], tiny.backbone).attribute(
        x, target=selector.index, relu_attributions=True
    )
    torch.testing.assert_close(ours, theirs[:, 0], rtol=1e-10, atol=1e-12)


def test_hirescam_matches_captum_gradient_times_activation(tiny: TinyLatticeNet, lattice: Lattice) -> None:
    attr = pytest.importorskip("captum.attr")
    x = _inputs(lattice)
    ours = grad_cam(tiny, x, "direction:0", method="hirescam", relu=False).layer_maps["direction:0"]
    per_channel = attr.LayerGradientXActivation(lambda inputs: tiny(inputs)["direction"], tiny.backbone).attribute(x, target=0)
    torch.testing.assert_close(ours, per_channel.sum(1), rtol=1e-10, atol=1e-12)
    # a head on the mean over positions has the same gradient at every position: both methods agree
    hires = grad_cam(tiny, x, "energy", method="hirescam", relu=False, project=False).maps["energy"]
    plain = grad_cam(tiny, x, "energy", relu=False, project=False).maps["energy"]
    torch.testing.assert_close(hires, plain)
    assert not torch.allclose(grad_cam(tiny, x, "direction:0", method="hirescam").maps["direction:0"], grad_cam(tiny, x, "direction:0").maps["direction:0"])
    with pytest.raises(ValueError, match="method must be one of"):
        grad_cam(tiny, x, "energy", method="gradcam++")


class TinyImageNet(nn.Module):
    """An ordinary CNN on (B, C, H, W) images."""

    def __init__(self) -> None:
        super().__init__()
        self.backbone = nn.Sequential(nn.Conv2d(2, 5, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(5, 4, 3, padding=1), nn.ReLU())
        self.head = nn.Linear(4 * 4 * 5, 3)

    def forward(self, inputs: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"particle": self.head(self.backbone(inputs).flatten(1))}


def test_grad_cam_on_images_matches_captum_and_maps_back_to_pixels(lattice: Lattice) -> None:
    attr = pytest.importorskip("captum.attr")
    torch.manual_seed(0)
    model = TinyImageNet().double().eval()
    x = torch.randn(2, 2, 8, 10, dtype=torch.float64)
    result = grad_cam(model, x, "particle:2")
    theirs = attr.LayerGradCam(lambda inputs: model(inputs)["particle"], model.backbone).attribute(x, target=2, relu_attributions=True)
    torch.testing.assert_close(result.layer_maps["particle:2"], theirs[:, 0], rtol=1e-10, atol=1e-12)
    upsampled = attr.LayerAttribution.interpolate(theirs, (8, 10), interpolate_mode="bilinear")
    torch.testing.assert_close(result.maps["particle:2"], upsampled[:, 0], rtol=1e-10, atol=1e-12)
    # a mapper sets the image size and takes the map back onto the pixels
    mapper = AxialMapper(lattice)
    images = torch.randn(2, 2, *mapper.shape, dtype=torch.float64)
    model.head = nn.Linear(4 * (mapper.shape[0] // 2) * (mapper.shape[1] // 2), 3).double()
    on_pixels = grad_cam(model, images, "particle:0", mapper=mapper)
    assert on_pixels.maps["particle:0"].shape == (2, lattice.n_pixels)
    image_map = torch.nn.functional.interpolate(on_pixels.layer_maps["particle:0"][:, None], size=mapper.shape, mode="bilinear")
    torch.testing.assert_close(on_pixels.maps["particle:0"], mapper.from_image(image_map[:, 0]))


def test_grad_cam_on_transformer_tokens(lattice: Lattice) -> None:
    torch.manual_seed(0)

    class TokenNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embed = nn.Linear(2, 8)
            self.encoder = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.0, batch_first=True)
            self.head = nn.Linear(8, 2)

        def forward(self, inputs: torch.Tensor) -> dict[str, torch.Tensor]:
            tokens = self.encoder(self.embed(inputs.transpose(1, 2)))  # one token per pixel
            return {"particle": self.head(tokens.mean(1))}

    model = TokenNet().double()
    x = _inputs(lattice, batch=2)
    result = grad_cam(model, x, "particle:1", layer="encoder", lattice=lattice, channels_last=True)
    tokens = model.encoder(model.embed(x.transpose(1, 2)))
    (gradient,) = torch.autograd.grad(model.head(tokens.mean(1))[:, 1].sum(), tokens)
    expected = torch.relu((gradient.mean(1, keepdim=True) * tokens).sum(2)).detach()
    torch.testing.assert_close(result.maps["particle:1"], expected)


# ------------------------------------------------------------------------------------- attention
def test_dual_attention_maps_on_camera_and_product(lattice: Lattice) -> None:
    torch.manual_seed(0)
    model = TinyLatticeNet(lattice, attention=True).double().eval()
    with pytest.raises(ValueError, match="run a forward pass"):
        dual_attention_maps(model, lattice)
    x = _inputs(lattice)
    model(x)
    maps = dual_attention_maps(model, lattice)
    assert [m.shape for m in maps] == [(3, lattice.n_pixels)] * 2
    for m in maps:
        assert (m >= 1).all() and (m <= 2).all()
    blocks = [m for m in model.backbone if isinstance(m, DualAttention)]
    first_pool = model.backbone[3]
    torch.testing.assert_close(maps[0], blocks[0].last_spatial_map)  # stage 1 lives on the camera
    torch.testing.assert_close(maps[1], blocks[1].last_spatial_map[:, first_pool.level.upsample_index])
    product = global_spatial_attention(maps)
    torch.testing.assert_close(product, maps[0] * maps[1])
    assert (product >= 1).all() and (product <= 4).all()
    with pytest.raises(ValueError, match="no Dual Attention"):
        dual_attention_maps(TinyLatticeNet(lattice), lattice)


def _manual_attention(mha: nn.MultiheadAttention, query: torch.Tensor, key: torch.Tensor) -> torch.Tensor:
    """softmax(Q K^T / sqrt(d)) per head from the module's projection weights; batch-first inputs."""
    d = mha.embed_dim
    w, b = mha.in_proj_weight, mha.in_proj_bias
    q = query @ w[:d].T + b[:d]
    k = key @ w[d : 2 * d].T + b[d : 2 * d]
    heads, head_dim = mha.num_heads, d // mha.num_heads
    q = q.view(*q.shape[:2], heads, head_dim).transpose(1, 2)
    k = k.view(*k.shape[:2], heads, head_dim).transpose(1, 2)
    return torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(head_dim), dim=-1)


def test_capture_attention_self_and_cross_per_head() -> None:
    torch.manual_seed(0)
    encoder = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.0, batch_first=True, norm_first=True)
    decoder = nn.TransformerDecoderLayer(8, 2, dim_feedforward=16, dropout=0.0, batch_first=True, norm_first=True)

    class EncoderDecoder(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder, self.decoder = encoder, decoder
            self.queries = nn.Parameter(torch.randn(1, 3, 8))

        def forward(self, tokens: torch.Tensor) -> torch.Tensor:
            memory = self.encoder(tokens)
            return self.decoder(self.queries.expand(len(tokens), -1, -1), memory)

    model = EncoderDecoder().eval()
    tokens = torch.randn(2, 5, 8)
    fast_path = torch.backends.mha.get_fastpath_enabled()
    with torch.no_grad(), capture_attention(model) as records:  # eval + no_grad: PyTorch's fast path would skip forward
        model(tokens)
    assert torch.backends.mha.get_fastpath_enabled() == fast_path
    assert [(r.name, r.kind, tuple(r.weights.shape)) for r in records] == [
        ("encoder.self_attn", "self", (2, 2, 5, 5)),
        ("decoder.self_attn", "self", (2, 2, 3, 3)),
        ("decoder.multihead_attn", "cross", (2, 2, 3, 5)),
    ]
    with torch.no_grad():
        normed = encoder.norm1(tokens)
        torch.testing.assert_close(records[0].weights, _manual_attention(encoder.self_attn, normed, normed))
        memory = encoder(tokens)
        queries = model.queries.expand(2, -1, -1)
        after_self = queries + decoder._sa_block(decoder.norm1(queries), None, None)
        cross_query = decoder.norm2(after_self)
        torch.testing.assert_close(records[2].weights, _manual_attention(decoder.multihead_attn, cross_query, memory))
    torch.testing.assert_close(records[1].weights.sum(-1), torch.ones(2, 2, 3))
    # hooks are gone after the block
    with capture_attention(nn.Identity()) as nothing:
        pass
    model(tokens)
    assert nothing == [] and len(records) == 3


# ------------------------------------------------------------------------------------- seeds
@pytest.mark.filterwarnings("ignore:Degrees of freedom")
def test_seed_statistics_match_numpy() -> None:
    maps = np.random.default_rng(0).normal(size=(6, 4, 7))
    stats = seed_statistics(maps)
    np.testing.assert_allclose(stats.mean, maps.mean(axis=0))
    np.testing.assert_allclose(stats.std, maps.std(axis=0, ddof=1))
    assert stats.n_seeds == 6 and stats.mean.shape == (4, 7)
    maps[0, 0, 0] = np.nan  # a seed without a value there
    stats = seed_statistics(maps)
    np.testing.assert_allclose(stats.mean[0, 0], maps[1:, 0, 0].mean())
    single = seed_statistics(maps[:1])
    assert np.isnan(single.std).all()
    with pytest.raises(ValueError, match="n_seeds"):
        seed_statistics(np.zeros(3))
    by_name = stack_over_seeds([{"a": maps[0], "b": maps[1]}, {"a": maps[2]}])
    assert list(by_name) == ["a"]
    np.testing.assert_allclose(by_name["a"].std, np.nanstd(maps[[0, 2]], axis=0, ddof=1))


# ------------------------------------------------------------------------------------- criteria
def test_mass_fraction_and_correlation_by_hand() -> None:
    maps = np.array([[1.0, 2.0, 3.0, 4.0], [0.0, 0.0, 0.0, 0.0]])
    region = np.array([[True, False, True, False], [True, True, True, True]])
    np.testing.assert_allclose(mass_fraction(maps, region), [0.4, np.nan])
    np.testing.assert_allclose(mass_fraction(maps, np.array([False, False, False, True])), [0.4, np.nan])
    with pytest.raises(ValueError, match="non-negative"):
        mass_fraction(-maps, region)
    signal = np.array([[2.0, 4.0, 6.0, 8.0], [1.0, 0.0, 0.0, 0.0]])
    np.testing.assert_allclose(pearson_correlation(maps, signal), [1.0, np.nan])
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=(3, 50)), rng.normal(size=(3, 50))
    np.testing.assert_allclose(pearson_correlation(a, b), [np.corrcoef(u, v)[0, 1] for u, v in zip(a, b)])


def test_signal_region_dilation_and_border(lattice: Lattice) -> None:
    neighbours = lattice.neighbours(1)
    centre = int(np.argmin(np.hypot(lattice.x, lattice.y)))
    image = np.zeros((1, lattice.n_pixels))
    image[0, centre] = 5.0
    assert signal_region(image, neighbours, threshold=1.0).sum() == 1
    assert signal_region(image, neighbours, threshold=6.0).sum() == 0
    assert signal_region(image, neighbours, dilation=1).sum() == 7  # the centre and its 6 neighbours
    assert signal_region(image, neighbours, dilation=2).sum() == 19
    # outer ring of a radius-4 hexagon: 6 * 4 pixels
    assert border_mask(neighbours).sum() == 24
    lst = Lattice.from_camera(lst_camera())
    np.testing.assert_array_equal(border_mask(lst.neighbours(1)), lst_camera().get_border_pixel_mask(1))


def test_centroid_distance_by_hand() -> None:
    x, y = np.array([0.0, 1.0, 2.0, 3.0]), np.zeros(4)
    np.testing.assert_allclose(intensity_centroid(np.array([[1.0, 0.0, 0.0, 3.0]]), x, y), [[2.25, 0.0]])
    maps = np.array([[0.0, 1.0, 0.4, 1.0], [0.0, 0.0, 0.0, 0.0]])
    centroid = np.array([[1.0, 0.0], [0.0, 0.0]])
    np.testing.assert_allclose(centroid_distance(maps, x, y, centroid, level=0.5), [1.0, np.nan])
    np.testing.assert_allclose(centroid_distance(maps[:1], x, y, centroid[:1], level=0.3), [(0 + 1 + 2) / 3])


def test_explanation_criteria_perfect_and_misplaced_maps(lattice: Lattice) -> None:
    neighbours = lattice.neighbours(1)
    truth = np.zeros((2, lattice.n_pixels))
    centre = int(np.argmin(np.hypot(lattice.x, lattice.y)))
    truth[:, centre] = 10.0
    truth[:, neighbours[centre][neighbours[centre] >= 0]] += 2.0
    border = border_mask(neighbours)
    maps = np.stack([truth[0], border.astype(float)])  # a map on the signal, a map on the border
    result = explanation_criteria(maps, truth, lattice.x, lattice.y, neighbours, dilation=0)
    np.testing.assert_allclose(result["signal_fraction"], [1.0, 0.0])
    np.testing.assert_allclose(result["border_fraction"], [0.0, 1.0])
    np.testing.assert_allclose(result["signal_correlation"][0], 1.0)
    assert result["signal_correlation"][1] < 0
    np.testing.assert_allclose(result["centroid_distance"][0], 0.0, atol=1e-12)
    np.testing.assert_allclose(result["centroid_distance"][1], np.hypot(lattice.x, lattice.y)[border].mean())


def test_the_chance_level_counts_the_events_of_the_signal_fraction(lattice: Lattice) -> None:
    """An all-zero map has no signal fraction: its event must not count in the chance level's average."""
    neighbours = lattice.neighbours(1)
    truth = np.zeros((2, lattice.n_pixels))
    truth[:, :5] = 10.0
    maps = np.stack([truth[0], np.zeros(lattice.n_pixels)])
    result = explanation_criteria(maps, truth, lattice.x, lattice.y, neighbours, dilation=0)
    assert np.isfinite(result["signal_area"][0]) and np.isnan(result["signal_fraction"][1])
    assert np.isnan(result["signal_area"][1])


def test_summary_over_seeds_and_table() -> None:
    seeds = [
        {"signal_fraction": np.array([0.8, 0.6, np.nan])},
        {"signal_fraction": np.array([0.5, 0.5])},
        {"signal_fraction": np.array([0.9])},
    ]
    summary = summarise_over_seeds(seeds)["signal_fraction"]
    np.testing.assert_allclose(summary["values"], [0.7, 0.5, 0.9])
    np.testing.assert_allclose(summary["mean"], 0.7)
    np.testing.assert_allclose(summary["std"], np.std([0.7, 0.5, 0.9], ddof=1))
    assert summary["n_seeds"] == 3
    table = criteria_table({"with DA": {"particle:0": {"signal_fraction": summary}}, "without": {}})
    assert "| particle:0 | signal_fraction | 0.700 ± 0.200 (3 seeds) | n/a |" in table
    assert "n/a: the model has no such map, or none of the events counted" in table  # why, said once under the table
    assert "n/a:" not in criteria_table({"with DA": {"particle:0": {"signal_fraction": summary}}})


# ------------------------------------------------------------------------------------- gamma-PhysNet
def test_gamma_physnet_da_maps_on_the_lst_camera() -> None:
    attr = pytest.importorskip("captum.attr")
    from showerlearn.iact.models.gamma_physnet import GammaPhysNetDA

    torch.manual_seed(0)
    camera = Lattice.from_camera(lst_camera())
    model = GammaPhysNetDA(camera, depth=8, widths=(4, 8, 16), fc_width=16).eval()
    x = torch.randn(2, 2, camera.n_pixels, generator=torch.Generator().manual_seed(3))
    result = grad_cam(model, x, ["particle:0", "direction:1"])  # default layer: the backbone's last stage
    assert result.layer_maps["particle:0"].shape == (2, model.backbone.out_lattice.n_pixels)
    assert result.maps["particle:0"].shape == (2, camera.n_pixels)
    theirs = attr.LayerGradCam(lambda inputs: model(inputs)["particle"], model.backbone).attribute(x, target=0, relu_attributions=True)
    torch.testing.assert_close(result.layer_maps["particle:0"], theirs[:, 0], rtol=1e-4, atol=1e-6)
    expected = upsample_to_pixels(result.layer_maps["direction:1"], [pool.level for pool in model.backbone.pools])
    torch.testing.assert_close(result.maps["direction:1"], expected, rtol=0, atol=0)
    maps = dual_attention_maps(model, camera)  # from the same forward pass
    stage_maps = model.attention_maps()
    assert len(maps) == 3
    for stage, (projected, raw) in enumerate(zip(maps, stage_maps)):
        levels = [pool.level for pool in model.backbone.pools[:stage]]
        torch.testing.assert_close(projected, upsample_to_pixels(raw, levels))


def test_randomized_copy_reinitialises_a_copy_only(lattice: Lattice) -> None:
    from showerlearn.explain.driver import randomized_copy
    from showerlearn.iact.models.gamma_physnet import GammaPhysNet

    model = GammaPhysNet(lattice, depth=8, widths=(4, 8, 8), fc_width=8, local_head="light")
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(1.0)  # stands in for training
        model.backbone.final_bn.running_mean.fill_(3.0)
    before = {name: value.clone() for name, value in model.state_dict().items()}
    first, second = randomized_copy(model, seed=1), randomized_copy(model, seed=1)
    for name, value in model.state_dict().items():
        torch.testing.assert_close(value, before[name])  # the trained network is untouched
    torch.testing.assert_close(first.state_dict(), second.state_dict())  # same seed, same weights
    weights = [(name, value) for name, value in first.state_dict().items() if value.is_floating_point()]
    assert all(not torch.equal(value, before[name]) for name, value in weights if "running_" not in name)
    assert torch.count_nonzero(first.backbone.final_bn.running_mean) == 0 and not first.training



def test_randomized_copy_leaves_nothing_trained_in_a_transformer() -> None:
    """Attention's projections reset through ``_reset_parameters``; a class token no layer resets is drawn anew."""
    from showerlearn.explain.driver import randomized_copy
    from showerlearn.registry import MODELS

    model = MODELS.get("collider_multiscale")(constituent_features=5, object_features=4, n_classes=2, dim=16, heads=2)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(1.0)  # stands in for training
    copy = randomized_copy(model, seed=1)
    trained = dict(model.named_parameters())
    kept = [name for name, value in copy.named_parameters() if torch.equal(value, trained[name])]
    assert not kept


def test_the_default_layer_is_the_one_a_model_names_else_its_backbone() -> None:

    class Tokens(nn.Module):
        def __init__(self, named: bool) -> None:
            super().__init__()
            self.backbone = nn.Linear(3, 3)
            self.blocks = nn.ModuleList([nn.Linear(3, 3), nn.Linear(3, 3)])
            if named:
                self.explain_layer = "blocks.1"

    named, plain = Tokens(named=True), Tokens(named=False)
    assert resolve_layer(named, None) is named.blocks[1]
    assert resolve_layer(plain, None) is plain.backbone
    assert resolve_layer(named, "backbone") is named.backbone


# ------------------------------------------------------------------------------------- the command
@pytest.fixture
def stub_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> SimpleNamespace:
    """``showerlearn explain`` with stand-in runs and explanations (each figure named after its input file):
    what the command writes where, without training. ``invoke(input, *options)`` explains ``run``, or with
    ``path=sweep`` a sweep of one run (``seed0``)."""
    import typer
    from typer.testing import CliRunner

    import showerlearn.explain.report as report
    from showerlearn.cli.explain import explain

    criteria = {"truth.h5": {"gradcam:energy": {"signal_fraction": np.array([0.5, 0.7])}}, "no_truth.h5": None}

    def runs(path: Path) -> list[SimpleNamespace]:
        if not Path(path).is_dir():
            raise FileNotFoundError(f"{path} is not a showerlearn run directory")
        folders = sorted(Path(path).glob("seed*")) or [Path(path)]  # a sweep's runs, or the run
        return [SimpleNamespace(path=f, best_checkpoint=lambda f=f: f / "best.ckpt") for f in folders]

    def explained(run: SimpleNamespace, input_file: Path, *args, **kwargs) -> SimpleNamespace:  # noqa: ANN002, ANN003
        definitions = {"signal_fraction": "share of the map on the true signal"}
        return SimpleNamespace(run=run, label="tiny", n_events=2, criteria=criteria[Path(input_file).name],
                               adapter=SimpleNamespace(criteria_definitions=definitions), maps={"gradcam:particle:0": None})

    def figures(explanation: SimpleNamespace, folder: Path) -> list[Path]:
        (folder / f"event_{explanation.criteria is not None}.png").write_bytes(b"png")
        return []

    monkeypatch.setattr(report, "resolve_runs", runs)
    monkeypatch.setattr(report, "network_checkpoint", lambda run: run.best_checkpoint())
    monkeypatch.setattr(report, "_check_one_kind_of_data", lambda groups: None)  # stand-in runs have no config
    monkeypatch.setattr(report, "explain_run", explained)
    monkeypatch.setattr(report, "write_run_figures", figures)
    monkeypatch.delenv("SHOWERLEARN_DEBUG", raising=False)
    monkeypatch.chdir(tmp_path)
    for name in criteria:
        Path(name).write_bytes(b"")
    app = typer.Typer()
    app.command()(explain)
    run, sweep = tmp_path / "run", tmp_path / "sweep"
    run.mkdir()
    (sweep / "seed0").mkdir(parents=True)

    def invoke(input_file: str, *options: str, path: Path = run) -> Any:
        return CliRunner().invoke(app, [str(path), "--input", input_file, "--no-progress", *options])

    return SimpleNamespace(run=run, sweep=sweep, invoke=invoke)


def test_an_explanation_without_criteria_shows_and_leaves_none_of_an_earlier_inputs(stub_command: SimpleNamespace) -> None:
    """Explained on a file with truth, then on one without: the second prints no criteria table, and the
    first's criteria.md and figures do not stay to pass for the second's."""
    run = stub_command.run
    table, figure = run / "explain" / "criteria.md", run / "plots" / "explain" / "criteria.png"
    with_truth = stub_command.invoke("truth.h5")
    assert with_truth.exit_code == 0, with_truth.output
    assert "| gradcam:energy | signal_fraction | 0.600 (1 seed) |" in with_truth.output
    assert table.is_file() and figure.is_file()
    without = stub_command.invoke("no_truth.h5", "--overwrite")
    assert without.exit_code == 0, without.output
    assert "no criteria" in " ".join(without.output.split()) and "signal_fraction" not in without.output
    assert not table.exists() and not figure.exists()
    assert json.loads((run / "explain" / "criteria.json").read_text())["input"] == "no_truth.h5"
    assert sorted(p.name for p in (run / "plots" / "explain").iterdir()) == ["event_False.png"]  # none of the first's
    assert str(run.resolve() / "plots" / "explain") in "".join(without.output.split())  # where, from any folder


def test_a_sweep_of_one_run_keeps_no_earlier_figure_and_no_empty_folder(stub_command: SimpleNamespace) -> None:
    """A sweep with one run has no mean/std figures: its plots/explain/ holds the criteria figure or nothing, and
    then neither the earlier explanation's figure nor an empty folder stays there, and none is named."""
    sweep = stub_command.sweep
    figures = sweep / "plots" / "explain"
    assert stub_command.invoke("truth.h5", path=sweep).exit_code == 0
    assert [p.name for p in figures.iterdir()] == ["criteria.png"]
    without = stub_command.invoke("no_truth.h5", "--overwrite", path=sweep)
    assert without.exit_code == 0, without.output
    assert not figures.exists() and str(figures.resolve()) not in "".join(without.output.split())
    assert [p.name for p in (sweep / "seed0" / "plots" / "explain").iterdir()] == ["event_False.png"]
    assert not list(sweep.rglob(".*"))  # no staged or set-aside folder left


def test_an_earlier_explanation_is_refused_and_kept_when_a_new_one_fails(stub_command: SimpleNamespace) -> None:
    """Without --overwrite nothing is replaced; a bad --compare path fails before anything is written."""
    run = stub_command.run
    assert stub_command.invoke("truth.h5").exit_code == 0
    before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    refused = stub_command.invoke("no_truth.h5")
    assert refused.exit_code == 1 and "pass --overwrite to replace it" in " ".join(refused.output.split())
    failed = stub_command.invoke("no_truth.h5", "--overwrite", "--compare", "missing")
    assert failed.exit_code == 1 and "missing is not a showerlearn run directory" in " ".join(failed.output.split())
    assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file()} == before  # no temporary folder left either


def test_staged_folders_replace_whole_folders_or_leave_them(tmp_path: Path) -> None:
    from showerlearn.io.staging import StagedFolders, holds_anything

    (tmp_path / "empty").mkdir()
    target = tmp_path / "plots" / "explain"
    target.mkdir(parents=True)
    (target / "old.png").write_text("old")
    with pytest.raises(RuntimeError), StagedFolders([target]) as staged:
        (staged.folder(target) / "new.png").write_text("new")
        raise RuntimeError("a failure mid-way")
    assert [p.name for p in tmp_path.rglob("*.png")] == ["old.png"]  # as it was, the staged files gone
    with StagedFolders([target, tmp_path / "plots" / ".." / "plots" / "explain"]) as staged:
        (staged.folder(target) / "new.png").write_text("new")
    assert [p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()] == ["plots/explain/new.png"]
    assert target.stat().st_mode & 0o777 == (tmp_path / "plots").stat().st_mode & 0o777  # not mkdtemp's private 0700
    assert holds_anything(target) and not holds_anything(tmp_path / "empty") and not holds_anything(tmp_path / "none")
    with StagedFolders([target]):
        pass  # nothing written: the earlier folder goes, and no empty one takes its place
    assert not target.exists() and sorted(p.name for p in tmp_path.rglob("*")) == ["empty", "plots"]



def test_a_failed_swap_leaves_every_earlier_folder_in_place(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The second folder's rename fails: the first one, already swapped, is moved back too."""
    import os

    from showerlearn.io.staging import StagedFolders

    targets = [tmp_path / "run" / "plots" / "explain", tmp_path / "run" / "explain"]
    for target in targets:
        target.mkdir(parents=True)
        (target / "old.png").write_text("old")
    rename, calls = os.rename, []

    def failing_rename(source: Path, destination: Path) -> None:
        calls.append(destination)
        if Path(destination) == targets[1].resolve() and str(source).endswith(".tmp"):  # the swap in, not the way back
            raise OSError("no space left on device")
        rename(source, destination)

    monkeypatch.setattr(os, "rename", failing_rename)
    with pytest.raises(OSError, match="no space"), StagedFolders(targets) as staged:
        for target in targets:
            (staged.folder(target) / "new.png").write_text("new")
    assert targets[0].resolve() in calls  # the first was swapped in before the failure
    files = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file() or p.name.startswith("."))
    assert files == ["run/explain/old.png", "run/plots/explain/old.png"]  # nothing new, nothing aside or staged left


def test_max_events_are_spread_over_the_file() -> None:
    """A file ordered by class (generated collider files: signal first) must not give the first class only."""
    from showerlearn.explain.driver import _positions

    order, chosen, counted = _positions(list(range(10)), "f.h5", [9], max_events=4)
    assert counted.tolist() == [0, 2, 5, 7] and chosen.tolist() == [9] and order.tolist() == [0, 2, 5, 7, 9]
    assert _positions(list(range(3)), "f.h5", [], max_events=5)[2].tolist() == [0, 1, 2]


def test_help_says_what_the_defaults_and_limits_are() -> None:
    import typer
    from typer.testing import CliRunner

    from showerlearn.cli.explain import explain

    app = typer.Typer()
    app.command()(explain)
    text = " ".join(word for word in CliRunner().invoke(app, ["--help"]).output.split() if word != "│")  # rich's box
    assert "spread evenly over the file, for every average" in text and "the last class for the collider" in text
    assert "explain_layer" in text and "--overwrite" in text and "--no-progress" in text


def test_a_network_with_nothing_to_explain_is_refused_by_name() -> None:
    """No attention its family reads and no Grad-CAM target (a family without one score per event): a clear
    error, not an empty figure and an empty criteria table."""
    from showerlearn.explain.driver import _MapMaker

    class PairScores(nn.Module):
        def forward(self, inputs: torch.Tensor) -> dict[str, torch.Tensor]:
            return {"pairs": inputs @ inputs.transpose(1, 2)}

    adapter = SimpleNamespace(default_targets=lambda outputs, kinds: [], attention_maps=lambda model, records: {})
    trained = SimpleNamespace(model=PairScores(), head_kinds={"pairs": "pairwise"}, config=SimpleNamespace(seed=0))
    maker = _MapMaker(trained, adapter, None, None, "gradcam", "none", control=False)
    with pytest.raises(ValueError, match="PairScores gives nothing to explain.*--target"):
        maker(torch.ones(2, 3, 4), {})


def test_an_estimator_run_is_refused_as_such_before_any_work(tabular_config: dict, tmp_path: Path) -> None:
    from showerlearn.config import dump_config, resolve_config
    from showerlearn.engine.run_dir import RunDir
    from showerlearn.explain.loading import network_checkpoint

    run = RunDir(tmp_path / "forest")
    run.path.mkdir()
    config = {**tabular_config, "model": None, "task": None, "estimator": {"name": "random_forest", "params": {"n_estimators": 5}}}
    run.config_file.write_text(dump_config(resolve_config(config)))
    with pytest.raises(ValueError, match=r"forest: the run trained an estimator \(random_forest\), not a network"):
        network_checkpoint(run)  # not "no checkpoint": an estimator run has none to find


@pytest.mark.parametrize("threshold", [float("nan"), -1.0])
def test_a_signal_threshold_that_counts_no_or_every_element_is_refused(threshold: float) -> None:
    """NaN passes every comparison (no element would be signal), a negative threshold makes every element signal."""
    with pytest.raises(ValueError, match="--signal-threshold must be a number >= 0"):
        CriteriaSettings(signal_threshold=threshold)
    assert CriteriaSettings(signal_threshold=0.0).signal_threshold == 0.0


def test_models_of_different_data_are_not_compared(tmp_path: Path) -> None:
    """A calorimeter run compared with an IACT one: refused naming both kinds of data, before any work (the input
    file would otherwise be blamed for not being a hit file)."""
    from showerlearn.config import dump_config, load_config
    from showerlearn.engine.run_dir import RunDir
    from showerlearn.explain.report import _check_one_kind_of_data

    examples = Path(__file__).parents[1] / "examples"
    runs = {}
    for name in ("gamma_physnet_da_small", "calorimeter_transformer"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "config.yaml").write_text(dump_config(load_config(examples / f"{name}.yaml")))
        runs[name] = RunDir(tmp_path / name)
    same = [(tmp_path / "a", [runs["gamma_physnet_da_small"]]), (tmp_path / "b", [runs["gamma_physnet_da_small"]])]
    _check_one_kind_of_data(same)
    with pytest.raises(ValueError, match=r"the compared models read different data \(calorimeter, iact: .*a: iact; .*b: calorimeter\)"):
        _check_one_kind_of_data([(tmp_path / "a", [runs["gamma_physnet_da_small"]]), (tmp_path / "b", [runs["calorimeter_transformer"]])])
