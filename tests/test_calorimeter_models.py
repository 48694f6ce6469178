"""The learned clustering models: shapes and symmetries every set model owes (pair scores symmetric, outputs
permuted with the hits, padding without effect, no NaN from an event without hits), and the transformer with
a pairwise-similarity head learning on simulated events (its loss falls, its pair AUC rises well above 0.5)."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from showerlearn.calorimeter.data import HIT_FEATURES, CalorimeterDataModule, FeatureSpec
from showerlearn.calorimeter.models import HitCondensation, HitPairMLP, HitSlotAttention, HitTransformer, PreclusterMerger
from showerlearn.calorimeter.models.layers import HitPairBias, SetEncoder
from showerlearn.calorimeter.models.slots import pair_logits
from showerlearn.calorimeter.simulation import CalorimeterSimulationConfig, simulate_calorimeter
from showerlearn.config import ConfigError, load_config
from showerlearn.config.components import declared_heads
from showerlearn.tasks.condensation import object_condensation
from showerlearn.tasks.losses import masked_mean, pairwise_bce

SPEC = FeatureSpec(HIT_FEATURES, (1.0, 0.0, 1.5, 0.0, 0.0, 0.0, 0.0, 0.0), (1.0, 1.0, 0.5, 1.8, 2.0, 0.5, 0.5, 0.5))
MODELS = {
    "pair_mlp": lambda: HitPairMLP(SPEC, hidden=16, layers=2),
    "transformer": lambda: HitTransformer(SPEC, dim=16, layers=2, heads=2),
    "transformer_pair_bias": lambda: HitTransformer(SPEC, dim=16, layers=2, heads=2, pair_bias=True, pair_hidden=8),
    "transformer_stages": lambda: HitTransformer(SPEC, dim=16, layers=3, heads=2, pair_bias=True, pair_hidden=8, stages=3),
    "transformer_head_angles": lambda: HitTransformer(SPEC, dim=16, layers=3, heads=2, stages=3, head_angles=True),
    "condensation": lambda: HitCondensation(SPEC, dim=16, layers=1, heads=2, space_dim=3),
    "condensation_pair_bias": lambda: HitCondensation(SPEC, dim=16, layers=1, heads=2, space_dim=3, pair_bias=True),
    "slots": lambda: HitSlotAttention(SPEC, slots=4, dim=16, iterations=2, encoder_layers=1, heads=2),
}


def _hits(n: int, seed: int = 0) -> torch.Tensor:
    torch.manual_seed(seed)
    return torch.randn(1, n, len(HIT_FEATURES))


@pytest.mark.parametrize("name", MODELS)
def test_outputs_follow_the_hits_and_ignore_padding(name: str) -> None:
    model = MODELS[name]().eval()
    hits = _hits(6)
    mask = torch.ones(1, 6, dtype=torch.bool)
    with torch.no_grad():
        out = model({"hits": hits, "hits_mask": mask})
        permutation = torch.tensor([3, 0, 5, 1, 4, 2])
        permuted = model({"hits": hits[:, permutation], "hits_mask": mask})
        padded = model({"hits": torch.cat([hits, torch.randn(1, 3, len(HIT_FEATURES))], dim=1),
                        "hits_mask": torch.cat([mask, torch.zeros(1, 3, dtype=torch.bool)], dim=1)})
    assert declared_heads(type(model), {}) == set(out)  # what the config check reads
    for key, value in out.items():
        if value.dim() == 3 and value.shape[1] == value.shape[2]:  # pair scores
            assert torch.allclose(value, value.transpose(1, 2), atol=1e-5), key
            assert torch.allclose(permuted[key], value[:, permutation][:, :, permutation], atol=1e-4), key
            assert torch.allclose(padded[key][:, :6, :6], value, atol=1e-4), key
        else:
            assert torch.allclose(permuted[key], value[:, permutation], atol=1e-4), key
            assert torch.allclose(padded[key][:, :6], value, atol=1e-4), key


@pytest.mark.parametrize("name", MODELS)
def test_an_event_without_hits_gives_no_nan(name: str) -> None:
    model = MODELS[name]()
    hits = torch.cat([_hits(4), torch.zeros(1, 4, len(HIT_FEATURES))])
    mask = torch.tensor([[True] * 4, [False] * 4])
    out = model({"hits": hits, "hits_mask": mask})
    assert all(torch.isfinite(value).all() for value in out.values())
    loss = sum(value.sum() for value in out.values())
    loss.backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


def test_a_batch_whose_events_all_lack_hits_keeps_a_slot_and_trains() -> None:
    """The DataModule pads hit sets to one slot at least: the attention networks need a key to fall back on."""
    from showerlearn.calorimeter.data.dataset import HIT_META
    from showerlearn.calorimeter.data.events import GAMMA_COLUMNS

    sample = {
        "inputs": {"hits": torch.zeros(0, len(HIT_FEATURES))},
        "targets": {"objects": torch.zeros(0, dtype=torch.long), "pairs": torch.zeros(0, 0)},
        "meta": {"event_id": torch.tensor(0), "file": torch.tensor(0), "beta": torch.tensor(0.5),
                 "hits": torch.zeros(0, len(HIT_META)), "gammas": torch.zeros(0, len(GAMMA_COLUMNS))},
    }  # fmt: skip
    batch = CalorimeterDataModule(files=["never_read.h5"]).collate([sample, sample])
    assert batch["inputs"]["hits"].shape[1] == 1 and not batch["inputs"]["hits_mask"].any()
    model = MODELS["transformer"]().train()
    out = model(batch["inputs"])
    assert all(torch.isfinite(value).all() for value in out.values())
    loss = sum(value.sum() for value in out.values())  # every output, the padding slot's too: no NaN flows back
    loss.backward()
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(grad).all() for grad in grads)


@pytest.mark.parametrize("name", ["transformer", "transformer_pair_bias", "transformer_stages", "transformer_head_angles", "condensation",
                                  "condensation_pair_bias", "slots"])
def test_a_traced_attention_model_handles_events_without_hits_in_any_batch(name: str) -> None:
    """Traced (as exported) on events with hits, the model still gives an event without hits what the
    network gives it: the fallback slot of such events is not a branch the trace fixes."""
    model = MODELS[name]().eval()
    with_hits = {"hits": _hits(4).expand(2, -1, -1), "hits_mask": torch.ones(2, 4, dtype=torch.bool)}
    mixed = {"hits": torch.cat([_hits(4, seed=1), torch.zeros(1, 4, len(HIT_FEATURES))]),
             "hits_mask": torch.tensor([[True] * 4, [False] * 4])}  # fmt: skip
    with torch.no_grad():
        traced = torch.jit.trace(model, (with_hits,), strict=False, check_trace=False)
        expected, got = model(mixed), traced(mixed)
    for key, value in expected.items():
        assert torch.isfinite(got[key]).all() and torch.allclose(got[key], value, atol=1e-5), key


def _naive_biased_encoder(encoder: SetEncoder, features: torch.Tensor, mask: torch.Tensor, *biases: torch.Tensor) -> torch.Tensor:
    """The encoder written out per head and per query: in each layer pre-norm attention with the layer's
    ``bias[b, h, query, key]`` added to the logits and padded keys left out, then the feed-forward block; one
    event at a time."""
    heads = encoder.heads
    outputs = []
    for b in range(features.shape[0]):
        x = encoder.embed(features[b])
        for layer, bias in zip(encoder.encoder.layers, biases, strict=True):
            attention = layer.self_attn
            dim = attention.embed_dim
            width = dim // heads
            w_q, w_k, w_v = attention.in_proj_weight.split(dim)
            b_q, b_k, b_v = attention.in_proj_bias.split(dim)
            h = layer.norm1(x)
            q, k, v = h @ w_q.T + b_q, h @ w_k.T + b_k, h @ w_v.T + b_v
            rows = []
            for i in range(x.shape[0]):
                per_head = []
                for head in range(heads):
                    part = slice(head * width, (head + 1) * width)
                    logits = torch.stack([
                        q[i, part] @ k[j, part] / width**0.5 + bias[b, head, i, j] if mask[b, j] else torch.tensor(float("-inf"))
                        for j in range(x.shape[0])
                    ])  # fmt: skip
                    per_head.append(torch.softmax(logits, dim=0) @ v[:, part])
                rows.append(torch.cat(per_head))
            x = x + attention.out_proj(torch.stack(rows))
            x = x + layer.linear2(layer.activation(layer.linear1(layer.norm2(x))))
        outputs.append(encoder.norm(x) * mask[b, :, None])
    return torch.stack(outputs)


def test_the_attention_bias_enters_each_head_as_a_naive_implementation_does() -> None:
    torch.manual_seed(3)
    encoder = SetEncoder(len(HIT_FEATURES), dim=8, layers=1, heads=2).eval()
    features = torch.randn(2, 5, len(HIT_FEATURES))
    mask = torch.tensor([[True] * 5, [True, True, True, False, False]])
    bias = 3 * torch.randn(2, 2, 5, 5)  # asymmetric: a transposed (key, query) bias would not match
    with torch.no_grad():
        got = encoder(features, mask, bias)
        expected = _naive_biased_encoder(encoder, features, mask, bias)
    assert torch.allclose(got, expected, atol=1e-5)


def test_stages_add_what_the_embeddings_between_them_give_to_the_later_layers_bias() -> None:
    """Three layers in two stages (one layer, then two): the later layers' bias is the given one plus what
    ``between`` makes of the first layer's normed embeddings; in three stages each stage's own addition, not a
    sum of them; with nothing added it is the plain encoder."""
    torch.manual_seed(5)
    encoder = SetEncoder(len(HIT_FEATURES), dim=8, layers=3, heads=2).eval()
    features = torch.randn(2, 5, len(HIT_FEATURES))
    mask = torch.tensor([[True] * 5, [True, True, True, False, False]])
    bias, extra = 2 * torch.randn(2, 2, 5, 5), 2 * torch.randn(2, 2, 5, 5)
    seen: list[torch.Tensor] = []

    def between(embeddings: torch.Tensor) -> torch.Tensor:
        seen.append(embeddings)
        return extra

    with torch.no_grad():
        got = encoder.staged(features, mask, bias, 2, between)
        expected = _naive_biased_encoder(encoder, features, mask, bias, bias + extra, bias + extra)
        one_layer = copy.deepcopy(encoder)
        one_layer.encoder.layers = one_layer.encoder.layers[:1]
        after_one = _naive_biased_encoder(one_layer, features, mask, bias)
        plain = encoder.staged(features, mask, None, 3, lambda embeddings: torch.zeros_like(extra))
    assert len(seen) == 1 and torch.allclose(seen[0], after_one, atol=1e-5)
    assert torch.allclose(got, expected, atol=1e-5)
    assert torch.allclose(plain, encoder(features, mask), atol=1e-5)
    extras = iter([extra, -extra])
    with torch.no_grad():
        three = encoder.staged(features, mask, bias, 3, lambda embeddings: next(extras))
        expected = _naive_biased_encoder(encoder, features, mask, bias, bias + extra, bias - extra)
    assert torch.allclose(three, expected, atol=1e-5)


def test_the_pair_bias_learns_and_refuses_what_it_cannot_bias() -> None:
    model = MODELS["transformer_pair_bias"]().train()
    out = model({"hits": _hits(5), "hits_mask": torch.ones(1, 5, dtype=torch.bool)})
    out["pairs"].square().sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.pair_bias.parameters())
    with pytest.raises(ValueError, match="pair_bias needs attention layers"):
        HitTransformer(SPEC, layers=0, pair_bias=True)
    with pytest.raises(ValueError, match=r"stages: must be at most layers \(2\): each stage runs one layer at least, got 3"):
        HitTransformer(SPEC, layers=2, stages=3)
    example = Path(__file__).resolve().parents[1] / "examples" / "calorimeter_transformer.yaml"
    with pytest.raises(ConfigError, match=r"model\.params\.stages: must be at most layers \(3\)"):  # before any work
        load_config(example, ["model.params.stages=4"])
    staged = MODELS["transformer_stages"]().train()
    staged({"hits": _hits(5), "hits_mask": torch.ones(1, 5, dtype=torch.bool)})["pairs"].square().sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in staged.recycled.parameters())
    encoder = SetEncoder(len(HIT_FEATURES), dim=8, layers=1, heads=2)
    with pytest.raises(ValueError, match=r"bias has shape \(1, 4, 3, 3\), expected .* \(1, 2, 3, 3\)"):
        encoder(_hits(3), torch.ones(1, 3, dtype=torch.bool), torch.zeros(1, 4, 3, 3))


def test_the_pair_bias_reads_the_opening_angle_of_the_hits() -> None:
    """The angle the bias starts from equals the spherical law of cosines on the hits' (theta, phi), in float64, to
    float32's digits: for neighbours 0.003-0.1 rad apart too (an arccos of the float32 cosine is 1e-4 off there),
    and a hit with itself at the smallest angle, as trained networks saw it."""
    rng = np.random.default_rng(4)
    theta, phi = rng.uniform(0.3, 2.5, 6), rng.uniform(-np.pi, np.pi, 6)
    theta, phi = np.append(theta, theta[0] + np.array([0.003, 0.02, 0.1])), np.append(phi, np.full(3, phi[0]))
    n = len(theta)
    physical = np.stack([np.full(n, 2.0), np.zeros(n), theta, phi, np.zeros(n), np.sin(theta) * np.cos(phi),
                         np.sin(theta) * np.sin(phi), np.cos(theta)], axis=1)  # fmt: skip
    features = torch.from_numpy(SPEC.standardise(physical))[None]
    cosine = np.cos(theta[:, None]) * np.cos(theta[None]) + np.sin(theta[:, None]) * np.sin(theta[None]) * np.cos(phi[:, None] - phi[None])
    expected = np.arccos(np.clip(cosine, -1, 1))
    np.fill_diagonal(expected, float(torch.arccos(torch.tensor(1.0 - 1e-6))))
    got = HitPairBias(SPEC, heads=2).angles(features)[0, :, :, 0].numpy()
    np.testing.assert_allclose(got, expected, rtol=2e-5, atol=1e-6)
    assert abs(got[0, 6] - 0.003) < 1e-6 and abs(got[0, 8] - 0.1) < 2e-6


def test_the_similarity_head_reads_each_pairs_opening_angle_with_head_angles() -> None:
    """Reference: the angle by the spherical law of cosines in float64; without ``head_angles`` the head reads the
    cosine alone (the input of trained networks)."""
    rng = np.random.default_rng(7)
    theta, phi = rng.uniform(0.3, 2.5, 5), rng.uniform(-np.pi, np.pi, 5)
    physical = np.stack([np.full(5, 2.0), np.zeros(5), theta, phi, np.zeros(5), np.sin(theta) * np.cos(phi),
                         np.sin(theta) * np.sin(phi), np.cos(theta)], axis=1)  # fmt: skip
    features = torch.from_numpy(SPEC.standardise(physical))[None]
    cosine = np.cos(theta[:, None]) * np.cos(theta[None]) + np.sin(theta[:, None]) * np.sin(theta[None]) * np.cos(phi[:, None] - phi[None])
    seen, dim = [], 8
    for head_angles in (False, True):
        model = HitTransformer(SPEC, dim=dim, layers=2, heads=2, stages=2, head_angles=head_angles)
        # the head's input: product and difference of the embeddings (2 dim), then the pair's geometry
        model.similarity.register_forward_hook(lambda module, args, output: seen.append(args[0][0, ..., 2 * dim:].detach()))
        with torch.no_grad():
            model({"hits": features, "hits_mask": torch.ones(1, 5, dtype=torch.bool)})
    without, with_angles = seen[1], seen[3]  # the last stage's head of each model
    assert without.shape[-1] == 1 and with_angles.shape[-1] == 3
    off_diagonal = ~np.eye(5, dtype=bool)
    np.testing.assert_allclose(without[..., 0].numpy(), cosine, atol=1e-6)
    angle = np.arccos(np.clip(cosine, -1, 1))[off_diagonal]
    np.testing.assert_allclose(with_angles[..., 1].numpy()[off_diagonal], angle, rtol=2e-5)
    np.testing.assert_allclose(with_angles[..., 2].numpy()[off_diagonal], np.log(angle + 1e-3), rtol=2e-5, atol=1e-6)


def test_slot_pair_logits_keep_their_digits_where_hits_surely_share_a_slot() -> None:
    """Reference: ``log p - log(1 - p)`` of ``p = sum_k a_ik a_jk``, all in float64 from the slot logits; near
    p = 1 a float32 ``1 - p`` would leave the logit about 1 % off."""
    logits = torch.tensor([[[12.0, 0.0, -1.0], [11.0, 1.0, 0.5], [0.0, 9.0, 0.0], [0.3, 0.2, 0.1]]])
    share = logits.softmax(dim=-1)
    got = pair_logits(share).double()
    share64 = logits.double().softmax(dim=-1)
    same = (share64 @ share64.transpose(1, 2)).clamp(1e-6, 1 - 1e-6)
    expected = torch.log(same) - torch.log1p(-same)
    assert expected.max() > 9  # the probabilities reach 1 - 1e-4 and beyond
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)
    lone = pair_logits(torch.ones(1, 2, 1))  # one slot: every pair shares it, at the bound
    torch.testing.assert_close(lone, torch.full((1, 2, 2), float(np.log(1e6))), rtol=1e-6, atol=1e-5)


def test_the_merger_reads_the_preclusters_and_names_what_it_needs() -> None:
    merger = PreclusterMerger(FeatureSpec(("energy", "x", "y", "z"), (0.0,) * 4, (1.0,) * 4), hidden=8, layers=1)
    out = merger({"clusters": torch.randn(2, 3, 4), "clusters_mask": torch.ones(2, 3, dtype=torch.bool)})
    assert out["cluster_pairs"].shape == (2, 3, 3) and declared_heads(PreclusterMerger, {}) == set(out)
    with pytest.raises(ValueError, match="preclustering"):
        PreclusterMerger(None)
    with pytest.raises(ValueError, match="lack the features"):
        HitPairMLP(FeatureSpec(("energy",), (0.0,), (1.0,)))({"hits": torch.zeros(1, 2, 1), "hits_mask": torch.ones(1, 2, dtype=torch.bool)})


@pytest.fixture
def one_thread():
    """One torch thread: on a shared 2-core machine a second one mostly waits (and costs several times the time)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def training_batch(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, FeatureSpec]:
    """The training split of 150 simulated events (3-4 gammas) as one padded batch, and its hit features."""
    path = tmp_path_factory.mktemp("calorimeter_models") / "hits.h5"
    simulate_calorimeter(CalorimeterSimulationConfig(n_events=150, n_gammas=4, n_gammas_min=3, chunk_size=150), path, seed=9)
    datamodule = CalorimeterDataModule(files=[str(path)], seed=0, split={"fractions": [0.8, 0.1, 0.1]})
    datamodule.setup("fit")
    return datamodule.collate([datamodule.train_set[i] for i in range(len(datamodule.train_set))]), datamodule.hit_spec


