"""NumPy ``.npz`` files, one per class, of zero-padded token arrays (events, tokens, features).

This is the layout of the public data of Hammad, Moretti, Nojiri (arXiv:2401.00452): each class in its
own file, written by ``numpy.savez_compressed(path, array)`` (so the array is stored under ``arr_0``),
every event padded with all-zero tokens to the same length. The files carry no feature names: they come
from the config, one per last-axis entry. A token whose features are all zero is padding (a real
particle has pT > 0).
"""

from __future__ import annotations

import tokenize
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import awkward as ak
import numpy as np

from showerlearn.collider.io.checks import unique_names
from showerlearn.collider.io.errors import ColliderDataError

__all__ = ["PaddedTokens", "read_npz_classes"]

#: how an .npz (a zip archive) and an .npy begin, and the other formats a class file may be by mistake
_NUMPY_STARTS = (b"PK", b"\x93NUMPY")
_OTHER_STARTS = {b"root": "a ROOT file", b"\x89HDF": "an HDF5 file", b"PAR1": "a parquet file"}


@dataclass(frozen=True)
class PaddedTokens:
    """Tokens of many events padded to one length, with the mask of the real ones and the class labels."""

    features: np.ndarray  #: (events, tokens, features) float32, zero at padding
    mask: np.ndarray  #: (events, tokens) bool, True for a real token
    labels: np.ndarray  #: (events,) int64 class index
    feature_names: tuple[str, ...]

    def to_awkward(self) -> ak.Array:
        """The real tokens only, one list of records per event (the form the preprocessing takes)."""
        counts = self.mask.sum(axis=1)
        flat = self.features[self.mask]
        return ak.unflatten(ak.zip({name: flat[:, i] for i, name in enumerate(self.feature_names)}), counts)


def read_npz_classes(files: Sequence[str | Path], feature_names: Sequence[str], key: str | None = None) -> PaddedTokens:
    """Read one ``.npz`` file per class; the class of a file is its position in ``files``.

    ``key`` names the array inside each file (default: the file's only array). Every file must hold a
    finite array of shape (events, tokens, len(feature_names)) and all files the same number of tokens.
    """
    if not files:
        raise ValueError("read_npz_classes: no files given (one .npz file per class)")
    feature_names = unique_names(feature_names, "read_npz_classes: feature names")
    arrays = [_read_one(Path(path), feature_names, key) for path in files]
    tokens = {array.shape[1] for array in arrays}
    if len(tokens) > 1:
        shapes = ", ".join(f"{path}: {array.shape}" for path, array in zip(files, arrays, strict=True))
        raise ColliderDataError(
            files[0], f"the class files have different numbers of tokens ({shapes}); pad them to one length"
        )
    features = np.concatenate(arrays).astype(np.float32)
    labels = np.concatenate([np.full(len(array), label, np.int64) for label, array in enumerate(arrays)])
    return PaddedTokens(features, np.any(features != 0, axis=2), labels, tuple(feature_names))


def _read_one(path: Path, feature_names: Sequence[str], key: str | None) -> np.ndarray:
    if not path.is_file():
        raise FileNotFoundError(f"no such .npz file: {path}")
    _check_start(path)
    try:
        archive = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
        raise ColliderDataError(path, f"not a NumPy .npz file ({error})") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise ColliderDataError(path, "is a single .npy array, not an .npz archive of named arrays")
    with archive:
        names = list(archive.files)
        if key is None and len(names) != 1:
            raise ColliderDataError(path, f"holds {len(names)} arrays ({', '.join(names)}): name the one to read (key)")
        key = names[0] if key is None else key
        if key not in names:
            raise ColliderDataError(path, f"no array {key!r}; the file has {', '.join(names)}")
        try:
            array = archive[key]
        # truncated, an object array, or a damaged .npy header (numpy parses it as Python: SyntaxError, TokenError)
        except (OSError, ValueError, EOFError, SyntaxError, tokenize.TokenError, zipfile.BadZipFile) as error:
            raise ColliderDataError(path, f"array {key!r} cannot be read as numbers (damaged file? {error})") from None
    if not isinstance(array, np.ndarray):  # a member that is not an .npy: numpy hands back its raw bytes
        raise ColliderDataError(path, f"member {key!r} is not a NumPy array (.npy) but {type(array).__name__}")
    _check(path, key, array, feature_names)
    return array


def _check_start(path: Path) -> None:
    """Refuse a file that is no NumPy file by its first bytes, saying what it is: numpy takes anything else for a
    pickle, and its advice (load it unsafely) is what must not be done with a file of unknown origin."""
    with path.open("rb") as file:
        start = file.read(8)
    if start.startswith(_NUMPY_STARTS):
        return
    kind = next((name for magic, name in _OTHER_STARTS.items() if start.startswith(magic)), None)
    found = kind or ("an empty file" if not start else f"a file beginning with {start!r}")
    raise ColliderDataError(path, f"not a NumPy .npz file but {found}; expected a zip archive of .npy arrays "
                                  "(numpy.savez, numpy.savez_compressed)")


def _check(path: Path, key: str, array: np.ndarray, feature_names: Sequence[str]) -> None:
    if array.ndim != 3:
        raise ColliderDataError(path, f"array {key!r} has shape {array.shape}; expected (events, tokens, features)")
    if array.shape[2] != len(feature_names):
        raise ColliderDataError(
            path,
            f"array {key!r} has {array.shape[2]} features per token but the config names {len(feature_names)} ({', '.join(feature_names)})",
        )
    if not np.issubdtype(array.dtype, np.number) or np.issubdtype(array.dtype, np.complexfloating):
        # complex numbers are numbers, but float32 keeps only their real part
        raise ColliderDataError(path, f"array {key!r} holds {array.dtype}, expected real numbers")
    with np.errstate(over="ignore"):  # values beyond float32's range become inf, caught below
        bad = ~np.isfinite(array.astype(np.float32))
    if bad.any():
        event, _, feature = (int(i[0]) for i in np.nonzero(bad))
        raise ColliderDataError(
            path,
            f"array {key!r} has {int(bad.sum())} NaN, infinite or beyond-float32 values, the first in event {event}, "
            f"feature {feature_names[feature]!r}",
        )
