"""``showerlearn explain``: Grad-CAM and attention maps of trained runs, and quantitative criteria.

What depends on the detector (reading the true signal, drawing an event, the criteria) comes from the
family of each run (``Family.explain_adapter``), so the command has no family of its own.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from showerlearn.cli.common import console, quiet_libraries, user_errors


def parse_events(text: str | None) -> list[int]:
    """``"0,3,10-12"`` -> ``[0, 3, 10, 11, 12]``; ``None`` -> the first event."""
    if text is None:
        return [0]
    events: list[int] = []
    for part in (p.strip() for p in text.split(",") if p.strip()):
        low, sep, high = part.partition("-")
        if not low.isdigit() or (sep and not high.isdigit()):
            raise ValueError(f"--events must list positions or ranges like '0,3,10-12', got {text!r}")
        events.extend(range(int(low), int(high) + 1) if sep else [int(low)])
    return sorted(set(events))


def explain(
    run_or_sweep: Annotated[Path, typer.Argument(help="A trained run directory or sweep folder.", show_default=False)],
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
        typer.Option("--target", "-t", help="Output to explain: 'particle:0', 'energy', 'direction:1'... (repeatable; default: every task)."),
    ] = None,
    layer: Annotated[str | None, typer.Option(help="Layer name for Grad-CAM (default: the backbone's last stage).")] = None,
    method: Annotated[str, typer.Option(help="'gradcam' (position-averaged weights) or 'hirescam' (per position).")] = "gradcam",
    reference: Annotated[
        str,
        typer.Option(help="'empty': Grad-CAM of the activations minus those of the empty detector (all-zero input); 'none': plain Grad-CAM."),
    ] = "none",
    compare: Annotated[
        list[Path] | None,
        typer.Option("--compare", "-c", help="Other runs/sweeps whose criteria go in the same table (repeatable)."),
    ] = None,
    max_events: Annotated[int | None, typer.Option(help="Use at most this many events for the criteria.", min=1)] = None,
    signal_threshold: Annotated[
        float, typer.Option(help="True signal for a detector element to count as signal (IACT: p.e. in a pixel).")
    ] = 1.0,
    dilation: Annotated[int, typer.Option(help="Rings of neighbours added around the true signal.", min=0)] = 1,
    control: Annotated[
        bool,
        typer.Option(help="Also give the criteria of each network with random weights (a sanity check of the maps)."),
    ] = True,
) -> None:
    """Explain RUN_OR_SWEEP on INPUT: event figures (input, Grad-CAM per task, attention maps; mean/std
    over seeds for a sweep) and criteria against the true signal, compared with --compare models."""
    quiet_libraries()
    with user_errors():
        from showerlearn.explain.driver import CriteriaSettings
        from showerlearn.explain.report import CRITERIA_FOLDER, write_explanations

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
        )
    folder = run_or_sweep / CRITERIA_FOLDER
    # from this explanation, not from the files there: criteria.md may be an earlier input's
    has_criteria = any(model["criteria"] is not None for model in document["models"].values())
    # without criteria: a family without a true map of what matters (collider tokens), or inputs without truth
    where = f"criteria in {folder / 'criteria.json'}" if has_criteria else "no criteria: the inputs or the family give no true map"
    console.print(f"[green]explanations of {len(document['models'])} model(s):[/] figures in plots/explain/, {where}")
    if has_criteria:
        console.print((folder / "criteria.md").read_text())
