"""What the explain driver asks of the families on padded layouts: collider token slots (the explained stream
only, padding zeroed, signal by default, classes left out named) and per-element heads (refused)."""

from __future__ import annotations

import inspect
import logging
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from collider_events import write_event_file
from showerlearn.collider.data.datamodule import ColliderDataModule
from showerlearn.collider.explain.adapter import ColliderExplainAdapter
from showerlearn.explain.driver import GRADCAM_PREFIX, _MapMaker
from showerlearn.registry import MODELS


@pytest.fixture(scope="module")
def collider(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    """An untrained multi-scale transformer on a small generated file, its adapter and one test batch."""
    path = write_event_file(tmp_path_factory.mktemp("collider") / "e.h5", 60, seed=0)
    datamodule = ColliderDataModule(source={"files": [str(path)]}, constituents={"n_tokens": 12}, seed=1)
    datamodule.setup("fit")
    factory = MODELS.get("collider_multiscale")
    accepted = inspect.signature(factory).parameters
    # fixed weights, not the tests run before in this process: an untrained network's Grad-CAM may be all zero (the
    # ReLU of a negative weighted sum, as with seeds 0 and 1), which would hide where the map is drawn
    torch.manual_seed(2)
    model = factory(**{k: v for k, v in datamodule.model_inputs().items() if k in accepted}, dim=16, heads=2).eval()
    trained = SimpleNamespace(datamodule=datamodule, model=model, head_kinds={"label": "classification"},
                              config=SimpleNamespace(seed=0))  # fmt: skip
    return SimpleNamespace(trained=trained, batch=next(iter(datamodule.test_dataloader())))


def _maps(
    collider: SimpleNamespace, layer: str | None = None, targets: list[str] | None = None,
    adapter: ColliderExplainAdapter | None = None,
) -> dict[str, np.ndarray]:
    adapter = adapter or ColliderExplainAdapter(collider.trained)
    maker = _MapMaker(collider.trained, adapter, targets, layer, "gradcam", "none", control=False)
    return maker(collider.batch["inputs"], {}).maps


def test_collider_grad_cam_is_zero_on_padded_slots_and_explains_signal_by_default(collider: SimpleNamespace) -> None:
    maps = _maps(collider)
    assert [n for n in maps if n.startswith(GRADCAM_PREFIX)] == [f"{GRADCAM_PREFIX}label:1"]  # signal, not background
    inputs = collider.batch["inputs"]
    real = torch.cat([inputs["constituents_mask"], inputs["objects_mask"]], dim=1).numpy().astype(bool)
    cam = maps[f"{GRADCAM_PREFIX}label:1"]
    assert (~real).any() and np.all(cam[~real] == 0) and cam[real].sum() > 0


def test_a_collider_layer_is_explained_on_the_slots_of_its_stream(collider: SimpleNamespace) -> None:
    """A layer over the objects is drawn on the object slots (after the 12 constituent slots), a layer without
    tokens is refused."""
    cam = _maps(collider, layer="streams.objects.encoder.blocks.0", targets=["label:1"])[f"{GRADCAM_PREFIX}label:1"]
    assert np.all(cam[:, :12] == 0) and cam[:, 12:].sum() > 0
    with pytest.raises(ValueError, match="positions|tokens"):
        _maps(collider, layer="head", targets=["label:1"])


def test_a_class_without_summarised_events_is_named(collider: SimpleNamespace, caplog: pytest.LogCaptureFixture) -> None:
    adapter = ColliderExplainAdapter(collider.trained)
    batch = collider.batch
    adapter.accumulate(_maps(collider, adapter=adapter), batch, batch["meta"]["label"].numpy() == 1)  # signal events only
    with caplog.at_level(logging.WARNING, logger="showerlearn"):
        adapter.summary_figures()
    assert "no background event among the" in caplog.text


def test_grad_cam_of_a_per_element_head_is_refused() -> None:
    """Per hit-pair outputs are padded to each batch's largest event: a column is another pair in each batch."""

    class PairScores(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.backbone = torch.nn.Linear(4, 4)

        def forward(self, inputs: torch.Tensor) -> dict[str, torch.Tensor]:
            tokens = self.backbone(inputs)
            return {"pairs": tokens @ tokens.transpose(1, 2)}

    adapter = SimpleNamespace(attention_maps=lambda model, records: {}, projection=lambda model, layer: None)
    trained = SimpleNamespace(model=PairScores(), head_kinds={"pairs": "pairwise"}, config=SimpleNamespace(seed=0))
    maker = _MapMaker(trained, adapter, ["pairs:5"], None, "gradcam", "none", control=False)
    with pytest.raises(ValueError, match="one value per detector element.*this run has none.*without --target"):
        maker(torch.ones(2, 3, 4), {"pairs": torch.ones(2, 3, 3, dtype=torch.bool)})
    # the hint names the run's own per-event outputs, not another family's
    with pytest.raises(ValueError, match=r"this run's are \['energy'\]"):
        maker(torch.ones(2, 3, 4), {"pairs": torch.ones(2, 3, 3, dtype=torch.bool), "energy": torch.ones(2, dtype=torch.bool)})
    with pytest.raises(ValueError, match="several values per element"):  # a batch without masks: by shape
        maker(torch.ones(2, 3, 4), {})

