"""Studies as a service: what ``tempopt submit`` records on a study, and the state it is in.

A submitted study carries the user attr ``service``: ``{"state", "priority", "total"}`` with
``state`` one of ``open``, ``paused``, ``cancelled`` or ``failed`` (what a person or a worker
decided), ``priority`` (higher first) and ``total`` (its stored budget of finished trials).
What ``tempopt studies`` shows adds what the trials say: an open study is ``queued`` (nothing
running), ``running``, ``verifying`` (its budget spent, verification not finished) or ``done``.
Workers read it to choose what to work on (:mod:`tempopt.study.workers.scheduler`); a running trial of
a study that is cancelled ends at its next epoch.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import optuna
from optuna.trial import TrialState

from tempopt.errors import StateError, StorageError
from tempopt.study.stored import SPEC_ATTR, spec_of

SERVICE = "service"
PROBLEMS = "worker_problems"
OPEN, PAUSED, CANCELLED, FAILED = "open", "paused", "cancelled", "failed"
QUEUED, RUNNING, VERIFYING, DONE = "queued", "running", "verifying", "done"
CANCEL_CHECK_SECONDS = 0.25
"""A running trial reads its study's state after an epoch if this long has passed since it last
did, and after its last epoch."""


@dataclass(frozen=True)
class Progress:
    """Where a study stands: its record, and what its trials and verification say."""

    name: str
    record: dict[str, Any]
    finished: int
    running: int
    waiting: int
    verify_planned: int = 0
    verify_complete: int = 0
    verify_open: int = 0
    verify_wanted: bool = True
    workers: list[str] = field(default_factory=list)
    problems: dict[str, str] = field(default_factory=dict)  # host: why a worker there cannot serve it

    @property
    def total(self) -> int:
        return int(self.record.get("total", 0))

    @property
    def priority(self) -> int:
        return int(self.record.get("priority", 0))

    @property
    def verified(self) -> bool:
        return not self.verify_wanted or (self.verify_planned > 0 and self.verify_complete >= self.verify_planned)

    @property
    def finished_for_good(self) -> bool:
        """Its budget spent and verified (whatever its stored state): nothing left to run."""
        return self.total > 0 and self.finished >= self.total and self.verified

    @property
    def state(self) -> str:
        """``queued``, ``running``, ``verifying``, ``done``, ``paused``, ``cancelled`` or ``failed``."""
        stored = self.record.get("state", OPEN)
        if stored != OPEN:
            return str(stored)
        if self.finished >= self.total:
            return DONE if self.verified else VERIFYING
        return RUNNING if self.running else QUEUED

    @property
    def trials_to_hand_out(self) -> int:
        """Search trials no worker has yet: the budget less what is finished or running."""
        return max(0, self.total - self.finished - self.running)

    @property
    def has_work(self) -> bool:
        """True if a worker could start something on this study now."""
        if self.record.get("state", OPEN) != OPEN:
            return False
        if self.trials_to_hand_out > 0:
            return True
        if self.finished < self.total or self.verified:
            return False  # the last trials are running elsewhere, or nothing is left
        return self.verify_planned == 0 or self.verify_open > 0  # to plan, or replicates queued


def record(study: optuna.Study) -> dict[str, Any] | None:
    """The study's service record, or None for a study never submitted."""
    value = study.user_attrs.get(SERVICE)
    return dict(value) if isinstance(value, dict) else None


def submit(study: optuna.Study, total: int, priority: int) -> None:
    """Open ``study`` for workers with its budget and priority (resubmitting keeps its state,
    unless it was cancelled or failed: then it is open again)."""
    old = record(study) or {}
    state = old.get("state", OPEN)
    if state in (CANCELLED, FAILED):
        state = OPEN
    study.set_user_attr(
        SERVICE,
        {
            "state": state,
            "priority": int(priority),
            "total": int(total),
            "submitted": old.get("submitted", time.time()),
        },
    )


