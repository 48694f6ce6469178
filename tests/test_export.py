"""``showerlearn export``: a trained gamma-PhysNet-DA as ONNX and TorchScript, equal to PyTorch on real LST
events (issue 21's acceptance), loaded back by ``load_exported``; lattices with gaps through both lattice
implementations; padded sets with a dynamic element axis; clear refusals and errors; nothing written
by a failed export."""

from __future__ import annotations

import json
import zipfile
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import Tensor, nn
from typer.testing import CliRunner

from showerlearn.cli.main import app
from showerlearn.config import dump_config, load_config
from showerlearn.engine.exported import (
    ExportError, Exported, export_format, export_network, export_run, load_exported, metadata_path,
)
from showerlearn.engine.predict import file_sha256
from showerlearn.engine.run_dir import RunDir
from showerlearn.engine.runner import train
from showerlearn.explain.loading import load_trained_module
from test_collider_models import MODELS_UNDER_TEST as COLLIDER_MODELS
from test_collider_models import _inputs as collider_inputs
from test_collider_models import _model as collider_model

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
pytest.importorskip("onnxruntime", reason="onnxruntime not installed (pip install 'showerlearn[export]')")


def _real_files(shared_data: Path) -> list[Path]:
    return [shared_data / "iact/dl1_ctapipe/gamma_test.lst.dl1.h5", shared_data / "iact/dl1_lstchain/dl1_gamma_example.h5"]


