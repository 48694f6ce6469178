"""What only a CUDA GPU can check: the config's GPU switches (``model.params.channels_last``,
``trainer.precision`` 16-bit autocast, ``trainer.compile``) give the CPU's results there, the attention
networks' padding masks hold in its kernels, and a run trains and predicts on it through the CLI.

Skipped where torch sees no GPU (CI has none): run ``pytest tests/test_gpu.py`` on a machine with one.
Only the iact family's extras are needed: the collider and calorimeter networks are imported directly.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from iact_runs import EXAMPLES, TINY
from test_calorimeter_models import SPEC
from test_collider_models import SIZES, SMALL, _append_padding, _inputs
from typer.testing import CliRunner

from showerlearn.calorimeter.data import HIT_FEATURES
from showerlearn.calorimeter.models import HitTransformer
from showerlearn.cli.main import app
from showerlearn.collider.models.multiscale import MultiScaleTransformer
from showerlearn.engine.speed import autocast_dtype
from showerlearn.iact.geometry import Lattice, lst_camera
from showerlearn.iact.models.gamma_physnet import GammaPhysNetDA
from showerlearn.io.tables import read_columns

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")

GPU = torch.device("cuda")
HEADS = ("particle", "energy", "direction", "impact")


@pytest.fixture(autouse=True)
def exact_float32() -> Iterator[None]:
    """TF32 off: float32 on the GPU then rounds like the CPU's (TF32 keeps 10 bits of the mantissa)."""
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    yield
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


def _physnet(channels_last: bool = True) -> GammaPhysNetDA:
    torch.manual_seed(0)
    return GammaPhysNetDA(Lattice.from_camera(lst_camera()), depth=8, widths=(8, 16, 16), channels_last=channels_last)


def _images(batch: int = 6) -> torch.Tensor:
    generator = torch.Generator().manual_seed(1)
    return torch.randn(batch, 2, lst_camera().n_pixels, generator=generator).relu()  # charge-like: sparse, >= 0


def _assert_heads_close(actual: dict[str, torch.Tensor], expected: dict[str, torch.Tensor], tolerance: float) -> None:
    for head in HEADS:
        torch.testing.assert_close(actual[head].float().cpu(), expected[head].float().cpu(), atol=tolerance, rtol=tolerance)


@pytest.mark.parametrize("channels_last", [False, True])
def test_gamma_physnet_on_the_gpu_equals_the_cpu(channels_last: bool) -> None:
    network, images = _physnet(channels_last).eval(), _images()
    with torch.no_grad():
        expected = network(images)
        actual = network.to(GPU)(images.to(GPU))
    _assert_heads_close(actual, expected, 1e-4)


def test_compiled_gamma_physnet_on_the_gpu_equals_the_eager_one() -> None:
    """Forward in eval mode, and the gradients of one training step (batch statistics over the real pixels)."""
    eager, images = _physnet().to(GPU), _images().to(GPU)
    compiled = _physnet().to(GPU)
    compiled.compile()
    gradients = []
    for network in (eager, compiled):
        network.train()
        loss = sum(network(images)[head].square().mean() for head in HEADS)
        loss.backward()
        gradients.append({name: p.grad for name, p in network.named_parameters() if p.grad is not None})
    assert gradients[0].keys() == gradients[1].keys()
    # float32 sums in another order, relative to the size of the whole gradient: some are ~0 by symmetry
    # (the bias before a softmax over pixels), their own relative error is noise
    flat = [torch.cat([g.flatten() for g in grads.values()]) for grads in gradients]
    assert (flat[1] - flat[0]).norm() < 1e-3 * flat[0].norm()  # 2.4e-4 on a CPU
    with torch.no_grad():
        _assert_heads_close(compiled.eval()(images), eager.eval()(images), 1e-4)


@pytest.mark.parametrize("precision", ["bf16-mixed", "16-mixed"])
def test_16_bit_autocast_on_the_gpu_keeps_the_heads_in_float32_and_trains(precision: str) -> None:
    """As Lightning runs ``trainer.precision``: autocast over the forward pass, and for float16 a gradient
    scaler. The backbone runs in 16 bits, the heads in float32, near the float32 network's outputs."""
    dtype = autocast_dtype(precision)
    network, images = _physnet().to(GPU), _images().to(GPU)
    with torch.no_grad():
        reference = network.eval()(images)
        with torch.autocast("cuda", dtype=dtype):
            outputs = network(images)
    assert all(outputs[head].dtype == torch.float32 for head in HEADS)
    _assert_heads_close(outputs, reference, 0.05)
    scaler = torch.amp.GradScaler("cuda", enabled=dtype is torch.float16)
    optimizer = torch.optim.Adam(network.parameters(), lr=1e-3)
    before = [p.detach().clone() for p in network.parameters()]
    network.train()
    for _ in range(20):  # float16: the scaler skips the first steps, whose gradients overflow, and lowers its scale
        with torch.autocast("cuda", dtype=dtype):
            loss = sum(network(images)[head].float().square().mean() for head in HEADS)
        optimizer.zero_grad()
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
    assert all(torch.isfinite(p).all() for p in network.parameters())
    assert sum(not torch.equal(p, b) for p, b in zip(network.parameters(), before, strict=True)) > len(before) // 2
    buffers = dict(network.named_buffers())
    assert all(torch.isfinite(value).all() for name, value in buffers.items() if name.endswith(("running_mean", "running_var")))


