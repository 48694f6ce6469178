"""``showerlearn simulate calorimeter``: CALIFA-like events with truth, written as the family's HDF5 hit file."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from pydantic import ValidationError

from showerlearn.cli.common import (
    OverrideOption, OverwriteOption, check_output_file, console, kept_if_created_meanwhile, seed_option, user_errors,
)
from showerlearn.config import ConfigError, apply_overrides
from showerlearn.config.errors import format_validation_error
from showerlearn.config.loader import read_yaml

if TYPE_CHECKING:
    from showerlearn.calorimeter.simulation import CalorimeterSimulationConfig, SimulationSummary

def simulate_calorimeter(
    output: Annotated[Path, typer.Option("--output", "-o", help="HDF5 hit file to write.")],
    events: Annotated[int | None, typer.Option(help="Number of events (overrides n_events).", min=1)] = None,
    gammas: Annotated[int | None, typer.Option(help="Gammas per event (overrides n_gammas).")] = None,
    seed: Annotated[int, seed_option()] = 0,
    jobs: Annotated[int, typer.Option(help="Worker processes (-1: all cores).")] = 2,
    config: Annotated[Path | None, typer.Option(help="YAML file of simulation settings.")] = None,
    overrides: OverrideOption = None,
    overwrite: OverwriteOption = False,
) -> None:
    """Simulate gammas from a fragment in flight in a CALIFA-like CsI calorimeter (barrel + iPhos).

    Settings (energies, beta, resolution, thresholds, background...) come from --config and --set, e.g.
    --set beta=0.7 --set energy_max_mev=5; see docs/calorimeter.md.
    """
    with user_errors():
        check_output_file(output, overwrite)
        from showerlearn.calorimeter.simulation import CalorimeterSimulationConfig
        from showerlearn.calorimeter.simulation import simulate_calorimeter as simulate

        settings = read_yaml(config) if config else {}
        apply_overrides(settings, overrides or [])
        if events is not None:
            settings["n_events"] = events
        if gammas is not None:
            settings["n_gammas"] = gammas
        try:
            simulation = CalorimeterSimulationConfig.model_validate(settings)
        except ValidationError as error:
            options = {key: option for key, option, value in (("n_events", "--events", events), ("n_gammas", "--gammas", gammas))
                       if value is not None}  # fmt: skip
            problems = [_named_by_option(line, options) for line in format_validation_error(error, CalorimeterSimulationConfig)]
            raise ConfigError(str(config or "the command line"), problems) from None
        with kept_if_created_meanwhile():
            summary = simulate(simulation, output, seed=seed, n_jobs=jobs, progress=True, overwrite=overwrite)
    _print_summary(summary, simulation)


def _named_by_option(problem: str, options: dict[str, str]) -> str:
    """A problem of a setting given by a command-line option (``n_gammas`` by ``--gammas``) named by the option."""
    key = problem.partition(":")[0]
    return f"{options[key]} ({problem})" if key in options else problem


def _print_summary(summary: SimulationSummary, simulation: CalorimeterSimulationConfig) -> None:
    """What was written: counts, the share of the energy the crystals caught, rate and file size."""
    from rich.table import Table

    table = Table(show_header=False)
    size_mb = summary.path.stat().st_size / 1e6
    per_event = summary.n_hits / max(summary.n_events, 1)
    rows = [
        ("events", f"{summary.n_events:,} ({simulation.geometry}"
                   + (f", beta {simulation.beta:g})" if simulation.geometry == "califa" else ")")),
        ("gammas", f"{summary.n_gammas:,} ({summary.n_gammas / max(summary.n_events, 1):.2f} per event)"),
        ("hits", f"{summary.n_hits:,} ({per_event:.2f} per event, {summary.n_background_hits:,} background, "
                 f"{summary.n_saturated:,} saturated)"),
        ("energy in crystals", f"{summary.energy_deposited_mev / max(summary.energy_emitted_mev, 1e-12):.1%} of the emitted lab energy"),
        ("time", f"{summary.seconds:.1f} s ({summary.n_events / max(summary.seconds, 1e-9):,.0f} events/s)"),
        ("file", f"{size_mb:.1f} MB"),
    ]
    for key, value in rows:
        table.add_row(key, value)
    # the path on a line of its own: a table title is cut to the table's width
    console.print(f"wrote {summary.path}", soft_wrap=True)
    console.print(table)
