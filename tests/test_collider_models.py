"""The collider networks: padded tokens and the order of the constituents never change an event's score,
the attention blocks equal a naive implementation (masked softmax written out), and the pairwise
features equal a direct computation per pair."""

from __future__ import annotations

import inspect
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import Tensor

from showerlearn.collider.nn.attention import AttentionBlock
from showerlearn.config import ConfigError, load_config
from showerlearn.config.components import declared_heads
from showerlearn.collider.nn.pairwise import EPSILON, pairwise_features
from showerlearn.explain.attention import capture_attention
from showerlearn.registry import MODELS

SIZES = {"constituent_features": 5, "object_features": 4, "n_classes": 2, "n_constituents": 16, "n_objects": 6}
SMALL = {"dim": 16, "heads": 2}
MODELS_UNDER_TEST = [
    ("collider_multiscale", {**SMALL, "pair_features": True}),
    ("collider_multiscale", {**SMALL, "query": "both", "pooling": "mean", "cross_layers": 2}),
    ("collider_multiscale", {**SMALL, "query": "constituents"}),
    ("collider_multiscale", {**SMALL, "query": "both", "cross_pair_features": True}),
    ("collider_transformer", {**SMALL, "pair_features": True}),
    ("collider_transformer", {**SMALL, "stream": "objects"}),
    ("collider_one_scale", {**SMALL, "pair_features": True}),
    ("collider_concat", {**SMALL, "pooling": "mean"}),
    ("collider_mlp", {"hidden": (16,)}),
]


def _model(name: str, params: dict) -> torch.nn.Module:
    factory = MODELS.get(name)
    accepted = inspect.signature(factory).parameters
    torch.manual_seed(0)
    return factory(**{k: v for k, v in SIZES.items() if k in accepted}, **params).eval()


def _p4(rng: np.random.Generator, n: int, length: int) -> np.ndarray:
    pt = rng.uniform(1.0, 50.0, (n, length))
    eta, phi = rng.uniform(-2, 2, (n, length)), rng.uniform(-math.pi, math.pi, (n, length))
    energy = pt * np.cosh(eta) * rng.uniform(1.0, 1.2, (n, length))
    return np.stack([pt, eta, phi, energy], axis=-1)


def _inputs(seed: int = 0, n: int = 5, length: dict[str, int] | None = None) -> dict[str, Tensor]:
    """A batch with 1..L real tokens per event, padding filled with garbage (it must be ignored)."""
    rng = np.random.default_rng(seed)
    length = length or {"constituents": 12, "objects": 5}
    features = {"constituents": SIZES["constituent_features"], "objects": SIZES["object_features"]}
    inputs = {}
    for stream, size in length.items():
        inputs[stream] = torch.tensor(rng.normal(size=(n, size, features[stream])), dtype=torch.float32)
        inputs[f"{stream}_p4"] = torch.tensor(_p4(rng, n, size), dtype=torch.float32)
        counts = rng.integers(1, size + 1, n)
        inputs[f"{stream}_mask"] = torch.arange(size)[None, :] < torch.as_tensor(counts)[:, None]
    return inputs


def _append_padding(inputs: dict[str, Tensor], extra: int, seed: int) -> dict[str, Tensor]:
    rng = np.random.default_rng(seed)
    grown = dict(inputs)
    for stream in ("constituents", "objects"):
        n = inputs[stream].shape[0]
        garbage = torch.tensor(rng.normal(size=(n, extra, inputs[stream].shape[2])), dtype=torch.float32)
        grown[stream] = torch.cat([inputs[stream], garbage], dim=1)
        grown[f"{stream}_p4"] = torch.cat([inputs[f"{stream}_p4"], torch.tensor(_p4(rng, n, extra), dtype=torch.float32)], dim=1)
        grown[f"{stream}_mask"] = torch.cat([inputs[f"{stream}_mask"], torch.zeros(n, extra, dtype=torch.bool)], dim=1)
    return grown


