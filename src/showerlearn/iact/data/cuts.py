"""Event selection: intensity, leakage, number of islands, particle type, true-energy range.

Cuts act on the per-event columns of :class:`~showerlearn.iact.io.reader.DL1File`. Files without a
parameters table (the project's simulator writes none) get ``intensity``, ``leakage`` and
``n_islands`` computed from the cleaned images with ctapipe, reading the file in chunks.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
from ctapipe.image import leakage_parameters, number_of_islands
from pydantic import ConfigDict, Field, model_validator

from showerlearn.config.base import SettingsModel
from showerlearn.iact.io.errors import EmptySelectionError, IACTDataError
from showerlearn.iact.io.reader import DL1File
from showerlearn.iact.particles import PRIMARY_IDS
from showerlearn.iact.data.transforms import ImageTransform, clean_images

__all__ = ["Cuts", "add_image_parameters", "cut_masks", "removed_per_cut", "select"]


class Cuts(SettingsModel):
    """Selection cuts; ``None`` disables a cut."""

    model_config = ConfigDict(frozen=True)

    min_intensity: float | None = Field(None, description="Lowest image intensity (cleaned charge sum) [p.e.].")
    max_intensity: float | None = Field(None, description="Highest image intensity [p.e.].")
    max_leakage: float | None = Field(
        None, ge=0.0, le=1.0, description="Highest fraction of intensity in the two outermost pixel rings."
    )
    max_n_islands: int | None = Field(None, ge=1, description="Most separate islands of cleaned pixels.")
    particle_types: list[str | int] | None = Field(
        None, description=f"Primaries kept: names {sorted(PRIMARY_IDS)} or true_shower_primary_id values."
    )
    min_energy: float | None = Field(None, gt=0.0, description="Lowest true energy [TeV].")
    max_energy: float | None = Field(None, gt=0.0, description="Highest true energy [TeV].")

    @model_validator(mode="after")
    def _check(self) -> Cuts:
        for name in self.particle_types or []:
            if isinstance(name, str) and name not in PRIMARY_IDS:
                raise ValueError(f"unknown particle type {name!r}; known: {sorted(PRIMARY_IDS)} or an integer id")
        for low, high in (("min_intensity", "max_intensity"), ("min_energy", "max_energy")):
            if getattr(self, low) is not None and getattr(self, high) is not None and getattr(self, low) > getattr(self, high):
                raise ValueError(f"{low} > {high}")
        return self

    @property
    def needs_image_parameters(self) -> bool:
        return any(v is not None for v in (self.min_intensity, self.max_intensity, self.max_leakage, self.max_n_islands))

    def describe(self) -> str:
        """``cuts: intensity >= 50.0 p.e., leakage <= 0.2`` (``no cuts``): the selection in a figure caption."""
        names = list(_cut_tests(self))
        return "cuts: " + ", ".join(names) if names else "no cuts"

    def without_truth(self) -> Cuts:
        """The quality cuts alone: files to predict have no truth to select particles or energies by."""
        return self.model_copy(update={"particle_types": None, "min_energy": None, "max_energy": None})


def cut_masks(columns: Mapping[str, np.ndarray], cuts: Cuts) -> dict[str, np.ndarray]:
    """Each enabled cut's own pass mask (cut name -> bool per event), in the order the cuts apply."""
    with np.errstate(invalid="ignore"):  # NaN parameters (empty images) fail every cut
        return {name: passes(columns) for name, passes in _cut_tests(cuts).items()}


def _cut_tests(cuts: Cuts) -> dict[str, Callable[[Mapping[str, np.ndarray]], np.ndarray]]:
    """Each enabled cut by its name (with its unit: the name is what reports and figure captions show)."""
    tests: dict[str, Callable[[Mapping[str, np.ndarray]], np.ndarray]] = {}
    if cuts.min_intensity is not None:
        tests[f"intensity >= {cuts.min_intensity} p.e."] = lambda c: c["intensity"] >= cuts.min_intensity
    if cuts.max_intensity is not None:
        tests[f"intensity <= {cuts.max_intensity} p.e."] = lambda c: c["intensity"] <= cuts.max_intensity
    if cuts.max_leakage is not None:
        tests[f"leakage <= {cuts.max_leakage}"] = lambda c: c["leakage"] <= cuts.max_leakage
    if cuts.max_n_islands is not None:
        # ctapipe writes n_islands = -1 for an image that no pixel survived cleaning: it has no island to keep
        tests[f"n_islands <= {cuts.max_n_islands}"] = lambda c: (c["n_islands"] >= 1) & (c["n_islands"] <= cuts.max_n_islands)
    if cuts.particle_types is not None:
        ids = [PRIMARY_IDS[p] if isinstance(p, str) else int(p) for p in cuts.particle_types]
        tests[f"particle in {cuts.particle_types}"] = lambda c: np.isin(c["true_shower_primary_id"], ids)
    if cuts.min_energy is not None:
        tests[f"true_energy >= {cuts.min_energy} TeV"] = lambda c: c["true_energy"] >= cuts.min_energy
    if cuts.max_energy is not None:
        tests[f"true_energy <= {cuts.max_energy} TeV"] = lambda c: c["true_energy"] <= cuts.max_energy
    return tests


def removed_per_cut(masks: Mapping[str, np.ndarray], n: int) -> tuple[np.ndarray, dict[str, int]]:
    """``(kept, {cut name: events it removed})`` of ``n`` events: the cuts apply in order, each counting
    only among the events the earlier ones left, so that the counts add up to the events removed."""
    keep = np.ones(n, dtype=bool)
    removed = {}
    for name, passed in masks.items():
        removed[name] = int((keep & ~passed).sum())
        keep &= passed
    return keep, removed


def select(columns: Mapping[str, np.ndarray], cuts: Cuts, source: str) -> np.ndarray:
    """Boolean mask of the events passing ``cuts``; ``source`` names the files in error messages.

    Raises:
        EmptySelectionError: no event passes; the message gives the count left after each cut.
    """
    n = len(columns["event_id"])
    keep, removed = removed_per_cut(cut_masks(columns, cuts), n)
    if not keep.any():
        left = n - np.cumsum(list(removed.values()))
        history = ", ".join(f"{name}: {count}" for name, count in zip(removed, left)) or "no cuts"
        raise EmptySelectionError(
            f"{source}: no event passes the selection ({n} events; left after each cut: {history})"
        )
    return keep


def add_image_parameters(file: DL1File, transform: ImageTransform, chunk_size: int = 256) -> None:
    """Compute ``intensity``, ``leakage`` (intensity in the 2 outer rings) and ``n_islands`` from the
    cleaned images and add them to ``file.columns`` (reads the file in chunks of ``chunk_size``)."""
    if all(name in file.columns for name in ("intensity", "leakage", "n_islands")):
        return
    n = file.n_events
    intensity, leakage, islands = np.zeros(n), np.full(n, np.nan), np.zeros(n)
    for start in range(0, n, chunk_size):
        chunk = file.read(slice(start, start + chunk_size))
        masks = clean_images(transform.camera, chunk["image"], chunk["peak_time"], transform.cleaning)
        for offset, (image, mask) in enumerate(zip(chunk["image"], masks, strict=True)):
            i = start + offset
            intensity[i] = image[mask].sum()
            if mask.any():
                leakage[i] = leakage_parameters(transform.camera, image, mask).intensity_width_2
                islands[i] = number_of_islands(transform.camera, mask)[0]
    if not np.all(np.isfinite(intensity)):
        raise IACTDataError(f"{file.path}: non-finite image intensity")
    file.columns.update(intensity=intensity, leakage=leakage, n_islands=islands)
