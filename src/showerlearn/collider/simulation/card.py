"""The parametrised detector: every number of Delphes' CMS card that the simulation uses, with its source.

Source of every default below, unless a field says otherwise: Delphes, ``cards/delphes_card_CMS.tcl``
(github.com/delphes/delphes, commit 0593ac3a), the card the field uses for a generic CMS-like detector
(J. de Favereau et al., "DELPHES 3", JHEP 02 (2014) 057, arXiv:1307.6346). The card itself cites
arXiv:1405.6569 (CMS tracking) for the momentum resolutions, arXiv:1306.2016 and arXiv:1502.02701
(CMS ECAL) for the electromagnetic resolution, and arXiv:1211.4462 (CMS b-tagging) for the tagging
efficiencies. Every field can be changed from a config (``detector.ecal.energy_min: 1.0``...).

What differs from the card, and why (documented in ``docs/collider.md``): straight-line propagation
to the calorimeter (Delphes bends charged particles in the 3.8 T field; here only the consequence that
matters most is kept: charged particles below the looper threshold never reach the calorimeter);
calorimeter cells of uniform width inside each of the card's eta segments (the card's forward towers
have slightly varying widths); no rescaling of tracks by a more precise tower, no jet energy scale, no
pile-up.
"""

from __future__ import annotations

import math

import numpy as np
from pydantic import ConfigDict, Field, model_validator

from showerlearn.config.base import SettingsModel

__all__ = [
    "BTagCard",
    "CaloResolution",
    "CaloSegment",
    "CalorimeterCard",
    "DetectorCard",
    "EtaPtTable",
    "LeptonCard",
    "TrackResolution",
]

_INF = math.inf


def _upper_inclusive_bin(edges: list[float], value: np.ndarray) -> np.ndarray:
    """Bin index for bins (lower, upper] as the card's ``abs(eta) <= 1.5`` reads; the first bin also
    holds its lower edge; -1 below, len(edges) - 1 above."""
    index = np.searchsorted(edges, value, side="left") - 1
    return np.where(np.asarray(value) == edges[0], 0, index)


class EtaPtTable(SettingsModel):
    """A value per (|eta|, pT) bin and zero outside the bins: the card's ``EfficiencyFormula`` tables.

    ``values[i][j]`` holds for ``eta_edges[i] <= |eta| < eta_edges[i+1]`` and
    ``pt_edges[j] < pT <= pt_edges[j+1]`` (GeV); the last pT edge may be ``inf``.
    """

    # the last pT edge may be inf (an open last bin), which settings refuse elsewhere; NaN is refused below
    model_config = ConfigDict(allow_inf_nan=True)

    eta_edges: list[float] = Field(description="|eta| bin edges, increasing.")
    pt_edges: list[float] = Field(description="pT bin edges [GeV], increasing; the last may be inf.")
    values: list[list[float]] = Field(description="values[eta bin][pT bin].")

    @model_validator(mode="after")
    def _shape(self) -> EtaPtTable:
        finite = [*self.eta_edges, *self.pt_edges[:-1], *(value for row in self.values for value in row)]
        if not np.all(np.isfinite(finite)) or np.isnan(self.pt_edges[-1:]).any():
            raise ValueError("edges and values must be finite numbers (the last pT edge may be inf)")
        n_eta, n_pt = len(self.eta_edges) - 1, len(self.pt_edges) - 1
        if n_eta < 1 or n_pt < 1 or len(self.values) != n_eta or any(len(row) != n_pt for row in self.values):
            raise ValueError(f"values must be {n_eta} rows of {n_pt} (eta bins x pT bins), got {self.values}")
        if np.any(np.diff(self.eta_edges) <= 0) or np.any(np.diff(self.pt_edges) <= 0):
            raise ValueError("eta_edges and pt_edges must increase")
        return self

    def __call__(self, abs_eta: np.ndarray, pt: np.ndarray) -> np.ndarray:
        eta_bin = _upper_inclusive_bin(self.eta_edges, abs_eta)
        pt_bin = np.searchsorted(self.pt_edges, pt, side="left") - 1  # pT > lower edge, <= upper edge
        inside = (eta_bin >= 0) & (eta_bin < len(self.values)) & (pt_bin >= 0) & (pt_bin < len(self.values[0]))
        table = np.asarray(self.values, dtype=np.float64)
        return np.where(
            inside, table[np.clip(eta_bin, 0, table.shape[0] - 1), np.clip(pt_bin, 0, table.shape[1] - 1)], 0.0
        )


