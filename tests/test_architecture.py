"""The layout rules of docs/architecture.md: the core never imports a detector family, a family never
imports another one, and every module imports only what its package's docstring says it may (showerlearn packages and
third-party libraries alike). Imports are read from the source (module level and inside functions alike),
so a lazy import cannot hide a dependency."""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import pytest

import showerlearn
from showerlearn.family import installed_families

PACKAGE_ROOT = Path(showerlearn.__file__).parent

# The distribution names the ``May import:`` rules use -> the name the library is imported by (a rule may also name a
# library by its import name, which needs no entry here). Names compare case-insensitively, ``-`` and ``_`` alike.
DISTRIBUTION_IMPORT_NAMES = {"scikit-learn": "sklearn", "pytables": "tables", "pyyaml": "yaml"}


def _family_packages() -> dict[str, str]:
    """Family name -> its top-level package, for the families installed with showerlearn itself."""
    found = {}
    for family in installed_families().values():
        for package in family.packages:
            if package.startswith("showerlearn."):
                found[family.name] = package
    return found


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE_ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported_modules(path: Path) -> set[str]:
    """Every module named by an ``import`` or ``from ... import`` anywhere in the file."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _inside(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def _sources() -> list[Path]:
    return sorted(PACKAGE_ROOT.rglob("*.py"))


def test_the_iact_family_is_installed_and_is_a_subpackage() -> None:
    assert _family_packages().get("iact") == "showerlearn.iact"


def test_no_core_module_imports_a_family() -> None:
    families = _family_packages().values()
    offences = []
    for path in _sources():
        module = _module_name(path)
        if any(_inside(module, family) for family in families):
            continue
        offences += [f"{module} imports {name}" for name in _imported_modules(path) if any(_inside(name, f) for f in families)]
    assert not offences, "core modules must not import a detector family:\n" + "\n".join(sorted(offences))


def test_no_family_imports_another_family() -> None:
    families = _family_packages()
    offences = []
    for path in _sources():
        module = _module_name(path)
        own = next((package for package in families.values() if _inside(module, package)), None)
        if own is None:
            continue
        others = [package for package in families.values() if package != own]
        offences += [f"{module} imports {name}" for name in _imported_modules(path) if any(_inside(name, o) for o in others)]
    assert not offences, "a family must not import another family:\n" + "\n".join(sorted(offences))


@pytest.mark.parametrize("package", sorted({p.parent for p in PACKAGE_ROOT.rglob("__init__.py")}), ids=str)
def test_every_package_says_what_lives_there_and_what_it_may_import(package: Path) -> None:
    docstring = ast.get_docstring(ast.parse((package / "__init__.py").read_text())) or ""
    if package == PACKAGE_ROOT:
        assert "architecture" in docstring
    else:
        assert "May import:" in docstring, f"{package / '__init__.py'}: the docstring names no 'May import:' rule"


def _rule(package: Path) -> str:
    """The paragraph of a package's docstring that starts with ``May import:``."""
    docstring = ast.get_docstring(ast.parse((package / "__init__.py").read_text())) or ""
    return docstring[docstring.index("May import:") :].split("\n\n")[0]


def _may_import(package: Path) -> tuple[str, ...] | None:
    """The showerlearn packages a package's ``May import:`` rule names (None: ``showerlearn.*``, the whole core)."""
    rule = _rule(package)
    return None if "showerlearn.*" in rule else tuple(re.findall(r"showerlearn(?:\.\w+)+", rule))


def _library_key(name: str) -> str:
    """A library's import name in lower case, from its import name or a distribution name the rules use."""
    name = name.lower()
    return DISTRIBUTION_IMPORT_NAMES.get(name, name).replace("-", "_")


