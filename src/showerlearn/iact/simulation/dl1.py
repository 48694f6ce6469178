"""Write simulated LST events as a ctapipe DL1 HDF5 file (data model v7, as ctapipe 0.28 writes it).

Layout (the same as ``ctapipe-process --write-images`` on sim_telarray files):

* ``/configuration/instrument/...``: subarray, optics, camera geometry and readout, written by
  ``SubarrayDescription.to_hdf`` itself;
* ``/configuration/observation/{scheduling_block,observation_block}``,
  ``/configuration/simulation/run`` (``SimulationConfigContainer``; the full
  :class:`IACTSimulationConfig` as JSON in its ``showerlearn_config`` attribute) and
  ``/configuration/telescope/pointing/tel_001``: written by ctapipe's ``HDF5TableWriter`` from
  ctapipe containers;
* event tables, appended chunk by chunk with ``ctapipe.io.write_table`` (column-wise, so 2,000
  events/s are possible): ``/dl1/event/subarray/trigger``, ``/dl1/event/telescope/trigger``,
  ``/dl1/event/telescope/images/tel_001`` (image, peak_time, image_mask),
  ``/simulation/event/subarray/shower``, ``/simulation/event/telescope/images/tel_001`` (true p.e.
  image) and ``/simulation/event/telescope/impact/tel_001``.

The event tables are compressed (blosc:lz4 by default, see ``IACTSimulationConfig.compression``),
the file is written to a temporary name and renamed into place when complete.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import astropy.units as u
import numpy as np
import tables
from astropy.coordinates import EarthLocation
from astropy.table import Column, Table
from astropy.time import Time
from ctapipe.containers import (
    CoordinateFrameType,
    DL1CameraContainer,
    EventType,
    ObservationBlockContainer,
    ObservationBlockState,
    ObservingMode,
    PointingMode,
    SchedulingBlockContainer,
    SchedulingBlockType,
    SimulatedCameraContainer,
    SimulatedShowerContainer,
    SimulationConfigContainer,
    TelEventIndexContainer,
    TelescopeConfigurationIndexContainer,
    TelescopeImpactParameterContainer,
    TelescopePointingContainer,
    TelescopeTriggerContainer,
    TriggerContainer,
)
from ctapipe.core import Container, Field
from ctapipe.instrument import CameraDescription, CameraReadout, SubarrayDescription, TelescopeDescription
from ctapipe.io import DataLevel, HDF5TableWriter, metadata, write_table
from ctapipe.io.datawriter import DATA_MODEL_VERSION

from showerlearn.io import atomic_path
from showerlearn.parallel import check_seed, ordered_map
from showerlearn.iact.simulation.camera import lst_optics, simulated_camera
from showerlearn.iact.simulation.config import IACTSimulationConfig
from showerlearn.iact.simulation.showers import chunk_sizes, simulate_chunk, telescope_to_altaz

__all__ = ["TEL_ID", "lst_subarray", "simulate_iact"]

TEL_ID = 1
#: LST-1 at the Roque de los Muchachos (ctapipe-io-lst LST_LOCATIONS, rounded); height from the config
_LST1_LON_DEG, _LST1_LAT_DEG = -17.891497, 28.761526
_RUN_START = Time("2026-01-01T00:00:00", scale="tai")
_EVENT_SPACING_S = 1e-3  # nominal trigger times: one event per millisecond
_READOUT_SAMPLES, _SAMPLING_RATE_GHZ, _PULSE_FWHM_NS = 40, 1.024, 2.8  # LSTCam readout


class _ExtraSimInfo(Container):
    """obs_id column of the simulation run table (as ctapipe's DataWriter adds it)."""

    default_prefix = ""
    obs_id = Field(0, "Simulation Run Identifier")


def lst_subarray(observation_level_m: float = 2200.0) -> SubarrayDescription:
    """A one-LST subarray at the ground-frame origin: LSTCam geometry, 28 m optics, LST-like readout.

    The readout's reference pulse is a Gaussian of 2.8 ns FWHM sampled at 1.024 GHz (40 samples),
    close to the LST pulse; the simulator works on integrated charges and peak times, so only the
    metadata matters.
    """
    camera = simulated_camera()
    sample_width = 0.1  # ns, pulse-shape sampling
    times = np.arange(0.0, 40.0, sample_width)
    sigma = _PULSE_FWHM_NS / (2 * np.sqrt(2 * np.log(2)))
    pulse = np.exp(-0.5 * ((times - 10.0) / sigma) ** 2)
    readout = CameraReadout(
        name="LSTCam",
        sampling_rate=_SAMPLING_RATE_GHZ * u.GHz,
        reference_pulse_shape=np.stack([pulse, pulse]),
        reference_pulse_sample_width=sample_width * u.ns,
        n_channels=2,
        n_pixels=camera.n_pixels,
        n_samples=_READOUT_SAMPLES,
    )
    telescope = TelescopeDescription(
        name="LST",
        optics=lst_optics(),
        camera=CameraDescription(name="LSTCam", geometry=camera.geometry, readout=readout),
    )
    location = EarthLocation(lon=_LST1_LON_DEG * u.deg, lat=_LST1_LAT_DEG * u.deg, height=observation_level_m * u.m)
    return SubarrayDescription(
        name="showerlearn-LST",
        tel_positions={TEL_ID: [0.0, 0.0, 0.0] * u.m},
        tel_descriptions={TEL_ID: telescope},
        reference_location=location,
    )


def simulate_iact(
    config: IACTSimulationConfig, output: Path | str, seed: int, n_jobs: int = 1, progress: bool = False,
    overwrite: bool = True,
) -> Path:
    """Simulate ``config.n_events`` triggered events and write them as ctapipe DL1 HDF5 to ``output``.

    ``n_jobs`` worker processes (``-1``: all cores) simulate chunks in parallel while this process
    writes them in order; the file is identical for every ``n_jobs``. ``progress`` shows a progress
    bar (rich). The file appears at ``output`` only once complete; ``overwrite=False``: a file at ``output``
    is not replaced, even one created during the simulation (:class:`FileExistsError`). Returns ``output``.
    """
    check_seed(seed)
    output = Path(output)
    if n_jobs == -1:
        n_jobs = os.cpu_count() or 1
    if n_jobs < 1:
        raise ValueError(f"n_jobs must be >= 1 or -1 (all cores), got {n_jobs}")
    sizes = chunk_sizes(config.n_events, config.chunk_size)
    filters = _filters(config)
    thrown = {"gamma": 0, "proton": 0}
    with atomic_path(output, overwrite=overwrite) as tmp:
        lst_subarray(config.observation_level_m).to_hdf(tmp, mode="w")
        _write_observation(tmp, config, filters)
        with tables.open_file(tmp, mode="a") as h5:
            _write_reference_metadata(h5, config)
            first_event_id = 1
            for arrays, chunk_thrown in _progress(_chunks(config, seed, sizes, n_jobs), len(sizes), progress):
                _write_events(h5, config, arrays, first_event_id, filters)
                first_event_id += len(arrays["true_energy"])
                for particle, count in chunk_thrown.items():
                    thrown[particle] += count
        _write_simulation_run(tmp, config, seed, thrown, filters)
    return output


def _write_reference_metadata(h5: tables.File, config: IACTSimulationConfig) -> None:
    """CTAO reference metadata in the root attributes, as ctapipe-process writes (data model v7.1.0)."""
    from showerlearn import __version__

    reference = metadata.Reference(
        contact=metadata.Contact(name="showerlearn", email="unknown", organization="unknown"),
        product=metadata.Product(
            description="showerlearn simulated LST events", data_category="Sim",
            data_levels=[DataLevel.DL1_IMAGES], data_association="Subarray", data_model_name="ASWG",
            data_model_version=DATA_MODEL_VERSION, format="hdf5",
        ),
        process=metadata.Process(type_="Simulation", subtype="showerlearn", id_=str(config.obs_id)),
        activity=metadata.Activity(
            name="showerlearn simulate iact", type_="software", software_name="showerlearn",
            software_version=__version__, start_time=Time.now(),
        ),
        instrument=metadata.Instrument(site="CTAO-North", class_="Telescope", type_="LST", subtype="LST-1"),
    )
    metadata.write_to_hdf5(reference.to_dict(), h5)


def _filters(config: IACTSimulationConfig) -> tables.Filters:
    if config.compression == "none":
        return tables.Filters(complevel=0)
    return tables.Filters(complevel=config.compression_level, complib=config.compression, shuffle=True, fletcher32=True)


def _chunks(
    config: IACTSimulationConfig, seed: int, sizes: list[int], n_jobs: int
) -> Iterator[tuple[dict[str, np.ndarray], dict[str, int]]]:
    """Simulated chunks in order; at most 2 x n_jobs chunks in flight, so memory stays bounded."""
    if n_jobs > 1 and len(sizes) > 1:
        simulated_camera()  # built once here, inherited by forked workers
    jobs = n_jobs if len(sizes) > 1 else 1
    return ordered_map(simulate_chunk, ((config, seed, index, size) for index, size in enumerate(sizes)), jobs, _init_worker)


def _init_worker() -> None:
    # one process per core: numexpr must not start its own threads on top
    import numexpr

    numexpr.set_num_threads(1)


def _progress(chunks: Iterator, total: int, enabled: bool) -> Iterator:
    if not enabled:
        yield from chunks
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    from showerlearn.progress import Progress

    # stderr, as the other simulators' bars: stdout stays for the command's output
    columns = (TextColumn("simulating"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True)) as bar:
        task = bar.add_task("simulating", total=total)
        for chunk in chunks:
            yield chunk
            bar.advance(task)


# ---------------------------------------------------------------------------------------------------
# configuration tables (one row each, through ctapipe's own container writer)
# ---------------------------------------------------------------------------------------------------
def _write_observation(path: Path, config: IACTSimulationConfig, filters: tables.Filters) -> None:
    alt, az = config.pointing_alt_deg * u.deg, config.pointing_az_deg * u.deg
    with HDF5TableWriter(path, mode="a", add_prefix=True, filters=filters) as writer:
        writer.write(
            "configuration/observation/scheduling_block",
            SchedulingBlockContainer(
                sb_id=np.uint64(config.obs_id), sb_type=SchedulingBlockType.OBSERVATION, producer_id="simulation",
                observing_mode=ObservingMode.UNKNOWN, pointing_mode=PointingMode.DRIFT,
            ),
            time_format="mjd",
        )
        writer.write(
            "configuration/observation/observation_block",
            ObservationBlockContainer(
                obs_id=np.uint64(config.obs_id), sb_id=np.uint64(config.obs_id), producer_id="simulation",
                state=ObservationBlockState.COMPLETED_SUCCEDED, subarray_pointing_lat=alt.to(u.rad),
                subarray_pointing_lon=az.to(u.rad), subarray_pointing_frame=CoordinateFrameType.ALTAZ,
                actual_start_time=_RUN_START, scheduled_start_time=_RUN_START,
            ),
            time_format="mjd",
        )
        writer.write(
            f"configuration/telescope/pointing/tel_{TEL_ID:03d}",
            [
                TelescopeConfigurationIndexContainer(obs_id=np.int32(config.obs_id), tel_id=np.int16(TEL_ID)),
                TelescopePointingContainer(azimuth=az.to(u.rad), altitude=alt.to(u.rad)),
            ],
        )


def _write_simulation_run(
    path: Path, config: IACTSimulationConfig, seed: int, thrown: dict[str, int], filters: tables.Filters
) -> None:
    """The ctapipe simulation-run row describes the gamma production (the protons' when there are no
    gammas); both populations, the thrown counts and the whole config are in the table's attributes."""
    particle = "proton" if config.proton_fraction == 1.0 else "gamma"
    diffuse = particle == "proton" or config.gamma_source == "diffuse"
    cone = config.proton_view_cone_deg if particle == "proton" else (config.gamma_view_cone_deg if diffuse else 0.0)
    source_alt, source_az = telescope_to_altaz(
        np.zeros(1), np.full(1, 0.0 if diffuse else config.point_source_offset_deg),
        config.pointing_alt_deg, config.pointing_az_deg,
    )
    run = SimulationConfigContainer(
        run_number=np.int32(config.obs_id),
        energy_range_min=getattr(config, f"{particle}_energy_min_tev") * u.TeV,
        energy_range_max=getattr(config, f"{particle}_energy_max_tev") * u.TeV,
        prod_site_alt=config.observation_level_m * u.m,
        spectral_index=getattr(config, f"{particle}_spectral_index"),
        n_showers=thrown[particle],
        shower_reuse=1,
        max_alt=np.radians(source_alt[0]) * u.rad, min_alt=np.radians(source_alt[0]) * u.rad,
        max_az=np.radians(source_az[0]) * u.rad, min_az=np.radians(source_az[0]) * u.rad,
        diffuse=diffuse,
        max_viewcone_radius=cone * u.deg, min_viewcone_radius=0.0 * u.deg,
        max_scatter_range=getattr(config, f"{particle}_scatter_radius_m") * u.m, min_scatter_range=0.0 * u.m,
        core_pos_mode=0,
    )
    run.prefix = ""
    with HDF5TableWriter(path, mode="a", add_prefix=True, filters=filters) as writer:
        writer.write("configuration/simulation/run", [_ExtraSimInfo(obs_id=np.int32(config.obs_id)), run])
    with tables.open_file(path, mode="a") as h5:
        attrs = h5.get_node("/configuration/simulation/run").attrs
        attrs["showerlearn_config"] = json.dumps(config.model_dump(), sort_keys=True)
        attrs["showerlearn_seed"] = seed
        attrs["showerlearn_run_particle"] = particle
        attrs["showerlearn_n_thrown_gamma"] = thrown["gamma"]
        attrs["showerlearn_n_thrown_proton"] = thrown["proton"]


# ---------------------------------------------------------------------------------------------------
# event tables (column-wise, appended per chunk)
# ---------------------------------------------------------------------------------------------------
def _write_events(
    h5: tables.File, config: IACTSimulationConfig, arrays: dict[str, np.ndarray], first_event_id: int,
    filters: tables.Filters,
) -> None:
    """Append one chunk to every event table; column descriptions and units as ctapipe's containers."""
    n = len(arrays["true_energy"])
    event_id = np.arange(first_event_id, first_event_id + n, dtype=np.int64)

    def column(container: type[Container], field: str, values: np.ndarray) -> Column:
        # NAME: the container field a column fills, which ctapipe's HDF5EventSource maps by
        spec = container.fields[field]
        return Column(values, description=spec.description, unit=spec.unit, meta={"NAME": field})

    def time() -> Time:
        times = _RUN_START + (event_id - 1) * _EVENT_SPACING_S * u.s
        times.info.meta = {"NAME": "time"}
        return times

    event_type = column(TriggerContainer, "event_type", np.full(n, EventType.SUBARRAY.value, dtype=np.int64))

    index = {
        "obs_id": column(TelEventIndexContainer, "obs_id", np.full(n, config.obs_id, dtype=np.int32)),
        "event_id": column(TelEventIndexContainer, "event_id", event_id),
    }
    tel_index = {**index, "tel_id": column(TelEventIndexContainer, "tel_id", np.full(n, TEL_ID, dtype=np.int16))}
    shower = {
        f"true_{name}": column(SimulatedShowerContainer, name, arrays[f"true_{name}"])
        for name in ("energy", "alt", "az", "core_x", "core_y", "h_first_int", "x_max")
    }
    shower["true_starting_grammage"] = column(SimulatedShowerContainer, "starting_grammage", np.zeros(n))
    shower["true_shower_primary_id"] = column(
        SimulatedShowerContainer, "shower_primary_id", arrays["true_shower_primary_id"]
    )
    true_image_sum = arrays["true_image"].sum(axis=1, dtype=np.int32)
    rows = {
        "/dl1/event/subarray/trigger": {
            **index,
            "time": time(),
            "tels_with_trigger": column(TriggerContainer, "tels_with_trigger", np.ones((n, 1), dtype=bool)),
            "event_type": event_type,
        },
        "/dl1/event/telescope/trigger": {
            **tel_index,
            "time": time(),
            "event_type": event_type,
            "n_trigger_pixels": column(TelescopeTriggerContainer, "n_trigger_pixels", np.full(n, -1, dtype=np.int64)),
        },
        f"/dl1/event/telescope/images/tel_{TEL_ID:03d}": {
            **tel_index,
            **{name: column(DL1CameraContainer, name, arrays[name]) for name in ("image", "peak_time", "image_mask")},
            "is_valid": column(DL1CameraContainer, "is_valid", np.ones(n, dtype=bool)),
        },
        "/simulation/event/subarray/shower": {**index, **shower},
        f"/simulation/event/telescope/images/tel_{TEL_ID:03d}": {
            **tel_index,
            "true_image_sum": column(SimulatedCameraContainer, "true_image_sum", true_image_sum),
            "true_image": column(SimulatedCameraContainer, "true_image", arrays["true_image"]),
        },
        f"/simulation/event/telescope/impact/tel_{TEL_ID:03d}": {
            **tel_index,
            "true_impact_distance": column(
                TelescopeImpactParameterContainer, "distance", arrays["true_impact_distance"]
            ),
            "true_impact_distance_uncert": column(TelescopeImpactParameterContainer, "distance_uncert", np.zeros(n)),
        },
    }
    for path, columns in rows.items():
        write_table(Table(columns), h5, path, append=True, filters=filters)
