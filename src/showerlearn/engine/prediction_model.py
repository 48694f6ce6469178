"""The file that predicts for ``showerlearn predict``: a run's best checkpoint or fitted estimator, or an exported
model given with ``--model``, checked to be the run's own network (its sidecar's settings, and the digest of the
checkpoint it was exported from)."""

from __future__ import annotations

import logging
from pathlib import Path

from showerlearn.config import ExperimentConfig, load_config
from showerlearn.engine.exported import metadata_path
from showerlearn.engine.run_dir import RunDir
from showerlearn.engine.safe_load import ESTIMATOR_FILE, LEGACY_ESTIMATOR_FILE, CheckpointFile, load_estimator
from showerlearn.io.atomic import read_json_object
from showerlearn.io.digest import file_sha256

__all__ = ["predicting_model_file", "read_best_checkpoint", "run_model_sha256"]

log = logging.getLogger(__name__)


def run_model_sha256(run: RunDir) -> str | None:
    """The digest an output of the run's own model is stamped with (its best checkpoint's or its estimator
    file's); None when it has neither."""
    if load_config(run.config_file).model is not None:
        best = read_best_checkpoint(run)
        return None if best is None else best.sha256
    path = run.checkpoints / ESTIMATOR_FILE
    return file_sha256(path) if path.is_file() else None


def read_best_checkpoint(run: RunDir) -> CheckpointFile | None:
    """The network's best checkpoint, read (not yet loaded), or None when the run has none (an exported model
    may stand in for it)."""
    try:
        return CheckpointFile.read(run.best_checkpoint())
    except FileNotFoundError:
        return None


def predicting_model_file(run: RunDir, config: ExperimentConfig, model: str | Path | None, best: CheckpointFile | None) -> Path:
    """The file that predicts: the exported model given (checked against the run's ``best`` checkpoint), else the
    run's estimator or best checkpoint."""
    if model is None:
        return _run_model_file(run, config)
    if config.estimator is not None:
        raise ValueError(f"--model {model}: {run.path} trained an estimator ({config.estimator.name}), not a network to replace")
    if not Path(model).is_file():
        raise FileNotFoundError(f"--model {model}: no such file")
    _check_made_from(Path(model), run, config, best)
    _warn_if_stopped(run, Path(model))
    return Path(model)


def _run_model_file(run: RunDir, config: ExperimentConfig) -> Path:
    """The run's own estimator file or best checkpoint; a FileNotFoundError saying why there is none (the run's
    recorded state and error) and how to go on."""
    if config.estimator is not None:
        found: Path | None = run.checkpoints / ESTIMATOR_FILE
        if not found.is_file() and (run.checkpoints / LEGACY_ESTIMATOR_FILE).is_file():
            load_estimator(found)  # an older run's estimator pickle: refused with how to get a safe file
        found, missing = (found if found.is_file() else None), f"no {ESTIMATOR_FILE} in {run.checkpoints}"
    else:
        found, missing = _checkpoint_path(run), f"no checkpoint in {run.checkpoints}"
    if found is None:
        raise FileNotFoundError(run.not_completed(f"nothing to predict with ({missing})") or (
            f"{run.path}: {missing}, though its run.json says completed (moved or deleted?): put it back, or train "
            f"the run again into a new folder (showerlearn train {run.config_file})"))
    _warn_if_stopped(run, found)
    return found


def _warn_if_stopped(run: RunDir, model: Path) -> None:
    """A stopped network's checkpoint (or its export) predicts, but as it was when it stopped, not as the run would
    end: said, not refused."""
    if run.status().get("state") not in (None, "completed"):
        log.warning("predict: %s did not complete (%s): predicting with %s, as it was when the run stopped",
                    run.path, run.state_summary(), model.name)


def _checkpoint_path(run: RunDir) -> Path | None:
    """The run's best (or last) checkpoint; None when it has none (an ensemble's refusal says to use its members)."""
    try:
        return run.best_checkpoint()
    except FileNotFoundError:
        if run.is_ensemble():
            raise
        return None


def _check_made_from(model: Path, run: RunDir, config: ExperimentConfig, best: CheckpointFile | None) -> None:
    """An exported model must be this run's network (another run's export would be fed and decoded by a
    pipeline it was not trained with): its sidecar's config must hold the run's model and data kind (data
    settings such as cuts or decoding may change at prediction), and the checkpoint it was exported from must
    be the run's best one, byte for byte (another run of the same settings has other weights)."""
    sidecar = metadata_path(model)
    if not sidecar.is_file():
        log.warning("--model %s: no sidecar %s, so it cannot be checked to be %s's network", model, sidecar.name, run.path)
        return
    described = read_json_object(sidecar)
    if missing := [key for key in ("config", "run_id") if key not in described]:
        raise ValueError(f"--model {model}: its sidecar {sidecar} lacks {' and '.join(missing)}: not one `showerlearn "
                         "export` wrote, or damaged; export the run again")
    # sidecars written before they kept the model file's digest are checked on the rest alone
    if (digest := described.get("model_sha256")) is not None and file_sha256(model) != digest:
        raise ValueError(f"--model {model}: not the file its sidecar {sidecar.name} describes (SHA-256 {digest[:12]}...): "
                         "replaced or changed since `showerlearn export` wrote them; export the run again")
    theirs, ours = described["config"], config.model_dump(mode="json")
    differing = []
    if theirs.get("model") != ours["model"]:
        differing.append("model")
    if theirs.get("data", {}).get("name") != ours["data"]["name"]:
        differing.append("data")
    exported_from = described["run_id"]
    if differing:
        raise ValueError(
            f"--model {model}: exported from the run {exported_from} whose {' and '.join(differing)} "
            f"settings differ from {run.path}'s: predict with the run it was exported from"
        )
    same_run = described.get("run", "") == str(run.path.resolve())
    _check_checkpoint_digest(model, run, best, described.get("checkpoint_sha256"), exported_from, same_run)


def _check_checkpoint_digest(
    model: Path, run: RunDir, best: CheckpointFile | None, digest: str | None, exported_from: str, same_run: bool
) -> None:
    """The run's ``best`` checkpoint is the one ``model`` was exported from (its SHA-256 ``digest``, from the sidecar);
    ``same_run``: the sidecar names this very run folder (by its resolved path, not its name, which runs share)."""
    # sidecars written before they kept the digest: accepted on the settings alone, as they were then
    if digest is None:
        return
    if best is None:  # a run folder shipped with its export only: nothing to compare with
        log.warning("--model %s: %s has no checkpoint to check it against", model, run.path)
        return
    if best.sha256 == digest:
        return
    if same_run:  # this run's, before it was trained further (--resume) or its best replaced
        raise ValueError(f"--model {model}: exported from {run.path} when its best checkpoint was another (SHA-256 "
                         f"{digest[:12]}...); the run has been trained further since: export it again")
    raise ValueError(
        f"--model {model}: exported from the checkpoint of the run {exported_from} (SHA-256 {digest[:12]}...), not "
        f"from {best.path}: another network than the run's; predict with the run it was exported from, or export this one"
    )
