"""``showerlearn export``: a trained network as one ONNX or TorchScript file, checked against PyTorch."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from showerlearn.cli.common import OverwriteOption, check_output_file, console, quiet_libraries, user_errors
from showerlearn.io.atomic import read_json_object


def export(
    run: Annotated[Path, typer.Argument(metavar="RUN", help="A trained run directory (a network, not an estimator).", show_default=False)],
    output: Annotated[Path, typer.Option("--output", "-o", help="Model file to write (.onnx, .pt).")],
    format: Annotated[
        str | None,
        typer.Option("--format", "-f", help="'onnx' (onnxruntime, any language) or 'torchscript'; default: what the "
                     "suffix of --output names (.onnx; .pt, .pth: TorchScript), else onnx.", show_default=False),
    ] = None,
    inputs: Annotated[
        list[Path] | None,
        typer.Option("--input", "-i", metavar="FILE", help="File(s) to check the export on (repeatable); none: the run's test split."),
    ] = None,
    batch: Annotated[int, typer.Option("--batch", "-b", help="Events in the batch the network is traced on.", min=1)] = 2,
    check_events: Annotated[int, typer.Option(help="Compare with PyTorch on at most this many events.", min=1)] = 512,
    overwrite: OverwriteOption = False,
    progress: Annotated[bool, typer.Option("--progress/--no-progress", help="Show progress bars while reading events.")] = True,
) -> None:
    """Export the network of RUN (lattice layers and attention included) with a dynamic batch axis, after
    checking that it reproduces PyTorch within 1e-4 (relative above 1) on real events; a sidecar
    OUTPUT.json describes its inputs, outputs, run and check. `showerlearn predict --model` applies it."""
    quiet_libraries()
    with user_errors():
        from showerlearn.engine.data_fingerprint import refuse_replacing_run_data
        from showerlearn.engine.exported import export_format, export_run, metadata_path
        from showerlearn.engine.run_dir import RunDir

        format = export_format(output, format)  # before tracing: a suffix that names another format
        # the files it reads (the check's inputs, the run's data): --overwrite replaces an earlier export, not them
        read = list(inputs or [])
        check_output_file(output, overwrite, inputs=read)  # before tracing; first: a folder (``-o .``) has no sidecar's name
        check_output_file(metadata_path(output), overwrite, name=f"the sidecar of --output {output},", inputs=read)
        status = RunDir.existing(run).status()
        for path, name in ((output, "--output"), (metadata_path(output), f"the sidecar of --output {output},")):
            refuse_replacing_run_data(status, path, run, name)
        written = export_run(run, output, format, example_batch_size=batch, inputs=inputs, check_events=check_events,
                             progress=progress)
    check = read_json_object(metadata_path(written))["check"]
    console.print(f"[green]exported:[/] {written} ({written.stat().st_size / 1e6:.2f} MB, {format})")
    console.print(
        f"  checked against PyTorch on {check['events']} events of {check['data']}: max |diff| {check['max_abs_diff']:.3g}, "
        f"max |diff| / max(1, |value|) {check['max_rel_diff']:.3g} (tolerance {check['tolerance']:g})"
    )
