"""``showerlearn simulate iact``: LST events with truth, written as ctapipe DL1 HDF5."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError

from showerlearn.cli.common import (
    JobsOption, OverrideOption, OverwriteOption, check_output_file, console, kept_if_created_meanwhile, seed_option, user_errors,
)
from showerlearn.config import ConfigError, apply_overrides
from showerlearn.config.errors import format_validation_error
from showerlearn.config.loader import read_yaml


def simulate_iact(
    output: Annotated[Path, typer.Option("--output", "-o", help="DL1 HDF5 file to write.")],
    events: Annotated[int | None, typer.Option(help="Number of triggered events (overrides n_events).", min=1)] = None,
    seed: Annotated[int, seed_option()] = 0,
    jobs: JobsOption = 2,
    config: Annotated[Path | None, typer.Option(help="YAML file of simulation settings.")] = None,
    overrides: OverrideOption = None,
    overwrite: OverwriteOption = False,
) -> None:
    """Simulate gamma and proton images of the LST camera into a ctapipe DL1 HDF5 file.

    Settings (spectra, energy range, view cones, noise...) come from --config and --set; see
    `showerlearn config reference` and docs/simulation.md.
    """
    with user_errors():
        if any(part in (".simtel", ".fits", ".root") for part in output.suffixes):  # read back as what it is not
            raise ValueError(f"--output {output}: the simulation writes a ctapipe DL1 HDF5 file, not a sim_telarray, "
                             "FITS or ROOT one: name it .dl1.h5 or .h5")
        check_output_file(output, overwrite)
        from showerlearn.iact.simulation import IACTSimulationConfig, simulate_iact

        settings = read_yaml(config) if config else {}
        apply_overrides(settings, overrides or [])
        if events is not None:
            settings["n_events"] = events
        try:
            simulation = IACTSimulationConfig.model_validate(settings)
        except ValidationError as error:
            raise ConfigError(str(config or "--set"), format_validation_error(error, IACTSimulationConfig)) from None
        with kept_if_created_meanwhile():
            written = simulate_iact(simulation, output, seed=seed, n_jobs=jobs, progress=True, overwrite=overwrite)
    console.print(f"[green]wrote[/] {written}")
