"""Where a DataModule's events come from: file patterns given by the user, or a simulated file cached
under a name that its settings and seed fix (so every run with the same settings reuses it)."""

from __future__ import annotations

import glob
import hashlib
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel


def expand_patterns(patterns: Sequence[str | Path] | None, what: str, error: type[Exception] = ValueError) -> list[Path]:
    """The files of ``patterns`` in order, each glob expanded and sorted; ``error`` names ``what`` when a
    pattern matches nothing or there is no file at all."""
    paths: list[Path] = []
    for pattern in patterns or []:
        matches = sorted(glob.glob(str(pattern))) if glob.has_magic(str(pattern)) else [str(pattern)]
        if not matches:
            raise error(f"{what}: pattern {pattern!r} matches no file")
        paths.extend(Path(m) for m in matches)
    if not paths:
        raise error(f"{what}: 'files' is empty")
    return paths


def cached_simulation(
    cache_dir: Path, prefix: str, suffix: str, config: BaseModel, seed: int, simulate: Callable[[Any, Path, int], Any]
) -> Path:
    """``cache_dir/{prefix}_{digest}_seed{seed}{suffix}``, written by ``simulate(config, path, seed)`` when absent.

    The digest hashes the resolved settings; the simulators write atomically, so a cached file is complete.
    """
    digest = hashlib.sha256(json.dumps(config.model_dump(mode="json"), sort_keys=True).encode()).hexdigest()[:16]
    path = Path(cache_dir) / f"{prefix}_{digest}_seed{seed}{suffix}"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        simulate(config, path, seed)
    return path
