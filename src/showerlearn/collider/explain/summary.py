"""Statistics of explanation maps over all explained events, per class: mean attention maps and
Grad-CAM jet images.

* :class:`MeanMaps` averages 2-D maps (an attention head's weights, query tokens x key tokens) over
  events cell by cell, counting in each cell only the events where both tokens are real, so padding
  never dilutes a mean;
* :class:`JetImages` histograms, per class and per jet, the constituents' (delta eta, delta phi) after
  the jet alignment, weighted by each event's Grad-CAM map normalised to sum 1 over its constituents
  (where the network looked) and by the constituents' share of the jet's pT (what the jet looks like),
  then divides by the number of events: the mean jet image of each.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["JetImages", "MeanMaps"]


class MeanMaps:
    """Per class, the cell-wise mean of ``(n_query, n_key)`` maps over the events where the cell is real."""

    def __init__(self, n_classes: int, shape: tuple[int, int]) -> None:
        self.total = np.zeros((n_classes, *shape))
        self.count = np.zeros((n_classes, *shape))

    def add(self, maps: np.ndarray, real: np.ndarray, labels: np.ndarray) -> None:
        """``maps`` (n, n_query, n_key), ``real`` (n, n_query, n_key) bool, ``labels`` (n,) class indices."""
        for label in np.unique(labels):
            rows = labels == label
            self.total[label] += np.where(real[rows], maps[rows], 0.0).sum(axis=0)
            self.count[label] += real[rows].sum(axis=0)

    def mean(self) -> np.ndarray:
        """(n_classes, n_query, n_key); NaN where no event had both tokens real."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.count > 0, self.total / self.count, np.nan)


def event_shares(cam: np.ndarray, real: np.ndarray) -> np.ndarray:
    """Each event's Grad-CAM map ``(n, tokens)`` over its real tokens normalised to sum 1 (0 on padding, and for an
    event whose map is 0): comparable between events of any length, whatever scale the gradients had."""
    cam = np.where(real, cam, 0.0)
    total = cam.sum(axis=1, keepdims=True)
    return np.divide(cam, total, out=np.zeros_like(cam, dtype=float), where=total > 0)


class JetImages:
    """Mean (delta eta, delta phi) images per class and jet, weighted by Grad-CAM and by pT.

    Parameters
    ----------
    n_classes, n_jets
        Classes and jets (the constituent stream's ``jet_index`` values 0..n_jets-1).
    radius
        Half-width of the image in delta eta and delta phi (the large-R jets' radius).
    bins
        Pixels along each axis.
    """

    def __init__(self, n_classes: int, n_jets: int = 2, radius: float = 1.0, bins: int = 25) -> None:
        self.edges = np.linspace(-radius, radius, bins + 1)
        self.gradcam = np.zeros((n_classes, n_jets, bins, bins))
        self.pt = np.zeros((n_classes, n_jets, bins, bins))
        self.events = np.zeros(n_classes)

    def add(
        self, deta: np.ndarray, dphi: np.ndarray, jet: np.ndarray, pt_share: np.ndarray, cam: np.ndarray,
        real: np.ndarray, labels: np.ndarray,
    ) -> None:  # fmt: skip
        """Per-token arrays ``(n, tokens)`` of a batch: coordinates, jet index, pT / pT_jet, Grad-CAM map,
        real-token mask; ``labels`` (n,) class indices."""
        cam = event_shares(cam, real)
        for label in np.unique(labels):
            rows = labels == label
            self.events[label] += rows.sum()
            for k in range(self.gradcam.shape[1]):
                tokens = real[rows] & (jet[rows] == k)
                where = (deta[rows][tokens], dphi[rows][tokens])
                self.gradcam[label, k] += np.histogram2d(*where, bins=(self.edges, self.edges), weights=cam[rows][tokens])[0]
                self.pt[label, k] += np.histogram2d(*where, bins=(self.edges, self.edges), weights=pt_share[rows][tokens])[0]

    def means(self) -> tuple[np.ndarray, np.ndarray]:
        """``(gradcam, pt)`` mean images, each (n_classes, n_jets, bins_eta, bins_phi); NaN for a class without events."""
        per_event = np.where(self.events > 0, self.events, np.nan)[:, None, None, None]
        return self.gradcam / per_event, self.pt / per_event

    @property
    def extent(self) -> Sequence[float]:
        return (self.edges[0], self.edges[-1], self.edges[0], self.edges[-1])
