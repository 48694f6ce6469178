"""CTA requirement curves to draw next to a run's IRF curves.

The files are the ones ctaplot ships (``cta_requirements_{North,South}-*.dat``: two columns, energy
[TeV] and value); showerlearn ships and downloads none, the user points to a folder holding them.
Names follow ``cta_requirements_{site}-{50h|30m}[-{LST|MST|SST}][-{AngRes|ERes|EffectiveArea}].dat``;
no suffix is the differential sensitivity. ``showerlearn board --requirements FOLDER`` offers every set
of :data:`REQUIREMENT_SETS` found in the folder (:func:`collect_requirements`).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal, get_args

import numpy as np

from showerlearn.viz.resolution import ReferenceCurve

#: A requirement set: a site, with a telescope type or not (the whole array).
RequirementSet = Literal["North-LST", "North-MST", "North", "South-LST", "South-MST", "South-SST", "South"]
#: Requirement sets the board offers when their files are in the folder, in the board's order (the
#: first one found is shown first).
REQUIREMENT_SETS: tuple[str, ...] = get_args(RequirementSet)
#: the set an IACT run is compared with unless its config names another (the LST's site and telescope)
DEFAULT_REQUIREMENT_SET: RequirementSet = "North-LST"

#: File suffix -> metric name used in metrics.json curves.
_KINDS = {
    "AngRes": "angular_resolution",
    "ERes": "energy_resolution",
    "EffectiveArea": "effective_area",
    None: "sensitivity",
}
_PATTERN = re.compile(
    r"cta_requirements_(?P<site>North|South)-(?P<time>\d+[hm])"
    r"(?:-(?P<tel>LST|MST|SST))?(?:-(?P<kind>AngRes|ERes|EffectiveArea))?\.dat"
)


def read_requirement_file(path: str | Path) -> ReferenceCurve:
    """One requirement file as a curve (energy [TeV], value), labelled by its site and telescope."""
    path = Path(path)
    try:
        data = np.loadtxt(path, ndmin=2)
    except (OSError, ValueError) as error:
        raise ValueError(
            f"{path}: cannot read a CTA requirement curve (two numeric columns: E [TeV], value): {error}"
        ) from None
    if data.shape[1] != 2 or data.shape[0] == 0:
        raise ValueError(f"{path}: expected two columns (energy [TeV], value), got shape {data.shape}")
    if not np.isfinite(data).all():
        row = int(np.flatnonzero(~np.isfinite(data).all(axis=1))[0])
        raise ValueError(f"{path}: data row {row + 1} (comment and blank lines not counted) holds {data[row].tolist()}: "
                         "expected finite numbers (energy [TeV], value)")
    match = _PATTERN.fullmatch(path.name)
    label = "CTA requirement" + (f" {match['site']}" + (f" {match['tel']}" if match["tel"] else "") if match else "")
    return ReferenceCurve(label=label, energy=data[:, 0], value=data[:, 1])


def load_requirements(directory: str | Path, requirement_set: str = DEFAULT_REQUIREMENT_SET) -> dict[str, ReferenceCurve]:
    """The requirement curves of one set (``"North"``, ``"North-LST"``, ``"South-SST"``...) in ``directory``.

    Returns ``{"angular_resolution": ..., "energy_resolution": ..., "effective_area": ...,
    "sensitivity": ...}`` with the curves that exist for that set.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise FileNotFoundError(f"CTA requirements folder {directory} does not exist")
    site, _, telescope = requirement_set.partition("-")
    if site not in ("North", "South") or telescope not in ("", "LST", "MST", "SST"):
        raise ValueError(
            "requirement_set must be 'North' or 'South', optionally with '-LST', '-MST' or '-SST'; "
            f"got {requirement_set!r}"
        )
    curves = {}
    for path in sorted(directory.glob("cta_requirements_*.dat")):
        match = _PATTERN.fullmatch(path.name)
        if match and match["site"] == site and (match["tel"] or "") == telescope:
            curves[_KINDS[match["kind"]]] = read_requirement_file(path)
    if not curves:
        pattern = f"cta_requirements_{site}-*{'-' + telescope if telescope else ''}*.dat"
        raise FileNotFoundError(f"no {pattern} files in {directory}")
    return curves


def collect_requirements(directory: str | Path) -> dict[str, dict[str, ReferenceCurve]]:
    """Every requirement set of :data:`REQUIREMENT_SETS` that has files in ``directory``, in that order."""
    directory = Path(directory)
    if not directory.is_dir():
        raise FileNotFoundError(f"CTA requirements folder {directory} does not exist")
    found = {}
    for name in REQUIREMENT_SETS:
        try:
            found[name] = load_requirements(directory, name)
        except FileNotFoundError:
            continue
    if not found:
        raise FileNotFoundError(f"no cta_requirements_*.dat files in {directory}")
    return found
