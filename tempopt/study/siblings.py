"""Listing a storage's studies with their siblings: ``NAME:verify-N`` (its verification) and
``NAME:baseline`` (the student alone), studies of the storage that belong to the study ``NAME``.

A sibling is known by its name (a study file's name holds no ``:``) or by its user attr
``search_study``, which names its study. Listings show a sibling under its study, never as a
study of its own.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any, TypeVar

from tempopt.errors import StateError
from tempopt.study.stored import SEARCH_STUDY_ATTR, SPEC_ATTR

SIBLING = re.compile(r"(?P<study>.+):(?P<kind>verify-\d+|baseline)")
OWNER_ATTR = SEARCH_STUDY_ATTR

S = TypeVar("S")


def owner_of(name: str, attrs: Mapping[str, Any], names: Collection[str]) -> str | None:
    """The study among ``names`` that the study ``name`` (with user attrs ``attrs``) is a sibling
    of, or None for a study of its own (a sibling whose study is gone stands on its own)."""
    owner = attrs.get(OWNER_ATTR)
    if isinstance(owner, str) and owner != name and owner in names:
        return owner
    match = SIBLING.fullmatch(name)
    return match["study"] if match is not None and match["study"] in names else None


def require_search(name: str, attrs: Mapping[str, Any], command: str) -> None:
    """Refuse a study that is not a tempopt search: a sibling, or a study tempopt did not make.

    Raises:
        StateError: ``name`` (with user attrs ``attrs``) is a sibling or has no tempopt ``spec``.
    """
    ours = isinstance(attrs.get(SPEC_ATTR), dict)
    owner = attrs.get(OWNER_ATTR)
    if not isinstance(owner, str):
        match = SIBLING.fullmatch(name)
        owner = match["study"] if match is not None and not ours else None
    if owner is not None:
        raise StateError(
            f"study {name!r} is a sibling of study {owner!r} (its verification or its student alone), "
            f"not a search; {command} study {owner!r} instead."
        )
    if not ours:
        raise StateError(
            f"study {name!r} was not made by tempopt (it has no 'spec' attribute), so it has no verdict or "
            f"config to {command}; pass the name of a study that tempopt ran (tempopt status lists them)."
        )


def is_verification(name: str) -> bool:
    """True for a ``NAME:verify-N`` sibling, whose trials are replicates, not a search."""
    match = SIBLING.fullmatch(name)
    return match is not None and match["kind"] != "baseline"


def grouped(
    studies: Sequence[S], name: Callable[[S], str], attrs: Callable[[S], Mapping[str, Any]]
) -> list[tuple[S, list[S]]]:
    """Each study of its own, in the order given, with its siblings (a sibling's sibling too).

    Args:
        studies: anything that stands for a study (Optuna's study summaries, studies).
        name: its name, as ``name(study)``.
        attrs: its user attrs, as ``attrs(study)``.
    """
    names = {name(s) for s in studies}
    owners = {name(s): owner_of(name(s), attrs(s), names) for s in studies}

    def top(start: str) -> str:
        n, seen = start, {start}
        while (owner := owners[n]) is not None:
            if owner in seen:  # studies naming each other: each stands on its own
                return start
            seen.add(owner)
            n = owner
        return n

    tops = {name(s): top(name(s)) for s in studies}
    return [
        (s, [c for c in studies if c is not s and tops[name(c)] == name(s)])
        for s in studies
        if tops[name(s)] == name(s)
    ]
