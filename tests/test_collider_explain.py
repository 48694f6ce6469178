"""The statistics behind the collider explanation figures: per-class mean attention maps over real cells
only, and Grad-CAM / pT jet images, against direct loops over the events."""

from __future__ import annotations

import inspect
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from collider_events import write_event_file
from showerlearn.collider.data.datamodule import ColliderDataModule
from showerlearn.collider.explain.adapter import ColliderExplainAdapter
from showerlearn.collider.explain.summary import JetImages, MeanMaps
from showerlearn.explain.driver import GRADCAM_PREFIX
from showerlearn.explain.gradcam import Projection, grad_cam
from showerlearn.registry import MODELS


def test_mean_maps_average_each_cell_over_the_events_where_it_is_real() -> None:
    rng = np.random.default_rng(0)
    maps, labels = rng.random((30, 4, 5)), rng.integers(0, 2, 30)
    query_real, key_real = rng.random((30, 4)) < 0.7, rng.random((30, 5)) < 0.7
    real = query_real[:, :, None] & key_real[:, None, :]
    means = MeanMaps(2, (4, 5))
    for part in np.array_split(np.arange(30), 3):  # batch by batch
        means.add(maps[part], real[part], labels[part])
    for label in (0, 1):
        for q in range(4):
            for k in range(5):
                cell = [maps[e, q, k] for e in range(30) if labels[e] == label and real[e, q, k]]
                expected = np.mean(cell) if cell else np.nan
                np.testing.assert_allclose(means.mean()[label, q, k], expected, equal_nan=True)


def test_jet_images_are_per_event_normalised_maps_histogrammed_per_jet() -> None:
    rng = np.random.default_rng(1)
    n, tokens = 8, 6
    deta, dphi = rng.uniform(-0.9, 0.9, (n, tokens)), rng.uniform(-0.9, 0.9, (n, tokens))
    jet, share = rng.integers(0, 2, (n, tokens)), rng.random((n, tokens))
    cam, real, labels = rng.random((n, tokens)), rng.random((n, tokens)) < 0.8, rng.integers(0, 2, n)
    images = JetImages(2, n_jets=2, radius=1.0, bins=4)
    images.add(deta, dphi, jet, share, cam, real, labels)
    gradcam, pt = images.means()
    edges = np.linspace(-1, 1, 5)
    for label in (0, 1):
        events = np.flatnonzero(labels == label)
        expected_cam, expected_pt = np.zeros((2, 4, 4)), np.zeros((2, 4, 4))
        for e in events:
            weights = np.where(real[e], cam[e], 0.0) / np.where(real[e], cam[e], 0.0).sum()
            for t in np.flatnonzero(real[e]):
                i, j = np.digitize(deta[e, t], edges) - 1, np.digitize(dphi[e, t], edges) - 1
                expected_cam[jet[e, t], i, j] += weights[t] / len(events)
                expected_pt[jet[e, t], i, j] += share[e, t] / len(events)
        np.testing.assert_allclose(gradcam[label], expected_cam, atol=1e-12)
        np.testing.assert_allclose(pt[label], expected_pt, atol=1e-12)
    # each event's Grad-CAM adds up to 1 over its jets' images
    np.testing.assert_allclose(gradcam.sum(axis=(1, 2, 3)), 1.0)


def _transformer_adapter(tmp_path: Path, stream: str) -> tuple[ColliderExplainAdapter, Projection, dict]:
    """The adapter of an untrained one-stream transformer over ``stream``, its projection onto the token slots, and
    a test batch of 60 generated events."""
    datamodule = ColliderDataModule(source={"files": [str(write_event_file(tmp_path / "e.h5", 60, seed=0))]},
                                    constituents={"n_tokens": 12}, seed=1)  # fmt: skip
    datamodule.setup("fit")
    sizes = datamodule.model_inputs()
    factory = MODELS.get("collider_transformer")
    accepted = inspect.signature(factory).parameters
    model = factory(**{k: v for k, v in sizes.items() if k in accepted}, dim=16, heads=2, stream=stream)
    adapter = ColliderExplainAdapter(SimpleNamespace(datamodule=datamodule, model=model))
    return adapter, adapter.projection(model), next(iter(datamodule.test_dataloader()))


