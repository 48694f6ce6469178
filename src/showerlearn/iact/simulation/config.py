"""Configuration of the IACT (LST) event simulator: every physical and difficulty knob in one model.

The defaults describe a single LST at La Palma pointing at 20 deg zenith, simulated like a CTA
training production (gammas E^-2, protons E^-2.7, only triggered events kept). ``docs/simulation.md``
explains each knob, its physical source and how it moves the difficulty of the reconstruction.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from showerlearn.config.base import SettingsModel

__all__ = ["IACTSimulationConfig"]


class IACTSimulationConfig(SettingsModel):
    """Everything ``simulate_iact`` needs besides the seed, the output path and the number of workers.

    The output depends on the config and the seed only (never on ``n_jobs``): events are simulated in
    chunks of ``chunk_size`` triggered events, chunk ``i`` seeded from ``(seed, i)``.
    """

    # --- production ---------------------------------------------------------------------------------
    n_events: int = Field(10_000, ge=1, description="Number of triggered events written (gammas + protons).")
    chunk_size: int = Field(
        500, ge=1, le=100_000,
        description="Triggered events per deterministic chunk (one RNG stream each); the output depends on it.",
    )
    obs_id: int = Field(1, ge=0, description="Observation (run) id written in every table.")
    proton_fraction: float = Field(
        0.5, ge=0.0, le=1.0, description="Fraction of the written (triggered) events that are protons."
    )

    # --- primaries: spectra, directions, impacts -----------------------------------------------------------
    gamma_source: Literal["point", "diffuse"] = Field(
        "point", description="'point': all gammas from one direction; 'diffuse': uniform within gamma_view_cone_deg."
    )
    point_source_offset_deg: float = Field(
        0.0, ge=0.0, le=3.0,
        description="Offset of the point-like gamma source from the camera centre along +fov_lat (0.4 = LST wobble).",
    )
    gamma_view_cone_deg: float = Field(
        2.5, ge=0.0, le=20.0, description="Radius of the cone (around the pointing) diffuse gammas come from."
    )
    proton_view_cone_deg: float = Field(
        8.0, ge=0.0, le=20.0, description="Radius of the cone (around the pointing) protons come from (isotropic)."
    )
    gamma_spectral_index: float = Field(-2.0, le=-1.01, ge=-5.0, description="Power-law index of the thrown gammas.")
    proton_spectral_index: float = Field(
        -2.7, le=-1.01, ge=-5.0, description="Power-law index of the thrown protons (cosmic-ray spectrum).",
    )
    gamma_energy_min_tev: float = Field(0.02, gt=0.0, description="Lowest thrown gamma energy [TeV].")
    gamma_energy_max_tev: float = Field(20.0, gt=0.0, description="Highest thrown gamma energy [TeV].")
    proton_energy_min_tev: float = Field(0.05, gt=0.0, description="Lowest thrown proton energy [TeV].")
    proton_energy_max_tev: float = Field(50.0, gt=0.0, description="Highest thrown proton energy [TeV].")
    gamma_scatter_radius_m: float = Field(
        400.0, gt=0.0, description="Impact points uniform in a disc of this radius in the shower plane (gammas) [m]."
    )
    proton_scatter_radius_m: float = Field(
        600.0, gt=0.0, description="Impact points uniform in a disc of this radius in the shower plane (protons) [m]."
    )
    pointing_alt_deg: float = Field(70.0, ge=30.0, le=90.0, description="Telescope pointing altitude [deg].")
    pointing_az_deg: float = Field(180.0, ge=0.0, lt=360.0, description="Telescope pointing azimuth [deg].")
    observation_level_m: float = Field(2200.0, ge=0.0, le=5000.0, description="Telescope altitude a.s.l. [m].")

    # --- longitudinal development --------------------------------------------------------------------------
    atmosphere_scale_height_m: float = Field(
        8400.0, gt=0.0, description="Scale height of the isothermal atmosphere X(h) = 1030 g/cm2 exp(-h/H) [m]."
    )
    gamma_xmax_sigma_gcm2: float = Field(
        20.0, ge=0.0, description="Gaussian spread of gamma Xmax on top of the first-interaction depth [g/cm2]."
    )
    proton_xmax_shift_gcm2: float = Field(
        -60.0, description="Mean proton Xmax minus gamma Xmax at equal energy [g/cm2] (hadron showers peak earlier)."
    )
    proton_xmax_sigma_gcm2: float = Field(
        50.0, ge=0.0, description="Gaussian spread of proton Xmax on top of the first-interaction depth [g/cm2]."
    )
    proton_interaction_length_gcm2: float = Field(
        85.0, gt=0.0, description="Proton-air interaction length: first interaction depth ~ Exp(this) [g/cm2]."
    )

    # --- Cherenkov light ---------------------------------------------------------------------------------
    photon_density_per_tev: float = Field(
        100.0, gt=0.0, description="Cherenkov photon density in the flat light pool per TeV of gamma energy [ph/m2]."
    )
    light_pool_radius_m: float = Field(
        120.0, gt=0.0, description="Radius of the flat inner light pool [m]; the density falls outside it."
    )
    light_pool_hump: float = Field(
        0.2, ge=0.0, le=2.0, description="Relative height of the density 'hump' at the pool edge (0 = none)."
    )
    light_pool_falloff_m: float = Field(
        80.0, gt=0.0, description="Exponential fall-off length of the photon density beyond the pool radius [m]."
    )
    mirror_area_m2: float = Field(386.73, gt=0.0, description="Mirror area of the telescope [m2] (LST: 386.73).")
    photon_detection_efficiency: float = Field(
        0.07, gt=0.0, le=1.0, description="Photon -> photo-electron efficiency (mirror, light guides, PMT QE)."
    )
    proton_light_yield: float = Field(
        0.4, gt=0.0, le=1.0, description="Cherenkov light of a proton relative to a gamma of the same energy."
    )
    light_yield_fluctuation: float = Field(
        0.2, ge=0.0, le=2.0, description="Log-normal sigma of the shower-to-shower light yield at 100 GeV."
    )
    light_yield_fluctuation_index: float = Field(
        -0.2, le=0.0, ge=-1.0, description="Energy scaling of light_yield_fluctuation: sigma ~ (E/100 GeV)^index."
    )

    # --- image shape ----------------------------------------------------------------------------------------
    longitudinal_extent_m: float = Field(
        2500.0, gt=0.0, description="RMS length along the axis of the light-emitting region at 100 GeV [m]."
    )
    longitudinal_extent_log_slope: float = Field(
        0.25, ge=0.0, le=2.0, description="Relative growth of longitudinal_extent_m per decade of energy."
    )
    lateral_spread_m: float = Field(
        10.0, gt=0.0, description="RMS lateral spread of the light-emitting particles at 100 GeV [m] (sets width)."
    )
    lateral_spread_log_slope: float = Field(
        0.15, ge=0.0, le=2.0, description="Relative growth of lateral_spread_m per decade of energy."
    )
    psf_sigma_deg: float = Field(0.03, ge=0.0, le=0.5, description="Optical point-spread function, Gaussian sigma [deg].")
    shape_fluctuation: float = Field(
        0.15, ge=0.0, le=1.0, description="Log-normal sigma of the shower-to-shower fluctuation of length and width."
    )
    image_skewness: float = Field(
        0.3, ge=0.0, le=0.95, description="Skewness of the light profile along the major axis (tail away from the source)."
    )

    # --- protons ---------------------------------------------------------------------------------------------
    proton_width_factor: float = Field(
        1.8, ge=1.0, le=5.0, description="Lateral spread of the proton core component relative to a gamma's."
    )
    proton_length_factor: float = Field(
        1.2, ge=0.5, le=5.0, description="Longitudinal extent of the proton core component relative to a gamma's."
    )
    proton_subshower_mean: float = Field(
        2.0, ge=0.0, le=4.0, description="Mean (Poisson, at most 4) number of electromagnetic sub-showers per proton."
    )
    proton_subshower_light_fraction: float = Field(
        0.35, ge=0.0, le=0.9, description="Mean fraction of a proton's light carried by its sub-showers."
    )
    proton_subshower_offset_deg: float = Field(
        0.3, ge=0.0, le=2.0, description="RMS transverse offset of sub-showers from the main axis [deg]."
    )
    proton_subshower_tilt_deg: float = Field(
        25.0, ge=0.0, le=90.0, description="RMS angle between a sub-shower's axis and the main axis [deg]."
    )
    muon_ring_probability: float = Field(
        0.05, ge=0.0, le=1.0, description="Probability that a proton image contains a muon ring or arc."
    )
    muon_ring_pe: float = Field(
        1500.0, ge=0.0, description="Photo-electrons of a complete muon ring of radius 1.2 deg [p.e.]."
    )
    muon_ring_width_deg: float = Field(0.05, gt=0.0, le=0.5, description="Gaussian radial width of muon rings [deg].")

    # --- timing -----------------------------------------------------------------------------------------------
    time_gradient_per_impact: float = Field(
        0.06, ge=0.0, description="Peak-time gradient along the major axis per metre of impact [ns/deg/m]."
    )
    time_gradient_zero_impact_m: float = Field(
        70.0, ge=0.0, description="Impact distance at which the time gradient vanishes [m]."
    )
    time_gradient_scatter: float = Field(
        1.0, ge=0.0, description="Gaussian scatter of the time gradient [ns/deg] (x3 for protons)."
    )
    time_resolution_1pe_ns: float = Field(
        2.0, ge=0.0, description="Peak-time resolution of a 1 p.e. pulse [ns]; scales as 1/sqrt(n_pe)."
    )
    readout_window_ns: float = Field(40.0, gt=0.0, description="Readout window; noise-only pixels peak uniformly in it [ns].")

    # --- camera noise, trigger, cleaning -----------------------------------------------------------------------
    nsb_rate_pe_per_ns: float = Field(
        0.25, ge=0.0, description="Night-sky background rate per pixel [p.e./ns] (LST dark sky ~0.2-0.3)."
    )
    integration_window_ns: float = Field(8.0, gt=0.0, description="Charge integration window [ns] (NSB p.e. = rate x window).")
    single_pe_resolution: float = Field(
        0.4, ge=0.0, le=2.0, description="Relative charge resolution of one photo-electron (PMT excess noise)."
    )
    electronic_noise_pe: float = Field(0.3, ge=0.0, description="Gaussian electronic noise per pixel [p.e.].")
    trigger_threshold_pe: float = Field(
        30.0, ge=0.0,
        description="An event is kept if a 7-pixel patch (pixel + neighbours) of its true image holds this many p.e.",
    )
    image_mask: Literal["tailcuts", "true_signal"] = Field(
        "tailcuts",
        description="DL1 image_mask: ctapipe tailcuts cleaning of the noisy image, or the true-signal pixels.",
    )
    picture_threshold_pe: float = Field(8.0, ge=0.0, description="Tailcuts picture threshold [p.e.] (LST standard: 8).")
    boundary_threshold_pe: float = Field(4.0, ge=0.0, description="Tailcuts boundary threshold [p.e.] (LST standard: 4).")
    min_picture_neighbors: int = Field(2, ge=0, le=6, description="Tailcuts minimum number of picture neighbours.")
    signal_mask_min_pe: int = Field(
        1, ge=1, description="A pixel is in the true signal mask if its true image has at least this many p.e."
    )

    # --- output file -------------------------------------------------------------------------------------------
    compression: Literal["blosc:lz4", "blosc:zstd", "zlib", "none"] = Field(
        "blosc:lz4",
        description=(
            "HDF5 compression of the event tables. blosc (ctapipe's choice) is read by PyTables/ctapipe, by "
            "h5py only with hdf5plugin; zlib is readable everywhere but ~10x slower to write."
        ),
    )
    compression_level: int = Field(5, ge=0, le=9, description="HDF5 compression level.")

    @model_validator(mode="after")
    def _check_ranges(self) -> IACTSimulationConfig:
        for particle in ("gamma", "proton"):
            low = getattr(self, f"{particle}_energy_min_tev")
            high = getattr(self, f"{particle}_energy_max_tev")
            if not low < high:
                raise ValueError(f"{particle}_energy_min_tev ({low}) must be below {particle}_energy_max_tev ({high})")
        if self.boundary_threshold_pe > self.picture_threshold_pe:
            raise ValueError("boundary_threshold_pe must not exceed picture_threshold_pe")
        return self
