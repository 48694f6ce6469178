"""Output folders replaced as a whole: written next to their targets, swapped in once everything is written.

An explanation writes a variable set of files (one figure per chosen event, summaries per target) into
folders that other commands read whole (the board embeds every PNG of a run's ``plots/explain/``). Writing
into the folders in place would leave an earlier explanation's figures among the new ones, and a failure
mid-way would leave half of a result; so each folder is written anew in a temporary sibling
(``.explain.<random>.tmp``) and renamed into place at the end, the earlier folder removed only then.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType

__all__ = ["StagedFolders"]


class StagedFolders:
    """Folders written in temporary siblings and swapped in on a clean exit (removed on an error).

    Targets are named by their resolved paths, so that one folder reached through two paths (a sweep's
    run linked to another's) is written once. Without ``overwrite``, a target that holds anything is
    refused before anything is written.
    """

    def __init__(self, targets: Iterable[Path], overwrite: bool) -> None:
        self.targets = list(dict.fromkeys(Path(target).resolve() for target in targets))
        self._staged: dict[Path, Path] = {}
        if not overwrite:
            for target in self.targets:
                if target.exists() and (not target.is_dir() or any(target.iterdir())):
                    raise FileExistsError(f"{target}: holds an earlier explanation; pass --overwrite to replace it")

    def __enter__(self) -> StagedFolders:
        for target in self.targets:
            target.parent.mkdir(parents=True, exist_ok=True)
            staged = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
            # mkdtemp makes it private (0700); once swapped in it is a run's folder, readable as any other
            staged.chmod(0o777 & ~_umask())
            self._staged[target] = staged
        return self

    def folder(self, target: Path) -> Path:
        """The temporary folder standing for ``target`` (one of the targets) until the swap."""
        return self._staged[Path(target).resolve()]

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        try:
            if kind is None:
                for target, staged in self._staged.items():
                    _swap(staged, target)
        finally:
            for staged in self._staged.values():
                shutil.rmtree(staged, ignore_errors=True)  # left only where the swap did not happen


def _umask() -> int:
    """The process's umask (read by setting it, then restoring it: there is no other way to read it)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _swap(staged: Path, target: Path) -> None:
    """``staged`` renamed to ``target``; whatever was at ``target`` is moved aside first, then removed."""
    if not target.exists():
        os.rename(staged, target)
        return
    aside = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".old", dir=target.parent))
    os.rename(target, aside / target.name)
    os.rename(staged, target)
    shutil.rmtree(aside, ignore_errors=True)
