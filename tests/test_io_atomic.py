"""Atomic writes (``showerlearn.io.atomic_path``): the file appears whole or not at all, and with
``overwrite=False`` a file created at the target while it was written is kept, hard links or not; and what a
file cut short (what an interrupted write or copy leaves) is said to be."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from showerlearn.io import atomic_path


def _write(target: Path, text: str, overwrite: bool = True, meanwhile: str | None = None) -> None:
    """Write ``text`` to ``target`` through atomic_path; ``meanwhile``: another process's file appears at the target
    while it is written."""
    with atomic_path(target, overwrite=overwrite) as tmp:
        tmp.write_text(text)
        if meanwhile is not None:
            target.write_text(meanwhile)


def test_a_file_is_replaced_by_default(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    _write(target, "first")
    _write(target, "second", meanwhile="someone else's")
    assert target.read_text() == "second" and os.listdir(tmp_path) == ["out.txt"]


def test_without_overwrite_a_file_created_meanwhile_is_kept(tmp_path: Path) -> None:
    target = tmp_path / "out.h5"
    _write(target, "mine", overwrite=False)
    assert target.read_text() == "mine"
    target.unlink()
    with pytest.raises(FileExistsError, match="out.h5: exists \\(created while this file was being written\\); not replaced"):
        _write(target, "mine", overwrite=False, meanwhile="someone else's")
    assert target.read_text() == "someone else's" and os.listdir(tmp_path) == ["out.h5"]  # no temporary file left


def test_without_hard_links_the_name_is_reserved_then_replaced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_links(*_: object) -> None:  # FAT, some network shares
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_links)
    target = tmp_path / "out.txt"
    _write(target, "mine", overwrite=False)
    assert target.read_text() == "mine" and os.listdir(tmp_path) == ["out.txt"]
    target.unlink()
    with pytest.raises(FileExistsError, match="not replaced"):
        _write(target, "mine", overwrite=False, meanwhile="someone else's")
    assert target.read_text() == "someone else's" and os.listdir(tmp_path) == ["out.txt"]


def test_an_hdf5_file_cut_short_is_told_from_a_file_of_another_kind(tmp_path: Path) -> None:
    import h5py

    from showerlearn.io.errors import hdf5_open_problem

    for name, block in (("plain.h5", 0), ("user_block.h5", 1024)):  # the signature after a user block, too
        with h5py.File(tmp_path / name, "w", userblock_size=block) as file:
            file["x"] = np.arange(10_000)
        whole = (tmp_path / name).read_bytes()
        (tmp_path / f"cut_{name}").write_bytes(whole[: len(whole) // 2])
        with pytest.raises(OSError) as error:
            h5py.File(tmp_path / f"cut_{name}", "r")
        assert hdf5_open_problem(tmp_path / f"cut_{name}", error.value).startswith("an HDF5 file that cannot be opened")
    (tmp_path / "notes.h5").write_text("not hdf5 at all")
    assert hdf5_open_problem(tmp_path / "notes.h5", OSError("x")) == "not an HDF5 file (x)"
