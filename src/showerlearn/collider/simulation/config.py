"""Configuration of the collider event generator: processes as Pythia settings, jets, the selection
that puts every process in the signal's kinematic region, and the detector card.

Defaults follow Hammad, Moretti, Nojiri, JHEP 03 (2024) 144 (arXiv:2401.00452): signal
gg -> H -> hh -> b b~ b b~ with a heavy scalar H of 1 TeV at the 14 TeV HL-LHC, background QCD
multijet (90 %) and t t~ (10 %), each h one large-radius jet. A process is a list of Pythia settings
strings, so any Pythia process can be added from a config; the strings may use the placeholders of
:data:`PLACEHOLDERS`, filled from the heavy-scalar mass and the selection so that a mass scan moves
the generation cuts with the mass.
"""

from __future__ import annotations

import string
from pathlib import Path

from pydantic import Field, model_validator

from showerlearn.collider.simulation.card import DetectorCard
from showerlearn.config.base import SettingsModel

__all__ = [
    "PLACEHOLDERS",
    "ColliderSimulationConfig",
    "JetConfig",
    "ProcessConfig",
    "SelectionConfig",
    "default_processes",
]

#: placeholders a process's settings may use, and what they are filled with
PLACEHOLDERS: dict[str, str] = {
    "mass": "heavy-scalar mass [GeV] (signal_mass)",
    "width": "heavy-scalar width [GeV]: signal_width_fraction x mass",
    "mhat_min": "lower edge of the generated partonic mass: mass_window[0] x mass x (1 - generator_margin)",
    "mhat_max": "upper edge of the generated partonic mass: mass_window[1] x mass x (1 + generator_margin)",
    "pthat_min": "lowest generated partonic pT: fatjet_pt_min_fraction x mass x (1 - generator_margin)",
}


class ProcessConfig(SettingsModel):
    """One physics process: its Pythia settings and its share of the written events."""

    settings: list[str] = Field(description="Pythia settings strings ('Key = value'), with optional {placeholders}.")
    signal: bool = Field(False, description="Signal (label 1) or background (label 0).")
    fraction: float = Field(ge=0.0, le=1.0, description="Share of the written events; the shares add up to 1.")
    cross_section_pb: float | None = Field(
        None,
        gt=0.0,
        description="Generated cross section to use instead of Pythia's [pb] (e.g. a benchmark signal normalisation).",
    )


_PHASE_SPACE = [
    "PhaseSpace:pTHatMin = {pthat_min}",
    "PhaseSpace:mHatMin = {mhat_min}",
    "PhaseSpace:mHatMax = {mhat_max}",
]


def default_processes() -> dict[str, ProcessConfig]:
    """The paper's three processes. The heavy scalar is Pythia's H2 (id 35) made in gluon fusion, decaying
    to hh only. Its width is forced narrow: with Pythia's default H2 couplings a 1 TeV H2 is 765 GeV wide,
    so most events would sit far below the mass. Its cross section follows from those default couplings
    (set ``cross_section_pb`` for the normalisation of another model)."""
    return {
        "signal": ProcessConfig(
            settings=[
                "Higgs:useBSM = on",
                "HiggsBSM:gg2H2 = on",
                "35:m0 = {mass}",
                "35:doForceWidth = on",
                "35:mWidth = {width}",
                "35:onMode = off",
                "35:onIfMatch = 25 25",
                "25:onMode = off",
                "25:onIfMatch = 5 -5",
            ],
            signal=True,
            fraction=0.5,
        ),
        "qcd": ProcessConfig(settings=["HardQCD:all = on", *_PHASE_SPACE], fraction=0.45),
        "ttbar": ProcessConfig(settings=["Top:gg2ttbar = on", "Top:qqbar2ttbar = on", *_PHASE_SPACE], fraction=0.05),
    }


class JetConfig(SettingsModel):
    """Jet definitions (FastJet anti-kT on the particle-flow objects)."""

    fatjet_radius: float = Field(
        1.0,
        gt=0.0,
        le=2.0,
        description="Large-R jet radius: R = 1.0 holds both b quarks of an h with pT >~ 2 m_h / R = 250 GeV.",
    )
    fatjet_pt_min: float = Field(100.0, ge=0.0, description="Lowest pT of a stored large-R jet [GeV].")
    jet_radius: float = Field(0.5, gt=0.0, le=2.0, description="Small-R jet radius (Delphes' CMS card: 0.5).")
    jet_pt_min: float = Field(
        20.0, ge=0.0, description="Lowest pT of a stored small-R jet [GeV] (the card's JetPTMin)."
    )
    eta_max: float = Field(2.5, gt=0.0, description="Largest |eta| of a stored jet (the tracker's acceptance).")
    constituent_jets: int = Field(2, ge=1, description="Constituents are stored for this many leading large-R jets.")


