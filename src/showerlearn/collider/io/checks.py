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

__all__ = [
    "UniqueNames", "check_finite", "check_same_counts", "check_values", "entry_event", "reading", "unique_names",
]  # fmt: skip

_TOKEN_FIELDS = "tokens are records keyed by name, so a repeated name would silently drop a column"


def unique_names(names: Sequence[str], what: str = "", why: str = _TOKEN_FIELDS) -> list[str]:
    """``names`` as a list; a ``ValueError`` naming those given more than once (``what`` begins its message,
    ``why`` ends it).

    Tokens become records keyed by name, so a repeated feature name would silently keep one of its columns
    (and standardise it under the other's statistics)."""
    repeated = [name for name, count in Counter(names).items() if count > 1]
    if repeated:
        raise ValueError(
            f"{what}{': ' if what else ''}{', '.join(map(repr, repeated))} given more than once: each name must be "
            f"given once ({why})"
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


def check_values(
    path: str | Path,
    what: str,
    values: np.ndarray,
    bad: np.ndarray,
    expected: str,
    counts: np.ndarray | Callable[[], np.ndarray] | None = None,
) -> None:
    """A :class:`ColliderDataError` if any of ``bad`` (a mask over the flat ``values`` of ``what``) is set: the first
    such value, its event in the file, how many there are, and what was ``expected``. ``counts`` as for
    :func:`check_finite`."""
    if not bad.any():
        return
    first, n_bad = int(np.argmax(bad)), int(bad.sum())
    per_event = counts() if callable(counts) else counts
    more = f" (the first of {n_bad} such values)" if n_bad > 1 else ""
    raise ColliderDataError(
        path, f"{what} holds {values[first]} in event {entry_event(first, per_event)}{more}; expected {expected}"
    )


def check_same_counts(path: str | Path, first: tuple[str, np.ndarray], other: tuple[str, np.ndarray]) -> None:
    """A :class:`ColliderDataError` if two branches of one collection (or token stream), each given as
    ``(name, entries per event)`` of the same events, differ in length in an event: zipped into records, they would
    pair the values of different objects, or fail with a library error naming neither."""
    (name, counts), (other_name, other_counts) = first, other
    differ = counts != other_counts
    if differ.any():
        event = int(np.argmax(differ))
        raise ColliderDataError(
            path, f"branches {name!r} and {other_name!r} differ in length in event {event} ({counts[event]} vs "
            f"{other_counts[event]}); expected one entry per object in each"
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