class TrackResolution(SettingsModel):
    """Relative transverse-momentum resolution sigma(pT)/pT = sqrt(a^2 + (b pT)^2) per |eta| bin (the
    card's ``MomentumSmearing``); tracks outside the last bin are not smeared (they are not tracked)."""

    eta_edges: list[float] = Field(description="|eta| bin edges, increasing.")
    constant: list[float] = Field(description="a per |eta| bin (multiple scattering term).")
    slope: list[float] = Field(description="b per |eta| bin [1/GeV] (curvature term).")

    @model_validator(mode="after")
    def _shape(self) -> TrackResolution:
        if not len(self.constant) == len(self.slope) == len(self.eta_edges) - 1:
            raise ValueError("constant and slope need one value per |eta| bin")
        return self

    def relative(self, abs_eta: np.ndarray, pt: np.ndarray) -> np.ndarray:
        index = np.clip(_upper_inclusive_bin(self.eta_edges, abs_eta), 0, len(self.constant) - 1)
        return np.hypot(np.asarray(self.constant)[index], np.asarray(self.slope)[index] * pt)


class CaloSegment(SettingsModel):
    """One eta segment of a calorimeter: cells of equal width in |eta| up to ``eta_max``, ``n_phi`` in phi."""

    eta_max: float = Field(gt=0.0, description="Upper |eta| of the segment (the lower is the previous segment's).")
    eta_width: float = Field(gt=0.0, description="Cell width in eta (rounded so that whole cells fill the segment).")
    n_phi: int = Field(ge=1, description="Cells in phi (2 pi / n_phi wide).")


class CaloResolution(SettingsModel):
    """sigma(E) = k(eta) sqrt((c E)^2 + s^2 E + n^2) for |eta| up to ``eta_max``, with the card's eta shape
    k(eta) = k0 + k2 (|eta| - eta0)^2 (1 where the card has none)."""

    eta_max: float = Field(gt=0.0, description="Upper |eta| of the region (the lower is the previous region's).")
    constant: float = Field(ge=0.0, description="c, the constant term.")
    stochastic: float = Field(ge=0.0, description="s, the stochastic term [sqrt(GeV)].")
    noise: float = Field(0.0, ge=0.0, description="n, the noise term [GeV].")
    k0: float = Field(1.0, gt=0.0, description="Eta shape: constant part.")
    k2: float = Field(0.0, ge=0.0, description="Eta shape: quadratic coefficient.")
    eta0: float = Field(0.0, ge=0.0, description="Eta shape: |eta| of its minimum.")


class CalorimeterCard(SettingsModel):
    """Granularity, resolution and thresholds of one calorimeter (the card's ``SimpleCalorimeter``)."""

    segments: list[CaloSegment] = Field(description="Eta segments from |eta| = 0 outwards.")
    resolution: list[CaloResolution] = Field(description="Resolution regions from |eta| = 0 outwards.")
    energy_min: float = Field(ge=0.0, description="Cells below this measured energy are dropped [GeV] (EnergyMin).")
    significance_min: float = Field(ge=0.0, description="... and below this many sigma (EnergySignificanceMin).")

    @model_validator(mode="after")
    def _increasing(self) -> CalorimeterCard:
        for name, edges in (
            ("segments", [s.eta_max for s in self.segments]),
            ("resolution", [r.eta_max for r in self.resolution]),
        ):
            if not edges or np.any(np.diff(edges) <= 0):
                raise ValueError(f"{name} must be given from |eta| = 0 outwards with increasing eta_max")
        return self

    @property
    def eta_max(self) -> float:
        return self.segments[-1].eta_max

    def sigma(self, abs_eta: np.ndarray, energy: np.ndarray) -> np.ndarray:
        """Absolute energy resolution [GeV]; zero beyond the last region (no measurement there)."""
        edges = np.array([r.eta_max for r in self.resolution])
        index = np.searchsorted(edges, abs_eta, side="left")  # |eta| <= eta_max belongs to the region
        inside = index < len(edges)
        index = np.clip(index, 0, len(edges) - 1)
        param = {
            key: np.array([getattr(r, key) for r in self.resolution])[index]
            for key in ("constant", "stochastic", "noise", "k0", "k2", "eta0")
        }
        shape = param["k0"] + param["k2"] * (abs_eta - param["eta0"]) ** 2
        core = np.sqrt((param["constant"] * energy) ** 2 + param["stochastic"] ** 2 * energy + param["noise"] ** 2)
        return np.where(inside, shape * core, 0.0)


