"""Errors raised on bad IACT input; every message names the file and what was expected."""

from __future__ import annotations


class IACTDataError(ValueError):
    """A DL1/simtel file cannot be used as asked (corrupt, wrong layout, missing columns, bad values)."""


class SeveralTelescopeTypesError(IACTDataError):
    """A file holds images of several telescope types and none was chosen (one network reads one camera)."""


class UnknownCameraError(IACTDataError):
    """A telescope's camera is not the reference camera (another name, pixel count or pixel positions)."""


class MissingTruthError(IACTDataError):
    """A file without simulation truth was given where truth is needed (training, evaluation)."""


class EmptySelectionError(IACTDataError):
    """The selection cuts (or a split) leave no event."""
