"""Raw sim_telarray files through ctapipe (optional extra: ``simtel``, which installs eventio).

A sim_telarray file is turned into a ctapipe DL1 file the way ``ctapipe-process --write-images`` does
it: ctapipe's ``SimTelEventSource`` restricted to the telescopes of one type, its ``CameraCalibrator``
(charge and peak-time extraction; ctapipe's default extractor unless another one is configured) and
its ``DataWriter``. The DL1 reader (:class:`~showerlearn.iact.io.reader.DL1File`) then reads that file
like any other: lazily, in any number of loader workers, with the camera geometry the sim_telarray
file itself describes. :func:`cached_dl1` keeps the converted file, named by the source file and the
settings, so that training and prediction convert a file once.

eventio reads a truncated file up to the cut with only a warning; here a truncated or corrupt file is an
error naming it (:class:`~showerlearn.iact.io.errors.IACTDataError`): before anything is read, gzip and
zstd streams are decompressed to their end, the sizes of eventio's top-level objects are checked
against the content's length (a file cut at a gzip member boundary or uncompressed is caught too), and a
last object other than the histograms sim_telarray ends a run with gives a warning (a file cut between two
objects, or histograms written to a file of their own with sim_telarray's ``-h``);
while reading, eventio's and ctapipe's truncation warnings and eventio's parsing errors raise.
``allow_truncated`` reads the complete events before the cut instead, with a logged warning (ctapipe's
own prod2 test file ``gamma_test.simtel.gz`` is such a file: its content stops at 50 MiB, inside an
event).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.util
import json
import logging
import os
import struct
import tempfile
import warnings
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import tables
from pydantic import ConfigDict, Field, model_validator

from showerlearn.config.base import SettingsModel
from showerlearn.io import atomic_path
from showerlearn.iact.io.errors import IACTDataError
from showerlearn.iact.io.kinds import SIMTEL, decompressed_size, file_kind
from showerlearn.iact.io.reader import DL1File
from showerlearn.iact.io.telescopes import TelescopeType, choose_telescope_type, group_telescopes

__all__ = ["DEFAULT_EXTRACTOR", "SimtelOptions", "cached_dl1", "read_simtel", "simtel_to_dl1"]

#: ctapipe's ``CameraCalibrator.image_extractor_type`` default (what ctapipe-process uses)
DEFAULT_EXTRACTOR = "NeighborPeakWindowSum"
# raised by eventio (and the decompressors under it) on cut or damaged data
_READ_ERRORS: tuple[type[BaseException], ...] = (
    EOFError, OSError, ValueError, struct.error, IndexError, KeyError, zlib.error
)
# eventio: "File seems to be truncated", "Error in _read_next_object during peek: ..."; ctapipe:
# 'EOFError reading from "...". Might be truncated'
_TRUNCATION_WARNINGS = ("truncated", "_read_next_object", "EOFError")
# sim_telarray writes its histograms last, at the end of a run: a file cut between two objects (a killed
# sim_telarray whose compressor closed its stream cleanly) has every object whole but lacks them
_RUN_END_TYPE = 100
# bump when the conversion changes, so that cached files of an older one are not reused
_CONVERSION_VERSION = 1
_ALLOW_HINT = "; allow_truncated (data.params.simtel.allow_truncated in a run config) reads the events before the cut"

log = logging.getLogger(__name__)

#: ctapipe ImageExtractors that give something else than images, and what they give
NOT_IMAGE_EXTRACTORS = {"VarianceExtractor": "gives each pixel's waveform variance (for the camera's calibration)"}


class SimtelOptions(SettingsModel):
    """How sim_telarray files are read: ctapipe's image extraction, how many events, truncated files."""

    model_config = ConfigDict(frozen=True)

    image_extractor: str = Field(
        DEFAULT_EXTRACTOR,
        description="ctapipe ImageExtractor that turns waveforms into charge and peak time (ctapipe's default "
        "NeighborPeakWindowSum; e.g. LocalPeakWindowSum, FixedWindowSum, FlashCamExtractor).",
    )
    extractor_params: dict[str, Any] = Field(
        default_factory=dict, description="Settings (traitlets) of the extractor, e.g. {window_width: 8, window_shift: 4}."
    )
    max_events: int | None = Field(
        None, ge=1, description="Read at most this many array events with a telescope of the chosen type per file; null: all."
    )
    allow_truncated: bool = Field(
        False,
        description="Read the complete events before the cut of a truncated file (with a logged warning) instead "
        "of refusing it. ctapipe's prod2 test file gamma_test.simtel.gz is such a file.",
    )

    @model_validator(mode="after")
    def _check_extractor(self) -> SimtelOptions:
        from ctapipe.image.extractor import ImageExtractor

        extractors = ImageExtractor.non_abstract_subclasses()
        if self.image_extractor in NOT_IMAGE_EXTRACTORS:
            raise ValueError(f"image_extractor {self.image_extractor!r} {NOT_IMAGE_EXTRACTORS[self.image_extractor]}, "
                             "not a shower's charge and peak time per pixel: give another extractor")
        if self.image_extractor not in extractors:
            known = sorted(set(extractors) - set(NOT_IMAGE_EXTRACTORS))
            raise ValueError(f"image_extractor {self.image_extractor!r} is not a ctapipe ImageExtractor; known: {known}")
        known = extractors[self.image_extractor].class_trait_names(config=True)
        unknown = sorted(set(self.extractor_params) - set(known))
        if unknown:
            raise ValueError(f"extractor_params {unknown} are not settings of {self.image_extractor}; known: {sorted(known)}")
        return self


