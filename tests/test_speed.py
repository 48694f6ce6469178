"""Speed settings change nothing but speed: a compiled backbone equals the reference lattice
convolutions, channels-last or not; the allocator setting is what glibc is told; the config switches
reach the network."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from test_lattice_layers import LATTICES

from showerlearn.config import resolve_config
from showerlearn.config.schema import TrainerConfig
from showerlearn.engine import runner, speed
from showerlearn.engine.speed import compile_network
from showerlearn.iact.geometry import Lattice
from showerlearn.iact.nn import DualAttention, LatticeResNet
from showerlearn.io.tables import read_columns


def _backbones(
    lattice: Lattice, widths: tuple[int, ...] = (4, 6, 8), **dense_options: object
) -> tuple[LatticeResNet, LatticeResNet]:
    """The reference (indexed: gather + matrix product per pixel) and the dense 2-D path, same weights."""

    def attention(stage: int, channels: int, stage_lattice: Lattice) -> DualAttention:
        return DualAttention(channels, stage_lattice, ratio=2)

    options = {"depth": 8, "widths": widths, "stage_hook": attention}
    torch.manual_seed(0)
    reference = LatticeResNet(lattice, 2, implementation="indexed", **options)
    dense = LatticeResNet(lattice, 2, implementation="dense", **options, **dense_options)
    dense.load_state_dict(reference.state_dict())
    return reference, dense


def _outputs_and_gradients(model: torch.nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
    model.zero_grad()
    out = model(x)
    out.square().mean().backward()
    return out.detach(), [p.grad.clone() for p in model.parameters()]


@pytest.mark.slow
@pytest.mark.parametrize(("name", "images_per_grid"), [("hex", 1), ("square_gaps", 2)])
def test_compiled_backbone_equals_reference(name: str, images_per_grid: int, tmp_path, monkeypatch) -> None:
    """Compiled, with one image per grid and with two (the batch of 4 in two grids)."""
    # compile_network points the variable at trainer.compile_cache; monkeypatch restores it afterwards
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(tmp_path / "elsewhere"))
    lattice = LATTICES[name]()
    # two stages, one pooling: compiles in less time
    reference, dense = _backbones(lattice, widths=(4, 6), images_per_grid=images_per_grid)
    x = torch.randn(4, 2, lattice.n_pixels) * 3 + 1
    # with 2 images per grid the batch fills two grids: the shared path is the one compiled
    assert (len(dense.shared_layouts) == 2 and dense.shared_layouts[0].fits(len(x))) == (images_per_grid == 2)
    assert compile_network(dense, TrainerConfig(compile=True, compile_cache=tmp_path / "kernels"))
    expected, expected_grads = _outputs_and_gradients(reference, x)
    for _ in range(2):  # the second call runs the cached compiled graph
        out, grads = _outputs_and_gradients(dense, x)
        torch.testing.assert_close(out, expected, rtol=1e-4, atol=1e-5)
        for got, want in zip(grads, expected_grads, strict=True):
            torch.testing.assert_close(got, want, rtol=1e-3, atol=1e-5)
    assert any((tmp_path / "kernels").iterdir()), "compiled kernels are kept in trainer.compile_cache"
    assert not (tmp_path / "elsewhere").exists()
    # in place: the parameter names (checkpoint keys) are those of the eager network
    assert list(dense.state_dict()) == list(reference.state_dict())


@pytest.mark.parametrize("name", ["hex", "square_gaps"])
def test_contiguous_layout_equals_channels_last(name: str) -> None:
    lattice = LATTICES[name]()
    reference, channels_last = (model.double() for model in _backbones(lattice))
    contiguous = _backbones(lattice, channels_last=False)[1].double()
    x = torch.randn(3, 2, lattice.n_pixels, dtype=torch.float64)
    grid = contiguous.layouts[0].scatter(x)
    assert grid.is_contiguous() and channels_last.layouts[0].scatter(x).is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(contiguous.layouts[0].gather(grid), x, rtol=0, atol=0)
    expected, expected_grads = _outputs_and_gradients(reference, x)
    for model in (channels_last, contiguous):
        out, grads = _outputs_and_gradients(model, x)
        torch.testing.assert_close(out, expected, rtol=1e-9, atol=1e-10)
        for got, want in zip(grads, expected_grads, strict=True):
            torch.testing.assert_close(got, want, rtol=1e-8, atol=1e-10)


def _record_dtypes(modules: list[torch.nn.Module], dtypes: list[torch.dtype]) -> None:
    """Record the dtype of every ``forward_grid`` output of ``modules`` (the dense path calls those, not forward)."""
    def recording(original: Callable[..., torch.Tensor]) -> Callable[..., torch.Tensor]:
        def forward_grid(*args: object) -> torch.Tensor:
            out = original(*args)
            dtypes.append(out.dtype)
            return out

        return forward_grid

    for module in modules:
        module.forward_grid = recording(module.forward_grid)


def test_bf16_autocast_runs_close_to_float32() -> None:
    """``trainer.precision: bf16-mixed``: 16-bit activations through every block and pooling of the dense path
    (a float32 mask would promote them back), and gradients as close to float32 as those of the reference
    path, whose batch norm is PyTorch's own."""
    lattice = LATTICES["hex"]()
    reference, dense = _backbones(lattice)
    x = torch.randn(4, 2, lattice.n_pixels)
    dtypes: list[torch.dtype] = []
    _record_dtypes([*dense.blocks(), *dense.pools], dtypes)
    similarity = {}
    for name, model in (("reference", reference), ("dense", dense)):
        expected, expected_grads = _outputs_and_gradients(model, x)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out, grads = _outputs_and_gradients(model, x)
        assert (out.float() - expected).abs().max() < 0.1 * expected.abs().max()
        flat, expected_flat = (torch.cat([g.flatten() for g in gs]) for gs in (grads, expected_grads))
        similarity[name] = torch.nn.functional.cosine_similarity(flat, expected_flat, dim=0)
    assert dtypes[-(len(dense.blocks()) + len(dense.pools)) :] == [torch.bfloat16] * (len(dense.blocks()) + len(dense.pools))
    assert similarity["dense"] > similarity["reference"] - 0.005, similarity