def _multiscale() -> MultiScaleTransformer:
    accepted = inspect.signature(MultiScaleTransformer).parameters
    torch.manual_seed(0)
    return MultiScaleTransformer(**{k: v for k, v in SIZES.items() if k in accepted}, **SMALL, pair_features=True).eval()


def _on(inputs: dict[str, torch.Tensor], device: torch.device) -> dict[str, torch.Tensor]:
    return {key: value.to(device) for key, value in inputs.items()}


def _collider_scores(network: torch.nn.Module, inputs: dict[str, torch.Tensor], dtype: torch.dtype | None = None) -> np.ndarray:
    with torch.no_grad(), torch.autocast("cuda", dtype=dtype or torch.float16, enabled=dtype is not None):
        return torch.softmax(network(_on(inputs, GPU))["label"].float(), dim=-1).double().cpu().numpy()


@pytest.mark.parametrize("dtype", [None, torch.bfloat16, torch.float16], ids=["float32", "bf16", "fp16"])
def test_the_multiscale_transformer_ignores_padding_in_the_gpus_attention_kernels(dtype: torch.dtype | None) -> None:
    """The GPU's fused attention kernels keep the padding masks: appended padded tokens never change a score,
    nor do the padded slots of an event without objects; in float32 the scores equal the CPU's."""
    network, inputs = _multiscale(), _inputs()
    with torch.no_grad():
        on_the_cpu = torch.softmax(network(inputs)["label"], dim=-1).double().numpy()
    network.to(GPU)
    scores = _collider_scores(network, inputs, dtype)
    # 16 bits: the kernels of other lengths round otherwise (a few units of the type's last bit); a token
    # that leaked in would move a score by far more
    tolerance = 1e-6 if dtype is None else 4 * torch.finfo(dtype).eps
    if dtype is None:
        np.testing.assert_allclose(scores, on_the_cpu, atol=1e-5, rtol=0)
    for extra in (1, 9):
        padded = _append_padding(inputs, extra, seed=extra)
        np.testing.assert_allclose(_collider_scores(network, padded, dtype), scores, atol=tolerance, rtol=0)
    empty = dict(inputs, objects_mask=inputs["objects_mask"].clone())
    empty["objects_mask"][0] = False
    filled = dict(empty, objects=empty["objects"].clone())
    filled["objects"][0] = 5.0
    np.testing.assert_allclose(_collider_scores(network, filled, dtype), _collider_scores(network, empty, dtype), atol=tolerance, rtol=0)


def test_the_hit_transformer_on_the_gpu_equals_the_cpu_and_ignores_padding() -> None:
    torch.manual_seed(0)
    network = HitTransformer(SPEC, dim=16, layers=2, heads=2).eval()
    hits = torch.randn(2, 7, len(HIT_FEATURES))
    mask = torch.tensor([[True] * 5 + [False] * 2, [False] * 7])  # the second event has no hit
    with torch.no_grad():
        expected = network({"hits": hits, "hits_mask": mask})
        network.to(GPU)
        actual = network({"hits": hits.to(GPU), "hits_mask": mask.to(GPU)})
        padded = network({"hits": torch.cat([hits, torch.randn(2, 3, len(HIT_FEATURES))], dim=1).to(GPU),
                          "hits_mask": torch.cat([mask, torch.zeros(2, 3, dtype=torch.bool)], dim=1).to(GPU)})
    real = (0, slice(0, 5), slice(0, 5))  # the pair scores of the first event's five hits
    assert torch.isfinite(actual["pairs"]).all()  # the event without hits too
    torch.testing.assert_close(actual["pairs"][real].cpu(), expected["pairs"][real], atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(padded["pairs"][real], actual["pairs"][real], atol=1e-5, rtol=0)


def test_a_run_trains_and_predicts_on_the_gpu_in_16_bit_compiled(tmp_path: Path) -> None:
    """``showerlearn train`` with every GPU switch on, then ``showerlearn predict`` on the GPU of the file it
    simulated: the same events, with the run's precision."""
    gpu_switches = ["trainer.accelerator=gpu", "trainer.precision=16-mixed", "trainer.compile=true",
                    f"trainer.compile_cache={tmp_path / 'kernels'}", "model.params.channels_last=true"]  # fmt: skip
    workspace = [f"output_dir={tmp_path / 'runs'}", f"data.params.cache_dir={tmp_path / 'cache'}"]
    command = ["train", str(EXAMPLES / "gamma_physnet_small.yaml"), "--no-progress"]
    for override in [*workspace, *TINY, *gpu_switches]:
        command += ["--set", override]
    result = CliRunner().invoke(app, command)
    assert result.exit_code == 0, result.output
    (run,) = (tmp_path / "runs" / "gamma_physnet_small").iterdir()
    tested = read_columns(run / "predictions.h5")
    assert len(tested["gammaness"]) > 0 and np.isfinite(tested["reco_energy"]).all()
    (simulated,) = (tmp_path / "cache").glob("*.dl1.h5")
    output = tmp_path / "predicted"
    result = CliRunner().invoke(app, ["predict", str(run), "--input", str(simulated), "--output", str(output)])
    assert result.exit_code == 0, result.output
    predicted = read_columns(output / f"{simulated.stem}.predictions.h5")
    assert len(predicted["event_id"]) > len(tested["event_id"])  # every event of the file, not the test split
    assert np.isfinite(predicted["gammaness"]).all() and np.isfinite(predicted["reco_alt"]).all()
