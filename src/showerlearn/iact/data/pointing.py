"""Training events without telescope pointing, named by file and table: the cause a head's empty selection has.

The direction and impact targets are encoded in the frame of the telescope pointing (:mod:`~showerlearn.iact.data.targets`).
The reader fills the pointing of an image it finds none for with NaN and warns; the targets of such an image are then
masked out. When that leaves a head with no event, what refuses to train it (``hillas_rf.fit``) sees only an empty
selection: :func:`pointing_gaps` says which files lack the pointing, and where it was looked for, so that the error
names the cause.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from showerlearn.iact.io.reader import DL1File

__all__ = ["POINTING_TARGETS", "pointing_gaps"]

#: targets encoded relative to the telescope pointing: invalid for an image without it
POINTING_TARGETS = ("direction", "impact")
#: files named in a message at most; the rest are counted
_NAMED_FILES = 3


def pointing_gaps(files: Sequence[DL1File], columns: Mapping[str, np.ndarray], rows: np.ndarray) -> dict[str, str]:
    """Per target of :data:`POINTING_TARGETS`, why events ``rows`` (of the concatenated ``columns`` of ``files``:
    the training split) lack it for want of pointing, naming the files and where the pointing was looked for;
    empty when every event has its pointing."""
    pointing = np.isfinite(columns["pointing_alt"][rows]) & np.isfinite(columns["pointing_az"][rows])
    if pointing.all():
        return {}
    lost = rows[~pointing]
    places = _places(files, columns, lost)
    return {target: _why(target, len(lost), len(rows), places) for target in POINTING_TARGETS}


def _why(target: str, lost: int, total: int, places: str) -> str:
    """The cause of ``lost`` of ``total`` events without ``target``, and how to go on."""
    every = f", so every event's {target} is invalid" if lost == total else ""
    return (f"the {target} targets need the telescope pointing, which {lost} of the {total} training events lack "
            f"({places}){every}; train on files that carry the pointing of their telescopes")


def _places(files: Sequence[DL1File], columns: Mapping[str, np.ndarray], lost: np.ndarray) -> str:
    """The files of events ``lost`` and where their pointing was looked for, the first :data:`_NAMED_FILES` named."""
    indices = np.unique(columns["file_index"][lost])
    places = [_where(files[i], columns["tel_id"][lost][columns["file_index"][lost] == i]) for i in indices[:_NAMED_FILES]]
    if len(indices) > _NAMED_FILES:
        places.append(f"{len(indices) - _NAMED_FILES} more files")
    return "; ".join(places)


def _where(file: DL1File, tel_ids: np.ndarray) -> str:
    """``file`` and where its pointing of the telescopes ``tel_ids`` was looked for."""
    return f"{file.path} has none in {', '.join(file.pointing_source(int(tel)) for tel in np.unique(tel_ids))}"
