"""One interface for every clustering method: the hits of an event in, a cluster label per hit out.

The hits of an event are a mapping of equal-length arrays: ``energy`` [MeV], ``theta``, ``phi`` [rad],
``time`` [ns], ``crystal_id`` and, for the truth-based methods, ``true_gamma``. Labels are 0, 1, ... per
cluster and -1 for hits in no cluster. Methods are scikit-learn estimators (``__init__`` only stores its
parameters, so ``clone``, ``get_params`` and grid searches work); ``fit`` learns nothing for the
classical ones and ``predict`` takes many events at once: an awkward array of hit lists (what the readers
return) or a sequence of mappings.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator

__all__ = ["HitClusterer", "Hits", "event_hits"]

Hits = Mapping[str, np.ndarray]


class HitClusterer(BaseEstimator):
    """Base of the clustering methods: subclasses implement :meth:`cluster` for one event."""

    def fit(self, events: Any = None, y: Any = None) -> HitClusterer:
        """Nothing to learn for the classical methods; returns self."""
        return self

    def cluster(self, hits: Hits) -> np.ndarray:
        """Cluster label per hit of one event (-1: in no cluster)."""
        raise NotImplementedError

    def predict(self, events: Any) -> list[np.ndarray]:
        """Labels per hit for every event."""
        return [self.cluster(hits) for hits in event_hits(events)]

    def fit_predict(self, events: Any, y: Any = None) -> list[np.ndarray]:
        return self.fit(events, y).predict(events)


def event_hits(events: Any) -> Iterator[dict[str, np.ndarray]]:
    """The hits of each event as numpy arrays, from an awkward array of hit lists or a sequence of mappings.

    An awkward array is flattened once per field and sliced by its offsets (converting event by event would
    cost more than clustering)."""
    if hasattr(events, "fields") and hasattr(events, "layout"):
        import awkward as ak

        counts = ak.to_numpy(ak.num(events, axis=1))
        columns = {field: ak.to_numpy(ak.flatten(events[field], axis=1)) for field in events.fields}
        bounds = np.r_[0, np.cumsum(counts)]
        for start, stop in zip(bounds[:-1], bounds[1:]):
            yield {field: values[start:stop] for field, values in columns.items()}
        return
    if not isinstance(events, Sequence) and not isinstance(events, Iterator):
        raise TypeError(f"events must be an awkward array of hit lists or a sequence of mappings, got {type(events).__name__}")
    for hits in events:
        yield {field: np.asarray(values) for field, values in hits.items()}


def require(hits: Hits, fields: Sequence[str], method: str) -> None:
    """Raise a KeyError naming the fields ``method`` needs and the event lacks."""
    missing = [field for field in fields if field not in hits]
    if missing:
        raise KeyError(f"{method} needs hit fields {', '.join(missing)}; the event has {', '.join(hits) or 'none'}")
