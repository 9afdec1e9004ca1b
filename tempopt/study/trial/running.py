"""Running one trial: heartbeats, a stop signal, the outcome told to Optuna, and a requeue.

Shared by the search (``runner``) and verification (``verify``): whatever the objective, a
trial that a signal or a database outage stopped is failed and queued again with the same
params and identity attrs, and a trial that raised is failed with its reason and never stops
the worker.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from tempopt.errors import TempoptError
from tempopt.stopping import StopFlag, WorkerStopped
from tempopt.study.optuna_internals import set_user_attrs, tell
from tempopt.study.storage.heartbeats import heartbeat
from tempopt.study.storage.retries import is_transient, retrying
from tempopt.study.stored import IDENTITY_ATTRS
from tempopt.study.trial.objective import EpochHook, worker_id

log = logging.getLogger(__name__)

FAIL_REASON = "fail_reason"
MAX_CONSECUTIVE_FAILURES = 5


@dataclass
class RunHooks:
    """Progress callbacks of a worker; every one is optional."""

    on_trial_start: Callable[[optuna.Trial], None] | None = None
    on_epoch: EpochHook | None = None
    on_trial_end: Callable[[FrozenTrial], None] | None = None
    on_wait: Callable[[str], None] | None = None
    on_note: Callable[[str], None] | None = None
    on_study_changed: Callable[[optuna.Study], None] | None = None
    """The study's teacher or results changed: the caller refreshes what other tools show of it
    (the command line saves the dashboard note, :func:`tempopt.export.refresh_note`)."""


def run_trials(
    study: optuna.Study,
    trials: list[optuna.Trial],
    objective: Callable[[list[optuna.Trial]], list[float | BaseException]],
    stop: StopFlag,
    hooks: RunHooks,
) -> list[FrozenTrial]:
    """Run ``objective`` on started trials (one, or a batch trained together) and tell Optuna
    how each ended: its value, or the exception that ended it (``TrialPruned``, an error).

    A signal or a database outage during the objective ends every trial of the batch: each is
    failed and queued again with the same params.
    """
    for trial in trials:
        retrying(functools.partial(set_user_attrs, trial, {"worker": worker_id()}), "starting a trial")
        _notify(hooks.on_trial_start, trial)
    with contextlib.ExitStack() as beats:
        for trial in trials:
            beats.enter_context(heartbeat(study, trial))
        try:
            with stop.interruptible():
                outcomes: list[float | BaseException] = objective(trials)
        except (Exception, WorkerStopped) as e:  # a signal, the database, a bug: the whole batch ends so
            outcomes = [e] * len(trials)
    return [_tell(study, trial, outcome, hooks) for trial, outcome in zip(trials, outcomes, strict=True)]


def _tell(
    study: optuna.Study, trial: optuna.Trial, outcome: float | Sequence[float] | BaseException, hooks: RunHooks
) -> FrozenTrial:
    """Tell Optuna how one trial ended; a trial stopped by no fault of its own is queued again."""
    value: float | Sequence[float] | None = None  # a sequence: (accuracy, cost) of a multi-objective study
    state = TrialState.COMPLETE
    requeued = False
    if not isinstance(outcome, BaseException):
        value = outcome
    elif isinstance(outcome, optuna.TrialPruned):
        state = TrialState.PRUNED
    elif isinstance(outcome, WorkerStopped):
        state, requeued = TrialState.FAIL, True
        _note_failure(trial, f"worker {outcome}")
    elif isinstance(outcome, optuna.exceptions.UpdateFinishedTrialError):
        state = TrialState.FAIL
        log.warning(
            "trial %d was failed by another worker (no heartbeat within the grace period); its retry runs instead",
            trial.number,
        )
    else:  # a failed trial must not stop the study
        state = TrialState.FAIL
        if is_transient(outcome):  # not the trial's fault: run it again once the database is back
            requeued = True
            _note_failure(trial, "database unreachable")
            log.warning("trial %d stopped: the database is unreachable; it will be run again", trial.number)
        else:
            _note_failure(trial, str(outcome) or type(outcome).__name__)
            log.warning(
                "trial %d failed: %s",
                trial.number,
                outcome,
                exc_info=outcome if not isinstance(outcome, TempoptError) else None,
            )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        frozen = retrying(
            lambda: tell(study, trial, value if state == TrialState.COMPLETE else None, state),
            f"recording the result of trial {trial.number}",
        )
    if requeued and frozen.user_attrs.get(FAIL_REASON):  # not if another worker failed it first
        retrying(lambda: requeue(study, frozen), f"queueing trial {trial.number} again")
    _notify(hooks.on_trial_end, frozen)
    return frozen


def _note_failure(trial: optuna.Trial, reason: str) -> None:
    """Record why a trial failed, unless another worker has already failed it."""
    try:
        retrying(lambda: trial.set_user_attr(FAIL_REASON, reason), f"recording why trial {trial.number} failed")
    except optuna.exceptions.UpdateFinishedTrialError:
        pass


def _notify(hook: Callable[..., None] | None, *args: Any) -> None:
    """Call a progress hook; one that needs the database does not stop the worker during an outage."""
    if hook is None:
        return
    try:
        hook(*args)
    except Exception as e:
        if not is_transient(e):
            raise
        log.warning("progress not updated: the database is unreachable")


def requeue(study: optuna.Study, frozen: FrozenTrial) -> None:
    """Queue a stopped trial again with the same params and the attrs that say what it is."""
    if not frozen.params:
        return
    attrs: dict[str, Any] = {k: v for k, v in frozen.user_attrs.items() if k in IDENTITY_ATTRS}
    attrs["retry_of"] = frozen.number
    study.enqueue_trial(dict(frozen.params), user_attrs=attrs)


class FailureStreak:
    """Trials in a row that failed in this worker by their own fault; too many stop the worker.

    A trial failed by another worker (no reason recorded here) does not count.
    """

    def __init__(self, what: str = "trials") -> None:
        self.what = what
        self.count = 0

    def update(self, done: list[FrozenTrial], stop: StopFlag) -> None:
        """Count the ended trials; raise after :data:`MAX_CONSECUTIVE_FAILURES` in a row.

        Raises:
            TempoptError: too many failures in a row (unless a stop was requested).
        """
        reason = None
        for frozen in done:
            reason = frozen.user_attrs.get(FAIL_REASON) if frozen.state == TrialState.FAIL else None
            self.count = self.count + 1 if reason else 0
        if self.count >= MAX_CONSECUTIVE_FAILURES and not stop.is_set():
            raise TempoptError(
                f"{self.count} {self.what} in a row failed in this worker (last: {reason}); "
                "fix the cause and run again to resume."
            )


def run_one_or_batch(
    study: optuna.Study, trials: list[optuna.Trial], objective: Any, stop: StopFlag, hooks: RunHooks
) -> list[FrozenTrial]:
    """Started trials, one or several trained together, through ``objective.batch``."""
    return run_trials(study, trials, objective.batch, stop, hooks)
