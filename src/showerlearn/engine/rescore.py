"""Metrics of another predictions file of a run (``showerlearn evaluate RUN --predictions FILE --output DIR``).

A run's test split predicted again with other settings (``showerlearn predict RUN -o FILE --set ...``: another
merge cut, decoding threshold or test-time augmentation), or new files with truth, are scored by the run's
evaluator as the file was predicted: with the config its stamp holds (:mod:`showerlearn.engine.predict`). The
metrics and figures go to a folder of their own; the run is left as it is.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from showerlearn.config import ExperimentConfig, load_config, resolve_config
from showerlearn.engine.predict import TEST_SPLIT_SOURCE
from showerlearn.engine.run_dir import RunDir
from showerlearn.engine.runner import evaluate_file
from showerlearn.io.atomic import write_json_atomic
from showerlearn.io.staging import StagedFolders, holds_anything
from showerlearn.io.tables import read_attributes

__all__ = ["evaluate_predictions"]

METRICS_FILE = "metrics.json"


def evaluate_predictions(
    run: str | Path | RunDir, predictions: str | Path, output: str | Path, overwrite: bool = False
) -> dict[str, Any]:
    """Score ``predictions`` (a file ``showerlearn predict`` wrote with the model of ``run``, or one without a
    stamp, read with the run's config) into ``output``: ``metrics.json`` and ``plots/``, written in a temporary
    sibling and renamed into place, so that an error leaves any earlier ``output`` as it was.

    Raises:
        FileExistsError: ``output`` holds something (unless ``overwrite``).
        ValueError: ``predictions`` is not an HDF5 file, or was predicted by another run.
    """
    run = run if isinstance(run, RunDir) else RunDir.existing(run)
    predictions, output = Path(predictions), Path(output)
    if not predictions.is_file():
        raise FileNotFoundError(f"--predictions {predictions}: no such file")
    if holds_anything(output) and not overwrite:
        raise FileExistsError(f"--output {output}: exists; pass --overwrite to replace it")
    stamp = read_attributes(predictions)
    _check_same_run(stamp, run, predictions)
    config = _config(stamp, run, predictions)
    own_split = str(stamp.get("source", "")).startswith(TEST_SPLIT_SOURCE)
    status = run.status()
    with StagedFolders([output]) as staged:
        folder = staged.folder(output)
        metrics = evaluate_file(
            config, run, predictions, folder / "plots",
            # new files: the whole of each was predicted, and the run's caption describes other events
            caption=status.get("caption", "") if own_split else f"predictions of {stamp.get('source', predictions.name)}",
            test_share=status.get("test_share", 1.0) if own_split else 1.0,
        )  # fmt: skip
        write_json_atomic(folder / METRICS_FILE, metrics)
    return metrics


def _check_same_run(stamp: dict[str, Any], run: RunDir, predictions: Path) -> None:
    """A file predicted by another run would be scored by the wrong evaluator settings, or mislabelled."""
    predicted_by = stamp.get("run_path")
    if predicted_by is not None and Path(predicted_by) != run.path.resolve():
        raise ValueError(f"{predictions}: predicted by the run {predicted_by}, not by {run.path}")


def _config(stamp: dict[str, Any], run: RunDir, predictions: Path) -> ExperimentConfig:
    """The config the file was predicted with (its ``--set`` changes included); the run's for a file without one."""
    if "config" not in stamp:
        return load_config(run.config_file)
    return resolve_config(yaml.safe_load(stamp["config"]), f"{predictions} (the config it was predicted with)")
