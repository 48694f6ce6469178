"""Reading model files without running anything they contain: a run folder someone shared is data, not code.

Pickle, the format behind ``torch.save`` and ``joblib``, rebuilds objects by calling whatever functions the
file names, so loading a pickle runs its author's code. Here:

* network checkpoints (Lightning's ``.ckpt``) are read with ``torch.load(weights_only=True)``, which builds
  tensors and plain data (dicts, lists, numbers, strings) only and refuses a file naming anything else
  before building any of it. showerlearn's checkpoints hold nothing else: the run's config rides along as
  plain data (:data:`CONFIG_KEY`);
* fitted estimators are stored with skops (``estimator.skops``), a zip of JSON and arrays whose loader
  builds only types it is told to trust (:func:`load_estimator` names them), never by unpickling. Estimator
  pickles (``estimator.joblib``, written by older versions) are never opened.

A refused file raises :class:`UnsafeModelFile`, naming the file and what it holds.
"""

from __future__ import annotations

import hashlib
import importlib
import io
import pickle
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import skops.io
import torch
from sklearn.base import BaseEstimator

from showerlearn.io.atomic import atomic_path

__all__ = [
    "CONFIG_KEY",
    "CheckpointFile",
    "ESTIMATOR_FILE",
    "LEGACY_ESTIMATOR_FILE",
    "UnsafeModelFile",
    "load_checkpoint",
    "load_estimator",
    "save_estimator",
]

#: key of a checkpoint holding the run's resolved config, as plain data (``ExperimentConfig.model_dump(mode="json")``)
CONFIG_KEY = "showerlearn_config"
#: a fitted estimator, in a run folder's ``checkpoints/``
ESTIMATOR_FILE = "estimator.skops"
#: the pickle older versions wrote instead: refused, never opened
LEGACY_ESTIMATOR_FILE = "estimator.joblib"

#: packages whose estimator classes (``BaseEstimator`` subclasses: their constructors only store parameters) are trusted
_ESTIMATOR_PACKAGES = ("sklearn", "showerlearn")
#: fitted parts of scikit-learn's models that are no estimators and that skops does not trust by itself: the
#: trees of forests and of gradient boosting (data holders, built from their stored arrays)
_MODEL_PARTS = frozenset({
    "sklearn.tree._tree.Tree",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
})  # fmt: skip


class UnsafeModelFile(ValueError):
    """A model file refused unread: it holds (or may hold) objects that would run code when loaded."""


