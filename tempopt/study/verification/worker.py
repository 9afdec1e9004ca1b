"""Verification: the best configs retrained with fresh student seeds, once the search is done.

The best value of a search is also its luckiest: it was selected on the validation split, with
one seed. So when the search budget is spent, the ``verify.top_k`` best distilled configs and
the best baseline config are each retrained with ``verify.seeds`` new student seeds (the same
teacher), and measured on the held-out test split. That work is a queue of ordinary trials
that every worker shares and a killed worker does not lose (heartbeats, retries), kept in a
sibling study ``NAME:verify-N`` (N: the study's finished trials, its baselines' included, when it
was planned), so that
replicates never count toward ``trials``, never feed the search's sampler or importances, and
Optuna tools still see the search as it ran. The search study's user attr ``verify_study``
names the current one.

Of the workers that finish the search together, the one whose insert creates the sibling study
plans it: it queues every replicate, then writes the plan; the others wait for the plan. A
study left without a plan by a worker that died in between is removed and planned again.
"""

from __future__ import annotations

import functools
import logging
import time
from dataclasses import dataclass

import optuna
from optuna.study import StudyDirection
from optuna.trial import TrialState

from tempopt.distill import Teacher
from tempopt.errors import SpecError, StorageError
from tempopt.stopping import StopFlag
from tempopt.study.optuna_internals import claim_trial, claim_waiting, storage_of, study_id_of
from tempopt.study.search.metrics import (
    ACCURACY,
    name_metrics,
)
from tempopt.study.spec.model import StudySpec
from tempopt.study.storage.heartbeats import fail_dead_trials
from tempopt.study.storage.retries import retrying
from tempopt.study.stored import (
    PLAN_ATTR,
    SEARCH_ID_ATTR,
    SEARCH_STUDY_ATTR,
    SEED_ATTR,
    VERIFY_ATTR,
    load_baseline,
    pending,
    verification_name,
)
from tempopt.study.trial.running import FailureStreak, RunHooks, run_one_or_batch
from tempopt.study.verification.plan import plan_replicates
from tempopt.study.verification.replicate_objective import ReplicateObjective
from tempopt.tasks import Task

log = logging.getLogger(__name__)

PLAN_WAIT = 30.0


def open_verification(search: optuna.Study, spec: StudySpec, wait: float = PLAN_WAIT) -> optuna.Study:
    """The verification study of the finished search, planned by whichever worker creates it.

    A study of its name that tempopt made for an older study of the same name (deleted since) is
    replaced; one tempopt did not make is never used or deleted.

    Raises:
        SpecError: a study of the verification's name exists that tempopt did not make.
    """
    storage = storage_of(search)
    sibling = load_baseline(search)
    baselines = sibling.get_trials(deepcopy=False) if sibling is not None else None
    trials = search.get_trials(deepcopy=False)
    finished = sum(t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in trials + (baselines or []))
    name = verification_name(spec.name, finished)
    for _ in range(3):
        try:
            study_id = storage.create_new_study([StudyDirection.MAXIMIZE], name)
        except optuna.exceptions.DuplicatedStudyError:
            study = optuna.load_study(study_name=name, storage=storage)
            owner = _wait_for_owner(study, search, wait)
            if owner == "ours" and _wait_for_plan(study, wait):
                name_metrics(study, [ACCURACY])  # planned by a tempopt that did not name them
                return study
            if owner == "ours":
                log.warning("verification study %s has no plan (its planner died); planning it again", name)
            elif owner == "older":
                log.warning("replacing the verification study %r of an older study named %r", name, spec.name)
            else:
                raise SpecError(
                    f"study {name!r} already exists and is not the verification tempopt made for study "
                    f"{spec.name!r}; rename it, or give the study another name."
                ) from None
            try:
                optuna.delete_study(study_name=name, storage=storage)
            except KeyError:
                pass  # another worker removed it first
            continue
        storage.set_study_user_attr(study_id, SEARCH_ID_ATTR, study_id_of(search))  # first: it is ours
        study = optuna.load_study(study_name=name, storage=storage)
        name_metrics(study, [ACCURACY])
        plan = plan_replicates(trials, spec, baselines)
        for r in plan:
            study.enqueue_trial(r.params, user_attrs=r.user_attrs())
        study.set_user_attr(SEARCH_STUDY_ATTR, spec.name)
        study.set_user_attr(PLAN_ATTR, [r.key for r in plan])  # last: the other workers wait for it
        search.set_user_attr(VERIFY_ATTR, name)
        return study
    raise StorageError(f"could not plan the verification study {name!r}; run again to resume.")


def _wait_for_plan(study: optuna.Study, wait: float) -> bool:
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if PLAN_ATTR in storage_of(study).get_study_user_attrs(study_id_of(study)):
            return True
        time.sleep(0.2)
    return bool(study.get_trials(deepcopy=False))  # trials but no plan yet: a slow planner


