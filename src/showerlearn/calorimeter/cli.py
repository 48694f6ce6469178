"""``showerlearn simulate calorimeter`` (CALIFA-like events with truth) and ``showerlearn convert calorimeter``
(a ROOT tree of measured crystal hits), both written as the family's HDF5 hit file; ``showerlearn convert
calorimeter-clusters`` (a prediction file's clusters as a ROOT tree); ``showerlearn plot calorimeter``."""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from pydantic import ValidationError

from showerlearn.cli.common import (
    JobsOption, OverrideOption, OverwriteOption, check_output_file, console, kept_if_created_meanwhile, read_simulation_settings,
    seed_option, user_errors,
)
from showerlearn.cli.plot import (
    FigureOption, LabelOption, check_figure_output, check_prediction_file, prediction_labels, write_figure,
)
from showerlearn.config import ConfigError, apply_overrides
from showerlearn.config.errors import format_validation_error

if TYPE_CHECKING:
    from showerlearn.calorimeter.simulation import CalorimeterSimulationConfig, SimulationSummary

log = logging.getLogger(__name__)

def simulate_calorimeter(
    output: Annotated[Path, typer.Option("--output", "-o", help="HDF5 hit file to write.")],
    events: Annotated[int | None, typer.Option(help="Number of events (overrides n_events).", min=1)] = None,
    gammas: Annotated[int | None, typer.Option(help="Gammas per event (overrides n_gammas).")] = None,
    seed: Annotated[int, seed_option()] = 0,
    jobs: JobsOption = 2,
    config: Annotated[Path | None, typer.Option(help="YAML file of simulation settings.")] = None,
    overrides: OverrideOption = None,
    overwrite: OverwriteOption = False,
) -> None:
    """Simulate gammas from a fragment in flight in a CALIFA-like CsI calorimeter (barrel + iPhos).

    Settings (energies, beta, resolution, thresholds, background...) come from --config and --set, e.g.
    --set beta=0.7 --set energy_max_mev=5; see docs/calorimeter.md.
    """
    with user_errors():
        check_output_file(output, overwrite, inputs=[config])
        from showerlearn.calorimeter.simulation import CalorimeterSimulationConfig
        from showerlearn.calorimeter.simulation import simulate_calorimeter as simulate

        settings = read_simulation_settings(config, "data.params.simulate.config")
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
    """A problem of a setting given by a command-line option (``n_gammas`` by ``--gammas``) named by the option:
    before it when it is the problem's own setting, after it when a check across settings names it (the
    message, not the input echoed after it: that holds every setting given)."""
    key = problem.partition(":")[0]
    if key in options:
        return f"{options[key]} ({problem})"
    message = problem.partition(" (got ")[0]
    named = [f"{setting} given by {option}" for setting, option in options.items() if re.search(rf"\b{setting}\b", message)]
    return f"{problem} ({', '.join(named)})" if named else problem


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


def _above_threshold(hits: Any, threshold_mev: float | None) -> tuple[Any, int]:
    """``hits`` without those of at most ``threshold_mev``, and the number of kept hits to warn of: with no threshold
    (None) every hit is kept, and those below the simulations' crystal threshold, which learned methods trained on
    simulations never saw, are counted; with one, none is counted (the user chose it)."""
    import awkward as ak

    if threshold_mev is None:
        return hits, int(ak.sum(hits.energy < _simulated_threshold()))
    return hits[hits.energy > threshold_mev], 0


def _simulated_threshold() -> float:
    from showerlearn.calorimeter.simulation import CalorimeterSimulationConfig

    return CalorimeterSimulationConfig.model_fields["crystal_threshold_mev"].default


