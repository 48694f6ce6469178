"""A trained network outside Python training code: export to ONNX or TorchScript, checked, and loaded back.

:func:`export_run` rebuilds a run's network from its best checkpoint, read weights-only, as prediction
does (:func:`showerlearn.engine.trained.load_network`), traces it on a batch of the run's own data
pipeline and writes one self-contained file: the
whole network, lattice convolutions and attention included, with a dynamic batch axis and, for padded
sets (a stream ``K`` with its ``K_mask``), a dynamic element axis. Before the file replaces anything,
the exported model runs on up to ``check_events`` events (the run's test split, or the given input
files) and on the traced batch with one padded element more and one element fewer, and is compared with
PyTorch: the export fails unless every output agrees within ``tolerance`` — absolutely below 1, relatively
above (``|exported - torch| <= tolerance * max(1, |torch|)``), so a log-energy near 0 and a logit of 300
are both held to about four significant digits. A sidecar ``<file>.json`` records the inputs (those of the
ONNX graph: the exporter leaves out inputs the network never reads) and outputs, the run, the SHA-256 of
its checkpoint (what ``showerlearn predict --model`` checks the export against), its config, the versions
and the check.

Both formats take what the network takes (``batch["inputs"]``: one tensor, or a dict of streams with
their ``*_mask`` entries) and give what it gives (head name -> tensor); :func:`load_exported` returns
that callable for either. Inside an ONNX file the inputs are named by their place in the batch,
``inputs`` or ``inputs.<stream>`` (the ``section.key`` names of :mod:`showerlearn.data.collate`), the
outputs by their head. Test-time augmentation views are not part of the network: an exported model
predicts the event as it is.

What loading trusts: an ONNX file is data, a graph of standard operators that onnxruntime interprets;
no code of the file's author runs. A TorchScript archive holds a program for the TorchScript
interpreter (no Python pickle of arbitrary classes is unpickled), which runs whichever torch operators
it names when called: load TorchScript files from sources you trust.

ONNX uses torch's TorchScript-based exporter (``dynamo=False``, opset :data:`OPSET`); every showerlearn
network exports with it, the attention networks on padded sets through an attention written out for the
export so that the batch and element axes stay dynamic (:mod:`showerlearn.models.attention`). A network it cannot
translate, or whose shapes it fixes to the traced batch, stops the export with a message saying so;
TorchScript may then export it. Both exports trace the network: a Python branch that depends on the data
is recorded as taken for the traced batch, which the check on many batches guards against.
"""

from __future__ import annotations

import importlib.util
import logging
import warnings
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

import showerlearn
from showerlearn.config import ExperimentConfig, load_config
from showerlearn.engine.environment import note_working_folder
from showerlearn.engine.run_dir import RunDir
from showerlearn.engine.safe_load import CheckpointFile
from showerlearn.engine.trained import load_network
from showerlearn.io.atomic import atomic_path, write_json_atomic
from showerlearn.io.digest import file_sha256

__all__ = [
    "FORMATS",
    "TOLERANCE",
    "ExportCheck",
    "ExportError",
    "Exported",
    "ExportedNetwork",
    "export_format",
    "export_network",
    "export_run",
    "load_exported",
    "metadata_path",
]

log = logging.getLogger(__name__)

Format = Literal["onnx", "torchscript"]
FORMATS: tuple[Format, ...] = ("onnx", "torchscript")
#: the file suffixes that name a format (any other suffix, or none, names none)
FORMAT_SUFFIXES: dict[str, Format] = {".onnx": "onnx", ".pt": "torchscript", ".pth": "torchscript"}
#: the ONNX operator set written (17: LayerNormalization; onnxruntime >= 1.14 runs it)
OPSET = 17
#: the largest allowed difference to PyTorch, absolute below 1 and relative above
TOLERANCE = 1e-4
NetworkInputs = Tensor | Mapping[str, Tensor]
_TORCHSCRIPT_HINT = "a TorchScript file may export it: --format torchscript, or an output named .pt"


class ExportError(ValueError):
    """The network could not be exported, or the exported model does not reproduce PyTorch; nothing was written."""


