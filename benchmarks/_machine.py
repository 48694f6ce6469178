"""What a timing depends on besides the code: the CPU, and the CPU time behind a wall-clock time.

Shared by the benchmarks: the development machine is shared, so every table states the processor and the
load, and rates per CPU-second are the figures other processes do not move. Standard library only, so that
a benchmark measuring memory can import it without raising its own floor.
"""

from __future__ import annotations

import os
import platform
import resource
import sys
from pathlib import Path


def cpu_seconds() -> float:
    """CPU time (user + system) of this process and of its finished, waited-for children (worker processes)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def cpu_model() -> str:
    """The processor's model name (``/proc/cpuinfo`` on Linux; ``platform`` elsewhere, often just the architecture)."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def load_average() -> float | None:
    """The 1-minute load average, or None where the system has none (Windows)."""
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else None


def command_line() -> str:
    """The command that is running, as a reader would type it again: ``python benchmarks/NAME.py ARGS``."""
    script = Path(sys.argv[0])
    return " ".join(["python", f"benchmarks/{script.name}", *sys.argv[1:]])
