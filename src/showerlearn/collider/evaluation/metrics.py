"""Working points of an event classifier: background rejection at a signal efficiency, and the expected
signal and background at a luminosity with the discovery significance they give.

A working point at signal efficiency eps_S keeps events with ``score >= cut``, the cut keeping the
fraction eps_S of the signal events (:func:`showerlearn.metrics.classification.cut_for_efficiency`).
The background efficiency eps_B is the fraction of background events kept, and the rejection 1/eps_B.
Efficiencies count events, as in the paper's ROC curves; yields weigh them by their cross sections.

Where the cut keeps no background event of the sample, eps_B is not 0 but below what the sample can tell: its
95 % CL upper limit for none seen among N events, ``1 - 0.05^(1/N)`` (about 3/N). The rejection (of events, as
eps_B) is then a lower limit, 1 over that with N the background events; the background yield an upper limit, the
same limit with N the effective number of the weighted events, ``(sum w)^2 / sum w^2``, times the background
before the cut; and the significance a lower limit (:attr:`WorkingPoint.limited`). metrics.json names them in its
``limits`` (:mod:`showerlearn.metrics.limits`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from showerlearn.metrics.classification import cut_for_efficiency

__all__ = ["WorkingPoint", "asimov_significance", "working_point"]

#: pb^-1 per fb^-1
PB_PER_FB = 1000.0
#: the confidence level of the limits where no background event is kept
LIMIT_CONFIDENCE = 0.95


@dataclass(frozen=True)
class WorkingPoint:
    """A cut at one signal efficiency and what it keeps.

    ``signal`` and ``background``: expected events at the luminosity (NaN without weights);
    ``n_background``: background events of the sample kept (the statistics behind the rejection);
    ``achieved_efficiency``: the share of the signal events the cut keeps, above ``signal_efficiency`` when
    scores tie at the cut (a saturated classifier's scores of exactly 1, say); ``background_events``: the
    sample's background events, ``background_before``: their expected number before the cut (NaN without
    weights), ``effective_background``: their effective number ``(sum w)^2 / sum w^2`` (0 without weights): what
    the limits come from where the cut keeps none (:attr:`limited`).
    """

    signal_efficiency: float
    cut: float
    background_efficiency: float
    n_background: int
    signal: float
    background: float
    achieved_efficiency: float
    background_before: float = np.nan
    effective_background: float = 0.0
    background_events: int = 0

    @property
    def limited(self) -> bool:
        """Whether the cut keeps none of the sample's background events: the rejection and significance are then
        lower limits, the background yield an upper one."""
        return self.n_background == 0 and self.background_events > 0

    @property
    def rejection(self) -> float:
        """1 / eps_B (its lower limit where no background event passes); NaN without background events."""
        if self.limited:
            return 1.0 / _efficiency_limit(self.background_events)
        return 1.0 / self.background_efficiency if self.background_efficiency > 0 else np.nan

    @property
    def background_yield(self) -> float:
        """The expected background, or its upper limit where no background event passes (NaN where the weights
        give no positive background before the cut)."""
        if not self.limited:
            return self.background
        if not (self.background_before > 0 and self.effective_background > 0):
            return np.nan
        return _efficiency_limit(self.effective_background) * self.background_before

    @property
    def significance(self) -> float:
        """The Asimov significance of the yields (a lower limit where no background event passes)."""
        return asimov_significance(self.signal, self.background_yield) if self.background_events else np.nan


def _efficiency_limit(events: float) -> float:
    """The upper limit (:data:`LIMIT_CONFIDENCE`) on an efficiency of which none of ``events`` passed."""
    return float(-np.expm1(np.log(1.0 - LIMIT_CONFIDENCE) / events))


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
    yields, before, effective = (np.nan, np.nan), np.nan, 0.0
    if weights_pb is not None and np.isfinite(weights_pb).all():
        scale = luminosity_fb * PB_PER_FB
        yields = (scale * float(weights_pb[kept & signal].sum()), scale * float(weights_pb[kept & background].sum()))
        w = weights_pb[background]
        before = scale * float(w.sum())
        effective = float(w.sum() ** 2 / (w**2).sum()) if (w**2).sum() > 0 else 0.0
    achieved = float(np.count_nonzero(kept & signal) / np.count_nonzero(signal)) if signal.any() else np.nan
    return WorkingPoint(efficiency, cut, eps_b, n_background, *yields, achieved, before, effective,
                        int(np.count_nonzero(background)))