@dataclass(frozen=True)
class ExportCheck:
    """The exported model against PyTorch.

    ``max_abs_diff`` is the largest ``|exported - torch|`` over all outputs and events,
    ``max_rel_diff`` the largest ``|exported - torch| / max(1, |torch|)``, the number held to ``tolerance``;
    ``events`` counts the data events compared (the grown traced batch of set data comes on top).
    """

    events: int
    batches: int
    max_abs_diff: float
    max_rel_diff: float
    tolerance: float
    data: str

    @property
    def passed(self) -> bool:
        return self.max_rel_diff <= self.tolerance


@dataclass(frozen=True)
class Exported:
    """What :func:`export_network` wrote: the inputs (name, dtype, shape with its dynamic axes named),
    the output names, and the check."""

    path: Path
    format: Format
    inputs: list[dict[str, Any]]
    outputs: list[str]
    check: ExportCheck


def metadata_path(model_file: str | Path) -> Path:
    """The sidecar of an exported model: ``model.onnx`` -> ``model.onnx.json``."""
    model_file = Path(model_file)
    return model_file.with_name(model_file.name + ".json")


def export_run(
    run: str | Path | RunDir,
    output: str | Path,
    format: Format | None = None,
    example_batch_size: int = 2,
    inputs: Sequence[str | Path] | None = None,
    check_events: int = 512,
    tolerance: float = TOLERANCE,
    progress: bool = True,
) -> Path:
    """Export the network of a trained run to ``output``, with its sidecar, and return the path.

    ``format``: as :func:`export_format` says (None: the one the suffix of ``output`` names, else ONNX);
    ``inputs``: files to check the export on (default: the run's test split); ``check_events`` caps how
    many events are compared; ``example_batch_size`` events are traced; ``progress``: whether reading the
    events may show progress bars (a first simulation of a cleared cache).

    Raises:
        FileNotFoundError: not a run directory, or no checkpoint.
        ValueError: the run trained a scikit-learn estimator, or an argument is out of range.
        ExportError: the network cannot be exported to ``format``, or the export differs from PyTorch.
    """
    format = export_format(output, format)
    _check_arguments(format, example_batch_size)
    if check_events < 1:
        raise ValueError(f"check_events must be >= 1, got {check_events}")
    run = run if isinstance(run, RunDir) else RunDir.existing(run)
    described = load_config(run.config_file)  # an estimator run has no checkpoint to read the config from
    if described.model is None:
        estimator = described.estimator.name if described.estimator is not None else "?"
        raise ValueError(
            f"{run.path}: the run trained a scikit-learn estimator ({estimator}), not a network: only networks export "
            "to ONNX or TorchScript (`showerlearn predict` applies the run itself)"
        )
    data = ", ".join(str(path) for path in inputs) if inputs else "the run's test split"
    if run.status().get("state") not in (None, "completed"):  # exported all the same, as predict applies it
        log.warning("export: %s", run.not_completed("its network is exported as it was when the run stopped"))
    checkpoint = CheckpointFile.read(run.best_checkpoint())  # read once: loaded, and hashed for the sidecar
    if not inputs:  # checked on the run's test split, read again
        note_working_folder(run.environment_file)
    config, network, batches = _network_and_batches(checkpoint, inputs, check_events, progress)
    if not batches:
        raise ValueError(f"{run.path}: no events to check the export on in {data}")
    exported = export_network(
        network, batches, output, format, example_batch_size, tolerance, data,
        before_commit=lambda staged: write_json_atomic(metadata_path(output), _metadata(run, checkpoint, config, staged)),
    )  # fmt: skip
    check = exported.check
    log.info("exported %s to %s (max |diff| %.3g on %d events)", run.path, output, check.max_abs_diff, check.events)
    return exported.path


