"""What only a CUDA GPU can check: the config's GPU switches (``model.params.channels_last``,
``trainer.precision`` 16-bit autocast, ``trainer.compile``) give the CPU's results there, the attention
networks' padding masks hold in its attention kernels, and a run trains and predicts on it through the CLI.

Skipped where torch sees no GPU (CI has none): run ``pytest tests/test_gpu.py`` on a machine with one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from iact_runs import EXAMPLES, TINY
from test_calorimeter_models import MODELS as HIT_MODELS
from test_collider_models import SMALL, _append_padding, _inputs, _model, _scores, _scores_of_an_empty_stream
from typer.testing import CliRunner

from showerlearn.calorimeter.data import HIT_FEATURES
from showerlearn.cli.main import app
from showerlearn.engine.speed import autocast_dtype, tf32
from showerlearn.family import installed_families
from showerlearn.iact.geometry import Lattice, lst_camera
from showerlearn.iact.models.gamma_physnet import GammaPhysNetDA
from showerlearn.io.tables import read_columns

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")

GPU = torch.device("cuda")
HEADS = GammaPhysNetDA.output_heads
_COLLIDER = installed_families()["collider"]
needs_collider = pytest.mark.skipif(bool(_COLLIDER.missing_modules()), reason=_COLLIDER.install_hint())


@pytest.fixture(autouse=True)
def exact_float32() -> Iterator[None]:
    """TF32 off (``trainer.tf32: false``): float32 on the GPU then rounds like the CPU's."""
    with tf32(False):
        yield


def _physnet(channels_last: bool = True) -> GammaPhysNetDA:
    torch.manual_seed(0)
    return GammaPhysNetDA(Lattice.from_camera(lst_camera()), depth=8, widths=(8, 16, 16), channels_last=channels_last)


def _images(batch: int = 6) -> torch.Tensor:
    """Non-negative and mostly zero, as the charges of a cleaned image."""
    generator = torch.Generator().manual_seed(1)
    return torch.randn(batch, 2, lst_camera().n_pixels, generator=generator).relu()


def _assert_heads_close(actual: dict[str, torch.Tensor], expected: dict[str, torch.Tensor], tolerance: float) -> None:
    for head in HEADS:
        assert torch.isfinite(actual[head]).all(), head
        torch.testing.assert_close(actual[head].float().cpu(), expected[head].float().cpu(), atol=tolerance, rtol=tolerance)


@pytest.mark.parametrize("channels_last", [False, True])
def test_gamma_physnet_on_the_gpu_equals_the_cpu(channels_last: bool) -> None:
    network, images = _physnet(channels_last).eval(), _images()
    with torch.no_grad():
        expected = network(images)
        actual = network.to(GPU)(images.to(GPU))
    _assert_heads_close(actual, expected, 1e-4)


@pytest.mark.slow
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
    for _ in range(20):  # float16: the scaler skips any step whose gradients overflow, and lowers its scale
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


def _in(dtype: torch.dtype | None, scores: Callable[..., object], *args: object) -> object:
    """``scores(*args)`` under CUDA autocast to ``dtype`` (None: float32); finite."""
    with torch.autocast("cuda", dtype=dtype or torch.float32, enabled=dtype is not None):
        result = scores(*args)
    assert np.isfinite(np.asarray(result)).all()
    return result


@needs_collider
@pytest.mark.parametrize("dtype", [None, torch.bfloat16, torch.float16], ids=["float32", "bf16", "fp16"])
def test_the_multiscale_transformer_ignores_padding_on_the_gpu(dtype: torch.dtype | None) -> None:
    """The GPU's attention kernels keep the padding masks: appended padded tokens move no score by more than
    the 16-bit rounding of kernels of another length, several times less than the same tokens unmasked (measured
    on a CPU: 4e-4 in bf16 against 0.04); nor do the padded slots of an event without tokens of a stream.
    In float32 the scores equal the CPU's, in 16 bits they stay near them."""
    network, inputs = _model("collider_multiscale", {**SMALL, "pair_features": True, "cross_pair_features": True}), _inputs()
    on_the_cpu = _scores(network, inputs)
    network.to(GPU)
    scores = _in(dtype, _scores, network, inputs)
    tolerance = 1e-6 if dtype is None else torch.finfo(dtype).eps / 2
    np.testing.assert_allclose(scores, on_the_cpu, atol=1e-5 if dtype is None else 8 * tolerance, rtol=0)
    padded = _append_padding(inputs, 9, seed=9)
    np.testing.assert_allclose(_in(dtype, _scores, network, padded), scores, atol=tolerance, rtol=0)
    unmasked = {**padded, **{f"{s}_mask": torch.ones_like(padded[f"{s}_mask"]) for s in ("constituents", "objects")}}
    assert np.abs(_in(dtype, _scores, network, unmasked) - scores).max() > 5 * tolerance  # the check can see a leak
    for stream in ("constituents", "objects"):
        empty = _in(dtype, _scores_of_an_empty_stream, network, stream)
        np.testing.assert_allclose(empty[1], empty[0], atol=tolerance, rtol=0)


def test_the_hit_transformer_on_the_gpu_equals_the_cpu_and_ignores_padding() -> None:
    torch.manual_seed(0)
    network = HIT_MODELS["transformer"]().eval()
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
    torch.testing.assert_close(actual["pairs"][real].cpu(), expected["pairs"][real], atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(padded["pairs"][real], actual["pairs"][real], atol=1e-4, rtol=0)


@pytest.mark.slow
def test_a_run_trains_and_predicts_on_the_gpu_in_16_bit_compiled(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``showerlearn train`` with every GPU switch on, then ``showerlearn predict`` on the GPU of the file it
    simulated: every event of the file, with the run's precision."""
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(tmp_path / "elsewhere"))  # compile_network repoints it
    gpu_switches = ["trainer.accelerator=gpu", "trainer.precision=16-mixed", "trainer.compile=true", "trainer.tf32=true",
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
