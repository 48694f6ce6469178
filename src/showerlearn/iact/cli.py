"""``showerlearn simulate iact`` (LST events with truth, written as ctapipe DL1 HDF5) and ``showerlearn plot iact``
(quick looks at prediction files)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError

from showerlearn.cli.common import (
    JobsOption, OverrideOption, OverwriteOption, check_output_file, console, kept_if_created_meanwhile, read_simulation_settings,
    seed_option, user_errors,
)
from showerlearn.cli.plot import FigureOption, LabelOption, check_figure_output, prediction_labels, write_figure
from showerlearn.config import ConfigError, apply_overrides
from showerlearn.config.errors import format_validation_error


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
        check_output_file(output, overwrite, inputs=[config])
        from showerlearn.iact.simulation import IACTSimulationConfig, simulate_iact

        settings = read_simulation_settings(config, "data.params.simulate.config")
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


def plot_iact(
    files: Annotated[list[Path], typer.Argument(help="Prediction files of IACT runs (showerlearn predict RUN FILE.dl1.h5 -o "
                                                     "DIR writes DIR/FILE.predictions.h5).", metavar="FILES")],
    output: FigureOption,
    label: LabelOption = None,
    gammaness_cut: Annotated[float, typer.Option("--gammaness-cut", help="Events above it are gamma-like: those the "
                                                                        "energy and offset panels count.", min=0.0, max=1.0)] = 0.5,
    overwrite: OverwriteOption = False,
) -> None:
    """Plot what the networks of IACT prediction files saw, real data's too (no truth needed), one line per file:
    the gammaness of every event, and the reconstructed energy and the angular distance to the pointing of the
    gamma-like ones. A file fills the panels of its network's heads.
    """
    from rich.table import Table

    with user_errors():
        from showerlearn.iact.viz.predictions import predictions_figure

        check_figure_output(output, overwrite)
        records = dict(zip(prediction_labels(files, label), (_prediction_histograms(path, gammaness_cut) for path in files)))
        write_figure(predictions_figure(records, gammaness_cut), output, overwrite)
    console.print(f"wrote {output}")
    table = Table("label", "events", f"gammaness > {gammaness_cut:g}", "share")
    for name, record in records.items():
        share = record["gamma_like"] / record["events"] if record["events"] else float("nan")
        table.add_row(name, f"{record['events']:,}", f"{record['gamma_like']:,}", f"{share:.1%}")
    console.print(table)


def _prediction_histograms(path: Path, gammaness_cut: float) -> dict:
    """The histograms of one prediction file, refused if it holds none of the columns the panels read."""
    from showerlearn.iact.viz.predictions import PANEL_COLUMNS, TRUTH_COLUMN, prediction_histograms
    from showerlearn.io.tables import PREDICTIONS_KEY, read_columns, table_names

    columns = read_columns(path) if PREDICTIONS_KEY in table_names(path) else {}
    wanted = {TRUTH_COLUMN, *(name for names in PANEL_COLUMNS.values() for name in names)}
    found = {name: values for name, values in columns.items() if name in wanted}
    if not any(all(name in found for name in names) for names in PANEL_COLUMNS.values()):  # the truth alone draws nothing
        raise ValueError(f"{path}: not an IACT prediction file (showerlearn predict RUN FILE.dl1.h5 -o DIR writes them): "
                         "its predictions table has no gammaness, no reco_energy, no reco_alt/reco_az with "
                         "pointing_alt/pointing_az")
    return prediction_histograms(found, gammaness_cut)