def _network_and_batches(
    checkpoint: CheckpointFile, inputs: Sequence[str | Path] | None, check_events: int, progress: bool
) -> tuple[ExperimentConfig, nn.Module, list[NetworkInputs]]:
    """The run's config and network with the weights of its best ``checkpoint`` (read weights-only), in eval mode,
    and up to ``check_events`` events of network inputs from its own DataModule (the test split, or ``inputs``)."""
    config, datamodule, module = load_network(checkpoint, inputs, progress=progress)
    loader = datamodule.predict_dataloader() if inputs else datamodule.test_dataloader()
    try:
        batches = list(_first_events((batch["inputs"] for batch in loader), check_events))
    finally:
        datamodule.teardown("predict")  # close the data files
    return config, module.model.eval(), batches


def _first_events(batches: Iterable[Any], limit: int) -> Iterator[NetworkInputs]:
    """Batches of up to ``limit`` events in all, the last one cut."""
    seen = 0
    for batch in batches:
        yield _take_events(batch, limit - seen)
        seen += _batch_size(batch)
        if seen >= limit:
            return


def export_network(
    network: nn.Module,
    batches: Sequence[NetworkInputs],
    output: str | Path,
    format: Format = "onnx",
    example_batch_size: int = 2,
    tolerance: float = TOLERANCE,
    data: str = "the given batches",
    before_commit: Callable[[Exported], None] | None = None,
) -> Exported:
    """Trace ``network`` on the first ``example_batch_size`` events of ``batches`` and write it to ``output``
    atomically once it reproduces the network on every batch within ``tolerance``. The network is put in
    eval mode: what predicts is exported (dropout off, batch norm with its running statistics).
    ``before_commit`` is called with the export at its temporary path before it is moved into place (its sidecar
    is written there: a stop between the two leaves no model without its sidecar).

    Raises:
        ValueError: an unknown format, or inputs that are neither a tensor nor a dict of tensors.
        ExportError: the network cannot be exported to ``format``, or the export differs from PyTorch.
    """
    _check_arguments(format, example_batch_size)
    if not batches:
        raise ValueError(f"{output}: no batch to trace the network on and check the export with")
    for inputs in batches:
        _check_structure(inputs)
    if (masks := _set_masks(batches[0])) and not any(bool(_pick(inputs, key).any()) for inputs in batches for key in masks):
        raise ExportError(
            f"{output}: the events of {data} hold no elements (every {', '.join(masks)} is false): the check would "
            "compare the network on padding only; give events that hold some (--input files, or a run whose test "
            "split has them); nothing written"
        )
    network.eval()
    example = _take_events(batches[0], example_batch_size)
    checked = _labelled_batches(batches, example, data)
    with warnings.catch_warnings(), atomic_path(output) as tmp:
        # the layers' input shape checks are fixed when tracing (as expected: the check shows it)
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
        warnings.filterwarnings("ignore", message=".*(dynamo=False|Constant folding).*")
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        try:
            # traced with gradients on: without, PyTorch's transformer layers take an inference fast path
            # whose traced form gives NaN for an event without elements
            with torch.enable_grad():
                outputs = _write(network, example, tmp, format)
            _, runner, graph_inputs = _open(tmp)
            with torch.no_grad():
                check = _check(network, runner, checked, tolerance, data, sum(map(_batch_size, batches)))
            if not check.passed:
                raise ExportError(
                    f"the {format} export differs from PyTorch by up to {check.max_rel_diff:.3g} "
                    f"(|diff| / max(1, |value|), tolerance {tolerance:g}) on {data}"
                )
            inputs = _describe_inputs(example, graph_inputs)
        except ExportError as error:
            hint = f" ({_TORCHSCRIPT_HINT})" if format == "onnx" else ""
            raise ExportError(f"{output}: {error}; nothing written{hint}") from None
        if before_commit is not None:
            before_commit(Exported(Path(tmp), format, inputs, outputs, check))
    return Exported(Path(output), format, inputs, outputs, check)


def export_format(output: str | Path, format: str | None = None) -> Format:
    """The format ``output`` is written in: ``format`` when given, else the one its suffix names (``.onnx``; ``.pt``,
    ``.pth``: TorchScript), else ONNX. A ValueError when ``format`` and the suffix disagree: an ONNX file named
    ``.pt`` would be taken for what it is not by whoever reads the name."""
    suffix = Path(output).suffix.lower()
    named = FORMAT_SUFFIXES.get(suffix)
    if format is None:
        return named or "onnx"
    if format not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {format!r}")
    if named is not None and named != format:
        right = next(name for name, kind in FORMAT_SUFFIXES.items() if kind == format)
        raise ValueError(f"{output}: the suffix {suffix} is that of {named} files, but the format asked is {format}: name "
                         f"the file {Path(output).with_suffix(right).name}, or leave the format out")
    return format  # one of FORMATS, checked above


