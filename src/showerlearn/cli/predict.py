"""``showerlearn predict``: apply a trained run to new files, one output file per input."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from showerlearn.cli.common import OverrideOption, console, quiet_libraries, user_errors

if TYPE_CHECKING:
    from showerlearn.engine.predict import PredictionSummary


def predict(
    run: Annotated[Path, typer.Argument(metavar="RUN", help="A completed run directory.", show_default=False)],
    output: Annotated[
        Path, typer.Option("--output", "-o", help="With inputs: the folder of the outputs; else the file of the test split's.")
    ],
    files: Annotated[
        list[str] | None,
        typer.Argument(metavar="FILES", help="Input files or glob patterns; none (and no --input): the run's test split.", show_default=False),
    ] = None,
    inputs: Annotated[
        list[str] | None, typer.Option("--input", "-i", metavar="FILE", help="An input file or glob pattern (repeatable), as FILES.")
    ] = None,
    model: Annotated[
        Path | None, typer.Option("--model", help="An exported model file (showerlearn export) to predict with instead of the run's checkpoint.")
    ] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Predict every input again, replacing whatever files are at the outputs.")] = False,
    keep_invalid: Annotated[
        bool, typer.Option("--keep-invalid", help="Keep events the selection cuts remove, as rows with NaN predictions and valid=False.")
    ] = False,
    chunk_events: Annotated[
        int | None, typer.Option("--chunk-events", min=1, help="Events read, decoded and written at a time (default 10,000).")
    ] = None,
    progress: Annotated[bool, typer.Option("--progress/--no-progress", help="Show a progress bar.")] = True,
    overrides: OverrideOption = None,
) -> None:
    """Reconstruct the events of input FILES with the model of RUN: DIR/<file stem>.predictions.h5 for each
    file, one row per event, stamped with the source file's SHA-256, the run, the model and the config.

    Run again, it skips the files already done (same source, run, model and config) and redoes one that
    was interrupted; any other existing output is refused unless --overwrite. Events removed by the run's
    selection cuts are counted per cut (here and in each file's attributes); --keep-invalid keeps them as
    rows. Without input files, the run's test split is predicted into the file --output; --output
    RUN/predictions.h5 restores a completed run's own predictions file, moved or deleted (never replaces it).

    --set changes how the run predicts, e.g. --set data.params.augment.test_time=true or a batch size;
    settings that change the network's inputs (cleaning, transforms) no longer match what it learned. The
    data preprocessing the run fitted on its training split (a standardisation) is its checkpoint's: --set
    of its settings is refused (train a new run to change them). For the test split, --set of what decides
    which events it holds (the seed, the split, cuts, files) is refused too: it would no longer be the
    run's test split.
    """
    quiet_libraries()
    patterns = [*(files or []), *(inputs or [])]
    # with --overwrite the same command would predict every file again; without it, a file not reached yet whose
    # output is an earlier prediction (another config) is refused
    again = ("the same command without --overwrite goes on from the first file not finished (where that file or those "
             "not reached yet hold earlier predictions, it refuses them: delete those, or keep --overwrite to predict "
             "every file again)") if overwrite else "the same command goes on from the first file not finished"
    kept = f"the outputs of the files finished are kept in {output}; {again}" if patterns else "nothing written"
    with user_errors(kept=kept):
        from showerlearn.engine.predict import PredictionStopped, predict_files, predict_split

        options = {"model": model, "overwrite": overwrite, "progress": progress, "console": console}
        if chunk_events is not None:
            options["chunk_events"] = chunk_events
        if patterns:
            try:
                summaries = predict_files(run, patterns, output, overrides or [], keep_invalid=keep_invalid, **options)
            except PredictionStopped as stopped:
                _report(stopped.summaries)  # what is done, then the error
                raise
        elif keep_invalid:
            raise ValueError("--keep-invalid applies to input files: the run's test split holds selected events only")
        else:
            summaries = [predict_split(run, output, overrides or [], **options)]
    _report(summaries)


def _report(summaries: Sequence[PredictionSummary]) -> None:
    """Each input's outcome, then the totals: files written and skipped, events, removed per cut, events/s."""
    table = Table(box=None)
    for column in ("input", "output", "status", "events read", "predicted", "removed by cuts", "events/s"):
        table.add_column(column, overflow="fold")
    removed: dict[str, int] = {}
    for summary in summaries:
        for cut, count in summary.removed.items():
            removed[cut] = removed.get(cut, 0) + count
        cuts = _failing(summary.removed) or "-"
        rate = "-" if summary.status == "skipped" else f"{summary.events_per_second:,.0f}"
        status = f"{summary.status} (partial one redone)" if summary.redone else summary.status
        table.add_row(summary.source, str(summary.output), status, f"{summary.events_read:,}",
                      f"{summary.events_predicted:,}", cuts, rate)
    console.print(table)
    written = [s for s in summaries if s.status == "written"]
    seconds = sum(s.seconds for s in written)
    rate = f", {sum(s.events_read for s in written) / seconds:,.0f} events/s" if seconds > 0 else ""
    cuts = f"; removed {_failing(removed)}" if removed else ""
    console.print(
        f"[green]{len(written)} written[/], {len(summaries) - len(written)} skipped (done already): "
        f"{sum(s.events_read for s in summaries):,} events read, {sum(s.events_predicted for s in summaries):,} predicted"
        f"{' (the skipped files by their earlier run)' if len(written) < len(summaries) else ''}"
        f"{cuts}{rate}"
    )


def _failing(removed: Mapping[str, int]) -> str:
    """The events each cut removed, said as those failing it: a cut is named by what the kept events pass
    ("intensity >= 50 p.e."), so "8,996 failing intensity >= 50 p.e." rather than a count beside the condition."""
    return ", ".join(f"{count:,} failing {cut}" for cut, count in removed.items())
