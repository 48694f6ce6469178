"""How fast the same network runs: CPU threads, the memory allocator and ``torch.compile``.

None of these settings changes what a network computes (a compiled network equals the eager one
within float rounding); they are read from ``trainer`` in the config by training, by ``predict`` and
by the benchmarks, so that all three run the network the same way.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import platform
from pathlib import Path

import torch
from torch import nn

from showerlearn.config.schema import TrainerConfig

__all__ = ["apply_cpu_settings", "compile_network", "keep_freed_memory"]

log = logging.getLogger(__name__)

# glibc's mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD, _M_TOP_PAD, _M_MMAP_THRESHOLD = -1, -2, -3
# the largest value glibc accepts for M_MMAP_THRESHOLD on 64-bit systems (HEAP_MAX_SIZE / 2)
_MMAP_THRESHOLD_MAX = 32 * 1024 * 1024
_KEPT_BYTES = 1024 * 1024 * 1024
_allocator_tuned = False


def keep_freed_memory() -> bool:
    """Let glibc keep freed memory for the next allocation instead of returning it to the system.

    By default glibc serves every allocation above a few MiB with a fresh ``mmap`` and unmaps it when
    freed, so a training step that allocates and frees the same activation buffers (about 12 MiB per
    LST-camera layer at batch 64) pays for zeroed pages again at every layer: measured here, 20 % of a
    CPU training step and of an inference pass (``benchmarks/train_throughput.py --allocator system``).
    Buffers up to 32 MiB now come from the heap, and up to 1 GiB of freed heap is kept. Returns False
    (and changes nothing) where the C library is not glibc.
    """
    global _allocator_tuned
    if _allocator_tuned:
        return True
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    settings = ((_M_MMAP_THRESHOLD, _MMAP_THRESHOLD_MAX), (_M_TRIM_THRESHOLD, _KEPT_BYTES), (_M_TOP_PAD, 64 * 1024 * 1024))
    _allocator_tuned = all(libc.mallopt(parameter, value) == 1 for parameter, value in settings)
    return _allocator_tuned


def apply_cpu_settings(trainer: TrainerConfig) -> None:
    """Threads and allocator of ``trainer`` for this process (training and prediction call it alike)."""
    if trainer.threads:  # more threads than cores slow every batch down
        torch.set_num_threads(trainer.threads)
    if trainer.cpu_allocator == "tuned" and not keep_freed_memory():
        log.info("trainer.cpu_allocator: tuned has no effect here (not glibc): the system allocator is used")


def compile_network(network: nn.Module, trainer: TrainerConfig) -> bool:
    """Compile ``network`` in place with ``torch.compile`` when ``trainer.compile`` asks for it.

    In place (``nn.Module.compile``): the parameters keep their names, so checkpoints of a compiled
    run load into an eager network and back. Compiled kernels are kept in ``trainer.compile_cache``
    (inductor's ``TORCHINDUCTOR_CACHE_DIR``): the first run compiles (about a minute for
    gamma-PhysNet on 2 CPU cores), later runs of the same network load the kernels in seconds.
    Returns whether the network was compiled.
    """
    if trainer.compile is False:
        return False
    mode = "default" if trainer.compile is True else trainer.compile
    cache = Path(trainer.compile_cache).resolve()
    # inductor reads the variable whenever it compiles (and sets it to its /tmp default on first use)
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = str(cache)
    log.info("compiling the network (torch.compile, mode %s; kernels cached in %s)", mode, cache)
    network.compile(mode=mode)
    return True