def _scores(model: torch.nn.Module, inputs: dict[str, Tensor]) -> np.ndarray:
    """Class probabilities of the events, on the model's device (a GPU's in tests/test_gpu.py)."""
    device = next(model.parameters()).device
    with torch.no_grad():
        return torch.softmax(model({k: v.to(device) for k, v in inputs.items()})["label"].float(), dim=-1).double().cpu().numpy()


def _id(value: str | dict) -> str:
    return value if isinstance(value, str) else "-".join(f"{k}={v}" for k, v in value.items())


@pytest.mark.parametrize(("name", "params"), MODELS_UNDER_TEST, ids=_id)
def test_appended_padding_never_changes_a_score(name: str, params: dict) -> None:
    model = _model(name, params)
    inputs = _inputs()
    with torch.no_grad():
        assert set(model(inputs)) == declared_heads(type(model), params)  # what the config check reads
    before = _scores(model, inputs)
    for extra in (1, 4, 9):
        np.testing.assert_allclose(_scores(model, _append_padding(inputs, extra, seed=extra)), before, atol=1e-6, rtol=0)


@pytest.mark.parametrize(("name", "params"), MODELS_UNDER_TEST, ids=_id)
@pytest.mark.parametrize("stream", ["constituents", "objects"])
def test_an_empty_stream_reads_nothing_from_its_padding(name: str, params: dict, stream: str) -> None:
    """An event without constituents (or objects): what its padded slots hold never reaches its score, in
    cross-attention neither (whose softmax keeps one padded key visible to stay defined)."""
    scores = _scores_of_an_empty_stream(_model(name, params), stream)
    np.testing.assert_allclose(scores[1], scores[0], atol=1e-6, rtol=0)


def _scores_of_an_empty_stream(model: torch.nn.Module, stream: str) -> list[np.ndarray]:
    """The scores of a batch whose first event has no ``stream`` tokens, its padded slots filled with 0 and with 5."""
    inputs = _inputs(seed=5)
    inputs[f"{stream}_mask"][0] = False
    scores = []
    for fill in (0.0, 5.0):
        changed = dict(inputs)
        for key in (stream, f"{stream}_p4"):
            changed[key] = inputs[key].clone()
            changed[key][0] = fill
        scores.append(_scores(model, changed))
    return scores


@pytest.mark.parametrize(("name", "params"), [m for m in MODELS_UNDER_TEST if m[0] != "collider_mlp"], ids=_id)
def test_permuting_the_constituents_never_changes_a_score(name: str, params: dict) -> None:
    model = _model(name, params)
    inputs = _inputs(seed=3)
    before = _scores(model, inputs)
    permuted = dict(inputs)
    rng = np.random.default_rng(7)
    for stream in ("constituents", "objects"):
        order = torch.stack([
            torch.as_tensor(np.concatenate([rng.permutation(int(m.sum())), np.arange(int(m.sum()), len(m))]))
            for m in inputs[f"{stream}_mask"]
        ])  # fmt: skip
        for key in (stream, f"{stream}_p4"):
            permuted[key] = torch.gather(inputs[key], 1, order[:, :, None].expand_as(inputs[key]))
    np.testing.assert_allclose(_scores(model, permuted), before, atol=1e-6, rtol=0)


