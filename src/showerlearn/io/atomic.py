"""Atomic writes: write to a temporary file in the target's folder, then rename into place.

A crash or kill mid-write leaves the previous file (or none), never a half-written one, because
``os.replace`` is atomic on POSIX file systems when source and target share a folder. The JSON files
written so are read back by :func:`read_json_object`, which names a file damaged since (an edit, a copy
cut short) instead of failing with the parser's bare message.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str], overwrite: bool = True) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success it is renamed to ``path``.

    Keeps the real suffix so libraries that infer the format from it (h5py, matplotlib) still work.
    ``overwrite=False``: a file that exists at ``path`` when the temporary one is complete is kept, the temporary
    one removed and :class:`FileExistsError` raised. A check before a long write cannot see a file another process
    creates while it runs; this one is atomic.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    suffix = "".join(target.suffixes)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=f".tmp{suffix}", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    tmp.unlink()  # the writer creates it; some (HDF5) refuse an existing empty file
    try:
        yield tmp
        if overwrite:
            os.replace(tmp, target)
        else:
            _publish_new(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()


def _publish_new(tmp: Path, target: Path) -> None:
    """Give ``tmp`` the name ``target`` unless a file has it (``tmp`` is left for the caller to remove).

    ``os.replace`` would replace it; a hard link fails on an existing name, atomically. Where a file system has no
    hard links (FAT, some network shares), the name is reserved by creating it exclusively, then replaced.
    """
    try:
        try:
            os.link(tmp, target)
        except FileExistsError:
            raise
        except OSError:
            os.close(os.open(target, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
            _replace_reserved(tmp, target)
    except FileExistsError:
        raise FileExistsError(f"{target}: exists (created while this file was being written); not replaced") from None


def _replace_reserved(tmp: Path, target: Path) -> None:
    """Replace the empty file this process reserved at ``target`` by ``tmp``; on failure, free the name."""
    try:
        os.replace(tmp, target)
    except BaseException:
        target.unlink(missing_ok=True)
        raise


def write_text_atomic(path: str | os.PathLike[str], text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_json_atomic(path: str | os.PathLike[str], data: Any) -> None:
    write_text_atomic(path, json.dumps(data, indent=2, sort_keys=True, default=_json_default) + "\n")


def read_json_object(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The JSON object in ``path``; a ValueError naming the file when it is not valid JSON or not an object."""
    try:
        data = json.loads(Path(path).read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{path}: not valid JSON ({error}); the file is damaged") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object, got {type(data).__name__}")
    return data


def _json_default(value: Any) -> Any:
    # numpy scalars/arrays and Paths show up in metrics and configs
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    raise TypeError(f"cannot write {type(value).__name__} to JSON")