class LeptonCard(SettingsModel):
    """Identification efficiency and isolation of electrons or muons (``Efficiency`` + ``Isolation``)."""

    efficiency: EtaPtTable = Field(description="Identification efficiency of a tracked lepton.")
    high_pt_falloff: tuple[float, float] | None = Field(
        None, description="(pT0, scale) [GeV]: above pT0 the efficiency is multiplied by exp((pT0 - pT) / scale)."
    )
    isolation_dr: float = Field(0.5, gt=0.0, description="Isolation cone (DeltaRMax).")
    isolation_pt_min: float = Field(
        0.5, ge=0.0, description="Particles below this pT do not count in the cone [GeV] (PTMin)."
    )
    isolation_ratio_max: float = Field(
        gt=0.0, description="Sum of pT in the cone over the lepton pT must be below this (PTRatioMax)."
    )

    def efficiency_of(self, abs_eta: np.ndarray, pt: np.ndarray) -> np.ndarray:
        value = self.efficiency(abs_eta, pt)
        if self.high_pt_falloff is not None:
            start, scale = self.high_pt_falloff
            value = np.where(pt > start, value * np.exp((start - pt) / scale), value)
        return value


class BTagCard(SettingsModel):
    """b-tagging by the flavour of the partons near a jet (``JetFlavorAssociation`` + ``BTagging``).

    A jet's flavour is 5 if a b quark lies within ``association_dr`` of its axis, else 4 for a c quark,
    else 0; quarks count from ``parton_pt_min`` and up to ``parton_eta_max``. Tagging probabilities:
    ``a tanh(b pT) c / (1 + d pT)`` for b and c jets (``b_efficiency``, ``c_mistag`` = (a, b, c, d)) and
    ``a + b pT`` for light jets (``light_mistag``).
    """

    association_dr: float = Field(0.5, gt=0.0, description="Parton-jet matching radius (DeltaR).")
    parton_pt_min: float = Field(1.0, ge=0.0, description="Lowest pT of a matched quark [GeV] (PartonPTMin).")
    parton_eta_max: float = Field(2.5, gt=0.0, description="Largest |eta| of a matched quark (PartonEtaMax).")
    b_efficiency: tuple[float, float, float, float] = Field(
        (0.85, 0.0025, 25.0, 0.063), description="b jets: (a, b, c, d)."
    )
    c_mistag: tuple[float, float, float, float] = Field((0.25, 0.018, 1.0, 0.0013), description="c jets: (a, b, c, d).")
    light_mistag: tuple[float, float] = Field((0.01, 0.000038), description="light jets: (a, b).")

    def probability(self, flavour: np.ndarray, pt: np.ndarray) -> np.ndarray:
        def turn_on(a: float, b: float, c: float, d: float) -> np.ndarray:
            return a * np.tanh(b * pt) * c / (1.0 + d * pt)

        light = self.light_mistag[0] + self.light_mistag[1] * pt
        return np.where(
            flavour == 5, turn_on(*self.b_efficiency), np.where(flavour == 4, turn_on(*self.c_mistag), light)
        )


def _hadron_tracking() -> EtaPtTable:
    return EtaPtTable(eta_edges=[0.0, 1.5, 2.5], pt_edges=[0.1, 1.0, _INF], values=[[0.70, 0.95], [0.60, 0.85]])


def _electron_tracking() -> EtaPtTable:
    return EtaPtTable(
        eta_edges=[0.0, 1.5, 2.5], pt_edges=[0.1, 1.0, 100.0, _INF], values=[[0.73, 0.95, 0.99], [0.50, 0.83, 0.90]]
    )


def _muon_tracking() -> EtaPtTable:
    return EtaPtTable(eta_edges=[0.0, 1.5, 2.5], pt_edges=[0.1, 1.0, _INF], values=[[0.75, 0.99], [0.70, 0.98]])


def _resolution(constant: list[float], slope: list[float]) -> TrackResolution:
    return TrackResolution(eta_edges=[0.0, 0.5, 1.5, 2.5], constant=constant, slope=slope)


def _ecal() -> CalorimeterCard:
    # 0.0174 x 2pi/360 cells to |eta| = 2.958 (barrel and HGCAL endcap), HF-like 0.175 x 2pi/36 beyond
    stochastic, constant, noise = 0.11, 0.008, 0.40
    return CalorimeterCard(
        segments=[
            CaloSegment(eta_max=2.958, eta_width=0.0174, n_phi=360),
            CaloSegment(eta_max=5.0, eta_width=0.175, n_phi=36),
        ],
        resolution=[
            CaloResolution(
                eta_max=1.5, constant=constant, stochastic=stochastic, noise=noise, k0=1.0, k2=0.64, eta0=0.0
            ),
            CaloResolution(
                eta_max=2.5, constant=constant, stochastic=stochastic, noise=noise, k0=2.16, k2=5.6, eta0=2.0
            ),
            CaloResolution(eta_max=5.0, constant=0.107, stochastic=2.08),
        ],
        energy_min=0.5,
        significance_min=2.0,
    )


