"""Import every module of a plugin package, so that adding a detector, a fit score or a control type is one file.

The registries (:mod:`app.controls`, :mod:`app.preprocess.registry`, :mod:`app.fit.registry`) call
:func:`import_modules` on their package and collect what the modules define; nothing else lists them. Modules are
imported in name order, so a registry that cares about order sorts what it collects by a declared key instead.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from types import ModuleType
from typing import TypeVar

T = TypeVar("T")


def import_modules(package: str) -> list[ModuleType]:
    """Every module directly inside ``package`` (not its subpackages), imported, in name order."""
    root = importlib.import_module(package)
    names = sorted(info.name for info in pkgutil.iter_modules(root.__path__) if not info.ispkg)
    return [importlib.import_module(f"{package}.{name}") for name in names]


def classes_defined(modules: list[ModuleType], base: type[T]) -> list[type[T]]:
    """The concrete subclasses of ``base`` that ``modules`` define (not those they merely import)."""
    return [
        member
        for module in modules
        for member in vars(module).values()
        if inspect.isclass(member)
        and issubclass(member, base)
        and member.__module__ == module.__name__
        and not inspect.isabstract(member)
    ]


def by_name(classes: list[type[T]], kind: str) -> dict[str, type[T]]:
    """``classes`` keyed by their ``name`` attribute; two of one name are refused (one would silently win)."""
    registry: dict[str, type[T]] = {}
    for cls in classes:
        name = cls.name  # type: ignore[attr-defined]
        if name in registry:
            raise ValueError(f"two {kind}s are named {name!r}: {registry[name].__qualname__} and {cls.__qualname__}")
        registry[name] = cls
    return registry