class SelectionConfig(SettingsModel):
    """The signal's kinematic region, applied to every process after reconstruction.

    An event is kept when its two leading large-R jets have pT > ``fatjet_pt_min_fraction`` x mass and
    |eta| < ``fatjet_eta_max``, and their invariant mass lies in ``mass_window`` x mass. Backgrounds are
    generated with partonic cuts looser by ``generator_margin`` (the placeholders of their settings), so
    the generator spends its time near the region while the cuts that define it act on reconstructed
    jets, as in an analysis.
    """

    fatjet_pt_min_fraction: float = Field(
        0.25, gt=0.0, le=0.5, description="Leading two large-R jets: pT > this x mass."
    )
    fatjet_eta_max: float = Field(2.5, gt=0.0, description="Leading two large-R jets: |eta| below this.")
    mass_window: tuple[float, float] = Field((0.8, 1.2), description="Di-jet mass window, as fractions of the mass.")
    generator_margin: float = Field(
        0.25, ge=0.0, lt=1.0, description="Relative loosening of the partonic generator cuts."
    )

    @model_validator(mode="after")
    def _window(self) -> SelectionConfig:
        low, high = self.mass_window
        if not 0.0 < low < high:
            raise ValueError(f"mass_window must be (low, high) with 0 < low < high, got {self.mass_window}")
        return self


class ColliderSimulationConfig(SettingsModel):
    """Everything ``simulate_collider`` needs besides the seed, the output path and the worker count.

    The output depends only on the config and the seed, never on the number of workers: each process
    is generated in chunks of ``chunk_size`` selected events, chunk ``i`` of process ``p`` seeded from
    ``(seed, p, i)``.
    """

    n_events: int = Field(10_000, ge=1, description="Selected events written, all processes together.")
    chunk_size: int = Field(
        250, ge=1, le=100_000, description="Selected events per deterministic chunk (one Pythia run each)."
    )
    ecm_gev: float = Field(14_000.0, gt=0.0, description="Proton-proton centre-of-mass energy [GeV] (HL-LHC: 14 TeV).")
    signal_mass: float = Field(1000.0, gt=250.0, description="Heavy-scalar mass [GeV] ({mass} in the settings).")
    signal_width_fraction: float = Field(
        0.01, gt=0.0, le=0.5, description="Heavy-scalar width over its mass ({width})."
    )
    processes: dict[str, ProcessConfig] = Field(default_factory=default_processes, description="Processes by name.")
    common_settings: list[str] = Field(
        default_factory=list, description="Pythia settings added to every process (a tune, PDFs...), before its own."
    )
    jets: JetConfig = Field(default_factory=JetConfig)
    selection: SelectionConfig = Field(default_factory=SelectionConfig)
    detector: DetectorCard = Field(default_factory=DetectorCard)
    max_tries_per_event: int = Field(
        200,
        ge=1,
        description="A chunk fails with an error after this many generated events per selected one (a cut that rejects everything).",
    )
    cache_dir: Path | None = Field(
        None, description="Chunks are kept here, keyed by a hash of their settings; None: no cache."
    )

    @model_validator(mode="after")
    def _processes(self) -> ColliderSimulationConfig:
        if not self.processes:
            raise ValueError("processes: at least one process is needed")
        total = sum(process.fraction for process in self.processes.values())
        if abs(total - 1.0) > 1e-6:
            shares = ", ".join(f"{name}={p.fraction:g}" for name, p in self.processes.items())
            raise ValueError(f"the process fractions must add up to 1, got {total:g} ({shares})")
        for name, process in self.processes.items():
            for position, setting in enumerate(process.settings):
                _check_placeholders(f"processes.{name}.settings.{position}", setting)
        return self

    def placeholder_values(self) -> dict[str, float]:
        """What each placeholder of :data:`PLACEHOLDERS` stands for at this mass point [GeV]."""
        mass, selection = self.signal_mass, self.selection
        margin = selection.generator_margin
        return {
            "mass": mass,
            "width": self.signal_width_fraction * mass,
            "mhat_min": selection.mass_window[0] * mass * (1.0 - margin),
            "mhat_max": selection.mass_window[1] * mass * (1.0 + margin),
            "pthat_min": selection.fatjet_pt_min_fraction * mass * (1.0 - margin),
        }

    def pythia_settings(self, process: str) -> list[str]:
        """The complete settings of ``process`` as Pythia reads them: beams, common settings, its own."""
        values = {key: f"{value:.6g}" for key, value in self.placeholder_values().items()}
        own = [setting.format(**values) for setting in (*self.common_settings, *self.processes[process].settings)]
        return [f"Beams:eCM = {self.ecm_gev:.6g}", *own]

    def only(self, names: list[str]) -> ColliderSimulationConfig:
        """This config with only the processes ``names``, their fractions scaled to add up to 1."""
        unknown = [name for name in names if name not in self.processes]
        if unknown:
            raise ValueError(f"unknown process {', '.join(map(repr, unknown))}; known: {', '.join(self.processes)}")
        kept = {name: self.processes[name] for name in names}
        total = sum(process.fraction for process in kept.values())
        if total <= 0:
            raise ValueError(f"the processes {', '.join(names)} all have fraction 0")
        scaled = {
            name: process.model_copy(update={"fraction": process.fraction / total}) for name, process in kept.items()
        }
        return self.model_copy(update={"processes": scaled})

    def at_mass(self, mass: float) -> ColliderSimulationConfig:
        """This config at another heavy-scalar mass (one point of a scan)."""
        return type(self).model_validate({**self.model_dump(), "signal_mass": mass})


def _check_placeholders(where: str, setting: str) -> None:
    for _, field, _, _ in string.Formatter().parse(setting):
        if field is not None and field not in PLACEHOLDERS:
            raise ValueError(
                f"{where}: unknown placeholder {{{field}}} in {setting!r}; known: {', '.join('{' + k + '}' for k in PLACEHOLDERS)}"
            )
