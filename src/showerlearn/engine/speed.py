"""How fast the same network runs: CPU threads, the memory allocator, ``torch.compile``, TF32 and 16-bit autocast.

None of the first three changes what a network computes (a compiled network equals the eager one
within float rounding); TF32 rounds the inputs of float32 convolutions and matrix products on NVIDIA GPUs
to a 10-bit mantissa, autocast rounds activations to 16 bits. They are read from ``trainer`` in the
config by training, by ``predict`` and by the benchmarks, so that all three run the network the same way.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import logging
import os
import platform
import warnings
from collections.abc import Iterator
from pathlib import Path

import torch
from torch import nn

from showerlearn.config.schema import TrainerConfig

__all__ = [
    "apply_process_settings", "autocast_dtype", "compile_network", "keep_freed_memory", "native_bfloat16",
    "prediction_device", "prediction_precision", "tf32",
]

log = logging.getLogger(__name__)

# glibc's mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD, _M_TOP_PAD, _M_MMAP_THRESHOLD = -1, -2, -3
#: (parameter, value, name): the largest mmap threshold glibc accepts on 64-bit systems
#: (HEAP_MAX_SIZE / 2), up to 1 GiB of freed heap kept, and the heap grown 64 MiB at a time (a few
#: activation buffers), so that a step does not extend it by page-sized bits
_ALLOCATOR_SETTINGS = (
    (_M_MMAP_THRESHOLD, 32 * 1024 * 1024, "M_MMAP_THRESHOLD"),
    (_M_TRIM_THRESHOLD, 1024 * 1024 * 1024, "M_TRIM_THRESHOLD"),
    (_M_TOP_PAD, 64 * 1024 * 1024, "M_TOP_PAD"),
)
_CACHE_VARIABLE = "TORCHINDUCTOR_CACHE_DIR"
#: the outcome of the one attempt per process: None before it
_allocator_tuned: bool | None = None


def keep_freed_memory() -> bool:
    """Let glibc keep freed memory for the next allocation instead of returning it to the system.

    By default glibc serves allocations above its mmap threshold (128 KiB, raised on its own up to
    32 MiB) with a fresh ``mmap`` and unmaps them when freed, so a training step that allocates and
    frees the same activation buffers (about 12 MiB per LST-camera layer at batch 64) pays for zeroed
    pages again and again: measured in ``benchmarks/train_throughput.py`` when this was added
    (commit fd14df1: its row with the system allocator, which now also packs one image per grid), 3-6 % of an
    eager CPU training step and inference pass (glibc's own threshold already
    rises towards 32 MiB as buffers are freed). Buffers up to 32 MiB now come from the heap, and up to
    1 GiB of freed heap is kept per process (DataLoader workers forked later inherit the setting),
    which is why it is not the default. Tried once per process; returns whether every setting took effect
    (False where the C library is not glibc, which is then left as it is).
    """
    global _allocator_tuned
    if _allocator_tuned is None:
        _allocator_tuned = _tune_glibc()
    return _allocator_tuned


def _tune_glibc() -> bool:
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        log.info("trainer.cpu_allocator: tuned has no effect here (not glibc): the system allocator is used")
        return False
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    refused = [name for parameter, value, name in _ALLOCATOR_SETTINGS if libc.mallopt(parameter, value) != 1]
    if refused:
        log.warning("glibc refused mallopt %s: trainer.cpu_allocator: tuned is only partly applied", ", ".join(refused))
    return not refused


def apply_process_settings(trainer: TrainerConfig) -> None:
    """Threads, allocator and TF32 of ``trainer`` for this process (training and prediction call it alike)."""
    if trainer.threads:  # more threads than cores slow every batch down
        torch.set_num_threads(trainer.threads)
    if trainer.cpu_allocator == "tuned":
        keep_freed_memory()  # logs why where it cannot take effect
    if trainer.tf32 is not None:
        _write_tf32(trainer.tf32, trainer.tf32)  # written only: reading the flags can raise (see _write_tf32)


@contextlib.contextmanager
def tf32(enabled: bool) -> Iterator[None]:
    """TF32 on (or off) for float32 convolutions and matrix products inside the block, as ``trainer.tf32``."""
    with _older_tf32_api():
        previous = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    _write_tf32(enabled, enabled)
    try:
        yield
    finally:
        _write_tf32(*previous)


def _write_tf32(convolutions: bool, matrix_products: bool) -> None:
    """Set torch's TF32 flags through its older ``allow_tf32`` API, not its newer per-backend ``fp32_precision``:
    once that is set for one backend, *reading* the older flags raises, and other code (inductor) still reads
    them; writing them always works."""
    with _older_tf32_api():
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = convolutions, matrix_products


@contextlib.contextmanager
def _older_tf32_api() -> Iterator[None]:
    """Silence torch's (>= 2.9) warning that ``allow_tf32`` is its older API: chosen here, not the user's doing."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        yield


