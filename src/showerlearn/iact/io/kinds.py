"""What kind of file a path holds, from its first bytes rather than its name.

The IACT readers accept DL1 HDF5 files and raw sim_telarray (eventio) files, plain or compressed with
gzip or zstd. Anything else is refused with a message saying what the file is (a ROOT file, a FITS
table, a text file...), so that a wrong path in a config is recognised at once instead of showing
up as an obscure HDF5 or eventio error.
"""

from __future__ import annotations

import codecs
import gzip
import os
import zlib
from pathlib import Path

import tables

from showerlearn.io.errors import HDF5_SIGNATURE

__all__ = ["HDF5", "SIMTEL", "decompressed_size", "file_kind"]

HDF5 = "HDF5"
SIMTEL = "sim_telarray"

_GZIP = b"\x1f\x8b"
_ZSTD = b"\x28\xb5\x2f\xfd"
# eventio's sync marker, little- and big-endian (eventio.constants)
_EVENTIO = (b"\x37\x8a\x1f\xd4", b"\xd4\x1f\x8a\x37")
# magic bytes of formats one may pass by mistake -> how to call them
_OTHER_FORMATS = (
    (b"root", "ROOT file"),
    (b"SIMPLE  =", "FITS file"),
    (b"PK\x03\x04", "ZIP archive (or .npz)"),
    (b"\x93NUMPY", "NumPy .npy file"),
    (b"PAR1", "Parquet file"),
    (b"\x89PNG", "PNG image"),
    (b"%PDF", "PDF document"),
    (b"BZh", "bzip2-compressed file"),
    (b"\xfd7zXZ", "xz-compressed file"),
)
_CHUNK = 1 << 20


def file_kind(path: str | os.PathLike[str]) -> str:
    """:data:`HDF5`, :data:`SIMTEL` (eventio, plain, gzip or zstd), or a short description of any other
    kind of file ("empty file", "ROOT file", "text file starting with '...'", ...).

    Raises:
        OSError: the file cannot be read at all.
    """
    path = Path(path)
    with path.open("rb") as handle:
        head = handle.read(4096)
    if not head:
        return "empty file"
    if tables.is_hdf5_file(str(path)):
        return HDF5
    if head.startswith(_EVENTIO):
        return SIMTEL
    if head.startswith(_GZIP):
        return _compressed_kind("gzip", _decompressed_head(path, "gzip"))
    if head.startswith(_ZSTD):
        return _compressed_kind("zstd", _decompressed_head(path, "zstd"))
    return _other_kind(head)


def _decompressed_head(path: Path, compression: str) -> bytes:
    """The first bytes of the decompressed stream (empty when not even they can be decompressed)."""
    if compression == "gzip":
        try:
            with gzip.open(path, "rb") as stream:
                return stream.read(4096)
        except (OSError, EOFError, zlib.error):
            return b""
    try:
        import zstandard
    except ImportError:
        return b""
    try:
        with path.open("rb") as raw, zstandard.ZstdDecompressor().stream_reader(raw) as stream:
            return stream.read(4096)
    except zstandard.ZstdError:
        return b""


def _compressed_kind(compression: str, head: bytes) -> str:
    if head.startswith(_EVENTIO):
        return SIMTEL
    if not head:
        return f"{compression}-compressed file that cannot be decompressed (truncated or corrupt?)"
    if head.startswith(HDF5_SIGNATURE):  # HDF5 compresses inside the file: a compressed copy is not read
        return f"{compression}-compressed HDF5 file (decompress it first)"
    return f"{compression}-compressed {_other_kind(head)}"


def _other_kind(head: bytes) -> str:
    """What a file that is neither HDF5 nor eventio is, from its first bytes."""
    for magic, name in _OTHER_FORMATS:
        if head.startswith(magic):
            return name
    try:  # incremental: the head may end inside a multi-byte character
        text = codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        text = None
    if text is not None and "\x00" not in text:
        first_line = text.strip().splitlines()[0][:60] if text.strip() else ""
        return f"text file starting with {first_line!r}"
    return f"binary file of unknown format (first bytes {head[:8].hex(' ')})"


def decompressed_size(path: str | os.PathLike[str]) -> int:
    """The length in bytes of a file's content: gzip and zstd streams are decompressed to their end, so
    that a truncated stream raises (eventio would only warn and hand out the events read so far).

    Raises:
        EOFError: the compressed stream ends before its end-of-stream marker (truncated file).
        OSError, zlib.error, zstandard.ZstdError: corrupt compressed data.
    """
    path = Path(path)
    with path.open("rb") as handle:
        head = handle.read(4)
    if head.startswith(_GZIP):
        size = 0
        with gzip.open(path, "rb") as stream:
            while chunk := stream.read(_CHUNK):
                size += len(chunk)
        return size
    if head.startswith(_ZSTD):
        return _zstd_size(path)
    return path.stat().st_size


def _zstd_size(path: Path) -> int:
    """zstandard's stream reader stops quietly at a cut frame: feed decompression objects frame after
    frame and require the last one to reach its end."""
    import zstandard

    size, decompressor = 0, None
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            while chunk:
                if decompressor is None or decompressor.eof:
                    decompressor = zstandard.ZstdDecompressor().decompressobj()
                size += len(decompressor.decompress(chunk))
                chunk = decompressor.unused_data if decompressor.eof else b""
    if decompressor is None or not decompressor.eof:
        raise EOFError("the zstd stream ends before the end of its frame")
    return size
