"""expand_patterns and copies of a file under another name: named with the original (a warning, or an error for
training, whose splits a copy would mix), while files that only share their size are read as they are."""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path

import pytest

from showerlearn.data.files import sample_digest, expand_patterns
from showerlearn.iact.data import IACTDataError, IACTDataModule


def _files(folder: Path, contents: dict[str, bytes]) -> list[Path]:
    paths = []
    for name, content in contents.items():
        (folder / name).write_bytes(content)
        paths.append(folder / name)
    return paths


def test_a_copy_under_another_name_is_named_with_its_original(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    data = os.urandom(3000)
    a, copy, other = _files(tmp_path, {"a.h5": data, "b_copy.h5": data, "c.h5": data[:-1] + b"x"})
    os.symlink(a, tmp_path / "link.h5")  # one file by its path: left out without a word, as before
    with caplog.at_level(logging.WARNING, logger="showerlearn.data.files"):
        assert expand_patterns([tmp_path / "*.h5"], "test data") == [a, copy, other]
    expected = f"test data: {copy} holds the same bytes as {a} (a copy): its events are read twice"
    assert [record.getMessage()[: len(expected)] for record in caplog.records] == [expected]
    with pytest.raises(FileNotFoundError, match=re.escape(expected)):
        expand_patterns([a, other, copy], "test data", FileNotFoundError, refuse_copies=True)
    assert expand_patterns([a, other], "test data", refuse_copies=True) == [a, other]
    empty = _files(tmp_path, {"empty1.h5": b"", "empty2.h5": b""})  # no events to read twice: each reader's to refuse
    assert expand_patterns(empty, "test data", refuse_copies=True) == empty


def test_files_of_one_size_that_differ_between_the_sampled_blocks_are_not_copies(tmp_path: Path) -> None:
    """The sample of blocks only picks candidates: a difference anywhere keeps the files apart."""
    data = bytearray(os.urandom(4 << 20))
    changed = bytearray(data)
    changed[(1 << 20) + 12345] ^= 0xFF  # 1 MiB in: between the 16 blocks of 64 kiB spread over 4 MiB
    paths = _files(tmp_path, {"a.bin": bytes(data), "b.bin": bytes(changed)})
    assert sample_digest(paths[0]) == sample_digest(paths[1])  # so the whole files are compared
    assert expand_patterns(paths, "test data", refuse_copies=True) == paths


def test_iact_training_refuses_a_copy_of_a_file(tmp_path: Path) -> None:
    """Refused before any file is read: the same images would land in the training and the test split."""
    data = os.urandom(1000)
    a, copy = _files(tmp_path, {"a.dl1.h5": data, "mu_copy.dl1.h5": data})
    with pytest.raises(IACTDataError, match=re.escape(f"iact data: {copy} holds the same bytes as {a} (a copy)")):
        IACTDataModule(files=[str(a), str(copy)], cache_dir=tmp_path).setup("fit")
