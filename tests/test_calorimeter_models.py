"""The learned clustering models: shapes and symmetries every set model owes (pair scores symmetric, outputs
permuted with the hits, padding without effect, no NaN from an event without hits), and the transformer with
a pairwise-similarity head learning on simulated events (its loss falls, its pair AUC rises well above 0.5)."""

from __future__ import annotations


import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from showerlearn.calorimeter.data import HIT_FEATURES, CalorimeterDataModule, FeatureSpec
from showerlearn.calorimeter.models import HitCondensation, HitPairMLP, HitSlotAttention, HitTransformer, PreclusterMerger
from showerlearn.calorimeter.simulation import CalorimeterSimulationConfig, simulate_calorimeter
from showerlearn.config.components import declared_heads
from showerlearn.tasks.condensation import object_condensation
from showerlearn.tasks.losses import masked_mean, pairwise_bce

SPEC = FeatureSpec(HIT_FEATURES, (1.0, 0.0, 1.5, 0.0, 0.0, 0.0, 0.0, 0.0), (1.0, 1.0, 0.5, 1.8, 2.0, 0.5, 0.5, 0.5))
MODELS = {
    "pair_mlp": lambda: HitPairMLP(SPEC, hidden=16, layers=2),
    "transformer": lambda: HitTransformer(SPEC, dim=16, layers=2, heads=2),
    "condensation": lambda: HitCondensation(SPEC, dim=16, layers=1, heads=2, space_dim=3),
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


@pytest.mark.parametrize("name", ["transformer", "condensation", "slots"])
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
