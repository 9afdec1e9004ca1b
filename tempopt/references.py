"""``package.module:attribute`` references in study files (a task factory, a loss variant)."""

from __future__ import annotations

import importlib
import os
import sys
from types import ModuleType


def import_module_of(ref: str) -> tuple[ModuleType, str]:
    """Import the module of ``ref`` and return it with the attribute name after the colon.

    Like ``python -m``, the working folder is searched first, so a user's own modules are found.

    Raises:
        ImportError: the module cannot be imported (the caller says what it was looking for).
    """
    module_name, _, attr = ref.partition(":")
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    return importlib.import_module(module_name), attr
