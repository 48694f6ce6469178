"""Where a DataModule's events come from: file patterns given by the user, or a simulated file cached
under a name that its settings and seed fix (so every run with the same settings reuses it)."""

from __future__ import annotations

import glob
import hashlib
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, model_validator

log = logging.getLogger(__name__)


def expand_patterns(
    patterns: Sequence[str | Path] | None, what: str, error: type[Exception] = ValueError, folders: bool = True,
    refuse_copies: bool = False, find_copies: bool = True,
) -> list[Path]:
    """The files of ``patterns`` in order, each glob expanded and sorted, each file once (overlapping patterns
    would read its events twice, into more than one split); ``error`` names ``what`` when a pattern matches
    nothing or there is no file at all. ``folders``: whether a glob's matching folders count (a parquet data set
    is one), or are passed over (``data/*`` beside ``data/sub/``, for a reader of files only).

    A file with the same bytes as an earlier one (a copy under another name, which its path cannot tell) is
    named with that one in a warning, or, with ``refuse_copies`` (training: a copy's events would land in more
    than one split), in an ``error`` (:func:`check_copies`); ``find_copies=False`` skips that search, for a caller
    that only looks at the files (or searches the copies of several lists together)."""
    paths: list[Path] = []
    seen: set[Path] = set()
    for pattern in patterns or []:
        matches = sorted(glob.glob(str(pattern))) if glob.has_magic(str(pattern)) else [str(pattern)]
        if glob.has_magic(str(pattern)) and not folders:
            matches = [match for match in matches if not Path(match).is_dir()]
        if not matches:
            raise error(f"{what}: pattern {pattern!r} matches no file")
        for match in map(Path, matches):
            if match.resolve() not in seen:
                seen.add(match.resolve())
                paths.append(match)
    if not paths:
        raise error(f"{what}: 'files' is empty")
    if find_copies:
        check_copies(paths, what, error, refuse_copies)
    return paths


def check_copies(paths: Sequence[Path], what: str, error: type[Exception] = ValueError, refuse: bool = False) -> None:
    """Name each of ``paths`` with the same bytes as an earlier one (a copy under another name) in a warning, or with
    ``refuse`` in an ``error``: its events would be read twice, and in training land in more than one split."""
    for original, *copies in _copies(list(paths)):
        for copy in copies:
            message = (f"{what}: {copy} holds the same bytes as {original} (a copy): its events are read twice, "
                       "and in training can land in more than one split; give one of them")
            if refuse:
                raise error(message)
            log.warning(message)


def _copies(paths: list[Path]) -> list[list[Path]]:
    """The groups of two or more of ``paths`` with the same bytes, each in ``paths``' order.

    Cheap where files differ: only files of equal size are read, first a sample of each, and whole only where
    the samples agree too (what an equal copy needs anyway)."""
    # not compared: a folder (a parquet data set), a missing file, an empty one (no events to read twice; its
    # reader says what is wrong with it)
    groups = [[path for path in paths if path.is_file() and path.stat().st_size]]
    for key in (lambda path: path.stat().st_size, sample_digest, _digest):
        groups = [same for group in groups for same in _equal_keys(group, key)]
    return groups


def _equal_keys(paths: list[Path], key: Callable[[Path], Any]) -> list[list[Path]]:
    """The groups of two or more of ``paths`` with equal ``key`` (in ``paths``' order)."""
    groups: dict[Any, list[Path]] = {}
    for path in paths:
        groups.setdefault(key(path), []).append(path)
    return [group for group in groups.values() if len(group) > 1]


