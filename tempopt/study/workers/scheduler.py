"""Which submitted study a free worker serves next.

Strict priority: a worker takes work of a lower-priority study only when no higher one has any
to hand out (a search trial nobody runs yet, or verification to plan or run). Among studies of
one priority, the one with the fewest running trials for its remaining budget goes first, then
the earliest submitted. A study's verification belongs to it: a study keeps its place while its
replicates are queued.
"""

from __future__ import annotations

import fnmatch

import optuna

from tempopt.study.workers.service import Progress, progress_of, submitted_studies


def candidates(
    storage: optuna.storages.BaseStorage, pattern: str = "*", skip: frozenset[str] = frozenset()
) -> list[Progress]:
    """Submitted studies matching ``pattern`` with work to hand out, the one to serve first first."""
    open_ = [
        p
        for p in (
            progress_of(s)
            for s in submitted_studies(storage)
            if fnmatch.fnmatchcase(s.study_name, pattern) and s.study_name not in skip
        )
        if p.has_work
    ]
    return sorted(open_, key=_order)


def pick(storage: optuna.storages.BaseStorage, pattern: str = "*", skip: frozenset[str] = frozenset()) -> str | None:
    """The name of the study to serve next, or None when no study has work."""
    found = candidates(storage, pattern, skip)
    return found[0].name if found else None


def _order(p: Progress) -> tuple[float, float, float]:
    remaining = max(p.total - p.finished, 1)
    return (-p.priority, p.running / remaining, float(p.record.get("submitted", 0.0)))