def _check_arguments(format: str, example_batch_size: int) -> None:
    if format not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {format!r}")
    if example_batch_size < 1:
        raise ValueError(f"example_batch_size must be >= 1, got {example_batch_size}")


def _check_structure(inputs: Any) -> None:
    tensors = list(inputs.values()) if isinstance(inputs, Mapping) else [inputs]
    if not tensors or not all(torch.is_tensor(t) for t in tensors):
        held = f"a dict of {sorted(inputs)}" if isinstance(inputs, Mapping) else type(inputs).__name__
        raise ValueError(
            f"only networks whose inputs are a tensor or a dict of tensors can be exported; batch['inputs'] is {held}"
        )


def _batch_size(inputs: NetworkInputs) -> int:
    return len(next(iter(inputs.values())) if isinstance(inputs, Mapping) else inputs)


def _doubled(inputs: NetworkInputs) -> NetworkInputs:
    """The events of ``inputs`` followed by themselves again."""
    if isinstance(inputs, Mapping):
        return {key: torch.cat([value, value]) for key, value in inputs.items()}
    return torch.cat([inputs, inputs])


def _take_events(inputs: NetworkInputs, n: int) -> NetworkInputs:
    if isinstance(inputs, Mapping):
        return {key: value[:n] for key, value in inputs.items()}
    return inputs[:n]


def _set_masks(inputs: NetworkInputs) -> list[str]:
    """The element masks (``K_mask``) of the streams of padded sets in ``inputs``."""
    return [key for key in inputs if key.endswith("_mask")] if isinstance(inputs, Mapping) else []


def _set_axes(inputs: NetworkInputs) -> dict[str, str]:
    """Input key -> name of its element axis (axis 1), for the streams of padded sets: ``K`` with a
    ``K_mask``, and the entries ``K_*`` (``K_p4``) that come with it."""
    if not isinstance(inputs, Mapping):
        return {}
    sets = [key.removesuffix("_mask") for key in _set_masks(inputs)]
    found = {}
    for key in inputs:
        stream = next((s for s in sets if key == s or key.startswith(f"{s}_")), None)
        if stream is not None:
            found[key] = f"{stream}_elements"
    return found


def _resize_sets(inputs: NetworkInputs, change: int) -> NetworkInputs | None:
    """The batch with ``change`` more padded elements in every set (zeros, mask False), or its last ``-change``
    elements cut: a traced model that fixed the element count fails on either. None without sets, or when
    a set would be left without any element slot."""
    axes = _set_axes(inputs)
    if not axes:
        return None
    assert isinstance(inputs, Mapping)
    if min(inputs[key].shape[1] for key in axes) + change < 1:
        return None
    # a negative padding cuts
    return {
        key: F.pad(value, (0, 0) * (value.dim() - 2) + (0, change)) if key in axes else value
        for key, value in inputs.items()
    }


# --- writing -------------------------------------------------------------------------------------
def _write(network: nn.Module, example: NetworkInputs, path: Path, format: Format) -> list[str]:
    """Trace ``network`` on ``example`` into ``path``; the output names, in the network's order."""
    outputs = network(example)
    if not isinstance(outputs, Mapping) or not all(torch.is_tensor(v) for v in outputs.values()):
        raise ValueError(
            f"only networks returning a dict of tensors (head -> tensor) can be exported, got {type(outputs).__name__}"
        )
    names = list(outputs)
    if format == "torchscript":
        # strict=False: the traced module takes and returns dicts, as the network does
        torch.jit.save(torch.jit.trace(network, (example,), strict=False, check_trace=False), str(path))
        return names
    try:
        _write_onnx(network, example, names, path)
    except torch.onnx.errors.OnnxExporterError as error:
        raise ExportError(f"the ONNX exporter cannot translate this network ({_first_line(error)})") from None
    return names


