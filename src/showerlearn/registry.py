"""Registries: every configurable component is found by a registry name or an import path.

A config names a component either by its registered name (``gamma_physnet``) or by an import path
(``my_package.module:MyModel``), so users plug in their own code without forking. Built-in
components register themselves when their module is imported; each registry names the core packages
that hold its built-ins and, on its first lookup, imports every module in them and in every installed
detector family (:mod:`showerlearn.family`), which keeps ``import showerlearn`` cheap and means a new
built-in only has to be a new file.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import pkgutil
import sys
from collections.abc import Callable, Iterable
from typing import Annotated, Any

from annotated_types import Ge, Gt, Interval
from pydantic import AfterValidator

#: Parameter types of a component's constructor that the config check enforces (it validates ``params`` against
#: the signature, :mod:`showerlearn.config.components`): a bad value is refused by its key before a run starts,
#: not by the constructor once the run folder exists. A size (units, heads, batch size): at least 1.
Count = Annotated[int, Ge(1)]
#: a number of layers (0 leaves a stage out), of worker processes
NonNegative = Annotated[int, Ge(0)]
#: a dropout probability, in [0, 1)
DropRate = Annotated[float, Interval(ge=0.0, lt=1.0)]
#: a width relative to another (hidden units of an MLP per embedding unit), above 0
Ratio = Annotated[float, Gt(0.0)]
#: a physical quantity above 0: a width, a tolerance, an energy, a luminosity
Positive = Annotated[float, Gt(0.0)]
#: a probability strictly between 0 and 1 (a confidence level)
Probability = Annotated[float, Interval(gt=0.0, lt=1.0)]
#: a share of a whole above 0, at most all of it (a signal efficiency)
Share = Annotated[float, Interval(gt=0.0, le=1.0)]
#: a value on a score's scale, from 0 to 1 inclusive (a cut on a probability)
ScoreCut = Annotated[float, Interval(ge=0.0, le=1.0)]


def _increasing(edges: tuple[float, ...]) -> tuple[float, ...]:
    if len(edges) < 2 or any(b <= a for a, b in zip(edges, edges[1:])):
        raise ValueError("bin edges must be at least two increasing numbers")
    return edges


#: the edges of histogram bins: at least two, increasing
BinEdges = Annotated[tuple[float, ...], AfterValidator(_increasing)]


class UnknownComponentError(LookupError):
    """A config names a component that is neither registered nor importable."""


class Registry:
    """Maps names to component factories (classes or functions) of one kind."""

    def __init__(self, kind: str, builtin_packages: Iterable[str] = (), base: str | None = None) -> None:
        self.kind = kind
        self._builtin_packages = tuple(builtin_packages)
        #: ``module:Class`` every component named by import path must subclass (None: a registry of functions)
        self._base = base
        self._loaded = False
        self._entries: dict[str, Callable[..., Any]] = {}

    def register(self, name: str | None = None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Decorator registering a factory under ``name`` (default: its ``__name__``)."""

        def decorator(factory: Callable[..., Any]) -> Callable[..., Any]:
            key = name or factory.__name__
            if key in self._entries and self._entries[key] is not factory:
                raise ValueError(f"{self.kind} {key!r} is registered twice")
            self._entries[key] = factory
            return factory

        return decorator

    def add(self, name: str, factory: Callable[..., Any]) -> None:
        """Register an existing factory (e.g. a torch optimizer class) under ``name``."""
        self.register(name)(factory)

    def _load_builtins(self) -> None:
        if self._loaded:
            return
        from showerlearn.family import family_packages  # the families' modules register into every registry

        for package_name in (*self._builtin_packages, *family_packages()):
            package = importlib.import_module(package_name)
            for module in pkgutil.walk_packages(getattr(package, "__path__", []), prefix=f"{package_name}."):
                importlib.import_module(module.name)
        self._loaded = True

    def names(self) -> list[str]:
        self._load_builtins()
        return sorted(self._entries)

    def get(self, spec: str) -> Callable[..., Any]:
        """Return the factory named ``spec`` or found at import path ``module:attribute``."""
        if ":" in spec:
            return self._checked(spec, _import_path(spec, self.kind))
        self._load_builtins()
        try:
            return self._entries[spec]
        except KeyError:
            raise UnknownComponentError(self.unknown_message(spec)) from None

    def _checked(self, spec: str, factory: Any) -> Callable[..., Any]:
        """An imported factory only if it is what this registry holds: a subclass of its base class, or a
        function outside the standard library. A config (even one in a shared run folder) can then name
        a user's model or evaluator, but not e.g. ``subprocess:getoutput`` with arguments of its choosing."""
        if self._base is not None:
            base = _import_path(self._base, self.kind)
            if not (inspect.isclass(factory) and issubclass(factory, base)):
                raise UnknownComponentError(f"{self.kind} {spec!r}: not a subclass of {self._base.replace(':', '.')}")
        elif not inspect.isfunction(factory) or factory.__module__.partition(".")[0] in sys.stdlib_module_names:
            raise UnknownComponentError(f"{self.kind} {spec!r}: not a function of an installed package")
        return factory

    def unknown_message(self, spec: str) -> str:
        close = difflib.get_close_matches(spec, self.names(), n=3, cutoff=0.5)
        hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        from showerlearn.family import installed_families  # the families' extras: only when a name is unknown

        missing = "".join(f" ({family.install_hint()})" for family in installed_families().values() if family.missing_modules())
        return (
            f"unknown {self.kind} {spec!r}.{hint} Known: {', '.join(self.names())}; "
            f"or give an import path 'package.module:Name'.{missing}"
        )

    def __contains__(self, spec: str) -> bool:
        try:
            self.get(spec)
        except UnknownComponentError:
            return False
        return True


def _import_path(spec: str, kind: str) -> Callable[..., Any]:
    module_name, _, attribute = spec.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise UnknownComponentError(f"{kind} {spec!r}: cannot import module {module_name!r} ({error})") from None
    try:
        return getattr(module, attribute)
    except AttributeError:
        raise UnknownComponentError(f"{kind} {spec!r}: module {module_name!r} has no attribute {attribute!r}") from None


MODELS = Registry("model", ["showerlearn.models"], base="torch.nn:Module")
DATAMODULES = Registry("datamodule", ["showerlearn.data"], base="lightning.pytorch:LightningDataModule")
LOSSES = Registry("loss", ["showerlearn.tasks"])
HEAD_METRICS = Registry("head metric", ["showerlearn.tasks"], base="torchmetrics:Metric")
BALANCERS = Registry("task balancer", ["showerlearn.tasks"], base="torch.nn:Module")
OPTIMIZERS = Registry("optimizer", ["showerlearn.tasks"], base="torch.optim:Optimizer")
SCHEDULERS = Registry("scheduler", ["showerlearn.tasks"], base="torch.optim.lr_scheduler:LRScheduler")
CALLBACKS = Registry("callback", ["showerlearn.engine.callbacks"], base="lightning.pytorch:Callback")
EVALUATORS = Registry("evaluator", ["showerlearn.evaluation"])
ESTIMATORS = Registry("estimator", ["showerlearn.baselines"], base="sklearn.base:BaseEstimator")