def _may_import_libraries(package: Path) -> set[str]:
    """The third-party libraries a package's ``May import:`` rule names (as ``_library_key``s): the first word of each
    item of the rule's list, items being separated by commas, semicolons, "and" or a sentence's end (text in
    parentheses is prose: ``numpy; awkward inside the functions that read hit files (the extra)`` names numpy and
    awkward)."""
    rule = _rule(package).removeprefix("May import:")
    while (prose_removed := re.sub(r"\([^()]*\)", " ", rule)) != rule:
        rule = prose_removed
    words = (re.match(r"\s*([\w-]+)", item) for item in re.split(r"[,;]|\band\b|\.\s", rule))
    return {_library_key(word.group(1)) for word in words if word}


def _third_party_libraries(path: Path) -> set[str]:
    """The top-level names of the libraries a file imports, other than the standard library and showerlearn itself."""
    tops = {name.split(".")[0] for name in _imported_modules(path)}
    return {top for top in tops if top not in sys.stdlib_module_names and top not in {"showerlearn", "__future__"}}


def _unlisted_libraries(path: Path) -> list[str]:
    """The third-party libraries a module imports that its package's ``May import:`` rule does not name."""
    allowed = _may_import_libraries(path.parent)
    return sorted(library for library in _third_party_libraries(path) if _library_key(library) not in allowed)


def test_every_module_imports_only_what_its_package_may_import() -> None:
    """Each module's showerlearn imports are of its own package or of a package its ``May import:`` names."""
    offences = []
    for path in _sources():
        if path.parent == PACKAGE_ROOT:
            continue  # the top-level modules (registry, family, parallel): the layer everything builds on
        allowed = _may_import(path.parent)
        own = _module_name(path.parent / "__init__.py")
        if allowed is None:
            continue
        offences += [
            f"{_module_name(path)} imports {name}" for name in _imported_modules(path)
            # the root itself (``import showerlearn``, its ``__version__``) is the layer everything builds on
            if name.startswith("showerlearn.") and not name.startswith("showerlearn.__")
            and not _inside(name, own) and not any(_inside(name, a) for a in allowed)
        ]  # fmt: skip
    assert not offences, "imports that the package's 'May import:' does not name:\n" + "\n".join(sorted(offences))


def test_every_module_imports_only_the_libraries_its_package_may_import() -> None:
    """Each module's third-party imports are named by its package's ``May import:`` (by import or distribution name).
    A ``showerlearn.*`` rule waives only the showerlearn part; the top-level modules have no rule."""
    offences = []
    for path in _sources():
        if path.parent == PACKAGE_ROOT:
            continue  # the top-level modules (registry, family, parallel): the layer everything builds on
        package = _module_name(path.parent / "__init__.py")
        offences += [
            f"{_module_name(path)} imports {library}, which the rule of {package} does not name: add {library} to the"
            f" 'May import:' line of {package} ({path.parent.relative_to(PACKAGE_ROOT.parent)}/__init__.py)"
            for library in _unlisted_libraries(path)
        ]
    message = "third-party imports that the package's 'May import:' does not name:\n"
    assert not offences, message + "\n".join(sorted(offences))


def test_the_library_rule_reads_distribution_names_and_reports_an_unlisted_import(tmp_path: Path) -> None:
    (tmp_path / "__init__.py").write_text(
        '"""Things.\n\nMay import: showerlearn.io, numpy, scikit-learn (estimators); PyYAML inside the function that\n'
        'reads configs (not scipy).\n\nLater prose: h5py.\n"""\n'
    )
    (tmp_path / "module.py").write_text(
        "import os\nimport numpy.linalg\nfrom sklearn.base import BaseEstimator\nimport showerlearn.io\n"
        "def f():\n    import yaml\n    import scipy\n    from h5py import File\n"
    )
    assert _may_import_libraries(tmp_path) >= {"numpy", "sklearn", "yaml"}
    assert _unlisted_libraries(tmp_path / "module.py") == ["h5py", "scipy"]


def test_the_rule_sees_a_lazy_import_inside_a_function(tmp_path: Path) -> None:
    source = tmp_path / "lazy.py"
    source.write_text("def f():\n    from showerlearn.iact.geometry import Lattice\n    import showerlearn.iact.nn\n")
    assert {"showerlearn.iact.geometry", "showerlearn.iact.nn"} <= _imported_modules(source)
