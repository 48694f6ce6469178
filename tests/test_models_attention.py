"""The attention that exports: as ONNX, its written-out form equals torch's ``nn.MultiheadAttention`` (the
reference) with every kind of mask, on batches of other sizes than the exported one; untraced, it is torch's."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import Tensor, nn

from showerlearn.models.attention import MultiheadAttention, usable_mask


def _pair(dim: int = 8, heads: int = 2) -> tuple[MultiheadAttention, nn.MultiheadAttention]:
    torch.manual_seed(0)
    ours = MultiheadAttention(dim, heads, batch_first=True).eval()
    reference = nn.MultiheadAttention(dim, heads, batch_first=True).eval()
    reference.load_state_dict(ours.state_dict())  # the same parameter names: checkpoints load either way
    return ours, reference


def _masks(batch: int, queries: int, keys: int, kind: str, heads: int = 2) -> dict[str, Tensor]:
    """The masks of one kind for a batch: padding ``(B, S)``, a bias per event and head ``(B * heads, L, S)``,
    one mask for every event ``(L, S)``."""
    generator = torch.Generator().manual_seed(batch * 100 + keys)
    real = torch.arange(keys)[None] < torch.randint(1, keys + 1, (batch,), generator=generator)[:, None]
    return {
        "bool padding": {"key_padding_mask": ~real},
        "float padding": {"key_padding_mask": torch.zeros(batch, keys).masked_fill(~real, float("-inf"))},
        "bias per head": {"key_padding_mask": torch.zeros(batch, keys).masked_fill(~real, float("-inf")),
                          "attn_mask": torch.randn(batch * heads, queries, keys, generator=generator)},
        "one bias": {"attn_mask": torch.randn(queries, keys, generator=generator)},
        "boolean attention mask": {"attn_mask": torch.rand(queries, keys, generator=generator) > 0.7},
    }[kind]


class _Block(nn.Module):
    def __init__(self, attention: nn.Module, names: list[str], weights: bool) -> None:
        super().__init__()
        self.attention, self.names, self.weights = attention, names, weights

    def forward(self, query: Tensor, key: Tensor, *masks: Tensor) -> tuple[Tensor, ...]:
        out, attention = self.attention(query, key, key, need_weights=self.weights, average_attn_weights=False,
                                        **dict(zip(self.names, masks, strict=True)))
        return (out,) if attention is None else (out, attention)


KINDS = ["bool padding", "float padding", "bias per head", "one bias", "boolean attention mask"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("weights", [False, True])
def test_exported_to_onnx_it_equals_torchs_attention_on_other_batches(kind: str, weights: bool, tmp_path: Path) -> None:
    """Exported with torch's forward, the graph would fail on any batch but the traced one."""
    onnxruntime = pytest.importorskip("onnxruntime", reason="onnxruntime not installed (pip install 'showerlearn[export]')")
    ours, reference = _pair()
    example = _masks(3, 5, 4, kind)
    axes = {"query": {0: "batch", 1: "queries"}, "key": {0: "batch", 1: "keys"}, "key_padding_mask": {0: "batch", 1: "keys"},
            "attn_mask": {0: "batch_heads", 1: "queries", 2: "keys"} if kind == "bias per head" else {0: "queries", 1: "keys"}}
    path = tmp_path / "attention.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporter's notes on the TorchScript-based path
        torch.onnx.export(_Block(ours, list(example), weights), (torch.randn(3, 5, 8), torch.randn(3, 4, 8), *example.values()),
                          str(path), input_names=["query", "key", *example], dynamo=False, opset_version=17,
                          dynamic_axes={name: axes[name] for name in ("query", "key", *example)})
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for batch, queries, keys in ((3, 5, 4), (2, 7, 9), (6, 1, 3)):
        query, key, masks = torch.randn(batch, queries, 8), torch.randn(batch, keys, 8), _masks(batch, queries, keys, kind)
        if kind == "boolean attention mask":
            masks["attn_mask"][:, 0] = False  # no query without a key
        with torch.no_grad():
            expected = reference(query, key, key, need_weights=weights, average_attn_weights=False, **masks)
        got = session.run(None, {"query": query.numpy(), "key": key.numpy(), **{k: v.numpy() for k, v in masks.items()}})
        np.testing.assert_allclose(got[0], expected[0].numpy(), rtol=1e-5, atol=1e-6)
        if weights:
            np.testing.assert_allclose(got[1], expected[1].numpy(), rtol=1e-5, atol=1e-6)


def test_untraced_it_is_torchs_attention() -> None:
    ours, reference = _pair()
    query = torch.randn(2, 3, 8)
    with torch.no_grad():
        torch.testing.assert_close(ours(query, query, query)[0], reference(query, query, query)[0])


def test_an_event_without_elements_keeps_its_first_key_open() -> None:
    mask = torch.tensor([[True, False, False], [False, False, False]])
    assert usable_mask(mask).tolist() == [[True, False, False], [True, False, False]]