def load_checkpoint(
    path: str | Path, *, map_location: Any = "cpu", data: bytes | None = None
) -> dict[str, Any]:
    """The contents of a checkpoint file: tensors and plain data only (``torch.load(weights_only=True)``).

    ``data``: the file's bytes, when the caller has read them already (to hash them). Raises
    :class:`UnsafeModelFile` for a file that names any other Python object, and ValueError for one the
    weights-only loader cannot read otherwise (not a pickle, or one using instructions it refuses).
    """
    try:
        return torch.load(io.BytesIO(data) if data is not None else path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as error:
        text = str(error)
        if named := re.search(r"GLOBAL (\S+)", text):
            raise UnsafeModelFile(
                f"{path}: refused: the checkpoint holds objects other than tensors and plain data (it names "
                f"{named.group(1)}); it was not loaded, and nothing in it was run. showerlearn's checkpoints hold tensors "
                "and plain data only: this file was written by other code, or altered. Open it with "
                "torch.load(..., weights_only=False) only if you trust whoever wrote it."
            ) from None
        stopped = re.search(r"WeightsUnpickler error:\s*([^\n]+)", text)
        raise ValueError(
            f"{path}: not a readable checkpoint (loading tensors and plain data only, torch stopped at: "
            f"{stopped.group(1).strip() if stopped else text.splitlines()[0]}); nothing in it was run"
        ) from None
    except FileNotFoundError:
        raise
    # garbage, a cut zip archive (torch reads some cut archives as an invalid seek: OSError from a file, ValueError
    # "negative seek value" from the bytes in memory)
    except (RuntimeError, KeyError, EOFError, OSError, ValueError, zipfile.BadZipFile) as error:
        raise ValueError(f"{path}: not a readable checkpoint, truncated or corrupt ({type(error).__name__}: {error})") from None


@dataclass(frozen=True)
class CheckpointFile:
    """A checkpoint file read once, for those who both hash and load it (prediction stamps, export sidecars):
    the digest and the contents come from the same bytes, and the file is read a single time."""

    path: Path
    content: bytes

    @classmethod
    def read(cls, path: str | Path) -> CheckpointFile:
        path = Path(path)
        return cls(path, path.read_bytes())

    @cached_property
    def sha256(self) -> str:
        """The SHA-256 of the file's bytes (hex), as :func:`showerlearn.io.digest.file_sha256` gives it."""
        return hashlib.sha256(self.content).hexdigest()

    def load(self, map_location: Any = "cpu") -> dict[str, Any]:
        """The contents, read weights-only (:func:`load_checkpoint`)."""
        return load_checkpoint(self.path, map_location=map_location, data=self.content)


def save_estimator(estimator: Any, path: str | Path) -> None:
    """Write a fitted estimator with skops (atomically); :func:`load_estimator` reads it back."""
    with atomic_path(path) as tmp:
        skops.io.dump(estimator, tmp)


def load_estimator(path: str | Path, expected: Callable[..., Any] | None = None) -> Any:
    """The estimator stored in ``path`` by :func:`save_estimator`, built without unpickling anything.

    Trusted (besides the arrays and plain data skops trusts itself): the estimator classes of scikit-learn
    and showerlearn, the fitted trees inside scikit-learn's models, and ``expected``, the estimator class the
    run's config names (a plugin of the user's); the stored estimator must be an ``expected``. Anything else,
    a pickle (also the ``estimator.joblib`` of older versions) and files that are not skops files raise
    :class:`UnsafeModelFile` without being loaded.
    """
    path = Path(path)
    legacy = path.with_name(LEGACY_ESTIMATOR_FILE)
    if not path.exists() and legacy.is_file():
        raise UnsafeModelFile(
            f"{legacy}: refused: an estimator pickle, written by an older showerlearn; pickles run code when they are "
            f"loaded, so it is not opened. Retrain the run (showerlearn train RUN_DIR/config.yaml) to get {path.name}."
        )
    try:
        found = skops.io.get_untrusted_types(file=path)
    except (zipfile.BadZipFile, KeyError, ValueError) as error:
        raise UnsafeModelFile(
            f"{path}: refused: not a skops estimator file ({type(error).__name__}: {error}); showerlearn loads estimators "
            "only from skops files and never unpickles one."
        ) from None
    expected_class = expected if isinstance(expected, type) and issubclass(expected, BaseEstimator) else None
    refused = [name for name in found if not _trusted(name, expected_class)]
    if refused:
        raise UnsafeModelFile(
            f"{path}: refused: it holds types outside showerlearn's allow-list ({', '.join(refused)}); it was not loaded, "
            "and nothing in it was run. An estimator file holds scikit-learn and showerlearn estimators, their fitted "
            "trees, arrays and plain data only. Load it with skops.io.load(..., trusted=[...]) only if you trust "
            "whoever wrote it."
        )
    estimator = skops.io.load(path, trusted=found)
    wanted = expected_class or BaseEstimator
    if not isinstance(estimator, wanted):
        raise ValueError(f"{path}: holds a {type(estimator).__name__}, not a {wanted.__name__}")
    return estimator


def _trusted(name: str, expected: type | None) -> bool:
    """An allowed type: a fitted model part, the expected class, or an estimator class of a trusted package,
    defined where the name says (a name reaching something else through an import is refused)."""
    if name in _MODEL_PARTS or (expected is not None and name == f"{expected.__module__}.{expected.__name__}"):
        return True
    module, _, attribute = name.rpartition(".")
    if module.partition(".")[0] not in _ESTIMATOR_PACKAGES:
        return False  # nothing else is even imported
    try:
        found = getattr(importlib.import_module(module), attribute)
    except (ImportError, AttributeError):
        return False
    return isinstance(found, type) and issubclass(found, BaseEstimator) and found.__module__ == module