def test_bf16_batch_statistics_are_float32_and_exact_enough() -> None:
    """Statistics of a 16-bit layout: in float32, equal to float64 statistics of its pixels (a mean 3 times
    the spread: statistics rounded to bf16 would be a few % off); in eval mode the running statistics
    normalise a bf16 grid as they do a float32 one, in bf16."""
    from showerlearn.iact.nn.lattice import GridLayout, LatticeBatchNorm

    lattice = LATTICES["hex"]()
    layout = GridLayout(lattice)
    pixels = (3 + torch.randn(8, 3, lattice.n_pixels, dtype=torch.float64)).bfloat16()
    grid = layout.scatter(pixels)
    bn = LatticeBatchNorm(3, momentum=1.0)
    bn.relu_grid(grid, layout)
    reference = pixels.double().transpose(0, 1).reshape(3, -1)
    assert bn.running_mean.dtype == torch.float32
    torch.testing.assert_close(bn.running_mean.double(), reference.mean(1), rtol=1e-6, atol=0)
    torch.testing.assert_close(bn.running_var.double(), reference.var(1), rtol=1e-4, atol=0)
    bn.eval()
    out = bn.relu_grid(grid, layout)
    assert out.dtype == torch.bfloat16
    torch.testing.assert_close(out.float(), bn.relu_grid(grid.float(), layout), rtol=1e-2, atol=1e-2)


