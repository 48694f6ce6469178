"""Errors raised on bad IACT input; every message names the file and what was expected."""

from __future__ import annotations


class IACTDataError(ValueError):
    """A DL1/simtel file cannot be used as asked (corrupt, wrong layout, missing columns, bad values)."""


class UnknownCameraError(IACTDataError):
    """A telescope's camera cannot be mapped onto the reference LSTCam lattice."""


class MissingTruthError(IACTDataError):
    """A file without simulation truth was given where truth is needed (training, evaluation)."""


class EmptySelectionError(IACTDataError):
    """The selection cuts (or a split) leave no event."""
