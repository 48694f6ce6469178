"""Capture what C++ libraries print to the process's standard output (Pythia's messages, FastJet's banner).

Pythia and FastJet write to file descriptor 1 from C++, past Python's ``sys.stdout``: the only way to
keep that off a terminal that shows a progress bar, and to read Pythia's error messages, is to point
the descriptor at a file for the duration of the calls.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import sys
import tempfile
from collections.abc import Iterator

__all__ = ["CapturedOutput", "captured_stdout"]


class CapturedOutput:
    """The text printed inside a :func:`captured_stdout` block (complete once the block has exited)."""

    def __init__(self) -> None:
        self.text = ""


def _flush_c_stdio() -> None:
    # C++ streams write through C's buffered stdout when it is a file: flush it before switching back
    ctypes.CDLL(None).fflush(None)


@contextlib.contextmanager
def captured_stdout() -> Iterator[CapturedOutput]:
    """Send file descriptor 1 to a temporary file inside the block; its text is in the yielded object."""
    captured = CapturedOutput()
    sys.stdout.flush()
    _flush_c_stdio()
    with tempfile.TemporaryFile(mode="w+b") as sink:
        saved = os.dup(1)
        os.dup2(sink.fileno(), 1)
        try:
            yield captured
        finally:
            sys.stdout.flush()
            _flush_c_stdio()
            os.dup2(saved, 1)
            os.close(saved)
            sink.seek(0)
            captured.text = sink.read().decode(errors="replace")