def convert_calorimeter(
    source: Annotated[Path, typer.Argument(help="ROOT file of crystal hits: a flat TTree or RNTuple.", metavar="FILE")],
    output: Annotated[Path, typer.Option("--output", "-o", help="HDF5 hit file to write.")],
    tree: Annotated[str | None, typer.Option(help="The tree's name (default: the file's only tree).")] = None,
    crystal_id: Annotated[str, typer.Option("--crystal-id", help="Branch of the crystal ids.")] = "crystal_id",
    energy: Annotated[str, typer.Option(help="Branch of the crystal energies.")] = "energy",
    time: Annotated[str, typer.Option(help="Branch of the crystal times [ns].")] = "time",
    event: Annotated[str | None, typer.Option(
        help="Branch of the event numbers: for trees of one entry per hit, consecutive entries of one number are an "
             "event; in any tree, the numbers are kept (the predictions' event_id), to join other detectors' data.")] = None,
    time_reference: Annotated[str | None, typer.Option(
        "--time-reference", help="Branch of one reference time per entry [ns] (the trigger's), which the hit times are "
                                 "read relative to (default: float times as written, integer stamps relative to the "
                                 "event's most energetic hit).")] = None,
    energy_unit: Annotated[str, typer.Option("--energy-unit", help="Unit of the energy branch: keV (R3BRoot's calibrated "
                                                                   "data), MeV (its simulated data) or GeV.")] = "keV",
    geometry: Annotated[str, typer.Option(help="The calorimeter the crystal ids number: califa or toy_grid.")] = "califa",
    beta: Annotated[float | None, typer.Option(
        help="The fragments' velocity v/c at the target (from the beam energy), stored for every event: predictions then "
             "give each cluster's Doppler-corrected energy (default: none, that energy is NaN).")] = None,
    beta_branch: Annotated[str | None, typer.Option(
        "--beta-branch", help="Branch of the fragment's velocity v/c per event (from its time of flight), instead of "
                              "--beta; in a tree of one entry per hit, every hit repeats its event's value.")] = None,
    crystal_threshold: Annotated[float | None, typer.Option(
        "--crystal-threshold", help="Leave out hits of at most this energy [MeV], as R3BRoot's cluster finder does with "
                                    "its crystal threshold (the simulations' is 0.1 MeV: learned methods never saw "
                                    "softer hits); default: keep every hit, warning of those below 0.1 MeV.", min=0.0)] = None,
    overwrite: OverwriteOption = False,
    chunk_entries: Annotated[int | None, typer.Option(
        "--chunk-entries", help="Tree entries read and written at once (hits of a tree of one entry per hit, events of "
                                "one of one entry per event), which bound the memory taken whatever the tree's size "
                                "(default 200,000).", min=1)] = None,
    progress: Annotated[bool, typer.Option("--progress/--no-progress", help="Show a progress bar over the tree's entries.")] = True,
) -> None:
    """Convert a flat ROOT tree of measured crystal hits (R3BRoot's R3BCalifaCrystalCalData exported: crystal id,
    energy, time) into a hit file without truth, for showerlearn predict.

    Crystal ids are mapped to angles with --geometry; see docs/calorimeter.md, "ROOT trees".
    """
    with user_errors():
        check_output_file(output, overwrite, inputs=[source])
        import numpy as np

        from showerlearn.calorimeter.geometry import geometry_by_name
        from showerlearn.calorimeter.io import BETA_RANGE, CalorimeterFileError, MeasuredHitWriter, RootHitReader
        from showerlearn.progress import work_bar, work_bars

        try:
            crystals = geometry_by_name(geometry)
        except ValueError as error:
            raise ValueError(f"--geometry: {error}") from None
        if beta is not None and beta_branch is not None:
            raise ValueError("--beta and --beta-branch: give one velocity, for all events or per event")
        low, high, _ = BETA_RANGE
        if beta is not None and not low <= np.float32(beta) <= high:  # as stored; before the tree is read, which takes a while
            raise ValueError(f"--beta is {beta}: expected the fragments' velocity v/c, in [0, 1) (as a 32-bit float)")
        origin = {"source_file": source.name, "source_tree": tree or "", "source_energy_unit": energy_unit,
                  "source_time_reference": time_reference or "", "source_beta": beta_branch or ("" if beta is None else beta)}
        reader = RootHitReader(source, tree, crystal_id, energy, time, event, energy_unit, crystals, time_reference,
                               values=[beta_branch] if beta_branch else [], chunk_entries=chunk_entries)
        writer = MeasuredHitWriter(output, crystals, origin, overwrite=overwrite,
                                   beta=beta is not None or beta_branch is not None, event_ids=event is not None)
        soft = 0
        with reader, kept_if_created_meanwhile(), writer, work_bars(progress), work_bar("converting", reader.n_entries) as advance:
            for chunk in reader:
                hits, below = _above_threshold(chunk.hits, crystal_threshold)
                soft += below
                velocities = beta if beta_branch is None else chunk.values[beta_branch]
                try:
                    writer.append(hits, velocities, chunk.event_ids)
                except ValueError as error:  # only the velocities are checked there: name where they came from
                    if beta_branch is None:
                        raise
                    raise CalorimeterFileError(source, f"branch {beta_branch!r}: {error}") from None
                advance(chunk.entries)
    if soft:
        simulated = _simulated_threshold()
        log.warning("%d of %d hits are below %g MeV, the crystal threshold of the simulations learned methods train on: "
                    "they never saw such hits (--crystal-threshold %g leaves them out, as R3BRoot's cluster finder does)",
                    soft, writer.n_hits, simulated, simulated)
    said_beta = f"beta from branch {beta_branch!r}" if beta_branch else "no beta" if beta is None else f"beta {beta:g}"
    console.print(f"wrote {output}: {writer.n_events:,} events, {writer.n_hits:,} hits ({geometry} crystals, "
                  f"energies read as {energy_unit}, written in MeV; {said_beta})", soft_wrap=True)


