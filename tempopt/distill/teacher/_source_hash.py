"""Hashes of the code a teacher is built and trained with, for its cache key.

Two task modules with the same task name, data and ``repr`` but another ``forward`` make
different teachers, and so do two augmentation functions of the same name with other bodies (or
other values captured from the task's arguments): the key must tell them apart. Torch's own
classes are hashed by name; code without source (a REPL) by name alone.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import json
from collections.abc import Callable
from typing import Any

from torch import nn

PLAIN = (type(None), bool, int, float, complex, str, bytes)


def classes_code(model: nn.Module) -> str:
    """A hash of the source of every class ``model`` is built from (torch's own by name)."""
    h = hashlib.sha256()
    for cls in sorted({type(m) for m in model.modules()}, key=lambda c: (c.__module__, c.__qualname__)):
        h.update(f"{cls.__module__}.{cls.__qualname__}".encode())
        if not cls.__module__.startswith("torch."):
            h.update(_source(cls).encode())
    return h.hexdigest()


def callable_code(fn: Callable[..., Any] | None) -> str | None:
    """A hash of a function's source and of the plain values it carries (defaults, captured
    variables, a ``functools.partial``'s arguments); of its class's source for a callable object.

    Values that are not numbers, strings or tuples of them count by their type alone: their
    ``repr`` may hold a memory address, which would give every process another key.
    """
    if fn is None:
        return None
    h = hashlib.sha256()
    for part in _parts(fn):
        h.update(part.encode())
        h.update(b"\0")
    return h.hexdigest()


def _parts(fn: Callable[..., Any]) -> list[str]:
    if isinstance(fn, functools.partial):
        return [*_parts(fn.func), _plain(fn.args), _plain(sorted(fn.keywords.items()))]
    if inspect.ismethod(fn):
        return [*_parts(fn.__func__), _source(type(fn.__self__))]
    if inspect.isfunction(fn):
        defaults = [fn.__defaults__, sorted((fn.__kwdefaults__ or {}).items())]
        return [_source(fn), _plain(defaults), _plain(_captured(fn))]
    return [_source(type(fn)), _plain(sorted(getattr(fn, "__dict__", {}).items()))]


def _source(obj: Any) -> str:
    try:
        return inspect.getsource(obj)
    except (OSError, TypeError):  # defined where no source is kept (a REPL): its name only
        return f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', '?')}"


def _plain(value: Any) -> str:
    """``repr`` of numbers, strings and containers of them; the type's name of anything else."""
    if isinstance(value, PLAIN):
        return repr(value)
    if isinstance(value, (tuple, list)):
        return "(" + ", ".join(_plain(v) for v in value) + ")"
    return type(value).__qualname__


def _captured(fn: Callable[..., Any]) -> list[Any]:
    """The values of the variables a function captured (its closure)."""
    values = []
    for cell in getattr(fn, "__closure__", None) or ():
        try:
            values.append(cell.cell_contents)
        except ValueError:  # a variable not yet assigned when the function was made
            pass
    return values


def augmentation_code(augmentation: Any) -> str:
    """A hash of a replayable augmentation's classes' source and of its configuration.

    A changed crop size, or an edited ``apply`` under the same class name, is another
    augmentation: it makes another teacher (trained on it) and another view bank.
    """
    h = hashlib.sha256()
    for part in [augmentation, *augmentation.parts()]:
        cls = type(part)
        h.update(f"{cls.__module__}.{cls.__qualname__}".encode())
        h.update(_source(cls).encode())
    h.update(json.dumps(augmentation.config(), sort_keys=True, default=str).encode())
    return h.hexdigest()
