"""What an evaluator's metrics are of: the events it scores, and whether it reads anything besides their predictions.

An evaluator that reads everything it scores from the prediction tables (and its own settings) scores any
labelled events alike: a run's test split, or a new file the run predicted (``showerlearn evaluate RUN
--predictions DIR/new.predictions.h5``). One that also reads the run's data set (the share of it in the test
split, settings the data gave, a baseline predicted on the same split) describes that split only: its metrics
of a new file would mix the file's events with the data set's. Evaluators declare the first with
:func:`reads_predictions_only`. One that declares nothing is taken to read the data set, since the engine cannot
tell (a user's evaluator may read anything); :func:`reads_data_set` says what, for the message that refuses it a
new file. The declaration is an attribute of the function: a wrapper made with ``functools.wraps`` copies it, so
a wrapper that reads more than the function it wraps declares itself again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["TEST_SPLIT", "data_set_reads", "reads_data_set", "reads_predictions_only"]

#: what a run's own predictions are: its test split (each figure's caption counts its events as such)
TEST_SPLIT = "test split"

#: the attribute the declarations set on an evaluator: what of the run's data set it reads (None: nothing)
_ATTRIBUTE = "reads_data_set"
#: why an evaluator that declares nothing scores only test splits
_UNDECLARED = ("it does not declare that it reads its predictions alone "
               "(showerlearn.evaluation.scope.reads_predictions_only)")

Evaluator = TypeVar("Evaluator", bound=Callable[..., Any])


def reads_predictions_only(evaluator: Evaluator) -> Evaluator:
    """Declare that ``evaluator`` reads nothing of the run's data set: predictions of any labelled events (a new
    file's) are scored by it as a test split's are."""
    setattr(evaluator, _ATTRIBUTE, None)
    return evaluator


def reads_data_set(what: str) -> Callable[[Evaluator], Evaluator]:
    """Declare what of the run's data set an evaluator reads besides the predictions (one clause: ``"its effective
    area counts the showers the data set simulated"``), so that it scores the run's test split only."""

    def decorator(evaluator: Evaluator) -> Evaluator:
        setattr(evaluator, _ATTRIBUTE, what)
        return evaluator

    return decorator


def data_set_reads(evaluator: Callable[..., Any]) -> str | None:
    """What of the run's data set ``evaluator`` reads (its :func:`reads_data_set`, or why one that declares nothing
    is taken to read it); None when it reads its predictions only."""
    return getattr(evaluator, _ATTRIBUTE, _UNDECLARED)