def test_bf16_batch_norm_gradients_follow_float64() -> None:
    """The input gradients of batch norm + ReLU on a bf16 layout stay within 2 % of float64 (PyTorch's own
    batch norm: 0.2 %), even where the mean is 3 times the spread: normalising with a bf16 scale and shift
    moved values near zero across the ReLU (12 %)."""
    from showerlearn.iact.nn.lattice import GridLayout, LatticeBatchNorm

    lattice = LATTICES["hex"]()
    pixels = (3 + torch.randn(8, 3, lattice.n_pixels, dtype=torch.float64)).bfloat16().double()
    weights = torch.randn_like(pixels)

    def input_gradient(dtype: torch.dtype) -> torch.Tensor:
        x = pixels.clone().to(dtype).requires_grad_()
        bn = LatticeBatchNorm(3).to(torch.float64 if dtype == torch.float64 else torch.float32)
        layout = GridLayout(lattice).to(dtype)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=dtype == torch.bfloat16):
            out = layout.gather(bn.relu_grid(layout.scatter(x), layout))
        (out.double() * weights).sum().backward()
        return x.grad.double()

    expected, got = input_gradient(torch.float64), input_gradient(torch.bfloat16)
    assert (got - expected).norm() < 0.02 * expected.norm()


def test_batch_norm_of_a_network_in_bf16_true() -> None:
    """A network converted to bfloat16 (``module.bfloat16()``): running statistics updated in their type."""
    from showerlearn.iact.nn.lattice import GridLayout, LatticeBatchNorm

    lattice = LATTICES["hex"]()
    layout = GridLayout(lattice)
    bn = LatticeBatchNorm(3).bfloat16()
    out = bn.relu_grid(layout.scatter(torch.randn(4, 3, lattice.n_pixels).bfloat16()), layout)
    assert out.dtype == bn.running_mean.dtype == bn.running_var.dtype == torch.bfloat16
    assert torch.isfinite(bn.running_var).all() and bn.num_batches_tracked == 1


def test_prediction_precision(monkeypatch: pytest.MonkeyPatch) -> None:
    """16-bit runs: on a GPU the training's; on a CPU bf16 autocast where bfloat16 is native, else 32-bit.
    32- and 64-bit runs: 32-bit, as ``showerlearn predict`` builds the network."""
    cpu, gpu = torch.device("cpu"), torch.device("cuda")
    for native in (True, False):
        monkeypatch.setattr(speed, "native_bfloat16", lambda native=native: native)
        for precision in ("bf16-mixed", "16-mixed"):
            expected = "bf16-mixed" if native else "32-true"
            assert speed.prediction_precision(TrainerConfig(precision=precision), cpu) == expected
            assert speed.prediction_precision(TrainerConfig(precision=precision), gpu) == precision
        for precision in ("32-true", "64-true"):
            assert {speed.prediction_precision(TrainerConfig(precision=precision), d) for d in (cpu, gpu)} == {"32-true"}
    assert speed.autocast_dtype("bf16-mixed") is torch.bfloat16 and speed.autocast_dtype("16-mixed") is torch.float16
    assert speed.autocast_dtype("32-true") is None


def test_precision_takes_lightnings_short_names_and_refuses_16_bit_true() -> None:
    assert [TrainerConfig(precision=name).precision for name in ("bf16", 16, "32", 64)] == [
        "bf16-mixed", "16-mixed", "32-true", "64-true"]  # fmt: skip
    with pytest.raises(ValueError, match="bf16-mixed"):
        TrainerConfig(precision="bf16-true")


def test_gamma_physnet_in_bf16_keeps_its_heads_in_float32() -> None:
    """Under bf16 autocast the backbone runs in 16 bits and the heads in float32: their outputs (log-energy,
    degrees) are float32, and the whole network trains."""
    from test_gamma_physnet import MOMENT_HEADS

    from showerlearn.iact.geometry import lst_camera
    from showerlearn.iact.models.gamma_physnet import GammaPhysNetDA

    lattice = Lattice.from_camera(lst_camera())
    model = GammaPhysNetDA(lattice, depth=8, widths=(4, 6, 8), **MOMENT_HEADS)
    x = torch.randn(2, 2, lattice.n_pixels).relu()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        outputs = model(x)
    assert {name: out.dtype for name, out in outputs.items()} == dict.fromkeys(outputs, torch.float32)
    sum(out.float().square().mean() for out in outputs.values()).backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