def _naive_block(block: AttentionBlock, x: Tensor, mask: Tensor, context: Tensor | None, context_mask: Tensor | None,
                 bias: Tensor | None) -> tuple[Tensor, Tensor]:  # fmt: skip
    """The block written out: per-head scaled dot products, -inf at padded keys, softmax, weighted values."""
    attention, heads = block.attention, block.heads
    query = block.norm_query(x)
    keys = query if context is None else block.norm_context(context)
    key_mask = mask if context is None else context_mask
    w_q, w_k, w_v = attention.in_proj_weight.chunk(3)
    b_q, b_k, b_v = attention.in_proj_bias.chunk(3)
    head_dim = x.shape[-1] // heads

    def split(t: Tensor) -> Tensor:  # (B, L, dim) -> (B, heads, L, head_dim)
        return t.reshape(t.shape[0], t.shape[1], heads, head_dim).transpose(1, 2)

    q, k, v = split(query @ w_q.T + b_q), split(keys @ w_k.T + b_k), split(keys @ w_v.T + b_v)
    logits = q @ k.transpose(-1, -2) / math.sqrt(head_dim)
    if bias is not None:
        logits = logits + bias
    logits = logits.masked_fill(~key_mask[:, None, None, :], float("-inf"))
    weights = torch.softmax(logits, dim=-1)
    attended = (weights @ v).transpose(1, 2).reshape(x.shape)
    x = x + attended @ attention.out_proj.weight.T + attention.out_proj.bias
    return x + block.mlp(block.norm_mlp(x)), weights


@pytest.mark.parametrize("kind", ["self", "cross", "self with bias", "cross with bias"])
def test_attention_blocks_equal_a_naive_implementation(kind: str) -> None:
    torch.manual_seed(1)
    block = AttentionBlock(dim=8, heads=2).eval().double()
    x = torch.randn(3, 6, 8, dtype=torch.float64)
    mask = torch.tensor([[True] * 6, [True] * 3 + [False] * 3, [True] + [False] * 5])
    context = torch.randn(3, 4, 8, dtype=torch.float64) if kind.startswith("cross") else None
    context_mask = torch.tensor([[True] * 4, [True, True, False, False], [False, True, False, True]]) if context is not None else None
    bias = torch.randn(3, 2, 6, 6 if context is None else 4, dtype=torch.float64) if "bias" in kind else None
    with torch.no_grad(), capture_attention(block) as records:
        output = block(x, mask, context=context, context_mask=context_mask, bias=bias)
    expected, weights = _naive_block(block, x, mask, context, context_mask, bias)
    real = mask[:, :, None].expand_as(output)
    torch.testing.assert_close(output[real], expected[real], atol=1e-10, rtol=0)
    (record,) = records
    assert record.kind == ("cross" if context is not None else "self")
    torch.testing.assert_close(record.weights, weights, atol=1e-10, rtol=0)


def _direct_pair_features(a: np.ndarray, b: np.ndarray) -> list[float]:
    """ln delta, ln kT, ln z, ln m^2 of two (pT, eta, phi, E) tokens, written out."""
    pt_a, eta_a, phi_a, e_a = a
    pt_b, eta_b, phi_b, e_b = b
    dphi = (phi_a - phi_b + math.pi) % (2 * math.pi) - math.pi
    delta = math.hypot(eta_a - eta_b, dphi)
    momentum = [pt_a * f(phi_a) + pt_b * f(phi_b) for f in (math.cos, math.sin)]
    momentum.append(pt_a * math.sinh(eta_a) + pt_b * math.sinh(eta_b))
    mass2 = (e_a + e_b) ** 2 - sum(c * c for c in momentum)
    return [math.log(max(v, EPSILON)) for v in (delta, min(pt_a, pt_b) * delta, min(pt_a, pt_b) / (pt_a + pt_b), mass2)]


def test_pairwise_features_equal_a_direct_computation_per_pair() -> None:
    rng = np.random.default_rng(2)
    p4 = _p4(rng, 1, 4)[0]
    features = pairwise_features(torch.tensor(p4[None])).numpy()[0]
    for a in range(4):
        for b in range(4):
            expected = [0.0] * 4 if a == b else _direct_pair_features(p4[a], p4[b])
            np.testing.assert_allclose(features[a, b], expected, rtol=1e-9, atol=1e-9)