def plot_calorimeter(
    files: Annotated[list[Path], typer.Argument(help="Prediction files of calorimeter runs (showerlearn predict RUN HITS.h5 "
                                                     "-o DIR writes DIR/HITS.predictions.h5).", metavar="FILES")],
    output: FigureOption,
    label: LabelOption = None,
    max_mev: Annotated[float, typer.Option("--max-mev", help="Upper end of the spectra [MeV] (up to a whole bin), above the bin width.")] = 12.0,
    bin_mev: Annotated[float, typer.Option("--bin-mev", help="Bin width of the spectra [MeV], above 0.")] = 0.05,
    overwrite: OverwriteOption = False,
) -> None:
    """Plot the cluster energy spectra of calorimeter prediction files, lab and Doppler-corrected, overlaid: several
    methods on the same hit file (measured data's too: they need no truth), with the true energies where the file
    has them (a simulated input).

    The Doppler-corrected spectrum counts the clusters of events with a velocity (the hit file's beta: convert
    --beta or --beta-branch); see docs/calorimeter.md.
    """
    with user_errors():
        import numpy as np

        from showerlearn.calorimeter.evaluation.figures import spectra_figure

        check_figure_output(output, overwrite)
        if not 0 < bin_mev < max_mev:
            raise ValueError(f"--bin-mev {bin_mev:g} and --max-mev {max_mev:g}: expected 0 < bin width < upper end")
        edges = bin_mev * np.arange(math.ceil(max_mev / bin_mev - 1e-9) + 1)  # whole bins, up to max_mev at least
        spectra = dict(zip(prediction_labels(files, label), (_prediction_spectra(path, edges) for path in files)))
        write_figure(spectra_figure(spectra), output, overwrite)
    console.print(f"wrote {output}")
    _print_spectra_counts(spectra)


def _prediction_spectra(path: Path, edges: Any) -> dict[str, Any]:
    """The spectra record of one prediction file, refused if it is no calorimeter prediction file."""
    from showerlearn.calorimeter.evaluation import PREDICTION_TABLES, prediction_spectra

    return prediction_spectra(_prediction_tables(path, PREDICTION_TABLES), edges)


def _prediction_tables(path: Path, wanted: Mapping[str, Sequence[str]]) -> dict[str, dict[str, Any]]:
    """The tables ``wanted`` of a calorimeter prediction file (name -> the columns needed), in the family's units
    (:data:`PREDICTION_UNITS`: a file converted by hand may hold keV), refused if it is none or is damaged. Only
    those tables are read: the hits table of a large file is most of it."""
    from showerlearn.calorimeter.evaluation.checks import prediction_table_problem
    from showerlearn.calorimeter.evaluation.tables import PREDICTION_UNITS
    from showerlearn.io.tables import convert_units, read_columns, table_names

    names, tables = table_names(path), {}
    for table, columns in wanted.items():
        tables[table] = read_columns(path, table) if table in names else {}
        if lacking := [column for column in columns if column not in tables[table]]:
            if table not in names and "n_clusters" in tables.get("predictions", {}):  # a calorimeter file, of old
                raise ValueError(f"{path}: written by an earlier showerlearn, without the {table} table this command "
                                 "reads: predict its hit file again")
            raise ValueError(f"{path}: not a calorimeter prediction file (showerlearn predict RUN HITS.h5 -o DIR "
                             f"writes them): it has no {table} table with {', '.join(lacking)}")
    tables = convert_units(path, tables, PREDICTION_UNITS)
    predictions = tables.pop("predictions")
    if problem := prediction_table_problem(predictions, tables):
        raise ValueError(f"{path}: {problem} (a damaged prediction file? predict it again)")
    return {"predictions": predictions, **tables}


