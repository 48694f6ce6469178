"""``showerlearn explain``: Grad-CAM and attention maps of trained runs, and quantitative criteria.

What depends on the detector (reading the true signal, drawing an event, the criteria) comes from the
family of each run (``Family.explain_adapter``), so the command has no family of its own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn

from showerlearn.cli.common import console, quiet_libraries, user_errors
from showerlearn.progress import Progress

if TYPE_CHECKING:
    from showerlearn.engine.run_dir import RunDir
    from showerlearn.explain.driver import ProgressHook


def parse_events(text: str | None) -> list[int]:
    """``"0,3,10-12"`` -> ``[0, 3, 10, 11, 12]``; ``None`` -> the first event. Empty parts and reversed
    ranges are refused: they would silently name no event."""
    if text is None:
        return [0]
    events: list[int] = []
    for part in (p.strip() for p in text.split(",")):
        low, sep, high = part.partition("-")
        if not low.isdigit() or (sep and not high.isdigit()) or (sep and int(high) < int(low)):
            raise ValueError(f"--events must list positions or increasing ranges like '0,3,10-12', got {text!r}")
        events.extend(range(int(low), int(high) + 1) if sep else [int(low)])
    return sorted(set(events))


@contextmanager
def _progress_bars(enabled: bool) -> Iterator[Callable[[RunDir], ProgressHook]]:
    """One bar per explained run over the events of its pass (nothing when disabled)."""
    bars = Progress(
        TextColumn("[progress.description]{task.description}"), BarColumn(), MofNCompleteColumn(),
        TextColumn("events"), TimeElapsedColumn(), console=console, disable=not enabled,
    )

    def for_run(run: RunDir) -> ProgressHook:
        task = bars.add_task(f"explaining {run.path.name}", total=None)
        return lambda done, total: bars.update(task, completed=done, total=total)

    with bars:
        yield for_run


def explain(
    runs: Annotated[list[Path], typer.Argument(metavar="RUN_OR_SWEEP", help="A trained run directory or sweep folder.", show_default=False)],
    input: Annotated[
        Path, typer.Option("--input", "-i", help="File to explain, as the run's DataModule reads it (IACT: a DL1 file; "
                           "simulated truth, such as true p.e. images, enables the criteria).")
    ],
    events: Annotated[
        str | None,
        typer.Option("--events", "-e", help="Events to draw: positions among the events passing the run's selection, e.g. '0,3,10-12'."),
    ] = None,
    target: Annotated[
        list[str] | None,
        typer.Option("--target", "-t", metavar="OUTPUT", help="Output to explain with Grad-CAM: 'particle:0', 'energy', 'direction:1'... "
                     "(repeatable; a per-event output, column >= 0). Default: every regression column and one class of "
                     "each classification head: class 0 (IACT: gamma), the last class for the collider (signal); "
                     "none for per-hit outputs (calorimeter: attention maps only)."),
    ] = None,
    layer: Annotated[
        str | None,
        typer.Option(help="Layer name for Grad-CAM (default: the layer the network names in its explain_layer, else its "
                     "backbone's output; collider: a layer over the tokens of the network's explained stream)."),
    ] = None,
    method: Annotated[str, typer.Option(help="'gradcam' (position-averaged weights) or 'hirescam' (per position).")] = "gradcam",
    reference: Annotated[
        str,
        typer.Option(help="'empty': Grad-CAM of the activations minus those of the empty detector (all-zero input); 'none': plain Grad-CAM."),
    ] = "none",
    compare: Annotated[
        list[Path] | None,
        typer.Option("--compare", "-c", metavar="RUN_OR_SWEEP", help="Other runs/sweeps whose criteria go in the same table (repeatable; their "
                     "figures are written to their own plots/explain/)."),
    ] = None,
    max_events: Annotated[
        int | None,
        typer.Option(help="Use this many events, spread evenly over the file, for every average: criteria, "
                     "predictions and per-class summary figures (default: all).", min=1),
    ] = None,
    signal_threshold: Annotated[
        float, typer.Option(help="True signal for a detector element to count as signal (IACT: p.e. in a pixel).")
    ] = 1.0,
    dilation: Annotated[int, typer.Option(help="Rings of neighbours added around the true signal.", min=0)] = 1,
    control: Annotated[
        bool,
        typer.Option(help="Also give the criteria of each network with random weights (a sanity check of the maps)."),
    ] = True,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace earlier explanations (each plots/explain/ and explain/ folder written, as a whole).")
    ] = False,
    progress: Annotated[bool, typer.Option("--progress/--no-progress", help="Show a progress bar per run.")] = True,
) -> None:
    """Explain RUN_OR_SWEEP on INPUT: event figures (input, Grad-CAM per task, attention maps; mean/std
    over seeds for a sweep) and criteria against the true signal, compared with --compare models.

    Figures go to each run's plots/explain/ (and a sweep's), criteria to RUN_OR_SWEEP/explain/. Earlier
    explanations there are refused unless --overwrite, which replaces those folders as a whole at the end
    (nothing of the earlier explanation stays; a failure leaves them as they were)."""
    quiet_libraries()
    if len(runs) > 1:  # a list, so that a glob matching several runs is named, not taken for an unexpected argument
        raise typer.BadParameter(f"one run or sweep is explained at a time, got {len(runs)}: {', '.join(map(str, runs))} (a "
                                 "glob matching several runs? name one, or their sweep folder; --compare adds other "
                                 "models)", param_hint="RUN_OR_SWEEP")
    (run_or_sweep,) = runs
    with user_errors():
        from showerlearn.explain.driver import CriteriaSettings
        from showerlearn.explain.report import CRITERIA_FOLDER, write_explanations

        with _progress_bars(progress) as bars:
            document = write_explanations(
                run_or_sweep,
                input,
                parse_events(events),
                target or None,
                layer,
                compare=compare or [],
                max_events=max_events,
                settings=CriteriaSettings(signal_threshold=signal_threshold, dilation=dilation),
                method=method,
                control=control,
                reference=reference,
                overwrite=overwrite,
                progress=bars,
            )
    folder = run_or_sweep.resolve() / CRITERIA_FOLDER
    has_criteria = any(model["criteria"] is not None for model in document["models"].values())
    # without criteria: a family without a true map of what matters (collider tokens), or inputs without truth
    where = f"criteria in {folder / 'criteria.json'}" if has_criteria else "no criteria: the inputs or the family give no true map"
    figures = ", ".join(document["figures"])
    console.print(f"[green]explanations of {len(document['models'])} model(s):[/] figures in {figures}; {where}")
    if has_criteria:
        console.print((folder / "criteria.md").read_text())
