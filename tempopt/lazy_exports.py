"""A package's public names imported on first use (PEP 562), so importing the package is cheap.

``tempopt`` and its packages re-export names whose modules import torch, optuna-dashboard or
scikit-learn; ``tempopt status`` and ``tempopt --help`` need none of them. A package lists its
names in a table and gets a module ``__getattr__`` that imports a name's module the first time
the name is read; a ``TYPE_CHECKING`` block beside the table gives type checkers the real names.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Callable
from typing import Any


def lazy_exports(
    package: str, exports: dict[str, tuple[str, ...]]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of a package whose names are imported when first read.

    Args:
        package: the package's ``__name__``.
        exports: module (absolute, or relative to the package with a leading dot) → the names it
            gives the package; ``"name as alias"`` exports ``name`` under ``alias``.

    Returns:
        ``(__getattr__, __dir__)`` to assign at the package's module level.
    """
    where: dict[str, tuple[str, str]] = {}
    for module, names in exports.items():
        for entry in names:
            name, _, alias = entry.partition(" as ")
            where[alias or name] = (importlib.util.resolve_name(module, package), name)

    def __getattr__(attr: str) -> Any:
        if attr not in where:
            raise AttributeError(f"module {package!r} has no attribute {attr!r}")
        module, name = where[attr]
        value = getattr(importlib.import_module(module), name)
        setattr(sys.modules[package], attr, value)  # read once: later reads skip __getattr__
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(where))

    return __getattr__, __dir__