def sample_digest(path: Path, blocks: int = 16, block_size: int = 65536) -> str:
    """A digest of ``blocks`` blocks spread evenly over the file, its first and last included: 1 MiB read,
    enough to tell apart files of equal size whose headers agree."""
    size = path.stat().st_size
    digest = hashlib.blake2b()
    with path.open("rb") as file:
        for offset in sorted({max(0, (size - block_size) * i // (blocks - 1)) for i in range(blocks)}):
            file.seek(offset)
            digest.update(file.read(block_size))
    return digest.hexdigest()


def _digest(path: Path) -> str:
    """A digest of the whole file."""
    with path.open("rb") as file:
        return hashlib.file_digest(file, "blake2b").hexdigest()


def source_problems(params: Mapping[str, Any], path: str = "") -> list[str]:
    """The problem of a DataModule given its events by ``files`` or by ``simulate``: both given, or neither. The
    rule of both the config check (its ``config_problems``, before any work) and its constructor
    (:func:`check_source`). ``params``: its resolved params; ``path``: where they are (``data.params``; empty:
    the keys alone)."""
    given = [key for key in ("files", "simulate") if params.get(key) is not None]
    if len(given) == 1:
        return []
    # an example's `simulate` stays when `--set data.params.files=...` is added: say how to drop it
    found = "both given; give exactly one, the other null" if given else "neither given; give exactly one"
    keys = ", ".join(f"{path}.{key}" if path else key for key in ("files", "simulate"))
    return [
        f"{keys}: {found}: `files` (paths or glob patterns of the files to read) or "
        "`simulate` (the settings of the events to simulate)"
    ]


def missing_file_problems(patterns: Any, key: str) -> list[str]:
    """The files a new run's ``patterns`` (the setting ``key``) name and that are not there: a path with no file, a
    glob matching nothing; one line each. Checked before the run's folder exists (``new_run_problems``), so that a
    typo leaves no failed run behind; not part of the config's schema, since a finished run's config is read from any
    working folder."""
    if not isinstance(patterns, (list, tuple)):
        return []
    problems = []
    for pattern in map(str, patterns):
        if glob.has_magic(pattern):
            if not glob.glob(pattern):
                problems.append(f"{key}: pattern {pattern!r} matches no file")
        elif not Path(pattern).exists():
            problems.append(f"{key}: no such file: {pattern} (a relative path is read from the working folder, {Path.cwd()})")
    return problems


def check_source(files: Any, simulate: Any, what: str) -> None:
    """A DataModule constructor's check of :func:`source_problems`: a ValueError beginning with ``what``
    (``calorimeter data``)."""
    if problems := source_problems({"files": files, "simulate": simulate}):
        raise ValueError(f"{what}: {problems[0]}")


def files_caption(patterns: Sequence[str | Path] | None, shown: int = 2) -> str:
    """``files a.h5, b.h5 and 3 more``: the file names (or patterns, unexpanded) a figure caption has room for."""
    names = [Path(pattern).name for pattern in patterns or []]
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    return f"files {', '.join(names[:shown])}{more}"


def cached_simulation(
    cache_dir: Path, prefix: str, suffix: str, config: BaseModel, seed: int,
    simulate: Callable[[Any, Path, int, bool], Any], *, progress: bool = True,
) -> Path:
    """``cache_dir/{prefix}_{digest}_seed{seed}{suffix}``, written by ``simulate(config, path, seed, progress)``
    when absent, with a progress bar (a first run may simulate for minutes before training; in a batch log, a line
    at most every half minute) unless ``progress`` is False (the command's ``--no-progress``, the DataModule's ``progress``).

    The digest hashes the resolved settings; the simulators write atomically, so a cached file is complete.
    """
    digest = hashlib.sha256(json.dumps(config.model_dump(mode="json"), sort_keys=True).encode()).hexdigest()[:16]
    path = Path(cache_dir) / f"{prefix}_{digest}_seed{seed}{suffix}"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        log.info("simulating the events into %s (once: later runs with these settings reuse it)", path)
        simulate(config, path, seed, progress)
    return path


def fold_event_count(settings: Any) -> Any:
    """Body of a ``model_validator(mode="before")`` of simulate settings (``events`` beside a simulator
    ``config``): the shortcut ``events`` is written into ``config.n_events``, so that a resolved config holds
    the number of events once; both given with different values is an error."""
    if not isinstance(settings, dict) or settings.get("events") is None:
        return settings
    settings = dict(settings)
    events = settings.pop("events")
    config = settings.get("config") or {}
    config = dict(config.model_dump() if isinstance(config, BaseModel) else config)
    if config.get("n_events", events) != events:
        raise ValueError(f"events={events} and config.n_events={config['n_events']} both set the number of events: keep one")
    settings["config"] = {**config, "n_events": events}
    return settings


def event_count_validator() -> Any:
    """:func:`fold_event_count` as a validator of a simulate-settings model (``one_event_count = event_count_validator()``)."""
    return model_validator(mode="before")(classmethod(lambda cls, settings: fold_event_count(settings)))