def convert_calorimeter_clusters(
    source: Annotated[Path, typer.Argument(help="A calorimeter prediction file (showerlearn predict RUN HITS.h5 -o DIR "
                                                "writes DIR/HITS.predictions.h5).", metavar="FILE")],
    output: Annotated[Path, typer.Option("--output", "-o", help="ROOT file to write.")],
    tree: Annotated[str, typer.Option(help="The name of the tree written.")] = "clusters",
    energy_unit: Annotated[str, typer.Option("--energy-unit", help="Unit of the energies written: keV (R3BRoot's "
                                                                   "calibrated data), MeV or GeV.")] = "MeV",
    overwrite: OverwriteOption = False,
    progress: Annotated[bool, typer.Option("--progress/--no-progress", help="Show a progress bar over the events.")] = True,
) -> None:
    """Write the clusters of a calorimeter prediction file as a flat ROOT tree, one entry per event, to go on with
    the analysis in ROOT: per cluster its energy (also Doppler-corrected), angles, time, mother crystal and crystal
    count, as R3BRoot's R3BCalifaClusterData; per hit its crystal, energy, time and cluster.

    The branches are listed in docs/calorimeter.md, "Clusters as a ROOT tree".
    """
    with user_errors():
        from showerlearn.calorimeter.io.root import ENERGY_UNITS
        from showerlearn.calorimeter.io.root_clusters import write_cluster_tree
        from showerlearn.progress import work_bar, work_bars

        check_output_file(output, overwrite, inputs=[source])
        if energy_unit not in ENERGY_UNITS:
            raise ValueError(f"--energy-unit {energy_unit!r}: expected one of {', '.join(ENERGY_UNITS)}")
        if not tree or "/" in tree:
            raise ValueError(f"--tree {tree!r}: expected the name of a tree, without '/'")
        check_prediction_file(source)
        tables = _prediction_tables(source, CLUSTER_TREE_COLUMNS)
        n_events = len(tables["predictions"]["event_id"])
        with kept_if_created_meanwhile(), work_bars(progress), work_bar("writing", n_events) as advance:
            try:
                write_cluster_tree(tables, output, energy_unit, tree, overwrite, advance)
            except ValueError as error:  # tables that disagree: name the file
                raise ValueError(f"{source}: {error} (a damaged prediction file? predict it again)") from None
    console.print(f"wrote {output}: tree {tree!r}, {n_events:,} events, {len(tables['clusters']['label']):,} clusters "
                  f"of {len(tables['hits']['label']):,} hits (energies in {energy_unit})", soft_wrap=True)


#: the columns of a prediction file's tables the ROOT tree of clusters is written from
CLUSTER_TREE_COLUMNS = {
    "predictions": ("event_id", "beta"),
    "hits": ("event_index", "crystal_id", "energy", "time", "theta", "phi", "label"),
    "clusters": ("event_index", "label", "energy", "energy_rest", "theta", "phi", "time", "n_hits"),
}


def _print_spectra_counts(spectra: dict[str, dict[str, Any]]) -> None:
    from rich.table import Table

    table = Table("label", "events", "clusters", "per event", "without beta")
    for name, record in spectra.items():
        per_event = record["clusters"] / record["events"] if record["events"] else float("nan")
        table.add_row(name, f"{record['events']:,}", f"{record['clusters']:,}", f"{per_event:.2f}",
                      f"{record['clusters_without_beta']:,}")
    console.print(table)
