"""The collider family as the core sees it: its packages and its ``simulate`` command.

Its modules need the ``collider`` extra (Pythia, FastJet, awkward, uproot, vector): without it the family
registers nothing (:func:`showerlearn.family.family_packages`) and its command says what to install.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from showerlearn.family import Family

if TYPE_CHECKING:
    import typer

class ColliderFamily(Family):
    """LHC events: jet constituents and reconstructed objects (Pythia 8 + FastJet + a CMS-like detector)."""

    name: ClassVar[str] = "collider"
    title: ClassVar[str] = "collider events (jet constituents and reconstructed objects)"
    packages: ClassVar[tuple[str, ...]] = ("showerlearn.collider",)
    requires: ClassVar[tuple[str, ...]] = ("pythia8mc", "fastjet", "awkward", "uproot", "vector")
    extra: ClassVar[str | None] = "collider"

    def add_commands(self, simulate: typer.Typer) -> None:
        from showerlearn.collider.cli import simulate_collider

        simulate.command("collider")(simulate_collider)


#: the object the ``showerlearn.families`` entry point names
FAMILY = ColliderFamily()
