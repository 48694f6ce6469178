"""The SHA-256 of a file, read a block at a time: what stamps predictions, exports and shipped networks."""

from __future__ import annotations

import hashlib
from pathlib import Path

__all__ = ["file_sha256"]


def file_sha256(path: str | Path, block: int = 1 << 20) -> str:
    """The SHA-256 of a file's bytes (hex), read ``block`` bytes at a time."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(block):
            digest.update(chunk)
    return digest.hexdigest()