class _PositionalNetwork(nn.Module):
    """The network with one positional tensor per input and a tuple of outputs: what ONNX names."""

    def __init__(self, network: nn.Module, input_keys: list[str] | None, output_names: list[str]) -> None:
        super().__init__()
        self.network = network
        self.input_keys = input_keys
        self.output_names = output_names

    def forward(self, *tensors: Tensor) -> tuple[Tensor, ...]:
        inputs = tensors[0] if self.input_keys is None else dict(zip(self.input_keys, tensors))
        outputs = self.network(inputs)
        return tuple(outputs[name] for name in self.output_names)


def _onnx_names(inputs: NetworkInputs) -> dict[str, str]:
    """ONNX input name -> key in the network's inputs (``""``: the single tensor)."""
    if isinstance(inputs, Mapping):
        return {f"inputs.{key}": key for key in inputs}
    return {"inputs": ""}


def _pick(inputs: NetworkInputs, key: str) -> Tensor:
    return inputs[key] if key else inputs  # type: ignore[index,return-value]


def _dynamic_axes(inputs: NetworkInputs) -> dict[str, dict[int, str]]:
    """ONNX input name -> its dynamic axes: the batch, and the element axis of a padded set."""
    sets = _set_axes(inputs)
    return {name: {0: "batch", **({1: sets[key]} if key in sets else {})} for name, key in _onnx_names(inputs).items()}


def _write_onnx(network: nn.Module, example: NetworkInputs, output_names: list[str], path: Path) -> None:
    _require("onnx")  # the exporter serialises through it
    _register_missing_symbolics()
    names = _onnx_names(example)
    keys = list(names.values()) if isinstance(example, Mapping) else None
    # the TorchScript-based exporter: the torch.export one needs onnxscript and fails on the attention networks too.
    # The wrapper in eval mode: the exporter puts a module back into the mode it found, submodules included.
    torch.onnx.export(
        _PositionalNetwork(network, keys, output_names).eval(),
        tuple(_pick(example, key) for key in names.values()),
        str(path),
        input_names=list(names),
        output_names=output_names,
        opset_version=OPSET,
        dynamo=False,
        dynamic_axes={**_dynamic_axes(example), **{name: {0: "batch"} for name in output_names}},
    )


def _register_missing_symbolics() -> None:
    """ONNX operators the TorchScript-based exporter has no translation for, though ONNX has them: ``Sinh``
    (opset 9), of the collider's pairwise features (pz = pT sinh(eta))."""
    torch.onnx.register_custom_op_symbolic("aten::sinh", lambda graph, x: graph.op("Sinh", x), 9)


def _require(package: str) -> Any:
    """``package`` imported; an ImportError saying how to install it where it is missing, and its own where it is
    installed but fails to import (a broken install, a library it needs), which no install command mends."""
    try:
        return __import__(package)
    except ImportError as error:
        if importlib.util.find_spec(package) is not None:
            raise ImportError(f"{package} is installed but cannot be imported: {error}") from error
        raise ImportError(f"ONNX export and loading need {package}: pip install 'showerlearn[export]'") from error


# --- loading -------------------------------------------------------------------------------------
Runner = Callable[[NetworkInputs], dict[str, Tensor]]


class ExportedNetwork:
    """An exported network as a callable with the torch network's contract.

    Call it with the network's inputs (``batch["inputs"]``: a tensor or a dict of streams) or with a whole
    batch dict (its ``"inputs"`` are taken); it returns head name -> CPU tensor. Inputs it cannot run on
    raise a ValueError naming the file.
    """

    def __init__(self, path: Path, format: Format, run: Runner) -> None:
        self.path = path
        self.format = format
        self._run = run

    def __call__(self, batch: NetworkInputs | Mapping[str, Any]) -> dict[str, Tensor]:
        inputs = batch["inputs"] if isinstance(batch, Mapping) and "inputs" in batch else batch
        _check_structure(inputs)
        try:
            return self._run(inputs)
        except ValueError as error:
            raise ValueError(f"{self.path}: {error}") from None

    def __repr__(self) -> str:
        return f"ExportedNetwork({str(self.path)!r}, format={self.format!r})"


