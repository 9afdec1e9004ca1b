"""The worker loop that runs a study's trials (one at a time or in batches), then its share of
the verification; and the preparation of a study for workers (``creation`` makes the study).

The study's budget is its total of finished (COMPLETE + PRUNED) trials, whatever the number of
workers: before asking for a trial a worker checks the count, and after asking it checks again
that no more than ``total`` trials are finished or running ahead of its own; a surplus trial is
put back in the queue (WAITING) instead of run. Failed trials do not count. A worker whose
budget is reached while other workers still run trials waits for them, failing stale trials
(dead workers) so that their retries are run. Once the budget is spent the worker plans or
joins the verification (``verify``) and runs replicates until none is left.
"""

from __future__ import annotations

import functools
import logging
import signal
import warnings
from dataclasses import dataclass, field

import optuna
from optuna.trial import TrialState

from tempopt.distill import Teacher
from tempopt.stopping import StopFlag
from tempopt.study.optuna_internals import count_states, return_to_queue, start_new_trial
from tempopt.study.search.baseline import baseline_count
from tempopt.study.search.metrics import NO_PRUNING_NOTE
from tempopt.study.spec.model import StudySpec
from tempopt.study.storage.heartbeats import fail_dead_trials
from tempopt.study.storage.retries import retrying
from tempopt.study.stored import state_counts, study_counts
from tempopt.study.trial.objective import Objective, batch_fallback
from tempopt.study.trial.running import FailureStreak, RunHooks, run_one_or_batch
from tempopt.study.verification.worker import VerifySummary, run_verification
from tempopt.study.workers.creation import open_baseline
from tempopt.tasks import Task

log = logging.getLogger(__name__)

FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)


@dataclass
class WorkerSummary:
    """What one worker did, and where the study stands."""

    study_name: str
    total: int
    ran: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    stopped_by: str | None = None
    verification: VerifySummary | None = None

    @property
    def finished(self) -> int:
        return self.counts.get("COMPLETE", 0) + self.counts.get("PRUNED", 0)


def run_worker(
    study: optuna.Study,
    spec: StudySpec,
    task: Task,
    teacher: Teacher | None,
    total: int,
    stop: StopFlag | None = None,
    hooks: RunHooks | None = None,
    poll_seconds: float = 1.0,
) -> WorkerSummary:
    """Run trials until the study has ``total`` finished trials or a stop is requested.

    Returns:
        The worker's summary. ``stopped_by`` names the signal if it was stopped early.

    Raises:
        TempoptError: after several consecutive failed trials in this worker.
    """
    stop = stop or StopFlag()
    hooks = hooks or RunHooks()
    worker = SearchWorker(study, spec, task, teacher, hooks)
    summary = WorkerSummary(study_name=study.study_name, total=total)
    while not stop.is_set():
        step = worker.step(total, stop)
        if step == DONE:
            break
        if step == WAIT:
            stop.wait(poll_seconds)
    summary.ran = worker.ran
    batch = worker.batch
    if not stop.is_set() and spec.verify.seeds > 0:
        summary.verification = run_verification(study, spec, task, teacher, stop, hooks, poll_seconds, batch)
    if not stop.is_set() and (summary.verification is None or summary.verification.done):
        _notify_changed(hooks, study)  # the best and verdict it ended with
    summary.counts = retrying(lambda: state_counts(study), "counting trials")
    summary.stopped_by = _signal_name(stop)
    return summary


def _notify_changed(hooks: RunHooks, study: optuna.Study) -> None:
    """Tell ``hooks`` that the study changed (a callback that writes to the storage is retried)."""
    if hooks.on_study_changed is not None:
        changed = hooks.on_study_changed
        retrying(lambda: changed(study), "updating the dashboard note")


RAN, WAIT, DONE = "ran", "wait", "done"
"""What one step of a worker did: ran trials, found only other workers' trials running, or found
nothing left (the search's budget is spent)."""