def _require_eventio() -> None:
    if importlib.util.find_spec("eventio") is None:
        raise ImportError("reading sim_telarray files needs the optional dependency eventio: pip install 'showerlearn[simtel]'")


def _check_simtel(path: Path, allow_truncated: bool) -> None:
    """A sim_telarray file, complete (or ``allow_truncated``) and not corrupt, else an IACTDataError."""
    if not path.is_file():
        raise IACTDataError(f"{path}: no such file")
    kind = file_kind(path)
    if kind != SIMTEL:
        raise IACTDataError(f"{path}: {kind}, not a sim_telarray (eventio) file")
    _require_eventio()
    from eventio import EventIOFile

    try:
        size = decompressed_size(path)
        expected, last = 0, None
        with EventIOFile(str(path)) as objects:  # headers only: the objects' contents are skipped
            for item in objects:
                expected, last = expected + int(item.header.total_size), item.header.type
    except EOFError as error:
        _truncated(path, str(error), allow_truncated)
        return
    except (*_READ_ERRORS, *_zstd_errors()) as error:
        raise IACTDataError(f"{path}: sim_telarray file is corrupt ({type(error).__name__}: {error})") from error
    if expected > size:
        _truncated(path, f"its last object ends at byte {expected}, the content stops at byte {size}", allow_truncated)
    elif last != _RUN_END_TYPE:  # a warning, not an error: sim_telarray -h writes the histograms to a file of their own
        found = "it holds no object" if last is None else f"its last object is of type {last}"
        log.warning("%s: %s, not the histograms (type %d) sim_telarray ends a run with: cut between two objects (its "
                    "later events missing), unless its histograms went to a file of their own (sim_telarray -h)",
                    path, found, _RUN_END_TYPE)


def _truncated(path: Path, why: str, allow_truncated: bool) -> None:
    if not allow_truncated:
        raise IACTDataError(f"{path}: sim_telarray file is truncated ({why}){_ALLOW_HINT}")
    log.warning("%s: sim_telarray file is truncated (%s); reading the events before the cut", path, why)


def _zstd_errors() -> tuple[type[BaseException], ...]:
    try:
        import zstandard
    except ImportError:
        return ()
    return (zstandard.ZstdError,)


