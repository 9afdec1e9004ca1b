"""A study file's validation error told as one sentence: the key, what is wrong, the fix.

An unknown key comes first whatever else is wrong: a misspelt required key (``kd_wieght``) is
also reported missing by pydantic, and "unknown key 'search.kd_wieght' (did you mean
'kd_weight'?)" is the sentence that leads to the fix. Close spellings come from the fields of the
model at the key's place.
"""

from __future__ import annotations

import difflib
import typing
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from tempopt.study.spec.dimensions import FIXED, RANGE

_NOT_KEYS = (RANGE, FIXED)
"""Parts of an error's location that name a member of a union, not a key of the file."""


def describe(error: ValidationError, model: type[BaseModel]) -> str:
    """The most useful problem of ``error`` (raised validating ``model``) as 'key 'a.b': what and the fix'."""
    errors = error.errors()
    first = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
    loc = _keys(first)
    where = ".".join(loc)
    kind = first["type"]
    if kind == "extra_forbidden":
        close = difflib.get_close_matches(loc[-1], _fields_at(model, loc[:-1]), n=1)
        guess = f" (did you mean {close[0]!r}?)" if close else ""
        return f"unknown key {where!r}{guess}; remove it or check its spelling"
    if kind == "missing":
        return f"key {where!r} is missing; add it"
    msg = first["msg"].removeprefix("Value error, ")
    if kind != "value_error":  # pydantic's own words: add the value and what to do
        got = repr(first["input"])
        got = got if len(got) <= 60 else got[:57] + "..."
        msg = f"{msg[:1].lower()}{msg[1:]}, not {got}; change the value there"
    return f"key {where!r}: {msg}" if where else msg


def _keys(error: ErrorDetails) -> list[str]:
    """The keys of the file that lead to the error (validator and union-member names left out)."""
    return [str(p) for p in error["loc"] if not str(p).startswith("function-") and p not in _NOT_KEYS]


def _fields_at(model: type[BaseModel], keys: list[str]) -> list[str]:
    """The field names of the model found at ``keys`` under ``model`` (none if it is not a model)."""
    current: type[BaseModel] | None = model
    for key in keys:
        field = current.model_fields.get(key) if current is not None else None
        current = None if field is None else _model_in(field.annotation)
    return list(current.model_fields) if current is not None else []


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model an annotation holds (``Sampler``, ``Dimension | float | None``…), if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None