@pytest.fixture(scope="module")
def trained_run(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> RunDir:
    """A tiny gamma-PhysNet-DA trained one epoch (3 steps) on the 25 real LST events of an lstchain file."""
    folder = tmp_path_factory.mktemp("export")
    overrides = [
        f"output_dir={folder / 'runs'}",
        f"data.params.cache_dir={folder / 'cache'}",
        "data.params.simulate=null",
        f"data.params.files=[{shared_data / 'iact/dl1_lstchain/dl1_gamma_example.h5'}]",
        "data.params.cuts.min_intensity=0",
        "data.params.split.fractions=[0.5,0.25,0.25]",
        "data.params.batch_size=4",
        "model.params.depth=8",
        "model.params.widths=[4,8,8]",
        "model.params.fc_width=16",
        "trainer.max_epochs=1",
        "evaluation=null",
    ]
    return train(load_config(EXAMPLES / "gamma_physnet_da_small.yaml", overrides), progress=False)


def _pytorch_and_exported(
    run: RunDir, model_file: Path, files: list[Path]
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """The run's network and the exported file on the same real events, in batches of 7 (not the traced size)."""
    trained = load_trained_module(run, files)
    exported = load_exported(model_file)
    ours: dict[str, list[np.ndarray]] = {}
    theirs: dict[str, list[np.ndarray]] = {}
    loader = trained.datamodule.predict_dataloader()
    loader = torch.utils.data.DataLoader(loader.dataset, batch_size=7, collate_fn=loader.collate_fn)
    for batch in loader:
        with torch.no_grad():
            expected = trained.model(batch["inputs"])
        got = exported(batch)  # the whole batch dict: its inputs are taken
        for name in expected:
            ours.setdefault(name, []).append(expected[name].numpy())
            theirs.setdefault(name, []).append(got[name].numpy())
    return {k: np.concatenate(v) for k, v in ours.items()}, {k: np.concatenate(v) for k, v in theirs.items()}


@pytest.mark.slow
def test_onnx_export_matches_pytorch_on_real_lst_events(trained_run: RunDir, shared_data: Path, tmp_path: Path) -> None:
    """The acceptance test: ONNX (through the command) equals PyTorch to 1e-4 on real LST events."""
    output = tmp_path / "gamma_physnet_da.onnx"
    args = ["export", str(trained_run.path), "--format", "onnx", "--output", str(output), "--batch", "3"]
    for file in _real_files(shared_data):
        args += ["--input", str(file)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "max |diff|" in result.output and "MB" in result.output

    described = json.loads(metadata_path(output).read_text())
    assert described["check"]["events"] > 20 and described["check"]["max_rel_diff"] <= 1e-4
    assert described["inputs"] == [{"name": "inputs", "dtype": "float32", "shape": ["batch", 2, 1855]}]
    assert described["outputs"] == ["particle", "energy", "direction", "impact"]
    assert described["run_id"] == trained_run.path.name and described["config"]["model"]["name"] == "gamma_physnet_da"

    expected, got = _pytorch_and_exported(trained_run, output, _real_files(shared_data))
    assert len(expected["energy"]) == described["check"]["events"]
    for name in expected:
        np.testing.assert_allclose(got[name], expected[name], rtol=1e-4, atol=1e-4, err_msg=name)


@pytest.mark.slow
def test_torchscript_export_of_the_test_split_loads_back(trained_run: RunDir, shared_data: Path, tmp_path: Path) -> None:
    output = export_run(trained_run.path, tmp_path / "model.pt", "torchscript", example_batch_size=1)
    check = json.loads(metadata_path(output).read_text())["check"]
    assert check["data"] == "the run's test split" and check["events"] > 0 and check["max_abs_diff"] <= 1e-4
    # a plain TorchScript archive: torch alone runs it, dict of heads out
    assert set(torch.jit.load(str(output))(torch.zeros(1, 2, 1855))) == {"particle", "energy", "direction", "impact"}
    expected, got = _pytorch_and_exported(trained_run, output, _real_files(shared_data))
    for name in expected:
        np.testing.assert_allclose(got[name], expected[name], rtol=1e-4, atol=1e-4, err_msg=name)


def test_export_no_progress_reaches_the_datamodule(trained_run: RunDir, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``--no-progress`` reaches the DataModule that reads the events to check on (no bar from a first simulation)."""
    from showerlearn.engine import exported

    seen = []

    def load_network(*args, **kwargs):
        trained = real(*args, **kwargs)
        seen.append(trained.datamodule.progress)
        return trained

    real = exported.load_network
    monkeypatch.setattr(exported, "load_network", load_network)
    output = tmp_path / "model.pt"  # no --format: the suffix names TorchScript
    result = CliRunner().invoke(app, ["export", str(trained_run.path), "-o", str(output), "--no-progress"])
    assert result.exit_code == 0, result.output
    assert seen == [False] and zipfile.is_zipfile(output) and "torchscript" in result.output


def test_the_format_is_the_one_given_or_the_one_the_suffix_names() -> None:
    assert [export_format(name) for name in ("m.onnx", "m.pt", "m.PTH", "m", "m.bin")] == [
        "onnx", "torchscript", "torchscript", "onnx", "onnx"]
    assert export_format("m.bin", "torchscript") == "torchscript" and export_format("m.pt", "torchscript") == "torchscript"
    with pytest.raises(ValueError, match=r"m\.pt: the suffix \.pt is that of torchscript files, but the format asked is onnx: "
                                         r"name the file m\.onnx"):
        export_format("m.pt", "onnx")
    with pytest.raises(ValueError, match="format must be one of onnx, torchscript, got 'tflite'"):
        export_format("m.onnx", "tflite")


def test_export_refuses_to_replace_files_unless_asked(trained_run: RunDir, tmp_path: Path) -> None:
    notes = tmp_path / "mine.pt"
    notes.write_text("my notes")
    result = CliRunner().invoke(app, ["export", str(trained_run.path), "--format", "torchscript", "--output", str(notes)])
    assert result.exit_code == 1 and "exists; pass --overwrite" in " ".join(result.output.split())
    assert notes.read_text() == "my notes"
    notes.unlink()
    metadata_path(notes).write_text("{}")  # an earlier export's sidecar alone is kept too
    result = CliRunner().invoke(app, ["export", str(trained_run.path), "--format", "torchscript", "--output", str(notes)])
    assert result.exit_code == 1 and not notes.exists() and metadata_path(notes).read_text() == "{}"
    said = f"the sidecar of --output {notes}, {metadata_path(notes)}: exists"
    assert "".join(said.split()) in "".join(result.output.split())  # rich wraps long paths anywhere
    result = CliRunner().invoke(app, ["export", str(trained_run.path), "--format", "onnx", "--output", str(notes)])
    assert result.exit_code == 1 and "is that of torchscript files" in " ".join(result.output.split())
    assert not notes.exists() and metadata_path(notes).read_text() == "{}"
    result = CliRunner().invoke(app, ["export", str(trained_run.path), "--output", str(tmp_path)])
    assert result.exit_code == 1 and "is a folder" in " ".join(result.output.split())


def test_export_never_writes_over_a_file_it_reads(trained_run: RunDir, shared_data: Path, tmp_path: Path) -> None:
    """--overwrite replaces an earlier export, not a file the check reads: one given with --input, or the run's data
    (known by content: a copy counts)."""
    data = Path(shutil.copy(shared_data / "iact/dl1_lstchain/dl1_gamma_example.h5", tmp_path / "data.h5"))
    before = data.read_bytes()
    for extra, said in (([], "a data file of the run"), (["--input", str(data)], "is the file this command reads")):
        result = CliRunner().invoke(app, ["export", str(trained_run.path), "--output", str(data), "--overwrite", *extra])
        assert result.exit_code == 1 and said in " ".join(result.output.split()), result.output
        assert data.read_bytes() == before


def test_an_estimator_run_is_refused(tmp_path: Path) -> None:
    run = tmp_path / "hillas_run"
    run.mkdir()
    (run / "config.yaml").write_text(dump_config(load_config(EXAMPLES / "hillas_rf_small.yaml")))
    with pytest.raises(ValueError, match=r"scikit-learn estimator \(hillas_rf\).*only networks"):
        export_run(run, tmp_path / "model.onnx")
    result = CliRunner().invoke(app, ["export", str(run), "--output", str(tmp_path / "model.onnx")])
    assert result.exit_code == 1 and "only networks" in " ".join(result.output.split())
    assert not list(tmp_path.glob("*.onnx*"))


def test_a_corrupt_or_missing_model_file_gives_a_clear_error(tmp_path: Path) -> None:
    network = _Heads()
    real = export_network(network, [torch.randn(4, 3)], tmp_path / "model.onnx").path
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(real.read_bytes()[: len(real.read_bytes()) // 2])
    with pytest.raises(ValueError, match=r"broken\.onnx: not a valid ONNX model"):
        load_exported(broken)
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"PK\x03\x04 not really a zip archive")
    with pytest.raises(ValueError, match=r"garbage\.pt: not a valid"):
        load_exported(garbage)
    with pytest.raises(FileNotFoundError, match="missing.onnx"):
        load_exported(tmp_path / "missing.onnx")


class _Heads(nn.Module):
    """A tiny two-head network on (B, 3) features."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.layer = nn.Linear(3, 4)

    def forward(self, inputs: Tensor) -> dict[str, Tensor]:
        hidden = self.layer(inputs)
        return {"label": hidden[:, :2], "energy": 300.0 * hidden[:, 2]}


class _Branching(_Heads):
    """A data-dependent Python branch: tracing records the one the traced batch takes."""

    def forward(self, inputs: Tensor) -> dict[str, Tensor]:
        outputs = super().forward(inputs)
        return outputs if bool(inputs.sum() > 0) else {k: -v for k, v in outputs.items()}


@pytest.mark.parametrize("format", ["onnx", "torchscript"])
def test_a_failed_check_writes_nothing_and_keeps_the_previous_file(format: str, tmp_path: Path) -> None:
    output = tmp_path / "model"
    output.write_text("the previous export")
    batches = [torch.ones(2, 3), -torch.ones(3, 3)]
    with pytest.raises(ExportError, match=r"model: the .* export differs from PyTorch .* nothing written"):
        export_network(_Branching(), batches, output, format)
    assert output.read_text() == "the previous export"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]  # no temporary file left


@pytest.mark.parametrize("format", ["onnx", "torchscript"])
def test_the_batch_axis_is_dynamic(format: str, tmp_path: Path) -> None:
    batches = [torch.randn(5, 3), torch.randn(1, 3), torch.randn(64, 3)]
    exported = export_network(_Heads(), batches, tmp_path / "model", format, example_batch_size=2)
    assert exported.check.events == 70 and exported.check.batches == 4  # the three and the traced one twice over
    assert exported.inputs == [{"name": "inputs", "dtype": "float32", "shape": ["batch", 3]}]
    assert set(load_exported(exported.path)(torch.randn(9, 3))) == {"label", "energy"}


class _FixedBatch(_Heads):
    """A batch size read as a Python number: tracing records it as a constant."""

    def forward(self, inputs: Tensor) -> dict[str, Tensor]:
        outputs = super().forward(inputs)
        return {**outputs, "label": outputs["label"].reshape(int(inputs.shape[0]), 2)}


@pytest.mark.parametrize("format", ["onnx", "torchscript"])
def test_a_fixed_batch_size_is_refused_even_when_every_checked_batch_has_the_traced_size(format: str, tmp_path: Path) -> None:
    """``--check-events 1`` gave batches of the traced size only, which never showed the batch axis fixed."""
    with pytest.raises(ExportError, match="the traced batch twice over: the export fixed the batch size"):
        export_network(_FixedBatch(), [torch.randn(1, 3)], tmp_path / "model", format, example_batch_size=2)
    assert not (tmp_path / "model").exists()


@pytest.mark.parametrize(("implementation", "images_per_grid"), [("indexed", 1), ("dense", 1), ("dense", 2)])
def test_a_square_lattice_with_gaps_exports_with_either_implementation(
    implementation: str, images_per_grid: int, tmp_path: Path
) -> None:
    """Traced on 2 events, checked on 3 and 5: two images per grid must not be traced into the graph."""
    from test_lattice_layers import square_camera

    from showerlearn.iact.geometry import Lattice
    from showerlearn.iact.nn import DualAttention, LatticeResNet

    lattice = Lattice.from_positions(*square_camera(30.0))

    class Network(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.backbone = LatticeResNet(
                lattice, 2, depth=8, widths=(4, 8, 8), implementation=implementation, images_per_grid=images_per_grid,
                stage_hook=lambda stage, channels, stage_lattice: DualAttention(channels, stage_lattice, ratio=2),
            )

        def forward(self, inputs: Tensor) -> dict[str, Tensor]:
            features = self.backbone(inputs)
            return {"features": features, "pooled": features.mean(dim=2)}

    torch.manual_seed(1)
    network = Network()
    network.train()(torch.randn(16, 2, lattice.n_pixels))  # running statistics that are not the defaults
    batches = [torch.randn(3, 2, lattice.n_pixels), torch.randn(5, 2, lattice.n_pixels)]
    exported = export_network(network.eval(), batches, tmp_path / "square.onnx", "onnx")
    assert exported.check.passed and exported.check.max_abs_diff < 1e-4


@pytest.mark.parametrize("format", ["onnx", "torchscript"])
def test_the_disp_axis_head_with_image_moments_exports(format: str, tmp_path: Path) -> None:
    """The most intricate heads: Hillas moments of the cleaned pixels, the side's sign, the cascade."""
    from showerlearn.iact.geometry import LST_EQUIVALENT_FOCAL_LENGTH, Lattice, lst_camera
    from showerlearn.iact.models.gamma_physnet import GammaPhysNet

    camera = lst_camera()
    lattice = Lattice.from_camera(camera)
    torch.manual_seed(0)
    network = GammaPhysNet(
        lattice, in_channels=3, depth=8, widths=(4, 8, 8), fc_width=16, direction_head="axis", image_moments=True,
        moments_mask_channel=2, camera=camera, focal_length=LST_EQUIVALENT_FOCAL_LENGTH,
    )
    images = [5.0 * torch.rand(n, 3, lattice.n_pixels) for n in (3, 5)]
    for batch in images:
        batch[:, 2] = (batch[:, 0] > 3.0).float()  # the cleaning mask channel
    network.train()(images[1])  # running statistics that are not the defaults
    exported = export_network(network.eval(), images, tmp_path / "axis", format)
    assert exported.check.passed and exported.outputs == ["particle", "energy", "direction", "impact"]


def _hits(batch: int, n: int, seed: int, stream: str = "hits", features: int = 8) -> dict[str, Tensor]:
    generator = torch.Generator().manual_seed(seed)
    counts = torch.randint(0, n + 1, (batch,), generator=generator)
    return {stream: torch.randn(batch, n, features, generator=generator), f"{stream}_mask": torch.arange(n)[None] < counts[:, None]}


def test_padded_sets_export_with_a_dynamic_element_axis(tmp_path: Path) -> None:
    from showerlearn.calorimeter.data import CLUSTER_FEATURES, HIT_FEATURES, FeatureSpec
    from showerlearn.calorimeter.models import HitPairMLP, PreclusterMerger

    spec = FeatureSpec(HIT_FEATURES, (0.0,) * len(HIT_FEATURES), (1.0,) * len(HIT_FEATURES))
    torch.manual_seed(0)
    batches = [_hits(4, 5, 0), _hits(3, 9, 1)]
    pairs = export_network(HitPairMLP(spec, hidden=8, layers=1).eval(), batches, tmp_path / "pairs.onnx", "onnx")
    # the graph's inputs only: the pair MLP reads no mask, which the exporter leaves out
    assert pairs.inputs == [{"name": "inputs.hits", "dtype": "float32", "shape": ["batch", "hits_elements", 8]}]
    scores = load_exported(pairs.path)(_hits(2, 11, 2))
    assert next(iter(scores.values())).shape[:3] == (2, 11, 11)
    # the two-stage method's merger: the same network on the pre-cluster stream
    clusters = FeatureSpec(CLUSTER_FEATURES, (0.0,) * len(CLUSTER_FEATURES), (1.0,) * len(CLUSTER_FEATURES))
    merger = PreclusterMerger(clusters, hidden=8, layers=1).eval()
    stream = [_hits(4, 5, 3, "clusters", len(CLUSTER_FEATURES)), _hits(3, 7, 4, "clusters", len(CLUSTER_FEATURES))]
    merged = export_network(merger, stream, tmp_path / "merger.onnx", "onnx")
    assert merged.check.passed
    assert load_exported(merged.path)(_hits(2, 9, 5, "clusters", len(CLUSTER_FEATURES)))["cluster_pairs"].shape == (2, 9, 9)
    # inputs of another stream, or of other sizes: what the model takes against what it got, whole
    with pytest.raises(ValueError, match=r"takes the inputs \['inputs.clusters'\], the run's data give \['inputs.hits'"):
        load_exported(merged.path)(_hits(2, 9, 5))
    with pytest.raises(ValueError, match=r"onnxruntime failed on inputs of shapes .*(?s:.*)index: 2 Got: 3 Expected: \d+"):
        load_exported(merged.path)(_hits(2, 9, 5, "clusters", 3))



@pytest.mark.parametrize("name", ["transformer", "transformer_with_pair_bias", "transformer_with_head_angles", "condensation",
                                  "slot_attention"])
def test_the_calorimeter_attention_networks_export_to_onnx_with_any_batch(name: str, tmp_path: Path) -> None:
    """Traced, torch's attention would fix the example's batch and element count: the exported graph equals
    PyTorch on batches of other sizes, with one element more and fewer than the traced one, and with empty events."""
    from showerlearn.calorimeter.data import HIT_FEATURES, FeatureSpec
    from showerlearn.calorimeter.models import HitCondensation, HitSlotAttention, HitTransformer

    spec = FeatureSpec(HIT_FEATURES, (0.0,) * len(HIT_FEATURES), (1.0,) * len(HIT_FEATURES))
    torch.manual_seed(0)
    network = {
        "transformer": lambda: HitTransformer(spec, dim=8, layers=2, heads=2),
        "transformer_with_pair_bias": lambda: HitTransformer(spec, dim=8, layers=2, heads=2, pair_bias=True),
        "transformer_with_head_angles": lambda: HitTransformer(spec, dim=8, layers=2, heads=2, stages=2, head_angles=True),
        "condensation": lambda: HitCondensation(spec, dim=8, layers=1, heads=2),
        "slot_attention": lambda: HitSlotAttention(spec, slots=3, dim=8, heads=2),
    }[name]().eval()
    exported = export_network(network, [_hits(4, 5, 0), _hits(3, 9, 1)], tmp_path / f"{name}.onnx", "onnx")
    # the data, the traced batch twice over, and one element longer and shorter
    assert exported.check.passed and exported.check.batches == 5
    other = _hits(6, 13, 2)
    other["hits_mask"][1] = False  # an event without hits
    with torch.no_grad():
        expected = network(other)
    for head, value in load_exported(exported.path)(other).items():
        torch.testing.assert_close(value, expected[head], rtol=1e-4, atol=1e-5)


def test_an_export_checked_on_events_without_elements_only_is_refused(tmp_path: Path) -> None:
    """Events without hits give the network padding only: an export that matched PyTorch there would say nothing of
    events with hits. It is refused, and nothing is written."""
    from showerlearn.calorimeter.data import HIT_FEATURES, FeatureSpec
    from showerlearn.calorimeter.models import HitTransformer

    spec = FeatureSpec(HIT_FEATURES, (0.0,) * len(HIT_FEATURES), (1.0,) * len(HIT_FEATURES))
    empty = [_hits(3, 4, seed) for seed in (0, 1)]
    for batch in empty:
        batch["hits_mask"][:] = False
    network = HitTransformer(spec, dim=8, layers=1, heads=2).eval()
    with pytest.raises(ExportError, match=r"events of the given batches hold no elements \(every hits_mask is false\)"):
        export_network(network, empty, tmp_path / "empty.onnx", "onnx")
    assert list(tmp_path.iterdir()) == []
    empty[1]["hits_mask"][2, :2] = True  # one event with two hits is enough
    assert export_network(network, empty, tmp_path / "some.onnx", "onnx").check.passed


@pytest.mark.parametrize("case", range(len(COLLIDER_MODELS)), ids=[f"{n}-{i}" for i, (n, _) in enumerate(COLLIDER_MODELS)])
def test_the_collider_networks_export_to_onnx_with_any_batch(case: int, tmp_path: Path) -> None:
    """Every collider network of the model tests (pairwise features within and between the streams included)
    equals PyTorch as ONNX on batches of other sizes and token counts, with an event without constituents."""
    name, params = COLLIDER_MODELS[case]
    network = collider_model(name, params)
    batches = [collider_inputs(1, 4), collider_inputs(2, 3, {"constituents": 9, "objects": 4})]
    exported = export_network(network, batches, tmp_path / "collider.onnx", "onnx")
    assert exported.check.passed
    other = collider_inputs(3, 6, {"constituents": 15, "objects": 7})
    other["constituents_mask"][0] = False
    with torch.no_grad():
        expected = network(other)
    for head, value in load_exported(exported.path)(other).items():
        torch.testing.assert_close(value, expected[head], rtol=1e-4, atol=1e-5)


def _streams(size: int, n_objects: int, seed: int) -> dict[str, Tensor]:
    """A collider batch: 6 constituent slots with 3 features, ``n_objects`` object slots with 4."""
    return {**_hits(size, 6, seed, "constituents", 3), **_hits(size, n_objects, seed + 1, "objects", 4)}


def test_token_slots_of_a_fixed_size_take_fewer_elements_after_an_onnx_export(tmp_path: Path) -> None:
    """collider_mlp pads its tokens to fixed slots: the exported graph pads a batch of fewer objects than the
    traced one too, as its dynamic element axis says; the graph has the inputs the network reads only."""
    from showerlearn.collider.models.kinematics_mlp import KinematicsMLP

    torch.manual_seed(0)
    network = KinematicsMLP(3, 4, n_classes=2, n_constituents=6, n_objects=5, hidden=(8,)).eval()
    exported = export_network(network, [_streams(4, 5, 0), _streams(3, 5, 2)], tmp_path / "mlp.onnx", "onnx")
    assert exported.check.passed and [i["name"] for i in exported.inputs] == ["inputs.objects", "inputs.objects_mask"]
    fewer = _streams(2, 3, 4)
    with torch.no_grad():
        expected = network(fewer)["label"]
    torch.testing.assert_close(load_exported(exported.path)(fewer)["label"], expected, rtol=1e-4, atol=1e-5)


class _PaddedSlots(nn.Module):
    """Five slots of three features, cut, or padded with a branch on the batch's size: a trace fixes the size."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.layer = nn.Linear(15, 2)

    def forward(self, inputs: dict[str, Tensor]) -> dict[str, Tensor]:
        hits = inputs["hits"][:, :5]
        if (missing := 5 - hits.shape[1]) > 0:
            hits = torch.cat([hits, hits.new_zeros(hits.shape[0], missing, hits.shape[2])], dim=1)
        return {"label": self.layer(hits.flatten(start_dim=1))}


def test_an_export_that_fixed_the_number_of_elements_is_refused_on_fewer(tmp_path: Path) -> None:
    with pytest.raises(ExportError, match=r"one element fewer: the export fixed the number of elements"):
        export_network(_PaddedSlots(), [_hits(4, 5, 0, features=3)], tmp_path / "slots.onnx", "onnx")
    assert not (tmp_path / "slots.onnx").exists()


@pytest.mark.parametrize("output", [".", ""])
def test_an_output_that_is_the_working_folder_is_named_as_a_folder(output: str, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Was ``ValueError: PosixPath('.') has an empty name``, from naming the sidecar of a folder."""
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["export", str(tmp_path / "run"), "-o", output])
    assert result.exit_code == 1 and "--output .: is a folder; give the name of the file to write" in " ".join(result.output.split())


def test_a_runtime_missing_or_broken_is_told_apart(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A package that is not installed gets the install command; one installed that fails to import (a library
    it needs is missing) gets its own error, which no install of showerlearn[export] mends."""
    from showerlearn.engine.exported import _require

    with pytest.raises(ImportError, match=r"need showerlearn_no_such_runtime: pip install 'showerlearn\[export\]'"):
        _require("showerlearn_no_such_runtime")
    (tmp_path / "showerlearn_broken_runtime").mkdir()
    (tmp_path / "showerlearn_broken_runtime" / "__init__.py").write_text("raise ImportError('libcublas.so.12: cannot open')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ImportError, match="showerlearn_broken_runtime is installed but cannot be imported: libcublas"):
        _require("showerlearn_broken_runtime")


def test_the_model_is_moved_into_place_after_its_sidecar_is_written(tmp_path: Path) -> None:
    """A stop between the two left a model without its sidecar (which predict --model then takes unchecked): the
    sidecar is written from the staged file, and the model appears only after it."""
    output = tmp_path / "model.onnx"
    seen = []

    def sidecar(staged: Exported) -> None:
        seen.append((staged.path.is_file(), output.exists(), file_sha256(staged.path)))

    exported = export_network(_Heads(), [torch.randn(4, 3)], output, before_commit=sidecar)
    assert seen == [(True, False, file_sha256(output))] and exported.path == output