def _pair_loss(model: torch.nn.Module, batch: dict) -> torch.Tensor:
    mask = batch["masks"]["pairs"]
    return masked_mean(pairwise_bce(model(batch["inputs"])["pairs"][mask], batch["targets"]["pairs"][mask], pos_weight=3.0))


def _condensation_loss(model: torch.nn.Module, batch: dict) -> torch.Tensor:
    mask = batch["masks"]["objects"]
    return masked_mean(object_condensation(model(batch["inputs"])["objects"], batch["targets"]["objects"], mask), mask)


def _train(model: torch.nn.Module, batch: dict, loss, steps: int = 30) -> tuple[float, float]:
    """The loss before and after ``steps`` Adam steps on the batch."""
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    with torch.no_grad():
        before = float(loss(model, batch))
    for _ in range(steps):
        optimizer.zero_grad()
        loss(model, batch).backward()
        optimizer.step()
    with torch.no_grad():
        return before, float(loss(model, batch))


def _pair_auc(model: torch.nn.Module, batch: dict) -> float:
    mask = batch["masks"]["pairs"]
    with torch.no_grad():
        scores = model(batch["inputs"])["pairs"][mask]
    return roc_auc_score(batch["targets"]["pairs"][mask].numpy(), scores.numpy())


def test_the_transformer_learns_which_hits_share_a_gamma(training_batch: tuple[dict, FeatureSpec], one_thread: None) -> None:
    batch, spec = training_batch
    torch.manual_seed(0)
    model = HitTransformer(spec, dim=16, layers=2, heads=2)
    auc_before = _pair_auc(model, batch)
    before, after = _train(model, batch, _pair_loss)
    auc_after = _pair_auc(model, batch)
    assert after < 0.7 * before, (before, after)
    assert auc_after > 0.9 and auc_after > auc_before, (auc_before, auc_after)


