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
import hashlib
import logging
import signal
import socket
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import optuna
from optuna.trial import FrozenTrial, TrialState

from tempopt.distill import Teacher
from tempopt.study.creation import check_compatible, create_or_resume, load_spec_task, record_teacher, refresh_note
from tempopt.study.liveness import fail_dead_trials, retrying
from tempopt.study.objective import BatchObjective, batch_fallback
from tempopt.study.objectives import NO_PRUNING_NOTE, accuracy_of, complete_with_accuracy
from tempopt.study.spec import StudySpec
from tempopt.study.stopping import Interrupted, StopFlag, WorkerStopped
from tempopt.study.trial_run import FailureStreak, RunHooks, run_one_or_batch
from tempopt.study.verify import VerifySummary, run_verification
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
    best: FrozenTrial | None = None
    verification: VerifySummary | None = None

    @property
    def finished(self) -> int:
        return self.counts.get("COMPLETE", 0) + self.counts.get("PRUNED", 0)


def state_counts(study: optuna.Study) -> dict[str, int]:
    """Number of trials in each state, by state name."""
    counts = {s.name: 0 for s in TrialState}
    for t in study.get_trials(deepcopy=False):
        counts[t.state.name] += 1
    return counts


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
    objective = BatchObjective(spec, task, teacher, on_epoch=hooks.on_epoch)  # one trial, or a batch
    if spec.multi_objective and spec.pruner.name != "none" and hooks.on_note is not None:
        hooks.on_note(NO_PRUNING_NOTE)
    batch = _batch_size(spec, task, hooks)
    summary = WorkerSummary(study_name=study.study_name, total=total)
    failures = FailureStreak("trials")
    while not stop.is_set():
        retrying(lambda: fail_dead_trials(study), "checking for dead trials")
        counts = retrying(lambda: state_counts(study), "counting trials")
        finished = counts["COMPLETE"] + counts["PRUNED"]
        if finished >= total:  # a trial still running now is beyond the budget: its result is surplus
            break
        if finished + counts["RUNNING"] >= total:
            if hooks.on_wait:
                hooks.on_wait(f"waiting for {counts['RUNNING']} running trial(s) of other workers")
            stop.wait(poll_seconds)
            continue
        trials = _ask_within_budget(study, min(batch, total - finished - counts["RUNNING"]), total)
        if not trials:
            continue
        done = run_one_or_batch(study, trials, objective, stop, hooks)
        summary.ran += len(done)
        failures.update(done, stop)
    if not stop.is_set() and spec.verify.seeds > 0:
        summary.verification = run_verification(study, spec, task, teacher, stop, hooks, poll_seconds, batch)
        if summary.verification.done:
            retrying(lambda: refresh_note(study), "updating the dashboard note")
    summary.counts = retrying(lambda: state_counts(study), "counting trials")
    summary.stopped_by = _signal_name(stop)
    summary.best = retrying(lambda: best_trial(study), "reading the best trial")
    return summary


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


def _ask_within_budget(study: optuna.Study, n: int, total: int) -> list[optuna.Trial]:
    """Up to ``n`` started trials; one that would exceed the budget goes back to the queue."""
    trials = []
    for _ in range(max(n, 1)):
        trial = retrying(lambda: _ask(study), "starting a trial")
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
    ahead = sum(
        1
        for t in study.get_trials(deepcopy=False, states=(*FINISHED, TrialState.RUNNING))
        if t.number < trial.number
    )
    return ahead >= total


def _return_to_queue(study: optuna.Study, trial: optuna.Trial) -> None:
    """Put a trial that would exceed the budget back in the queue, unstarted."""
    storage = study._storage  # noqa: SLF001
    retrying(
        lambda: storage.set_trial_state_values(trial._trial_id, TrialState.WAITING),  # noqa: SLF001
        "returning a surplus trial to the queue",
    )


def best_trial(study: optuna.Study) -> FrozenTrial | None:
    """The completed trial with the highest accuracy (a multi-objective study's too)."""
    done = complete_with_accuracy(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))
    return max(done, key=lambda t: (accuracy_of(t), -t.number)) if done else None  # type: ignore[arg-type,return-value]


def _signal_name(stop: StopFlag) -> str | None:
    if not stop.is_set():
        return None
    return signal.Signals(stop.signum).name if stop.signum else "stop"


def sampler_seed(seed: int, worker_index: int, existing_trials: int) -> int:
    """A sampler seed that differs between workers and resumptions.

    A lone worker (index 0) gets a seed of the study seed and the number of trials already in
    the study alone: the same study file gives the same trials on any host. Workers started
    together must not replay the same random start-up trials: an index above 0 mixes in the
    index and the host name, so that indexed workers on different hosts differ too.
    """
    host = 0
    if worker_index > 0:
        host = int(hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8], 16)
    return (seed * 1_000_003 + host * 7919 + worker_index * 104_729 + existing_trials) % 2**31


@dataclass
class Prepared:
    """A study ready for workers: its storage, spec, task and teacher."""

    study: optuna.Study
    spec: StudySpec
    task: Task
    teacher: Teacher | None


def prepare_study(
    spec: StudySpec,
    storage_url: str,
    worker_index: int = 0,
    teacher_progress: Callable[[int, float], bool] | None = None,
    stop: StopFlag | None = None,
) -> Prepared:
    """Open the storage, check the spec against an existing study, prepare the teacher, and
    create or resume the study. Nothing is written to the storage before all checks pass.

    Args:
        spec: the validated study file.
        storage_url: SQLAlchemy URL of the storage.
        worker_index: this worker's index among the host's workers (varies the sampler seed).
        teacher_progress: progress callback of the teacher's training epochs.
        stop: a stop flag; a signal interrupts the teacher's training (nothing is written).

    Raises:
        Interrupted: a signal stopped the teacher's training (exit code 130 or 143).
        SpecError: the study exists with another search or task.
        StorageError: the storage is unreachable.
    """
    from tempopt.distill import prepare_teacher
    from tempopt.distill.teacher import ensure_cache_dir
    from tempopt.study.storage import FailureHandling, open_storage

    task = load_spec_task(spec)  # a task or cache folder that cannot be used: nothing is written
    ensure_cache_dir(spec.cache_dir)
    failure = FailureHandling(
        spec.failure.heartbeat_interval, spec.failure.grace_period, spec.failure.max_retry
    )
    storage = open_storage(storage_url, failure=failure)
    exists = retrying(lambda: check_compatible(storage, spec), "reading the study")
    try:
        with (stop or StopFlag()).interruptible():
            teacher = prepare_teacher(
                task, spec.cache_dir, device=spec.device, seed=spec.teacher.seed,
                mixed_precision=spec.mixed_precision, on_epoch=teacher_progress,
            )
    except WorkerStopped as e:
        raise Interrupted(e.signum) from None
    existing = 0
    if exists:
        study_id = storage.get_study_id_from_name(spec.name)
        existing = len(storage.get_all_trials(study_id, deepcopy=False))
    seed = sampler_seed(spec.seed, worker_index, existing)
    study = retrying(lambda: create_or_resume(spec, storage, sampler_seed=seed), "creating the study")
    retrying(lambda: record_teacher(study, teacher), "recording the teacher")
    return Prepared(study=study, spec=spec, task=task, teacher=teacher)
