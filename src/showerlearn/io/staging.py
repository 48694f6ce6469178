"""Output folders replaced as a whole: written next to their targets, swapped in once everything is written.

Commands that write a variable set of files into folders other commands read whole (an explanation's
figures, which the board embeds; an ensemble's run folder) must neither leave an earlier result's files among
the new ones nor half a result after a failure: each folder is written anew in a temporary sibling
(``.<name>.<random>.tmp``) and renamed into place at the end, the earlier folder removed only then. A folder
the new result leaves empty is not put in place, and its earlier one is removed all the same: it is not the new
result's (a sweep explained with one run and without criteria has no figure of its own), and an empty folder
is as good as none.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType

__all__ = ["StagedFolders", "holds_anything"]


class StagedFolders:
    """Folders written in temporary siblings and swapped in on a clean exit (removed on an error); one left
    empty replaces its target by no folder.

    Targets are named by their resolved paths, so that one folder reached through two paths (a sweep's
    run linked to another's) is written once. Whether an earlier target may be replaced is the caller's to
    decide, before any work (:func:`holds_anything`).
    """

    def __init__(self, targets: Iterable[Path]) -> None:
        self.targets = list(dict.fromkeys(Path(target).resolve() for target in targets))
        self._staged: dict[Path, Path] = {}

    def __enter__(self) -> StagedFolders:
        for target in self.targets:
            target.parent.mkdir(parents=True, exist_ok=True)
            self._staged[target] = _new_sibling(target, ".tmp")
        return self

    def folder(self, target: Path) -> Path:
        """The temporary folder standing for ``target`` (one of the targets) until the swap."""
        return self._staged[Path(target).resolve()]

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        try:
            if kind is None:
                _swap_all(self._staged)
        finally:
            for staged in self._staged.values():
                shutil.rmtree(staged, ignore_errors=True)  # left only where the swap did not happen


def file_in_the_way(path: Path) -> Path | None:
    """The first existing parent of ``path`` that is a file, not a folder to write into (None if none is)."""
    return next((parent for parent in Path(path).parents if parent.exists() and not parent.is_dir()), None)


def holds_anything(path: Path) -> bool:
    """Whether ``path`` is a file or a folder with something in it (an empty folder is as good as none)."""
    return path.exists() and (not path.is_dir() or any(path.iterdir()))


def _new_sibling(target: Path, suffix: str) -> Path:
    """A new empty folder next to ``target`` with a random name (``mkdir``: the umask's permissions, which a
    folder swapped in must have, unlike ``mkdtemp``'s private ones)."""
    while True:
        candidate = target.with_name(f".{target.name}.{secrets.token_hex(4)}{suffix}")
        try:
            candidate.mkdir()
            return candidate
        except FileExistsError:
            continue


def _swap_all(staged: dict[Path, Path]) -> None:
    """Every staged folder renamed to its target (an empty one left out: the target is then absent), or none: the
    earlier targets are first all moved aside, then the staged ones renamed in; a failure on the way moves
    everything back. The earlier folders are removed only once every target that gets one holds its new one."""
    asides: dict[Path, Path] = {}
    swapped: list[Path] = []
    try:
        for target in staged:
            if target.exists():
                asides[target] = _new_sibling(target, ".old") / target.name
                os.rename(target, asides[target])
        for target, folder in staged.items():
            if holds_anything(folder):  # an empty one stands for none: the earlier target goes all the same
                os.rename(folder, target)
                swapped.append(target)
    except BaseException:
        for target in swapped:
            os.rename(target, staged[target])  # the staged folder again, removed by the caller
        for target, aside in asides.items():
            if aside.exists():
                os.rename(aside, target)
            with contextlib.suppress(OSError):  # only where empty: never an earlier folder not moved back
                aside.parent.rmdir()
        raise
    for aside in asides.values():
        shutil.rmtree(aside.parent, ignore_errors=True)