def compile_network(network: nn.Module, trainer: TrainerConfig) -> bool:
    """Compile ``network`` in place with ``torch.compile`` when ``trainer.compile`` asks for it.

    In place (``nn.Module.compile``): the parameters keep their names, so checkpoints of a compiled
    run load into an eager network and back. Compiled kernels are kept in ``trainer.compile_cache``
    (inductor's ``TORCHINDUCTOR_CACHE_DIR``, set for this process): the first run compiles (about
    two minutes for the ResNet-56 gamma-PhysNet-DA on 2 CPU cores), later runs of the same network
    load the kernels in seconds. Returns whether the network was compiled.
    """
    if trainer.compile is False:
        return False
    mode = "default" if trainer.compile is True else trainer.compile
    cache = trainer.compile_cache.resolve()
    # inductor reads the variable whenever it compiles (and sets it to its /tmp default on first use)
    previous = os.environ.get(_CACHE_VARIABLE)
    if previous and Path(previous) != cache:
        log.info("%s=%s is replaced by trainer.compile_cache=%s", _CACHE_VARIABLE, previous, cache)
    os.environ[_CACHE_VARIABLE] = str(cache)
    log.info("compiling the network (torch.compile, mode %s; kernels cached in %s)", mode, cache)
    network.compile(mode=mode)
    return True


def prediction_device(trainer: TrainerConfig) -> torch.device:
    """Where a run predicts: its GPU if it asked for one (or ``auto``) and one is here, else the CPU, whatever
    the run trained on: a GPU-trained run also predicts on a laptop."""
    on_gpu = torch.cuda.is_available() and trainer.accelerator in ("gpu", "cuda", "auto")
    return torch.device("cuda" if on_gpu else "cpu")


def prediction_precision(trainer: TrainerConfig, device: torch.device) -> str:
    """Lightning precision to predict with. 16-bit runs: on a GPU the training's; on a CPU ``bf16-mixed`` where
    the CPU computes bfloat16 natively (as Lightning trains ``16-mixed`` on a CPU) and ``32-true`` where it
    would only emulate it, several times slower. 32- and 64-bit runs: ``32-true``, as ``showerlearn predict``
    builds the network."""
    if trainer.precision in ("32-true", "64-true"):
        return "32-true"
    if device.type != "cpu":
        return trainer.precision
    if native_bfloat16():
        return "bf16-mixed"
    log.info("trainer.precision %s: this CPU has no native bfloat16, the run predicts in 32-true", trainer.precision)
    return "32-true"


def native_bfloat16() -> bool:
    """Whether this CPU computes bfloat16 natively: x86 with AVX512-BF16 or AMX (oneDNN emulates it on other
    AVX-512 CPUs, which its own check counts in), or an Arm CPU oneDNN has bfloat16 kernels for."""
    if platform.machine().lower() in ("x86_64", "amd64"):
        return bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu.get_capabilities().get("amx_bf16", False))
    return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())


def autocast_dtype(precision: str) -> torch.dtype | None:
    """The 16-bit type of a Lightning ``precision``, what prediction autocasts to (None: 32 or 64 bits)."""
    return {"bf16": torch.bfloat16, "16": torch.float16}.get(precision.split("-")[0])