def test_object_condensation_trains_on_the_hits(training_batch: tuple[dict, FeatureSpec], one_thread: None) -> None:
    batch, spec = training_batch
    torch.manual_seed(0)
    before, after = _train(HitCondensation(spec, dim=16, layers=1, heads=2, space_dim=3), batch, _condensation_loss)
    assert np.isfinite(after) and after < 0.7 * before, (before, after)


@pytest.mark.parametrize("example", ["calorimeter_transformer.yaml", "calorimeter_condensation.yaml", "calorimeter_slot_attention.yaml"])
def test_a_width_or_head_count_the_encoder_cannot_take_is_a_config_error(example: str) -> None:
    """Found by the config check (config validate, before any work), not as torch's error at construction."""
    path = Path(__file__).resolve().parents[1] / "examples" / example
    with pytest.raises(ConfigError, match=r"model\.params\.dim: Input should be greater than or equal to 1 \(got -4\)"):
        load_config(path, ["model.params.dim=-4"])
    with pytest.raises(ConfigError, match=r"model\.params\.heads: 3 does not divide dim 16"):
        load_config(path, ["model.params.dim=16", "model.params.heads=3"])
    with pytest.raises(ValueError, match="heads: 3 does not divide dim 16"):  # the Python API says it too
        SetEncoder(4, 16, 1, 3)
    with pytest.raises(ValueError, match="dim: must be an integer >= 1, got -4"):
        SetEncoder(4, -4, 1, 1)


def test_the_encoder_draws_the_weights_of_torchs_encoder_layers_for_a_seed() -> None:
    """The attention that exports is torch's module recast, not a second one drawn: a seed gives the network
    it gave with torch's own layers (runs trained before keep reproducing)."""
    torch.manual_seed(0)
    encoder = SetEncoder(8, dim=16, layers=2, heads=2)
    torch.manual_seed(0)
    embed = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 16))
    layer = torch.nn.TransformerEncoderLayer(16, 2, 32, 0.0, batch_first=True, norm_first=True)
    reference = torch.nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
    assert all(torch.equal(a, b) for a, b in zip(encoder.embed.state_dict().values(), embed.state_dict().values(), strict=True))
    assert all(torch.equal(a, b) for a, b in zip(encoder.encoder.state_dict().values(), reference.state_dict().values(), strict=True))
