"""Telescope types of a file and the choice of the one whose images are read.

One network sees one camera, so a file with several telescope types (ctapipe's prod2 ``gamma_test``
holds LSTs, NectarCam and SCT MSTs and CHEC SSTs) is read one type at a time. A type is named as
ctapipe names it (``str(TelescopeDescription)``: ``"SST_ASTRI_CHEC"``) or by its camera (``"CHEC"``),
in any case.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from showerlearn.iact.io.errors import IACTDataError, SeveralTelescopeTypesError

__all__ = ["TelescopeType", "choose_telescope_type", "group_telescopes"]


@dataclass(frozen=True)
class TelescopeType:
    """One telescope type of a file: ctapipe's name (``"SST_1M_DigiCam"``), its camera and telescopes."""

    name: str
    camera: str
    tel_ids: tuple[int, ...]

    def matches(self, wanted: str) -> bool:
        return wanted.lower() in (self.name.lower(), self.camera.lower())


def group_telescopes(described: Mapping[int, tuple[str, str]]) -> dict[str, TelescopeType]:
    """Types from ``{tel_id: (type name, camera name)}``, keyed by type name (telescopes sorted)."""
    groups: dict[str, list[int]] = {}
    cameras: dict[str, str] = {}
    for tel_id, (name, camera) in sorted(described.items()):
        groups.setdefault(name, []).append(int(tel_id))
        cameras[name] = camera
    return {name: TelescopeType(name, cameras[name], tuple(ids)) for name, ids in sorted(groups.items())}


def choose_telescope_type(types: Mapping[str, TelescopeType], wanted: str | None, source: str) -> TelescopeType:
    """The type to read: the one ``wanted`` names (type or camera name), or the file's only type.

    Raises:
        IACTDataError: no type; several types and none chosen; ``wanted`` names none of them or several.
            The message names ``source`` and lists the types with their number of telescopes.
    """
    if not types:
        raise IACTDataError(f"{source}: no telescope with images")
    if wanted is None:
        if len(types) == 1:
            return next(iter(types.values()))
        raise SeveralTelescopeTypesError(
            f"{source}: holds {len(types)} telescope types: {_listing(types)}; one network reads one camera, "
            "so choose the type with telescope_type (data.params.telescope_type in a run config), by type "
            f"or camera name, e.g. {next(iter(types.values())).camera!r}"
        )
    found = [group for group in types.values() if group.matches(wanted)]
    if len(found) == 1:
        return found[0]
    if not found:
        raise IACTDataError(f"{source}: no telescope of type {wanted!r}; the file holds {_listing(types)}")
    raise IACTDataError(
        f"{source}: telescope_type {wanted!r} names several types ({', '.join(g.name for g in found)}); give the full type name"
    )


def _listing(types: Mapping[str, TelescopeType]) -> str:
    def count(group: TelescopeType) -> str:
        return f"{len(group.tel_ids)} telescope{'s' if len(group.tel_ids) != 1 else ''}"

    return ", ".join(f"{group.name} (camera {group.camera}, {count(group)})" for group in types.values())
