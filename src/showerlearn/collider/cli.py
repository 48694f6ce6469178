"""``showerlearn simulate collider`` (Pythia 8 events through a CMS-like detector into columnar HDF5) and
``showerlearn plot collider`` (score distributions of prediction files)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from pydantic import ValidationError
from rich.markup import escape

from showerlearn.cli.common import (
    JobsOption, OverrideOption, OverwriteOption, check_output_file, console, kept_if_created_meanwhile, read_simulation_settings,
    seed_option, user_errors,
)
from showerlearn.cli.plot import FigureOption, LabelOption, check_figure_output, prediction_labels, write_figure
from showerlearn.config import ConfigError, apply_overrides
from showerlearn.config.errors import format_validation_error

if TYPE_CHECKING:
    from showerlearn.collider.simulation import ColliderSimulationConfig
    from showerlearn.collider.simulation.run import RunSummary


def simulate_collider(
    output: Annotated[
        Path,
        typer.Option(
            "--output", "-o", help="HDF5 file to write (with several --signal-mass: one per mass, OUTPUT_m<mass>.h5)."
        ),
    ],
    events: Annotated[
        int | None, typer.Option(help="Selected events per file, all processes together (overrides n_events).", min=1)
    ] = None,
    process: Annotated[
        list[str] | None, typer.Option(metavar="NAME", help="Generate only this process (repeatable); fractions are rescaled.")
    ] = None,
    signal_mass: Annotated[
        list[float] | None, typer.Option(metavar="GEV", help="Heavy-scalar mass [GeV]; repeat for a scan of mass points.")
    ] = None,
    seed: Annotated[int, seed_option("settings")] = 0,
    jobs: JobsOption = 2,
    config: Annotated[Path | None, typer.Option(help="YAML file of generator settings (see docs/collider.md).")] = None,
    cache: Annotated[
        Path | None, typer.Option(help="Keep generated chunks here and reuse them when the settings repeat.")
    ] = None,
    overrides: OverrideOption = None,
    overwrite: OverwriteOption = False,
) -> None:
    """Generate signal (gg -> H -> hh -> 4b) and background (QCD, t t~) events with Pythia 8, FastJet and a
    CMS-like detector, in the signal's kinematic region, into columnar HDF5 with cross sections and weights.

    Settings (processes as Pythia strings, detector card, jets, selection) come from --config and --set;
    see docs/collider.md.
    """
    with user_errors():
        _require_extra()
        from showerlearn.collider.simulation import ColliderSimulationConfig, mass_point_path
        from showerlearn.collider.simulation import simulate_collider as run

        # --set changes the settings with their defaults filled in: processes.signal.cross_section_pb=0.01 changes one
        # value of the default signal; a key of the config file replaces the default's whole (`processes:` its set)
        settings = {**ColliderSimulationConfig().model_dump(), **read_simulation_settings(config, "data.params.source.config")}
        apply_overrides(settings, overrides or [])
        if events is not None:
            settings["n_events"] = events
        if cache is not None:
            settings["cache_dir"] = str(cache)
        source = " with ".join(part for part in (str(config) if config else "", "--set" if overrides else "") if part)
        base = _validated(settings, source or "defaults")
        if process:
            base = base.only(process)
        masses = signal_mass or [base.signal_mass]
        try:  # every mass point checked before the first is generated
            points = [base.at_mass(mass) for mass in masses]
        except ValidationError as error:
            raise ConfigError("--signal-mass", format_validation_error(error, ColliderSimulationConfig)) from None
        paths = [output if len(masses) == 1 else mass_point_path(output, mass) for mass in masses]
        if repeated := sorted({path.name for path in paths if paths.count(path) > 1}):  # 600 and 600.0001: one name
            raise ConfigError("--signal-mass", [f"mass points given twice (one file per mass point): {', '.join(repeated)}"])
        for path in paths:
            check_output_file(path, overwrite, inputs=[config])
        for point, path in zip(points, paths, strict=True):
            with kept_if_created_meanwhile():
                summary = run(point, path, seed=seed, n_jobs=jobs, progress=True, overwrite=overwrite)
            _print_summary(summary, point.signal_mass)


def _validated(settings: dict, source: str) -> ColliderSimulationConfig:
    """The generator settings, or a ConfigError naming every bad key of ``source``."""
    from showerlearn.collider.simulation import ColliderSimulationConfig

    try:
        return ColliderSimulationConfig.model_validate(settings)
    except ValidationError as error:
        raise ConfigError(source, format_validation_error(error, ColliderSimulationConfig)) from None


def _require_extra() -> None:
    from showerlearn.collider.family import FAMILY

    if FAMILY.missing_modules():
        # escaped: Rich would read the extra's "[collider]" as a style and drop it from the command
        console.print(f"[bold red]error:[/] {escape(FAMILY.install_hint())}")
        raise typer.Exit(2)


def _print_summary(summary: RunSummary, mass: float) -> None:
    from rich.table import Table

    table = Table(title=f"heavy scalar {mass:g} GeV", title_justify="left")
    for column in ("process", "events", "generated", "selection eff.", "sigma generated (pb)", "sigma selected (pb)"):
        table.add_column(column, justify="left" if column == "process" else "right")
    for p in summary.processes:
        table.add_row(
            p.name, str(p.n_events), str(p.n_generated), f"{p.efficiency:.3f}",
            f"{p.sigma_generated_pb:.4g} +- {p.sigma_generated_error_pb:.2g}", f"{p.sigma_selected_pb:.4g}",
        )  # fmt: skip
    console.print(table)
    rate = summary.n_generated / summary.seconds if summary.seconds else 0.0
    cached = f", {summary.cached_chunks} chunks from the cache" if summary.cached_chunks else ""
    console.print(
        f"[green]wrote[/] {summary.n_events} events ({summary.n_generated} generated) in {summary.seconds:.1f} s, "
        f"{rate:.0f} generated events/s{cached}: {summary.output}"
    )


def plot_collider(
    files: Annotated[list[Path], typer.Argument(help="Prediction files of collider runs (showerlearn predict RUN EVENTS.h5 "
                                                     "-o DIR writes DIR/EVENTS.predictions.h5).", metavar="FILES")],
    output: FigureOption,
    label: LabelOption = None,
    score: Annotated[str, typer.Option(help="The score column: 'score' (the signal probability), or one class's "
                                            "'score_<class>' of a multi-class network.")] = "score",
    overwrite: OverwriteOption = False,
) -> None:
    """Plot the score distribution of collider prediction files per process, one panel per file, each event weighted
    by its cross section where the file has it (weight_pb).
    """
    with user_errors():
        from showerlearn.collider.evaluation.predictions import score_figure

        check_figure_output(output, overwrite)
        records = dict(zip(prediction_labels(files, label), (_score_histograms(path, score) for path in files)))
        write_figure(score_figure(records, score), output, overwrite)
    console.print(f"wrote {output}")


def _score_histograms(path: Path, score: str) -> dict:
    """The histograms of one prediction file, refused without the score column (naming the scores it has)."""
    import json

    from showerlearn.collider.evaluation.predictions import score_histograms, score_problem
    from showerlearn.io.tables import PREDICTIONS_KEY, read_attributes, read_columns, table_names

    columns = read_columns(path) if PREDICTIONS_KEY in table_names(path) else {}
    if score not in columns:
        scores = [name for name in columns if name == "score" or name.startswith("score_")]
        raise ValueError(f"{path}: no column {score!r} " + (f"(--score: its scores are {', '.join(scores)})" if scores else
                         "to plot: not a collider prediction file (showerlearn predict RUN EVENTS.h5 -o DIR writes them)"))
    if problem := score_problem(columns[score], score):  # the histogram's bins span [0, 1]: none left out silently
        raise ValueError(f"{path}: {problem}")
    names = read_attributes(path).get("process_names")
    try:
        processes = json.loads(names) if isinstance(names, str) else None
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: attribute process_names is not the JSON list of process names predict writes "
                         f"({error}): damaged?") from None
    if processes is not None and not (isinstance(processes, list) and all(isinstance(name, str) for name in processes)):
        raise ValueError(f"{path}: attribute process_names is {names[:80]}; expected the JSON list of process names "
                         "predict writes")
    return score_histograms(columns, score, processes)