def _wait_for_owner(study: optuna.Study, search: optuna.Study, wait: float) -> str:
    """Whose the existing verification study is: ``ours`` (this search's), ``older`` (tempopt's, for
    an older study of the same name) or ``foreign`` (not tempopt's). A study just created by another
    worker gets ``wait`` seconds to name its search; one still empty then is ``ours``, left by a
    planner that died (replanning it loses nothing)."""
    search_id = study_id_of(search)
    storage = storage_of(study)
    deadline = time.monotonic() + wait
    while True:
        attrs = storage.get_study_user_attrs(study_id_of(study))
        owner = attrs.get(SEARCH_ID_ATTR)
        if owner is not None:
            return "ours" if owner == search_id else "older"
        if attrs or storage.get_all_trials(study_id_of(study), deepcopy=False):
            if PLAN_ATTR in attrs and attrs.get(SEARCH_STUDY_ATTR) == search.study_name:  # a tempopt before ids
                named = storage.get_study_user_attrs(search_id).get(VERIFY_ATTR) == study.study_name
                return "ours" if named else "older"
            return "foreign"
        if time.monotonic() >= deadline:
            return "ours"
        time.sleep(0.2)


@dataclass
class VerifySummary:
    """What one worker did for verification, and where it stands."""

    study_name: str | None = None
    planned: int = 0
    complete: int = 0
    ran: int = 0

    @property
    def done(self) -> bool:
        return self.planned > 0 and self.complete >= self.planned


def _claim(study: optuna.Study, n: int) -> list[optuna.Trial]:
    """Up to ``n`` queued replicates of one student seed (the first queued one's), started."""
    if n == 1:
        trial = retrying(lambda: claim_waiting(study), "starting a replicate")
        return [] if trial is None else [trial]
    waiting = retrying(lambda: study.get_trials(deepcopy=False, states=(TrialState.WAITING,)), "reading the queue")
    if not waiting:
        return []
    seed = waiting[0].user_attrs.get(SEED_ATTR)
    claimed = []
    for frozen in (t for t in waiting if t.user_attrs.get(SEED_ATTR) == seed):
        trial = retrying(functools.partial(claim_trial, study, frozen), "starting a replicate")
        if trial is not None:
            claimed.append(trial)
        if len(claimed) == n:
            break
    return claimed


def run_verification(
    search: optuna.Study,
    spec: StudySpec,
    task: Task,
    teacher: Teacher | None,
    stop: StopFlag,
    hooks: RunHooks,
    poll_seconds: float = 1.0,
    batch: int = 1,
) -> VerifySummary:
    """Run replicates of the finished search until none is left or a stop is requested; with
    ``batch`` > 1, up to that many replicates of one student seed train together."""
    worker = VerifyWorker(search, spec, task, teacher, hooks, batch)
    while not stop.is_set():
        step = worker.step(stop)
        if step == "done":
            break
        if step == "wait":
            stop.wait(poll_seconds)
    return worker.summary()


class VerifyWorker:
    """One worker's share of a finished search's verification, a step (a replicate or a batch of
    one student seed) at a time; the verification study is planned on the first step."""

    def __init__(
        self,
        search: optuna.Study,
        spec: StudySpec,
        task: Task,
        teacher: Teacher | None,
        hooks: RunHooks,
        batch: int = 1,
    ) -> None:
        self.search, self.spec, self.hooks, self.batch = search, spec, hooks, batch
        self.objective = ReplicateObjective(spec, task, teacher, on_epoch=hooks.on_epoch)
        self.failures = FailureStreak("replicates")
        self.study: optuna.Study | None = None
        self.ran = 0

    def step(self, stop: StopFlag) -> str:
        """``ran`` replicates, ``wait`` for other workers' running ones, or ``done``.

        Raises:
            TempoptError: after several consecutive failed replicates in this worker.
        """
        if self.study is None:
            self.study = retrying(lambda: open_verification(self.search, self.spec), "planning verification")
        study = self.study
        retrying(lambda: fail_dead_trials(study), "checking for dead replicates")
        claimed = _claim(study, self.batch)
        if not claimed:
            planned, complete, open_ = retrying(lambda: pending(study), "counting replicates")
            if open_ == 0:
                return "done"
            if self.hooks.on_wait:
                self.hooks.on_wait(f"waiting for {open_} replicate(s) of other workers")
            return "wait"
        done = run_one_or_batch(study, claimed, self.objective, stop, self.hooks)  # claimed: one student seed
        self.ran += len(done)
        self.failures.update(done, stop)
        return "ran"

    def summary(self) -> VerifySummary:
        if self.study is None:
            return VerifySummary()
        study = self.study
        planned, complete, _ = retrying(lambda: pending(study), "counting replicates")
        return VerifySummary(study_name=study.study_name, planned=planned, complete=complete, ran=self.ran)