def test_pairwise_features_across_two_token_sets_equal_a_direct_computation() -> None:
    """A cross-attention's (query, key) pairs: every pair computed, none taken for a token with itself (the
    first query and key are the same particle here: its delta is clamped, not zeroed)."""
    rng = np.random.default_rng(3)
    queries, keys = _p4(rng, 1, 3)[0], _p4(rng, 1, 5)[0]
    keys[0] = queries[0]
    features = pairwise_features(torch.tensor(queries[None]), torch.tensor(keys[None])).numpy()[0]
    assert features.shape == (3, 5, 4)
    for a in range(3):
        for b in range(5):
            np.testing.assert_allclose(features[a, b], _direct_pair_features(queries[a], keys[b]), rtol=1e-9, atol=1e-9)
    assert features[0, 0, 0] == pytest.approx(math.log(EPSILON))


@pytest.mark.parametrize("query", ["objects", "constituents", "both"])
def test_the_cross_attention_reads_where_the_other_streams_tokens_lie_only_with_cross_pairs(query: str) -> None:
    """Moving one real token of each stream (its p4 only: its features stay) changes the score through the
    cross-attention's pair bias, and nothing at all without one (no other part of these networks reads p4)."""
    inputs = _inputs(seed=8)
    moved = dict(inputs)
    for stream in ("constituents", "objects"):
        moved[f"{stream}_p4"] = inputs[f"{stream}_p4"].clone()
        moved[f"{stream}_p4"][:, 0, 1:3] += torch.tensor([0.7, 1.1])  # eta and phi of the first (real) token
    for cross_pairs in (False, True):
        model = _model("collider_multiscale", {**SMALL, "query": query, "cross_pair_features": cross_pairs})
        change = np.abs(_scores(model, moved) - _scores(model, inputs)).max()
        assert change > 1e-6 if cross_pairs else change == 0.0  # untrained: small, but far above rounding


@pytest.mark.parametrize(("name", "params"), [m for m in MODELS_UNDER_TEST if "pair_features" in "".join(m[1])], ids=_id)
def test_padding_holding_nan_or_overflow_never_reaches_a_pair_bias(name: str, params: dict) -> None:
    model = _model(name, params)
    inputs = _inputs(seed=9)
    before = _scores(model, inputs)
    spoiled = dict(inputs)
    for stream, value in (("constituents", float("nan")), ("objects", 1e30)):
        spoiled[f"{stream}_p4"] = inputs[f"{stream}_p4"].masked_fill(~inputs[f"{stream}_mask"][..., None], value)
    np.testing.assert_allclose(_scores(model, spoiled), before, atol=1e-6, rtol=0)


def test_cross_pairs_without_a_cross_attention_are_refused() -> None:
    with pytest.raises(ValueError, match="cross_layers >= 1"):
        _model("collider_multiscale", {**SMALL, "cross_layers": 0, "cross_pair_features": True})


@pytest.mark.parametrize("setting", ["pair_features", "cross_pair_features"])
def test_a_network_with_pairwise_features_asks_for_the_inputs(setting: str) -> None:
    inputs = {k: v for k, v in _inputs().items() if not k.endswith("_p4")}
    with pytest.raises(ValueError, match="pair_inputs: true"):
        _model("collider_multiscale", {**SMALL, setting: True})(inputs)


def test_explained_layers_and_attention_exist_in_the_networks() -> None:
    for name, params in MODELS_UNDER_TEST:
        model = _model(name, params)
        modules = dict(model.named_modules())
        if name == "collider_mlp":
            continue
        assert model.explain_layer in modules
        assert set(model.explain_attention) <= set(modules)
        with torch.no_grad(), capture_attention(model) as records:
            model(_inputs())
        assert set(model.explain_attention) <= {record.name for record in records}


@pytest.mark.parametrize("example", ["collider_multiscale.yaml", "collider_concat.yaml", "collider_one_scale.yaml",
                                     "collider_constituents.yaml"])
def test_a_width_the_heads_do_not_divide_is_a_config_error(example: str) -> None:
    """Found by the config check, not as torch's assertion once the run folder exists."""
    path = Path(__file__).resolve().parents[1] / "examples" / example
    with pytest.raises(ConfigError, match=r"model\.params\.heads: 4 does not divide dim 30"):
        load_config(path, ["model.params.dim=30"])