@pytest.mark.parametrize("stream", ["objects", "constituents"])
def test_grad_cam_is_summarised_on_the_slots_of_the_explained_layer(stream: str, tmp_path: Path) -> None:
    """Each event's map counts as shares of 1 over its real tokens (however long the padding and whatever the
    gradients' scale), on the stream the explained layer attends over: a layer over the objects is summarised
    on the object slots (it has no jet image), not on the empty constituent slots."""
    adapter, to_slots, batch = _transformer_adapter(tmp_path, stream)
    real = batch["inputs"][f"{stream}_mask"].numpy()
    cam = np.random.default_rng(2).random(real.shape) * 1000.0  # any scale
    adapter.accumulate({f"{GRADCAM_PREFIX}label:1": to_slots(torch.as_tensor(cam)).numpy()}, batch, np.ones(len(real), bool))
    labels = batch["meta"]["label"].numpy()
    shares = np.where(real, cam, 0.0) / np.where(real, cam, 0.0).sum(axis=1, keepdims=True)
    for label in (0, 1):
        rows = labels == label
        expected = np.nansum(np.where(real[rows], shares[rows], np.nan), axis=0) / real[rows].sum(axis=0).clip(1)
        got = adapter.profiles["label:1"].mean()[label, 0]
        np.testing.assert_allclose(np.nan_to_num(got), expected, atol=1e-12)
    assert ("label:1" in adapter.images) == (stream == "constituents")
    assert "gradcam_label_1" in adapter.summary_figures()


@pytest.mark.parametrize(("layer", "stream"), [
    (None, "constituents"), ("streams.objects.encoder.blocks.0", "objects"), ("cross.objects.0", "objects"),
    ("streams.constituents.encoder.blocks.1", "constituents"),
])  # fmt: skip
def test_grad_cam_of_a_named_layer_lands_on_the_slots_of_its_stream(layer: str | None, stream: str, tmp_path: Path) -> None:
    """With as many object as constituent tokens, a layer of the wrong stream would fit the other stream's slots
    as well: the network names the stream of each layer, and the map lands on that stream's slots only."""
    datamodule = ColliderDataModule(source={"files": [str(write_event_file(tmp_path / "e.h5", 40, seed=0))]},
                                    constituents={"n_tokens": 6}, objects={"n_tokens": 6}, seed=1)  # fmt: skip
    datamodule.setup("fit")
    sizes = datamodule.model_inputs()
    torch.manual_seed(0)
    factory = MODELS.get("collider_multiscale")
    accepted = inspect.signature(factory).parameters
    model = factory(**{k: v for k, v in sizes.items() if k in accepted}, dim=16, heads=2, constituent_layers=2, object_layers=1)
    adapter = ColliderExplainAdapter(SimpleNamespace(datamodule=datamodule, model=model))
    batch = next(iter(datamodule.test_dataloader()))
    maps = grad_cam(model, batch["inputs"], "label:1", layer, projection=adapter.projection(model, layer), channels_last=True)
    (cam,) = maps.maps.values()
    slots = {"constituents": slice(0, 6), "objects": slice(6, 12)}
    other = "objects" if stream == "constituents" else "constituents"
    assert cam[:, slots[stream]].abs().sum() > 0 and cam[:, slots[other]].abs().sum() == 0
    assert adapter.gradcam_stream == stream


def test_unlabelled_events_are_summarised_as_a_group_of_their_own(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Files to predict carry no class (every Delphes file): their events form an "unlabelled" row instead of
    being left out (which left every panel empty); a class without events gets no row and is named."""
    adapter, to_slots, batch = _transformer_adapter(tmp_path, "constituents")
    real = batch["inputs"]["constituents_mask"].numpy()
    unlabelled = {**batch, "meta": {**batch["meta"], "label": torch.full_like(batch["meta"]["label"], -1)}}
    cam = np.random.default_rng(2).random(real.shape)
    adapter.accumulate({f"{GRADCAM_PREFIX}label:1": to_slots(torch.as_tensor(cam)).numpy()}, unlabelled, np.ones(len(real), bool))
    assert adapter.group_events.tolist() == [0, 0, len(real)]
    shares = cam * real / (cam * real).sum(axis=1, keepdims=True)
    expected = np.nansum(np.where(real, shares, np.nan), axis=0) / real.sum(axis=0).clip(1)
    np.testing.assert_allclose(np.nan_to_num(adapter.profiles["label:1"].mean()[2, 0]), expected, atol=1e-12)
    figure = adapter.summary_figures()["gradcam_label_1"]
    titles = " ".join(ax.get_title() + " " + ax.get_ylabel() for ax in figure.axes)
    assert "unlabelled" in titles and "signal" not in titles and "background" not in titles
    assert "no background" not in caplog.text  # no class is missing among labelled events: there are none
    # labelled events of one class only: the other class is named, and gets no row
    adapter.accumulate({f"{GRADCAM_PREFIX}label:1": to_slots(torch.as_tensor(cam)).numpy()},
                       {**batch, "meta": {**batch["meta"], "label": torch.ones_like(batch["meta"]["label"])}},
                       np.ones(len(real), bool))
    adapter.summary_figures()
    assert "no background event among the" in caplog.text and "the input holds none" in caplog.text