@pytest.mark.skipif(not speed.native_bfloat16(), reason="this CPU has no native bfloat16: its runs predict in 32-bit")
def test_bf16_training_and_prediction_on_a_cpu(tabular_config: dict, tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A run trained with bf16 autocast on a CPU runs every forward pass in it, the test split's prediction and
    ``showerlearn predict`` included, and writes float32 columns."""
    import engine_plugins

    from showerlearn.engine.predict import predict_split

    autocast: list[tuple[bool, torch.dtype | None]] = []
    forward = engine_plugins.TinyClassifier.forward

    def recording(self: torch.nn.Module, inputs: torch.Tensor) -> dict[str, torch.Tensor]:
        enabled = torch.is_autocast_enabled("cpu")
        autocast.append((self.training, torch.get_autocast_dtype("cpu") if enabled else None))
        return forward(self, inputs)

    monkeypatch.setattr(engine_plugins.TinyClassifier, "forward", recording)
    tabular_config["trainer"] = {**tabular_config["trainer"], "max_epochs": 1, "precision": "bf16-mixed"}
    run = runner.train(resolve_config(tabular_config), progress=False)
    predict_split(run.path, tmp_path / "again.h5", progress=False)
    assert {dtype for _, dtype in autocast} == {torch.bfloat16} and {training for training, _ in autocast} == {True, False}
    scores = read_columns(run.predictions_file)["score"]
    assert scores.dtype == np.float32 and np.isfinite(scores).all()
    np.testing.assert_array_equal(read_columns(tmp_path / "again.h5")["score"], scores)


def test_compile_switch_off_leaves_the_network_eager(tmp_path) -> None:
    _, dense = _backbones(LATTICES["hex"]())
    assert not compile_network(dense, TrainerConfig(compile_cache=tmp_path))
    assert dense._compiled_call_impl is None


def test_trainer_compile_accepts_modes_only() -> None:
    assert TrainerConfig(compile="max-autotune").compile == "max-autotune"
    with pytest.raises(ValueError, match="compile"):
        TrainerConfig(compile="fastest")


class _FakeLibc:
    """Records mallopt calls; refuses the parameters in ``refuse`` as glibc does (returns 0)."""

    def __init__(self, refuse: tuple[int, ...] = ()) -> None:
        self.calls: list[tuple[int, int]] = []
        self.refuse = refuse

    def mallopt(self, parameter: int, value: int) -> int:
        self.calls.append((parameter, value))
        return 0 if parameter in self.refuse else 1


@pytest.fixture
def fake_libc(monkeypatch: pytest.MonkeyPatch) -> _FakeLibc:
    libc = _FakeLibc()
    monkeypatch.setattr(speed, "_allocator_tuned", None)
    monkeypatch.setattr(speed.ctypes, "CDLL", lambda name: libc)
    monkeypatch.setattr(speed.platform, "system", lambda: "Linux")
    monkeypatch.setattr(speed.platform, "libc_ver", lambda: ("glibc", "2.36"))
    return libc


def test_keep_freed_memory_sets_glibc_once(fake_libc: _FakeLibc) -> None:
    assert speed.keep_freed_memory()
    mib = 1024 * 1024
    # M_MMAP_THRESHOLD at glibc's 64-bit maximum, M_TRIM_THRESHOLD 1 GiB, M_TOP_PAD 64 MiB
    assert fake_libc.calls == [(-3, 32 * mib), (-1, 1024 * mib), (-2, 64 * mib)]
    assert speed.keep_freed_memory()
    assert len(fake_libc.calls) == 3, "tried once per process"


def test_keep_freed_memory_reports_a_refused_setting(fake_libc: _FakeLibc, caplog: pytest.LogCaptureFixture) -> None:
    fake_libc.refuse = (-1,)
    assert not speed.keep_freed_memory()
    assert len(fake_libc.calls) == 3, "the other settings are still applied"
    assert "M_TRIM_THRESHOLD" in caplog.text


def test_keep_freed_memory_leaves_other_c_libraries_alone(fake_libc: _FakeLibc, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(speed.platform, "libc_ver", lambda: ("", ""))
    assert not speed.keep_freed_memory()
    assert fake_libc.calls == []


@pytest.mark.parametrize(("allocator", "tuned"), [("tuned", True), ("system", False)])
def test_apply_process_settings(allocator: str, tuned: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    monkeypatch.setattr(speed, "keep_freed_memory", lambda: calls.append("allocator") or True)
    monkeypatch.setattr(speed.torch, "set_num_threads", lambda n: calls.append(f"threads {n}"))
    speed.apply_process_settings(TrainerConfig(threads=3, cpu_allocator=allocator))
    assert calls == (["threads 3", "allocator"] if tuned else ["threads 3"])


@pytest.mark.parametrize("tf32", [True, False, None])
def test_trainer_tf32_sets_both_flags_or_leaves_torchs_defaults(tf32: bool | None, monkeypatch: pytest.MonkeyPatch) -> None:
    flags = (torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32)
    monkeypatch.setattr(speed, "keep_freed_memory", lambda: True)
    try:
        speed.apply_process_settings(TrainerConfig(tf32=tf32))
        assert (torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32) == (flags if tf32 is None else (tf32, tf32))
        with speed.tf32(not tf32):  # and back afterwards, as the GPU tests and benchmark use it
            assert torch.backends.cudnn.allow_tf32 is torch.backends.cuda.matmul.allow_tf32 is (not tf32)
        assert (torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32) == (flags if tf32 is None else (tf32, tf32))
    finally:
        speed._write_tf32(*flags)


def test_training_and_prediction_compile_the_network(tabular_config: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    """``trainer.compile`` reaches the network that trains and the one that predicts the test split."""
    compiled: list[tuple[type, object]] = []
    monkeypatch.setattr(runner, "compile_network", lambda network, trainer: compiled.append((type(network), trainer.compile)))
    tabular_config["trainer"] = {**tabular_config["trainer"], "max_epochs": 1, "compile": "max-autotune"}
    runner.train(resolve_config(tabular_config), progress=False)
    assert [mode for _, mode in compiled] == ["max-autotune", "max-autotune"]
    assert all(network.__name__ == "TinyClassifier" for network, _ in compiled)


@pytest.mark.slow
def test_spawned_training_processes_apply_the_process_settings(
    tabular_config: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A process started by ``ddp_spawn`` never runs ``train()``, and Lightning's launcher sets cores / processes
    threads in it: the configured threads and TF32 flags still hold there (a thread count Lightning never picks)."""
    threads = (os.cpu_count() or 1) + 1
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)  # as on a fresh shell: the launcher then sets its own
    record = tmp_path / "settings"
    tabular_config["callbacks"] = [{"name": "engine_plugins:RecordProcessSettings", "params": {"path": str(record)}}]
    tabular_config["trainer"] = {
        **tabular_config["trainer"], "max_epochs": 1, "accelerator": "cpu", "devices": 1, "strategy": "ddp_spawn",
        "threads": threads, "tf32": False,
    }
    run = runner.train(resolve_config(tabular_config), progress=False)
    assert run.status()["state"] == "completed"
    assert Path(f"{record}0").read_text() == f"{threads} False False"


def test_layout_switches_reach_the_backbone() -> None:
    from showerlearn.iact.geometry import lst_camera
    from showerlearn.iact.models.gamma_physnet import GammaPhysNetDA

    lattice = Lattice.from_camera(lst_camera())
    for channels_last in (True, False):
        model = GammaPhysNetDA(lattice, depth=8, widths=(4, 6, 8), channels_last=channels_last, images_per_grid=4)
        layouts = [*model.backbone.layouts, *model.backbone.shared_layouts, *(pool.layout for pool in model.backbone.pools)]
        assert {layout.channels_last for layout in layouts} == {channels_last}
        assert [layout.images for layout in model.backbone.shared_layouts] == [4, 4, 4]
