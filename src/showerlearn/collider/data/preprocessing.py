"""Preprocessing of token streams (jet constituents, reconstructed objects), fitted on the training split.

Two objects, applied in this order:

* :class:`JetAlignment` puts every jet in a standard orientation, from its own constituents only (so
  it has nothing to fit and cannot leak information between events): centring on the jet axis (the
  ``deta``/``dphi`` the files already hold relative to it) or on the pT-weighted centroid, rotation
  of the principal axis of the pT-weighted (delta eta, delta phi) distribution to the vertical, and
  flips that put the side carrying more pT at positive delta eta and at positive delta phi, as in
  Hammad, Moretti, Nojiri (arXiv:2401.00452) after the jet images of Macaluso and Shih
  (arXiv:1803.00107);
* :class:`TokenPreprocessor` orders the tokens (by decreasing pT), truncates or pads every event to
  ``n_tokens`` with a key padding mask, and standardises each continuous feature with the mean and
  standard deviation it learned in :meth:`~TokenPreprocessor.fit`, over the real tokens of the
  training split and nothing else. Padding stays exactly zero; categorical features (charge,
  category, jet index, b-tag, and the indicators ``is_*``, also after a stream prefix such as weaver-core's
  ``part_``) are left as they are. Its parameters are
  saved to and loaded from JSON.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import awkward as ak
import numpy as np

from showerlearn.io import read_json_object, write_json_atomic

__all__ = ["CATEGORICAL_FEATURES", "JetAlignment", "Padded", "TokenPreprocessor", "is_categorical"]

#: features that label a token rather than measure it: never standardised (nor are indicators, ``is_*``)
CATEGORICAL_FEATURES = frozenset({"charge", "category", "jet_index", "btag"})
#: the prefixes of particle features in weaver-core's and CMS's columnar files (``part_charge``, ``pfcand_charge``)
STREAM_PREFIXES = ("part_", "pfcand_", "pf_", "cand_")


def is_categorical(name: str) -> bool:
    """Whether feature ``name`` labels a token: one of :data:`CATEGORICAL_FEATURES` or an indicator (``is_*``,
    ``isX...``), as it is or after a particle-stream prefix of :data:`STREAM_PREFIXES` (weaver-core's
    ``part_charge``, ``part_isElectron``, ``part_jet_index``; not any first word: a ``jet_charge`` is measured)."""
    names = [name] + [name.removeprefix(prefix) for prefix in STREAM_PREFIXES if name.startswith(prefix)]
    return any(n in CATEGORICAL_FEATURES or n.startswith("is_") or re.match(r"is[A-Z]", n) is not None for n in names)

_FORMAT = "showerlearn-collider-token-preprocessor"


@dataclass(frozen=True)
class Padded:
    """Tokens padded to one length: ``features`` (events, n_tokens, features) float32, zero at padding;
    ``mask`` (events, n_tokens) bool, True for a real token (invert it for torch's key_padding_mask)."""

    features: np.ndarray
    mask: np.ndarray
    names: tuple[str, ...]


@dataclass(frozen=True)
class JetAlignment:
    """Centre, rotate and flip each jet's constituents in the (``deta``, ``dphi``) plane.

    Parameters
    ----------
    deta, dphi
        Fields of the token coordinates relative to the jet axis (rewritten; ``dr`` is recomputed if present).
    weight
        Field of the weights of the centroid, the principal axis and the flips (pT).
    jet
        Field telling the jet of each token (several jets per event); None: one jet per event.
    centre
        ``"axis"``: the coordinates are already relative to the jet axis; ``"centroid"``: subtract the
        weighted centroid first.
    rotate, flip
        Rotate the principal axis to the vertical; flip the heavier side to positive coordinates.
    """

    deta: str = "deta"
    dphi: str = "dphi"
    weight: str = "pt"
    jet: str | None = "jet_index"
    centre: Literal["axis", "centroid"] = "axis"
    rotate: bool = True
    flip: bool = True

    @property
    def fields(self) -> tuple[str, ...]:
        """The token fields the alignment reads."""
        return (self.deta, self.dphi, self.weight, *([self.jet] if self.jet else []))

    def __call__(self, tokens: ak.Array) -> ak.Array:
        counts = ak.to_numpy(ak.num(tokens))
        event = np.repeat(np.arange(len(counts)), counts)
        jet = ak.to_numpy(ak.flatten(tokens[self.jet])).astype(np.int64) if self.jet else np.zeros(len(event), np.int64)
        _, group = np.unique(np.stack([event, jet], axis=1), axis=0, return_inverse=True)
        group = group.reshape(-1)
        weight = ak.to_numpy(ak.flatten(tokens[self.weight])).astype(np.float64)
        x = ak.to_numpy(ak.flatten(tokens[self.deta])).astype(np.float64)
        y = ak.to_numpy(ak.flatten(tokens[self.dphi])).astype(np.float64)
        x, y = self._align(x, y, weight, group)
        aligned = ak.with_field(tokens, ak.unflatten(x, counts), self.deta)
        aligned = ak.with_field(aligned, ak.unflatten(y, counts), self.dphi)
        if "dr" in tokens.fields:
            aligned = ak.with_field(aligned, ak.unflatten(np.hypot(x, y), counts), "dr")
        return aligned

    def _align(
        self, x: np.ndarray, y: np.ndarray, weight: np.ndarray, group: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        def mean(values: np.ndarray) -> np.ndarray:
            total = np.bincount(group, weights=weight)
            return (np.bincount(group, weights=weight * values) / np.where(total > 0, total, 1.0))[group]

        if self.centre == "centroid":
            x, y = x - mean(x), y - mean(y)
        if self.rotate:
            # the principal axis makes the angle theta with the x axis; turn it by pi/2 - theta onto y
            theta = 0.5 * np.arctan2(2 * mean(x * y), mean(x * x) - mean(y * y))
            turn = 0.5 * np.pi - theta
            x, y = x * np.cos(turn) - y * np.sin(turn), x * np.sin(turn) + y * np.cos(turn)
        if self.flip:
            x = x * np.where(np.bincount(group, weights=weight * np.sign(x))[group] < 0, -1.0, 1.0)
            y = y * np.where(np.bincount(group, weights=weight * np.sign(y))[group] < 0, -1.0, 1.0)
        return x, y


def _check_finite(name: str, values: ak.Array) -> None:
    """A ValueError naming ``name`` and the first event where a kept token's value is NaN or infinite (the
    logarithm of a zero pT, say), which would otherwise reach the network as NaN after scaling."""
    bad = ak.to_numpy(ak.any(~np.isfinite(values), axis=1))
    if bad.any():
        raise ValueError(
            f"token feature {name!r} is NaN or infinite in {int(bad.sum())} event(s) (the first: event {int(np.argmax(bad))})"
        )


@dataclass
class TokenPreprocessor:
    """Order, truncate or pad, and standardise tokens; the standardisation is learned by :meth:`fit`.

    Parameters
    ----------
    features
        Token fields, in the order of the output's last axis.
    n_tokens
        Tokens per event after truncation (the hardest kept) or zero padding.
    sort_by
        Field whose decreasing values order the tokens (None: keep the input order).
    standardize
        Features to standardise; None: every feature but the categorical ones (:func:`is_categorical`).
    alignment
        Jet alignment applied first (None: none).
    settings
        Where these settings are given (``data.params.constituents``): a token field missing is then said as the
        setting to change (``data.params.constituents.features``); empty: as the parameter (``features``).
    """

    features: Sequence[str]
    n_tokens: int
    sort_by: str | None = "pt"
    standardize: Sequence[str] | None = None
    alignment: JetAlignment | None = field(default_factory=JetAlignment)
    settings: str = ""
    mean_: dict[str, float] | None = field(default=None, init=False)
    std_: dict[str, float] | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.features = tuple(self.features)
        if self.n_tokens < 1:
            raise ValueError(f"n_tokens must be >= 1, got {self.n_tokens}")
        scaled = (
            [f for f in self.features if not is_categorical(f)]
            if self.standardize is None
            else list(self.standardize)
        )
        unknown = sorted(set(scaled) - set(self.features))
        if unknown:
            raise ValueError(f"standardize names {unknown}, which are not among the features {list(self.features)}")
        self.standardize = tuple(scaled)

    def fit(self, tokens: ak.Array) -> TokenPreprocessor:
        """Learn each standardised feature's mean and standard deviation from the real tokens of ``tokens``
        (the training split), as they come out of alignment, ordering and truncation."""
        kept = self._ordered(tokens)
        self.mean_, self.std_ = {}, {}
        for name in self.standardize:
            _check_finite(name, kept[name])
            values = ak.to_numpy(ak.flatten(kept[name])).astype(np.float64)
            if len(values) == 0:
                raise ValueError("TokenPreprocessor.fit: the training tokens are empty")
            std = float(values.std())
            self.mean_[name], self.std_[name] = (
                float(values.mean()),
                std if std > 1e-12 else 1.0,
            )  # a constant feature stays centred
        return self

    def transform(self, tokens: ak.Array) -> Padded:
        """Padded, masked, standardised tokens with the parameters learned by :meth:`fit`."""
        if self.mean_ is None or self.std_ is None:
            raise RuntimeError("TokenPreprocessor.transform called before fit (or load)")
        kept = self._ordered(tokens)
        mask = ak.to_numpy(
            ak.fill_none(
                ak.pad_none(ak.ones_like(kept[self.features[0]], dtype=bool), self.n_tokens, axis=1, clip=True), False
            )
        )
        columns = []
        for name in self.features:
            values = kept[name]
            _check_finite(name, values)
            if name in self.mean_:
                values = (values - self.mean_[name]) / self.std_[name]
            columns.append(
                ak.to_numpy(ak.fill_none(ak.pad_none(values, self.n_tokens, axis=1, clip=True), 0.0)).astype(np.float32)
            )
        return Padded(np.stack(columns, axis=-1), mask, tuple(self.features))

    def fit_transform(self, tokens: ak.Array) -> Padded:
        return self.fit(tokens).transform(tokens)

    def _ordered(self, tokens: ak.Array) -> ak.Array:
        # each needed field with the setting that first asks for it: the message names the key to change
        needed: dict[str, str] = {}
        for names, setting in ((self.features, "features"), ([self.sort_by] if self.sort_by else [], "sort_by"),
                               (self.alignment.fields if self.alignment else (), "alignment")):
            for name in names:
                needed.setdefault(name, setting)
        prefix = f"{self.settings}." if self.settings else ""
        missing = [f"{name!r} ({prefix}{setting})" for name, setting in needed.items() if name not in tokens.fields]
        if missing:
            advice = "; set those settings to fields of these tokens" if self.settings else ""
            raise KeyError(f"the tokens have no field {', '.join(missing)}; they have {', '.join(tokens.fields)}{advice}")
        if self.alignment is not None:
            tokens = self.alignment(tokens)
        if self.sort_by is not None:
            tokens = tokens[ak.argsort(tokens[self.sort_by], axis=1, ascending=False, stable=True)]
        return tokens[:, : self.n_tokens]

    # --- saved parameters ------------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        return {
            "format": _FORMAT, "features": list(self.features), "n_tokens": self.n_tokens, "sort_by": self.sort_by,
            "standardize": list(self.standardize), "alignment": asdict(self.alignment) if self.alignment else None,
            "mean": self.mean_, "std": self.std_,
        }  # fmt: skip

    def save(self, path: str | Path) -> None:
        """Write the parameters (settings and learned statistics) as JSON, atomically."""
        write_json_atomic(path, self.state())

    @classmethod
    def load(cls, path: str | Path) -> TokenPreprocessor:
        return cls.from_state(read_json_object(path), str(path))

    @classmethod
    def from_state(cls, state: dict[str, Any], source: str) -> TokenPreprocessor:
        """The preprocessor of a :meth:`state` (``source`` names where it comes from in errors)."""
        if state.get("format") != _FORMAT:
            raise ValueError(f"{source}: not saved by TokenPreprocessor (format={state.get('format')!r})")
        alignment = JetAlignment(**state["alignment"]) if state["alignment"] else None
        preprocessor = cls(state["features"], state["n_tokens"], state["sort_by"], state["standardize"], alignment)
        preprocessor.mean_, preprocessor.std_ = state["mean"], state["std"]
        return preprocessor
