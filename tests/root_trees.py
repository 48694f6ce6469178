"""ROOT trees of CALIFA crystal hits for the reader's tests, written with uproot as R3B analyses export them."""

from __future__ import annotations

from pathlib import Path

import awkward as ak
import uproot


def write_root(path: Path, **branches: object) -> Path:
    """A TTree named califa with ``branches`` (lists become jagged awkward branches)."""
    branches = {name: ak.Array(values) if isinstance(values, list) else values for name, values in branches.items()}
    with uproot.recreate(path) as file:
        tree = file.mktree("califa", {name: ak.type(values).content if isinstance(values, ak.Array) else values.dtype
                                      for name, values in branches.items()})
        tree.extend(branches)
    return path