@contextlib.contextmanager
def _reading(path: Path, allow_truncated: bool) -> Iterator[list[warnings.WarningMessage]]:
    """Turn eventio's parsing errors, and its truncation warnings unless ``allow_truncated``, into an
    IACTDataError naming ``path``; yields the warnings caught so far (:func:`_is_truncation` tells which mean a cut)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            yield caught
        except IACTDataError:
            raise
        except (*_READ_ERRORS, *_zstd_errors()) as error:
            raise IACTDataError(
                f"{path}: cannot read this sim_telarray file, it is truncated or corrupt ({type(error).__name__}: {error})"
            ) from error
    truncation = [w for w in caught if _is_truncation(w)]
    # the others are shown again, once each (every opening of a file repeats ctapipe's header warnings)
    shown = {(str(w.message), w.category, w.filename, w.lineno): w for w in caught if w not in truncation}
    for warning in shown.values():
        warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
    if truncation and not allow_truncated:
        raise IACTDataError(f"{path}: sim_telarray file is truncated ({truncation[0].message}){_ALLOW_HINT}")


def _is_truncation(warning: warnings.WarningMessage) -> bool:
    return any(marker in str(warning.message) for marker in _TRUNCATION_WARNINGS)


def _source(path: Path, **options: Any) -> Any:
    from ctapipe.io import SimTelEventSource

    # images do not depend on the choice; prod2-era files have no effective focal length, and the DL1
    # reader takes the effective one from the optics table wherever there is one
    return SimTelEventSource(input_url=path, focal_length_choice="EQUIVALENT", **options)


@functools.lru_cache(maxsize=32)
def _telescope_types(path: Path, size: int, mtime_ns: int) -> dict[str, TelescopeType]:
    """The telescope types of a file's subarray (its header, which eventio parses on opening: seconds for
    a file of 100 telescopes). Kept per file version, for reading several types of one file."""
    with _source(path) as source:
        return group_telescopes({tel_id: (str(tel), tel.camera.name) for tel_id, tel in source.subarray.tel.items()})


def simtel_to_dl1(
    path: str | os.PathLike[str],
    output: str | os.PathLike[str],
    telescope_type: str | None = None,
    options: SimtelOptions = SimtelOptions(),
) -> TelescopeType:
    """Write the calibrated images of one telescope type of a sim_telarray file as ctapipe DL1 to ``output``.

    Args:
        path: the sim_telarray file (plain, gzip or zstd).
        output: the DL1 HDF5 file to write (appears only once complete).
        telescope_type: ctapipe's type name (``"SST_1M_DigiCam"``) or camera name (``"DigiCam"``), any
            case; None: the file's only type.
        options: image extraction, number of events, truncated files.

    Returns:
        The type read.

    Raises:
        ImportError: eventio is not installed.
        IACTDataError: no such file, not sim_telarray, truncated or corrupt, no or an ambiguous type.
    """
    from ctapipe.calib import CameraCalibrator
    from ctapipe.io import DataWriter
    from traitlets.config import Config

    path = Path(path)
    _check_simtel(path, options.allow_truncated)
    with _reading(path, options.allow_truncated) as caught:
        stat = path.stat()
        chosen = choose_telescope_type(_telescope_types(path, stat.st_size, stat.st_mtime_ns), telescope_type, str(path))
        config = Config({options.image_extractor: dict(options.extractor_params)})
        with (
            atomic_path(output) as tmp,
            _source(path, max_events=options.max_events, allowed_tels=set(chosen.tel_ids)) as source,
            _quiet_table_writer(),
        ):
            calibrator = CameraCalibrator(source.subarray, image_extractor_type=options.image_extractor, config=config)
            writer = DataWriter(
                event_source=source, output_path=tmp, write_dl1_images=True, write_dl1_parameters=False, overwrite=True
            )
            n_images = 0
            with writer:
                for event in source:
                    if any(_is_truncation(w) for w in caught):  # eventio hands out the cut event: not kept
                        break
                    calibrator(event)
                    writer(event)
                    n_images += len(event.dl1.tel)
            if not n_images:
                within = f" within the first {options.max_events} events" if options.max_events else ""
                raise IACTDataError(f"{path}: no {chosen.name} telescope has an image{within}")
            cut = [w for w in caught if _is_truncation(w)]
            if cut and not options.allow_truncated:  # before the rename: a cut file is never cached as complete
                raise IACTDataError(f"{path}: sim_telarray file is truncated ({cut[0].message}){_ALLOW_HINT}")
    return chosen


@contextlib.contextmanager
def _quiet_table_writer() -> Iterator[None]:
    """ctapipe's table writer (a child of the DataWriter's logger) logs a warning per telescope without
    true images (prod2 files have none)."""
    logger = logging.getLogger("ctapipe.io.datawriter.DataWriter.HDF5TableWriter")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def cached_dl1(
    path: str | os.PathLike[str],
    cache_dir: str | os.PathLike[str],
    telescope_type: str | None = None,
    options: SimtelOptions = SimtelOptions(),
) -> Path:
    """The DL1 file of :func:`simtel_to_dl1` in ``cache_dir/simtel``, converted when absent.

    The name digests the source file (resolved path, size, modification time) and every setting, so a
    changed file or setting converts again and a cached file is always complete (written atomically).
    """
    import ctapipe

    path = Path(path)
    stat = path.stat()
    key = {
        "file": str(path.resolve()), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "telescope_type": telescope_type,
        "options": options.model_dump(mode="json"), "ctapipe": ctapipe.__version__, "version": _CONVERSION_VERSION,
    }
    digest = hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:16]
    output = Path(cache_dir) / "simtel" / f"{path.name.split('.')[0]}_{digest}.dl1.h5"
    if output.is_file() and not _opens(output):  # written atomically, so damaged since: converted again
        log.warning("%s: the cached conversion of %s cannot be read (damaged?): converting it again", output, path)
        output.unlink()
    if not output.is_file():
        simtel_to_dl1(path, output, telescope_type, options)
    return output


def _opens(path: Path) -> bool:
    """Whether PyTables opens ``path`` (a cut or damaged file fails there)."""
    try:
        tables.open_file(path, "r").close()
    except Exception:  # PyTables and HDF5 raise many kinds for a damaged file
        return False
    return True


def read_simtel(
    path: str | os.PathLike[str], telescope_type: str | None = None, options: SimtelOptions = SimtelOptions()
) -> dict[str, np.ndarray]:
    """All images of one telescope type of a sim_telarray file (the first ``options.max_events`` array
    events with one), in the layout of :meth:`DL1File.read <showerlearn.iact.io.reader.DL1File.read>`
    (on the type's default reference camera; arguments as :func:`simtel_to_dl1`).

    Raises:
        ImportError: eventio is not installed.
        IACTDataError: as :func:`simtel_to_dl1`.
    """
    with tempfile.TemporaryDirectory(prefix="showerlearn_simtel_") as folder:
        output = Path(folder) / "images.dl1.h5"
        chosen = simtel_to_dl1(path, output, telescope_type, options)
        with DL1File(output, telescope_type=chosen.name) as file:
            return file.read(slice(None))
