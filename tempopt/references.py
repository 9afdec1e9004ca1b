"""``package.module:attribute`` references in study files (a task factory, a loss variant).

A study names a task or a loss variant either by a registered name (``digits``, ``dkd``) or by a
reference to the user's own code. :func:`resolve` is the one place that tells them apart,
imports a reference and turns every way it can fail into one sentence naming the value and the
fix; each registry describes what it holds with a :class:`Kind`.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Generic, TypeVar, cast

from tempopt.errors import TempoptError

T = TypeVar("T")


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


@dataclass(frozen=True)
class Kind(Generic[T]):
    """What a registry holds, and the words of the errors about it.

    Attributes:
        noun: what it is, the first word of every error (``task``, ``loss``).
        form: the reference form a user writes (``package.module:make_task``).
        part: what the attribute after the colon is (``a function``, ``a class``).
        accepts: whether an attribute is one (``callable``, a subclass of the base class).
        expected: what it must be, put before the attribute's name in an error (``callable``,
            ``subclass of tempopt.distill.DistillLoss named``).
        fix: how to make one, before ``and name it as FORM`` (``expose a function that
            returns a tempopt.Task``).
        error: the exception raised.
        failures: what importing the user's module may raise that is the user's failure
            (``Exception`` and ``SystemExit``, not ``KeyboardInterrupt``).
        frames: the lines shown under an error raised by the user's module (where it raised).
        raised: what the user's module did, for a sentence (``raised NameError: …``).
    """

    noun: str
    form: str
    part: str
    accepts: Callable[[Any], bool]
    expected: str
    fix: str
    error: type[TempoptError]
    failures: tuple[type[BaseException], ...]
    frames: Callable[[BaseException], Sequence[str]]
    raised: Callable[[BaseException], str]


def resolve(ref: str, registered: Mapping[str, T | str], kind: Kind[T]) -> T:
    """The object ``ref`` names: a registered name, else the attribute of ``package.module:attr``.

    Args:
        ref: a name of ``registered`` or a reference of ``kind.form``.
        registered: name -> the object, or the reference of a built-in one (a string), imported
            the first time it is resolved; a failure there is tempopt's own and raised as is.
        kind: what the registry holds, for the check of the attribute and the errors' words.

    Raises:
        kind.error: one sentence naming ``ref`` and the fix: an unknown name, a reference
            without a module or attribute, a module that cannot be imported or raised while it
            was (with the user's frames as details), an attribute that is missing or not one.
    """
    if ref in registered:
        entry = registered[ref]
        if isinstance(entry, str):
            module_name, _, attr = entry.partition(":")
            return cast(T, getattr(importlib.import_module(module_name), attr))
        return entry
    noun, form = kind.noun, kind.form
    if ":" not in ref:
        raise kind.error(
            f"unknown {noun} {ref!r}; use a built-in {noun} ({', '.join(sorted(registered))}) "
            f"or '{form}' for one of your own."
        )
    module_name, _, attr = ref.partition(":")
    if not module_name or not attr:
        raise kind.error(f"{noun} {ref!r} must name both a module and {kind.part}, of the form '{form}'.")
    try:
        module, _ = import_module_of(ref)
    except ImportError as e:
        raise kind.error(
            f"{noun} {ref!r}: module {module_name!r} cannot be imported ({e}); "
            f"check that it is on PYTHONPATH and of the form '{form}'.",
            kind.frames(e),
        ) from e
    except kind.failures as e:  # the module's own code raised (or exited) while it was imported
        raise kind.error(
            f"{noun} {ref!r}: module {module_name!r} {kind.raised(e)} while it was imported; fix the module.",
            kind.frames(e),
        ) from e
    found = getattr(module, attr, None)
    if not kind.accepts(found):
        raise kind.error(
            f"{noun} {ref!r}: module {module_name!r} has no {kind.expected} {attr!r}; "
            f"{kind.fix} and name it as '{form}'."
        )
    return cast(T, found)
