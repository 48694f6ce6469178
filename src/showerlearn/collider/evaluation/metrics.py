"""Working points of an event classifier: background rejection at a signal efficiency, and the expected
signal and background at a luminosity with the discovery significance they give.

A working point at signal efficiency eps_S keeps events with ``score >= cut``, the cut keeping the
fraction eps_S of the signal events (:func:`showerlearn.metrics.classification.cut_for_efficiency`).
The background efficiency eps_B is the fraction of background events kept, and the rejection 1/eps_B
(infinite when no background event is kept: metrics.json holds null for it and names it ``unbounded``, so that
tables show it as infinite and rank it first; the rejection curve leaves such a bin empty). Efficiencies count
events, as in the paper's ROC curves; yields weigh them by their cross sections.

Significance: the Asimov discovery significance of Cowan, Cranmer, Gross, Vitells (Eur. Phys. J. C 71
(2011) 1554, eq. 97), ``Z = sqrt(2 ((s + b) ln(1 + s/b) - s))``, which is ``s / sqrt(b)`` for s << b.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from showerlearn.metrics.classification import cut_for_efficiency

__all__ = ["WorkingPoint", "asimov_significance", "working_point"]

#: pb^-1 per fb^-1
PB_PER_FB = 1000.0


@dataclass(frozen=True)
class WorkingPoint:
    """A cut at one signal efficiency and what it keeps.

    ``signal`` and ``background``: expected events at the luminosity (NaN without weights);
    ``n_background``: background events of the sample kept (the statistics behind the rejection);
    ``achieved_efficiency``: the share of the signal events the cut keeps, above ``signal_efficiency`` when
    scores tie at the cut (a saturated classifier's scores of exactly 1, say).
    """

    signal_efficiency: float
    cut: float
    background_efficiency: float
    n_background: int
    signal: float
    background: float
    achieved_efficiency: float

    @property
    def rejection(self) -> float:
        """1 / eps_B; infinite when no background event passes, NaN when there is no background event at all."""
        if self.background_efficiency == 0:
            return np.inf
        return 1.0 / self.background_efficiency if self.background_efficiency > 0 else np.nan

    @property
    def significance(self) -> float:
        return asimov_significance(self.signal, self.background)


def asimov_significance(signal: float, background: float) -> float:
    """Asimov discovery significance of ``signal`` over ``background`` expected events: infinite for a signal over
    no background (the formula's limit as b -> 0), NaN where either is unknown or b < 0."""
    if not np.isfinite(signal) or not background >= 0:
        return np.nan
    if background == 0:
        return np.inf if signal > 0 else np.nan
    if signal <= 0:
        return 0.0
    return float(np.sqrt(2.0 * ((signal + background) * np.log1p(signal / background) - signal)))


def working_point(
    labels: np.ndarray,
    scores: np.ndarray,
    efficiency: float,
    weights_pb: np.ndarray | None = None,
    luminosity_fb: float = 3000.0,
) -> WorkingPoint:
    """The working point at signal efficiency ``efficiency`` (labels: 1 signal, 0 background).

    ``weights_pb``: each event's cross-section weight [pb], adding up over a sample of a process to its
    cross section; the yields are ``luminosity x sum of the kept weights``.
    """
    labels, scores = np.asarray(labels), np.asarray(scores, dtype=float)
    signal, background = labels == 1, labels == 0
    cut = cut_for_efficiency(scores[signal], efficiency)
    kept = scores >= cut
    n_background = int(np.count_nonzero(kept & background))
    eps_b = n_background / np.count_nonzero(background) if background.any() else np.nan
    yields = (np.nan, np.nan)
    if weights_pb is not None and np.isfinite(weights_pb).all():
        scale = luminosity_fb * PB_PER_FB
        yields = (scale * float(weights_pb[kept & signal].sum()), scale * float(weights_pb[kept & background].sum()))
    achieved = float(np.count_nonzero(kept & signal) / np.count_nonzero(signal)) if signal.any() else np.nan
    return WorkingPoint(efficiency, cut, eps_b, n_background, *yields, achieved)
