"""Parameter descriptions from docstrings (numpydoc ``Parameters`` and Google ``Args:`` sections).

Components document their constructor arguments in their docstrings; the config reference and the
params models take the descriptions from there, so they are written once, next to the code.
"""

from __future__ import annotations

import inspect
import re
from typing import Any

__all__ = ["parameter_docs"]

_NUMPYDOC_HEADER = re.compile(r"^(Parameters|Other Parameters)\n-{3,}$", re.MULTILINE)
_ANY_NUMPYDOC_HEADER = re.compile(r"^\w[\w ]*\n-{3,}$", re.MULTILINE)
_GOOGLE_HEADER = re.compile(r"^(Args|Arguments|Parameters):$", re.MULTILINE)
_GOOGLE_ENTRY = re.compile(r"^(\*{0,2}\w+)(?:\s*\(.*\))?:\s*(.*)$")  # the type may hold parentheses


def parameter_docs(factory: Any) -> dict[str, str]:
    """``{parameter: description}`` from the docstrings of ``factory``; for a class, its own and its
    ``__init__``'s, then its base classes' (a subclass documents only what it changes). Several names on
    one numpydoc line share the description; whitespace is joined."""
    docs: dict[str, str] = {}
    if inspect.isclass(factory):
        sources = [part for cls in factory.__mro__ if cls is not object for part in (cls, cls.__dict__.get("__init__"))]
    else:
        sources = [factory]
    for source in (s for s in sources if s is not None):
        text = inspect.getdoc(source) or ""
        for parse in (_numpydoc, _google):
            for name, description in parse(text).items():
                docs.setdefault(name, description)
    return docs


def _numpydoc(text: str) -> dict[str, str]:
    header = _NUMPYDOC_HEADER.search(text)
    if header is None:
        return {}
    body = text[header.end():]
    following = _ANY_NUMPYDOC_HEADER.search(body)
    body = body[: following.start()] if following else body
    entries: dict[str, str] = {}
    names: list[str] = []
    for line in body.splitlines():
        if line and not line[0].isspace():
            names = [n.strip() for n in line.split(":")[0].split(",") if n.strip()]
            for name in names:
                entries[name] = ""
        elif line.strip() and names:
            for name in names:
                entries[name] = f"{entries[name]} {line.strip()}".strip()
    return entries


def _google(text: str) -> dict[str, str]:
    header = _GOOGLE_HEADER.search(text)
    if header is None:
        return {}
    entries: dict[str, str] = {}
    current: str | None = None
    indent: int | None = None
    for line in text[header.end():].splitlines()[1:]:
        if not line.strip():
            continue
        width = len(line) - len(line.lstrip())
        if width == 0:
            break  # the next section
        indent = width if indent is None else indent
        match = _GOOGLE_ENTRY.match(line.strip())
        if width == indent:
            current = match.group(1).lstrip("*") if match else None
            if current is not None:
                entries[current] = match.group(2).strip()
        elif current is not None and width > indent:
            entries[current] = f"{entries[current]} {line.strip()}".strip()
    return entries