def budget(study: optuna.Study) -> int | None:
    """The study's budget of finished trials: its record's total (what ``submit``, ``run`` and
    ``launch`` stored, ``--trials`` included), else its spec's ``trials``; None if neither."""
    attrs = study.user_attrs
    rec, spec = attrs.get(SERVICE), attrs.get(SPEC_ATTR)
    total = (rec if isinstance(rec, dict) else {}).get("total", (spec if isinstance(spec, dict) else {}).get("trials"))
    return None if total is None else int(total)


def set_total(study: optuna.Study, total: int) -> None:
    """Store the study's budget (``--trials`` on ``run`` and ``launch`` too); a study never
    submitted gets a record open at priority 0."""
    old = record(study) or {"state": OPEN, "priority": 0, "submitted": time.time()}
    if old.get("total") != total:
        study.set_user_attr(SERVICE, {**old, "total": int(total)})


def change_state(study: optuna.Study, to: str, reason: str | None = None) -> str:
    """Pause, resume (``open``), cancel or fail a submitted study; returns its previous state.

    Raises:
        StateError: the study was never submitted (it has no service record).
    """
    old = record(study)
    if old is None:
        raise StateError(f"study {study.study_name!r} was not submitted; submit it first (tempopt submit STUDY.yaml).")
    study.set_user_attr(SERVICE, {**old, "state": to, **({"reason": reason} if reason else {})})
    return str(old.get("state", OPEN))


def request_state(study: optuna.Study, to: str, verb: str) -> str:
    """``tempopt pause``, ``resume`` or ``cancel``: :func:`change_state`, unless the study is
    finished, which none of them would change; returns its previous state.

    Raises:
        StateError: the study was never submitted, or it is finished (its budget spent, its verification done).
    """
    if record(study) is not None:
        p = progress_of(study)
        if p.finished_for_good:
            raise StateError(
                f"study {study.study_name!r} is already finished ({p.finished} of {p.total} trials, verified), so "
                f"there is nothing to {verb}; submit it again with a larger --trials to run more."
            )
    return change_state(study, to)


def clear_problems(study: optuna.Study) -> None:
    """Forget what workers could not serve the study: a worker serves it now."""
    study.set_user_attr(PROBLEMS, {})


def progress_of(study: optuna.Study) -> Progress:
    """The study's record and the counts behind its state (several reads: not for the hot path)."""
    from tempopt.study.stored import all_trials, load_verification, pending

    attrs = study.user_attrs  # one read
    rec = dict(attrs[SERVICE]) if isinstance(attrs.get(SERVICE), dict) else {"state": OPEN, "priority": 0, "total": 0}
    trials = all_trials(study)  # its own and its baseline sibling's: what counts toward its total
    finished = sum(t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in trials)
    running = [t for t in trials if t.state == TrialState.RUNNING]
    waiting = sum(t.state == TrialState.WAITING for t in trials)
    spec = spec_of(attrs)
    wanted = int((spec.get("verify") or {}).get("seeds", 0)) > 0
    planned = complete = open_ = 0
    replicates: list = []
    verification = load_verification(study) if wanted else None
    if verification is not None:
        planned, complete, open_ = pending(verification)
        replicates = verification.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
    workers = sorted({str(t.user_attrs.get("worker", "?")) for t in running + replicates})
    return Progress(
        study.study_name,
        rec,
        finished,
        len(running),
        waiting,
        planned,
        complete,
        open_,
        wanted,
        workers=workers,
        problems=dict(attrs.get(PROBLEMS) or {}),
    )


def submitted_studies(storage: optuna.storages.BaseStorage) -> list[optuna.Study]:
    """Every study of the storage that was submitted (verification siblings are not)."""
    try:
        summaries = optuna.get_all_study_summaries(storage=storage, include_best_trial=False)
    except Exception as e:  # pragma: no cover - storage errors are retried by the caller
        raise StorageError(f"cannot list the studies ({e})") from e
    out = []
    for s in summaries:
        if isinstance(s.user_attrs.get(SERVICE), dict):
            out.append(optuna.load_study(study_name=s.study_name, storage=storage))
    return out