def load_exported(path: str | Path) -> Callable[[dict[str, torch.Tensor]], dict[str, torch.Tensor]]:
    """An exported network (ONNX or TorchScript, told apart by content) as a callable: inputs in, head
    name -> tensor out (:class:`ExportedNetwork`). ONNX runs on onnxruntime's CPU provider.

    Raises:
        FileNotFoundError: no such file.
        ValueError: the file is neither a valid ONNX model nor a TorchScript archive (named in the message).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such exported model file")
    format, run, _ = _open(path)
    return ExportedNetwork(path, format, run)


def _open(path: Path) -> tuple[Format, Runner, list[str] | None]:
    """The format of ``path``, a function running it and the names of the inputs it takes (an ONNX graph's; None
    for TorchScript, which takes the network's inputs as they are); its errors (ValueError) do not name the file."""
    if zipfile.is_zipfile(path):  # TorchScript archives are zip files, ONNX models protobuf
        return "torchscript", _load_torchscript(path), None
    return "onnx", *_load_onnx(path)


def _load_torchscript(path: Path) -> Runner:
    try:
        module = torch.jit.load(str(path), map_location="cpu").eval()
    except RuntimeError as error:
        raise ValueError(f"{path}: not a valid TorchScript archive ({_first_line(error)})") from None

    def run(inputs: NetworkInputs) -> dict[str, Tensor]:
        try:
            with torch.no_grad():
                return dict(module(inputs))
        except RuntimeError as error:  # the TorchScript interpreter's errors
            raise ValueError(f"TorchScript failed on inputs of shapes {_shapes(inputs)}: {_first_line(error)}") from None

    return run


def _load_onnx(path: Path) -> tuple[Runner, list[str]]:
    """A function running the ONNX model on onnxruntime's CPU provider, and the names of the graph's inputs."""
    onnxruntime = _require("onnxruntime")
    try:
        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception as error:  # onnxruntime's own classes (InvalidProtobuf, Fail...) derive from Exception only
        raise ValueError(
            f"{path}: not a valid ONNX model, nor a TorchScript archive ({type(error).__name__}: {_first_line(error)})"
        ) from None
    # the exporter drops inputs the network never reads (a model of one stream of two)
    wanted = [node.name for node in session.get_inputs()]
    outputs = [node.name for node in session.get_outputs()]

    def run(inputs: NetworkInputs) -> dict[str, Tensor]:
        names = _onnx_names(inputs)
        if any(name not in names for name in wanted):
            raise ValueError(f"the model takes the inputs {wanted}, the run's data give {sorted(names)}: a model of "
                             "another network (or family)?")
        feeds = {name: _pick(inputs, names[name]).detach().cpu().numpy() for name in wanted}
        try:
            values = session.run(outputs, feeds)
        except Exception as error:  # as above: onnxruntime's errors are plain Exceptions
            raise ValueError(f"onnxruntime failed on inputs of shapes {_shapes(inputs)}: {_joined_lines(error)}") from None
        return {name: torch.from_numpy(np.asarray(value)) for name, value in zip(outputs, values)}

    return run, wanted


def _shapes(inputs: NetworkInputs) -> dict[str, tuple[int, ...]]:
    return {name: tuple(_pick(inputs, key).shape) for name, key in _onnx_names(inputs).items()}


def _first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


def _joined_lines(error: BaseException) -> str:
    """The whole message on one line: onnxruntime's shape errors give the axis and the sizes on the next ones."""
    return " ".join(line.strip() for line in str(error).strip().splitlines()) or type(error).__name__


# --- checking ------------------------------------------------------------------------------------
def _labelled_batches(
    batches: Sequence[NetworkInputs], example: NetworkInputs, data: str
) -> list[tuple[str, NetworkInputs]]:
    """What the check runs, each with the words an error gives it: the traced batch twice over (a dynamic batch
    axis takes it, whatever sizes the data's batches have: one event to check would never show it), the traced
    batch with one padded element more and with one element fewer (set data: a dynamic element axis takes
    both), then the data."""
    labelled = [("the traced batch twice over: the export fixed the batch size", _doubled(example))]
    for change, words in ((1, "one more padded element"), (-1, "one element fewer")):
        if (resized := _resize_sets(example, change)) is not None:
            labelled.append((f"the traced batch with {words}: the export fixed the number of elements", resized))
    start = 0
    for inputs in batches:
        size = _batch_size(inputs)
        labelled.append((f"events {start} to {start + size - 1} of {data}", inputs))
        start += size
    return labelled


def _check(
    network: nn.Module,
    exported: Runner,
    batches: Sequence[tuple[str, NetworkInputs]],
    tolerance: float,
    data: str,
    events: int,
) -> ExportCheck:
    """Both models on every batch; the largest absolute and relative differences over all outputs."""
    max_abs = max_rel = 0.0
    for label, inputs in batches:
        reference = network(inputs)
        try:
            got = exported(inputs)
        except ValueError as error:
            raise ExportError(f"the exported model fails on {label} ({error})") from None
        if list(got) != list(reference):
            raise ExportError(f"the exported model gives outputs {list(got)}, the network {list(reference)}")
        for name, expected in reference.items():
            abs_diff, rel_diff = _difference(name, expected, got[name])
            max_abs, max_rel = max(max_abs, abs_diff), max(max_rel, rel_diff)
    return ExportCheck(events, len(batches), max_abs, max_rel, tolerance, data)


def _difference(name: str, expected: Tensor, got: Tensor) -> tuple[float, float]:
    """``(max |got - expected|, max |got - expected| / max(1, |expected|))``; NaN where the other is not: infinite."""
    if tuple(got.shape) != tuple(expected.shape):
        shapes = f"the exported model gives shape {tuple(got.shape)}, the network {tuple(expected.shape)}"
        raise ExportError(f"output {name!r}: {shapes}")
    if expected.numel() == 0:
        return 0.0, 0.0
    reference, value = expected.detach().cpu().double(), got.detach().cpu().double()
    both_nan = torch.isnan(reference) & torch.isnan(value)
    difference = torch.where(both_nan, 0.0, (value - reference).abs().nan_to_num(nan=float("inf")))
    scaled = difference / reference.abs().nan_to_num(nan=1.0).clamp(min=1.0)
    return float(difference.max()), float(scaled.max())


# --- describing ----------------------------------------------------------------------------------
def _describe_inputs(example: NetworkInputs, kept: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Name, dtype and shape (dynamic axes named) of each input; ``kept``: only these (an ONNX graph's, the
    exporter dropping those the network never reads)."""
    described = []
    for name, key in _onnx_names(example).items():
        if kept is not None and name not in kept:
            continue
        tensor, axes = _pick(example, key), _dynamic_axes(example)[name]
        shape = [axes.get(axis, size) for axis, size in enumerate(tensor.shape)]
        described.append({"name": name, "dtype": str(tensor.dtype).removeprefix("torch."), "shape": shape})
    return described


def _metadata(run: RunDir, checkpoint: CheckpointFile, config: ExperimentConfig, exported: Exported) -> dict[str, Any]:
    return {
        "format": exported.format,
        "opset": OPSET if exported.format == "onnx" else None,
        "inputs": exported.inputs,
        "outputs": exported.outputs,
        "run": str(run.path.resolve()),
        "run_id": run.path.resolve().name,  # resolved: a run given as "." has no name of its own
        "checkpoint": checkpoint.path.name,
        # the network's own weights: another run with the same settings has other ones (showerlearn predict --model)
        "checkpoint_sha256": checkpoint.sha256,
        # the exported file's own: a file copied over it, or changed, is refused by showerlearn predict --model
        "model_sha256": file_sha256(exported.path),
        "run_state": run.status().get("state"),
        "config": config.model_dump(mode="json"),
        "showerlearn_version": showerlearn.__version__,
        "torch_version": torch.__version__,
        "check": {**asdict(exported.check), "rule": "|exported - torch| <= tolerance * max(1, |torch|)"},
    }
