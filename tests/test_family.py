"""Installed families: a family whose extra is missing registers nothing instead of breaking every lookup."""

from __future__ import annotations

from typing import ClassVar

import pytest

from showerlearn import family as families
from showerlearn.family import GENERIC, Family


class NeedsMissingModule(Family):
    name: ClassVar[str] = "needs_missing"
    packages: ClassVar[tuple[str, ...]] = ("no_such_family_package",)
    requires: ClassVar[tuple[str, ...]] = ("numpy", "no_such_module_for_showerlearn")
    extra: ClassVar[str | None] = "needs_missing"


class Complete(Family):
    name: ClassVar[str] = "complete"
    packages: ClassVar[tuple[str, ...]] = ("complete_family",)
    requires: ClassVar[tuple[str, ...]] = ("numpy",)


def test_missing_modules_and_the_install_hint() -> None:
    incomplete = NeedsMissingModule()
    assert incomplete.missing_modules() == ["no_such_module_for_showerlearn"]
    assert incomplete.install_hint() == (
        "the needs_missing family needs no_such_module_for_showerlearn: pip install --prefer-binary 'showerlearn[needs_missing]'"
    )
    assert Complete().missing_modules() == [] and GENERIC.missing_modules() == []


def test_only_families_with_their_modules_give_packages_to_the_registries(monkeypatch: pytest.MonkeyPatch) -> None:
    installed = {"needs_missing": NeedsMissingModule(), "complete": Complete()}
    monkeypatch.setattr(families, "installed_families", lambda: installed)
    assert families.family_packages() == ["complete_family"]


def test_an_unknown_component_names_the_extras_of_families_without_them(monkeypatch: pytest.MonkeyPatch) -> None:
    """A config naming a model of a family whose extra is missing: the error says what to install."""
    from showerlearn.registry import MODELS

    monkeypatch.setattr(families, "installed_families", lambda: {"needs_missing": NeedsMissingModule()})
    assert "pip install --prefer-binary 'showerlearn[needs_missing]'" in MODELS.unknown_message("missing_family_model")
