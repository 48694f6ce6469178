"""The collider family as the core sees it: its packages and its ``simulate`` command.

Its modules need the ``collider`` extra (Pythia, FastJet, awkward, uproot, vector). The registries
import every module of every installed family on their first lookup, so without the extra the family
declares no packages (it then registers nothing, instead of breaking every lookup) and its command
says what to install.
"""

from __future__ import annotations

from importlib.util import find_spec
from typing import TYPE_CHECKING, ClassVar

from showerlearn.family import Family

if TYPE_CHECKING:
    import typer

#: the importable modules of the ``collider`` extra of pyproject.toml
REQUIRED_MODULES = ("pythia8mc", "fastjet", "awkward", "uproot", "vector")


def missing_modules() -> list[str]:
    """The modules of the ``collider`` extra that are not installed (found without importing them)."""
    return [name for name in REQUIRED_MODULES if find_spec(name) is None]


class ColliderFamily(Family):
    """LHC events: jet constituents and reconstructed objects (Pythia 8 + FastJet + a CMS-like detector)."""

    name: ClassVar[str] = "collider"
    title: ClassVar[str] = "collider events (jet constituents and reconstructed objects)"
    packages: ClassVar[tuple[str, ...]] = () if missing_modules() else ("showerlearn.collider",)

    def add_commands(self, simulate: typer.Typer) -> None:
        from showerlearn.collider.cli import simulate_collider

        simulate.command("collider")(simulate_collider)


#: the object the ``showerlearn.families`` entry point names
FAMILY = ColliderFamily()
