"""The calorimeter family as the core sees it: its package and its ``simulate`` command (its evaluator, board
style and DataModule come with the learned methods, phase 2 of issue 22)."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from showerlearn.family import Family

if TYPE_CHECKING:
    import typer


class CalorimeterFamily(Family):
    """Crystal calorimeters: hits (E, theta, phi, t) of CsI crystals clustered into gammas (CALIFA at R3B)."""

    name: ClassVar[str] = "calorimeter"
    title: ClassVar[str] = "calorimeter crystal hits (CALIFA)"
    packages: ClassVar[tuple[str, ...]] = ("showerlearn.calorimeter",)

    def add_commands(self, simulate: typer.Typer) -> None:
        from showerlearn.calorimeter.cli import simulate_calorimeter

        simulate.command("calorimeter")(simulate_calorimeter)


#: the object the ``showerlearn.families`` entry point names
FAMILY = CalorimeterFamily()