def _hcal() -> CalorimeterCard:
    # 5 degree towers (0.087 x 2pi/72) to |eta| = 1.653, 10 degree towers to 4.525, 20 degree to 5
    return CalorimeterCard(
        segments=[
            CaloSegment(eta_max=1.653, eta_width=0.087, n_phi=72),
            CaloSegment(eta_max=4.525, eta_width=0.175, n_phi=36),
            CaloSegment(eta_max=5.0, eta_width=0.2375, n_phi=18),
        ],
        resolution=[
            CaloResolution(eta_max=3.0, constant=0.050, stochastic=1.50),
            CaloResolution(eta_max=5.0, constant=0.130, stochastic=2.70),
        ],
        energy_min=1.0,
        significance_min=2.0,
    )


class DetectorCard(SettingsModel):
    """A CMS-like detector after Delphes' CMS card (source and differences: the module docstring)."""

    magnetic_field_t: float = Field(3.8, ge=0.0, description="Solenoid field [T] (Bz).")
    calorimeter_radius_m: float = Field(
        1.29,
        gt=0.0,
        description="Radius of the field volume [m] (Radius): charged particles with pT < 0.3 B R / 2 loop inside it.",
    )
    hadron_tracking: EtaPtTable = Field(
        default_factory=_hadron_tracking, description="Charged-hadron tracking efficiency."
    )
    electron_tracking: EtaPtTable = Field(
        default_factory=_electron_tracking, description="Electron tracking efficiency."
    )
    muon_tracking: EtaPtTable = Field(default_factory=_muon_tracking, description="Muon tracking efficiency.")
    hadron_resolution: TrackResolution = Field(
        default_factory=lambda: _resolution([0.01, 0.015, 0.025], [1.5e-4, 2.5e-4, 5.5e-4]),
        description="Charged-hadron pT resolution.",
    )
    electron_resolution: TrackResolution = Field(
        default_factory=lambda: _resolution([0.03, 0.05, 0.15], [1.3e-3, 1.7e-3, 3.1e-3]),
        description="Electron pT resolution.",
    )
    muon_resolution: TrackResolution = Field(
        default_factory=lambda: _resolution([0.01, 0.015, 0.025], [1.0e-4, 1.5e-4, 3.5e-4]),
        description="Muon pT resolution.",
    )
    ecal: CalorimeterCard = Field(default_factory=_ecal, description="Electromagnetic calorimeter.")
    hcal: CalorimeterCard = Field(default_factory=_hcal, description="Hadronic calorimeter.")
    ecal_fractions: dict[int, float] = Field(
        default_factory=lambda: {11: 1.0, 22: 1.0, 111: 1.0, 310: 0.3, 3122: 0.3},
        description="|PDG id| -> fraction of the energy deposited in the ECAL (the rest goes to the HCAL; "
        "muons and invisible particles deposit nothing; every other particle: 0).",
    )
    electron: LeptonCard = Field(
        default_factory=lambda: LeptonCard(
            efficiency=EtaPtTable(eta_edges=[0.0, 1.5, 2.5], pt_edges=[10.0, _INF], values=[[0.95], [0.85]]),
            isolation_ratio_max=0.12,
        ),
        description="Electron identification and isolation.",
    )
    muon: LeptonCard = Field(
        default_factory=lambda: LeptonCard(
            efficiency=EtaPtTable(eta_edges=[0.0, 1.5, 2.4], pt_edges=[10.0, _INF], values=[[0.95], [0.95]]),
            high_pt_falloff=(1000.0, 2000.0),  # the card's 0.95 exp(0.5 - pT * 5e-4) above 1 TeV
            isolation_ratio_max=0.25,
        ),
        description="Muon identification and isolation.",
    )
    btag: BTagCard = Field(default_factory=BTagCard, description="b-tagging.")

    @property
    def looper_pt(self) -> float:
        """pT [GeV] below which a charged particle curls up inside the field volume: 0.3 B R / 2."""
        return 0.3 * self.magnetic_field_t * self.calorimeter_radius_m / 2.0
