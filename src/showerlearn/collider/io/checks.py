"""Checks shared by the collider readers and their settings: names given once, finite values located by
their event, and the errors of the libraries that decompress a file turned into a
:class:`~showerlearn.collider.io.errors.ColliderDataError` naming the file and what was read.

Every check is vectorised (one pass of numpy over a column); the work of locating a problem (which event,
which column) is done on the error path only, so valid files read at the speed they did.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import numpy as np
from pydantic import AfterValidator

from showerlearn.collider.io.errors import ColliderDataError

__all__ = ["UniqueNames", "check_finite", "entry_event", "reading", "unique_names"]


def unique_names(names: Sequence[str], what: str = "") -> list[str]:
    """``names`` as a list; a ``ValueError`` naming those given more than once (``what`` begins its message).

    Tokens become records keyed by name, so a repeated feature name would silently keep one of its columns
    (and standardise it under the other's statistics)."""
    repeated = [name for name, count in Counter(names).items() if count > 1]
    if repeated:
        raise ValueError(
            f"{what}{': ' if what else ''}{', '.join(map(repr, repeated))} given more than once: each name must be "
            "given once (tokens are records keyed by name, so a repeated name would silently drop a column)"
        )
    return list(names)


#: a list of names of which none repeats (feature names of a token stream), for settings
UniqueNames = Annotated[list[str], AfterValidator(lambda names: unique_names(names))]


def entry_event(entry: int, counts: np.ndarray | None) -> int:
    """The event (row of its file) of a flat ``entry`` of a jagged column with ``counts`` entries per event;
    ``counts`` None: the column has one entry per event."""
    if counts is None:
        return entry
    return int(np.searchsorted(np.cumsum(counts), entry, side="right"))


def check_finite(
    path: str | Path, what: str, values: np.ndarray, counts: np.ndarray | Callable[[], np.ndarray] | None = None
) -> None:
    """A :class:`ColliderDataError` if the flat ``values`` of ``what`` (``"branch 'PT'"``) hold NaN or infinity:
    how many, and the event in the file of the first. ``counts``: entries per event of a jagged column, or what
    computes them (``lambda: ak.to_numpy(ak.num(array))``), called only to locate a bad value."""
    if values.dtype.kind not in "fc":  # integers and booleans are always finite; no copy made for them
        return
    bad = ~np.isfinite(values)
    if bad.any():
        first = int(np.argmax(bad))
        per_event = counts() if callable(counts) else counts
        raise ColliderDataError(
            path,
            f"{what} has {int(bad.sum())} NaN or infinite values, the first in event {entry_event(first, per_event)}",
        )


@contextmanager
def reading(path: str | Path, what: str, cause: str = "is the file damaged or cut short?") -> Iterator[None]:
    """Errors raised while a library reads ``what`` (``"dataset 'constituents/pt'"``) as a
    :class:`ColliderDataError` naming the file: a compressed block that does not decompress (h5py's OSError,
    zlib.error, pyarrow's errors), a cut file, an object branch uproot cannot turn into numbers. Wrap the
    library call only, so that no error of this package's own code is taken for a damaged file. ``cause``: the
    likely causes, said after the library's message."""
    try:
        yield
    except (ColliderDataError, MemoryError):  # already clear, or not the file's fault
        raise
    except Exception as error:  # the libraries raise many kinds (OSError, zlib.error, ArrowInvalid, ...)
        raise ColliderDataError(path, f"{what} cannot be read ({_kind(error)}: {error}); {cause}") from None


def _kind(error: Exception) -> str:
    """The error's class as a reader would look it up: ``OSError``, ``zlib.error``."""
    kind = type(error)
    return kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"