class SearchWorker:
    """One worker's search of one study, a step (one trial, or one batch) at a time: the baseline
    sibling's trials while its share of the budget lasts, then the distilled trials."""

    def __init__(
        self, study: optuna.Study, spec: StudySpec, task: Task, teacher: Teacher | None, hooks: RunHooks
    ) -> None:
        self.study, self.hooks = study, hooks
        if spec.multi_objective and spec.pruner.name != "none" and hooks.on_note is not None:
            hooks.on_note(NO_PRUNING_NOTE)
        self.batch = _batch_size(spec, task, hooks)
        self.failures = FailureStreak("trials")
        self.spec = spec
        self._search = _Phase(study, Objective(spec, task, teacher, on_epoch=hooks.on_epoch))
        sibling = retrying(lambda: open_baseline(study, spec), "reading the baseline study")
        self._baseline = None
        if sibling is not None:
            self._baseline = _Phase(sibling, Objective(spec, task, teacher, hooks.on_epoch, baseline=True))

    @property
    def studies(self) -> list[optuna.Study]:
        """The studies whose trials this worker runs: the baseline sibling (if any) and the search."""
        return [phase.study for phase in (self._baseline, self._search) if phase is not None]

    @property
    def ran(self) -> int:
        return self._search.ran + (self._baseline.ran if self._baseline else 0)

    def step(self, total: int, stop: StopFlag) -> str:
        """Run one trial or batch if the budget of ``total`` finished trials allows one.

        Raises:
            TempoptError: after several consecutive failed trials in this worker.
        """
        if self._baseline is None:
            return self._search.step(total, stop, self)
        share = baseline_count(self.spec, total)  # the baseline's share of the budget
        first = self._baseline.step(share, stop, self)
        if first == RAN:
            return RAN
        second = self._search.step(total - share, stop, self)
        return DONE if first == second == DONE else RAN if second == RAN else WAIT


@dataclass
class _Phase:
    """One study whose trials a worker runs toward a budget: the search study, or its baseline sibling."""

    study: optuna.Study
    objective: Objective
    ran: int = 0
    finished: int = 0  # the most finished trials a count saw: finished trials never unfinish

    def step(self, total: int, stop: StopFlag, worker: SearchWorker) -> str:
        if self.finished >= total:  # a budget already reached (a raised total counts again)
            return DONE
        study, hooks = self.study, worker.hooks
        counts = retrying(lambda: study_counts(study), "counting trials")
        if retrying(lambda: fail_dead_trials(study, counts["RUNNING"]), "checking for dead trials"):
            counts = retrying(lambda: study_counts(study), "counting trials")
        finished = self.finished = counts["COMPLETE"] + counts["PRUNED"]
        if finished >= total:  # a trial still running now is beyond the budget: its result is surplus
            return DONE
        if finished + counts["RUNNING"] >= total:
            if hooks.on_wait:
                hooks.on_wait(f"waiting for {counts['RUNNING']} running trial(s) of other workers")
            return WAIT
        queued = counts["WAITING"] > 0
        trials = _ask_within_budget(study, min(worker.batch, total - finished - counts["RUNNING"]), total, queued)
        if not trials:
            return RAN  # a surplus trial went back to the queue: count again
        done = run_one_or_batch(study, trials, self.objective, stop, hooks)
        self.objective.finished(done)
        self.ran += len(done)
        worker.failures.update(done, stop)
        return RAN


def _batch_size(spec: StudySpec, task: Task, hooks: RunHooks) -> int:
    """``batch_trials``, or 1 (said once, with the reason) when the trials cannot share a pass."""
    if spec.batch_trials == 1:
        return 1
    reason = batch_fallback(spec, task)
    if reason is None:
        return spec.batch_trials
    note = f"batch_trials: {spec.batch_trials} falls back to one trial at a time: {reason}."
    log.warning(note)
    if hooks.on_note is not None:
        hooks.on_note(note)
    return 1


def _ask_within_budget(study: optuna.Study, n: int, total: int, queued: bool = True) -> list[optuna.Trial]:
    """Up to ``n`` started trials; one that would exceed the budget goes back to the queue.
    ``queued``: whether the worker's last count saw queued (WAITING) trials, which go first."""
    trials = []
    for _ in range(max(n, 1)):
        trial = retrying(lambda: _ask(study) if queued else start_new_trial(study), "starting a trial")
        if retrying(functools.partial(_surplus, study, trial, total), "counting trials"):
            _return_to_queue(study, trial)
            break
        trials.append(trial)
    return trials


def _ask(study: optuna.Study) -> optuna.Trial:
    with warnings.catch_warnings():  # "Heartbeat … supposed to be used with Study.optimize": we beat
        warnings.simplefilter("ignore", UserWarning)
        return study.ask()


def _surplus(study: optuna.Study, trial: optuna.Trial, total: int) -> bool:
    """True if ``total`` trials are already finished or running ahead of this one."""
    ahead = count_states(study, below=trial.number)
    return sum(ahead[state] for state in (*FINISHED, TrialState.RUNNING)) >= total


def _return_to_queue(study: optuna.Study, trial: optuna.Trial) -> None:
    """Put a trial that would exceed the budget back in the queue, unstarted."""
    retrying(lambda: return_to_queue(study, trial), "returning a surplus trial to the queue")


def _signal_name(stop: StopFlag) -> str | None:
    if not stop.is_set():
        return None
    return signal.Signals(stop.signum).name if stop.signum else "stop"
