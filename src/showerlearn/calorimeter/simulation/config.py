"""Settings of the calorimeter simulator: the gamma source, the transport cuts, the detector response and
the background, all in one validated model. ``docs/calorimeter.md`` explains each knob and its source."""

from __future__ import annotations

from typing import Annotated, Literal

import numpy as np
from pydantic import Field, model_validator

from showerlearn.calorimeter.simulation.materials import TABLE_MAX_MEV
from showerlearn.config.base import SettingsModel

__all__ = ["CalorimeterSimulationConfig"]


class CalorimeterSimulationConfig(SettingsModel):
    """Everything ``simulate_calorimeter`` needs besides the seed, the output path and the number of workers.

    The output depends on the config and the seed only (never on the number of workers): events are made in
    chunks of ``chunk_size``, chunk ``i`` with its own random stream seeded from ``(seed, i)``.
    """

    # --- production ------------------------------------------------------------------------------------
    n_events: int = Field(10_000, ge=1, description="Number of events written.")
    chunk_size: int = Field(1000, ge=1, le=100_000, description="Events per deterministic chunk; the output depends on it.")
    geometry: Literal["califa", "toy_grid"] = Field(
        "califa", description="'califa': barrel + iPhos with photon transport; 'toy_grid': the 10 x 10 Gaussian-cluster toy.")
    compression: Literal["gzip", "lzf", "none"] = Field("gzip", description="HDF5 compression of the hit tables.")

    # --- the source: gammas from a fragment in flight --------------------------------------------------------
    n_gammas: int = Field(3, ge=1, le=64, description="Gammas per event (the maximum when n_gammas_min is set).")
    n_gammas_min: int | None = Field(None, ge=1, description="If set, gammas per event uniform in [n_gammas_min, n_gammas].")
    energy_min_mev: float = Field(0.3, ge=0.05, description="Lowest gamma energy in the fragment's frame [MeV].")
    energy_max_mev: float = Field(10.0, le=TABLE_MAX_MEV, description="Highest gamma energy in the fragment's frame [MeV].")
    energy_spectrum: Literal["uniform", "log_uniform"] = Field(
        "uniform", description="Distribution of the energies between energy_min_mev and energy_max_mev.")
    energy_lines_mev: list[Annotated[float, Field(gt=0.0)]] | None = Field(
        None, description="If set, every gamma has one of these energies (chosen uniformly) instead [MeV].")
    beta: float = Field(0.7, ge=0.0, le=0.95, description="Velocity of the emitting fragment along the beam (+z), v/c.")

    # --- transport -------------------------------------------------------------------------------------------
    photon_cut_mev: float = Field(0.05, gt=0.0, le=1.0, description="Photons below this are absorbed on the spot [MeV].")
    brems_threshold_mev: float = Field(
        2.0, ge=0.0, description="Electrons above this radiate bremsstrahlung photons before stopping [MeV].")
    brems_photon_cut_mev: float = Field(0.1, gt=0.0, description="Bremsstrahlung photons below this stay local [MeV].")

    # --- detector response -------------------------------------------------------------------------------------
    resolution_fwhm_662: float = Field(
        0.077, ge=0.0, le=1.0, description="Relative energy resolution (FWHM) of a crystal at 662 keV, scaling as 1/sqrt(E).")
    crystal_threshold_mev: float = Field(0.1, ge=0.0, description="Crystals below this measured energy are not read out [MeV].")
    saturation_mev: float = Field(30.0, gt=0.0, description="End of the gamma range: higher energies read as this, flagged saturated [MeV].")
    time_resolution_ns: float = Field(1.0, ge=0.0, description="Gaussian sigma of the crystal time [ns].")

    # --- background ------------------------------------------------------------------------------------------
    background_hits_mean: float = Field(
        0.0, ge=0.0, le=1000.0,
        description="Mean number (Poisson) of uncorrelated background hits per event (at most 1000, 40 % of CALIFA's crystals).")
    background_energy_mev: float = Field(
        0.3, gt=0.0, description="Background energies: crystal threshold + exponential of this mean [MeV].")
    readout_window_ns: tuple[float, float] = Field(
        (-1000.0, 1000.0), description="Readout window [ns]; background times are uniform in it (the gammas leave at 0).")

    # --- toy grid -----------------------------------------------------------------------------------------------
    toy_spread_cells: float = Field(
        1.0, gt=0.0, description="toy_grid: Gaussian sigma of a cluster's energy profile, in cells.")

    @model_validator(mode="after")
    def _consistent(self) -> CalorimeterSimulationConfig:
        problems = self._unread_problems() + self._energy_problems()
        if self.geometry == "califa":  # the toy transports nothing: its cuts are unread (refused above if changed)
            problems += self._transport_problems()
        if self.n_gammas_min is not None and self.n_gammas_min > self.n_gammas:
            problems.append(f"n_gammas_min ({self.n_gammas_min}) exceeds n_gammas ({self.n_gammas})")
        if self.crystal_threshold_mev >= self.saturation_mev:
            problems.append(f"crystal_threshold_mev ({self.crystal_threshold_mev}) must be below saturation_mev "
                            f"({self.saturation_mev}): no crystal would be read out")
        if self.background_hits_mean > 0 and self.background_energy_mev > self.saturation_mev:
            problems.append(f"background_energy_mev ({self.background_energy_mev}) exceeds saturation_mev "
                            f"({self.saturation_mev}): more than a third of the background hits would read as saturated")
        if self.readout_window_ns[1] <= self.readout_window_ns[0]:
            problems.append(f"readout_window_ns {self.readout_window_ns} is empty")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def _unread_problems(self) -> list[str]:
        """Settings changed from their defaults that the geometry or the energies chosen never read: accepted,
        they would be recorded in the file's config as if they had shaped its events. Defaults pass."""
        problems = []
        for names, why in _unread_settings(self):
            if changed := [name for name in names if self._changed(name)]:
                problems.append(f"{', '.join(changed)} {'has' if len(changed) == 1 else 'have'} no effect: {why}; "
                                f"leave {'it' if len(changed) == 1 else 'them'} at the default")
        return problems

    def _changed(self, name: str) -> bool:
        value = getattr(self, name)
        if name == "beta" and self.geometry == "toy_grid" and value == 0:  # what the toy's events record: no boost
            return False
        return value != type(self).model_fields[name].default

    def _energy_problems(self) -> list[str]:
        """The gamma energies: a range in order, lines given if set, lab energies within the cross sections."""
        problems = []
        if self.energy_lines_mev is not None and not self.energy_lines_mev:
            problems.append("energy_lines_mev is empty: give at least one energy or leave it unset")
        if not self.energy_lines_mev and self.energy_max_mev < self.energy_min_mev:
            problems.append(f"energy_max_mev ({self.energy_max_mev}) is below energy_min_mev ({self.energy_min_mev})")
        if self.geometry != "califa":  # the toy neither boosts nor transports: no cross section is looked up
            return problems
        highest = max(self._rest_energy_bounds())
        highest_lab = highest * np.sqrt((1 + self.beta) / (1 - self.beta))
        if highest_lab > TABLE_MAX_MEV:
            problems.append(f"gammas of {highest} MeV at beta {self.beta} reach {highest_lab:.0f} MeV in the lab; "
                            f"the cross sections end at {TABLE_MAX_MEV:g} MeV")
        return problems

    def _transport_problems(self) -> list[str]:
        problems = []
        if min(self._rest_energy_bounds()) < self.photon_cut_mev:
            problems.append(f"gamma energies below photon_cut_mev ({self.photon_cut_mev}) would never be transported")
        if self.brems_photon_cut_mev > self.brems_threshold_mev:
            problems.append(f"brems_photon_cut_mev ({self.brems_photon_cut_mev}) must not exceed brems_threshold_mev "
                            f"({self.brems_threshold_mev}): an electron radiates no photon above its own energy")
        return problems

    def _rest_energy_bounds(self) -> list[float]:
        return self.energy_lines_mev if self.energy_lines_mev else [self.energy_min_mev, self.energy_max_mev]


#: the settings of the transport and the boost, read for CALIFA only
_TRANSPORT = ("beta", "photon_cut_mev", "brems_threshold_mev", "brems_photon_cut_mev")


def _unread_settings(config: CalorimeterSimulationConfig) -> list[tuple[tuple[str, ...], str]]:
    """(settings, why none of them is read) for the geometry and the energies of ``config``."""
    unread = []
    if config.geometry == "toy_grid":
        unread.append((_TRANSPORT, "the toy_grid geometry neither boosts (its events' beta is 0) nor transports its gammas"))
    else:
        unread.append((("toy_spread_cells",), f"it shapes the toy_grid geometry's clusters, not {config.geometry}'s"))
    if config.energy_lines_mev:
        unread.append((("energy_min_mev", "energy_max_mev", "energy_spectrum"),
                       "with energy_lines_mev set, every gamma has one of the lines"))
    return unread
