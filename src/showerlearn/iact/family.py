"""The IACT family as the core sees it: its packages, its ``simulate`` command, how its runs read on
the board and how its networks are explained."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from showerlearn.family import Family

if TYPE_CHECKING:
    import typer


class IACTFamily(Family):
    """Cherenkov-telescope images on their pixel lattice."""

    name: ClassVar[str] = "iact"
    title: ClassVar[str] = "Cherenkov telescope images"
    packages: ClassVar[tuple[str, ...]] = ("showerlearn.iact",)

    def add_commands(self, simulate: typer.Typer) -> None:
        from showerlearn.iact.cli import simulate_iact

        simulate.command("iact")(simulate_iact)

    def classification_columns(self, columns: Mapping[str, Any]) -> tuple[Any, Any] | None:
        from showerlearn.metrics.classification import gamma_labels

        if {"true_shower_primary_id", "gammaness"} <= columns.keys():
            return gamma_labels(columns["true_shower_primary_id"]), columns["gammaness"]
        return super().classification_columns(columns)


#: the object the ``showerlearn.families`` entry point names
FAMILY = IACTFamily()
