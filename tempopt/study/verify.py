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
from typing import Any

import optuna
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial, TrialState

from tempopt.distill import Teacher
from tempopt.errors import TempoptError
from tempopt.study.baseline_study import SEARCH_STUDY_ATTR, all_trials, is_baseline, load_baseline
from tempopt.study.liveness import fail_dead_trials, retrying
from tempopt.study.objectives import (
    ACCURACY,
    accuracy_of,
    complete_with_accuracy,
    distils,
    front_of,
    name_metrics,
    spread,
)
from tempopt.study.optuna_compat import claim_trial, claim_waiting, storage_of, study_id_of
from tempopt.study.replicate_objective import ReplicateObjective
from tempopt.study.spec import StudySpec
from tempopt.study.stopping import StopFlag
from tempopt.study.trial_run import FailureStreak, RunHooks, run_one_or_batch
from tempopt.tasks import Task

log = logging.getLogger(__name__)

VERIFY_ATTR = "verify_study"
PLAN_WAIT = 30.0
DISTILLED, BASELINE = "distilled", "baseline"


@dataclass(frozen=True)
class Replicate:
    """One retraining: a config of the search (``source_trial``) with one student seed."""

    role: str  # "distilled" or "baseline"
    rank: int  # 1 for the best distilled config by val, 2 for the next…; 0 for the baseline
    source_trial: int
    params: dict[str, Any]
    student_seed: int

    @property
    def key(self) -> str:
        return f"{self.role}-{self.rank}-seed{self.student_seed}"

    def user_attrs(self) -> dict[str, Any]:
        return {
            "role": self.role,
            "rank": self.rank,
            "source_trial": self.source_trial,
            "student_seed": self.student_seed,
            "replicate": self.key,
        }


def student_seeds(spec: StudySpec) -> list[int]:
    """The student seeds of verification: new ones, never the search's own ``seed``."""
    return [spec.seed + 1 + i for i in range(spec.verify.seeds)]


def verification_name(name: str, finished: int) -> str:
    """The sibling study that verifies ``name`` as it stood with ``finished`` trials."""
    return f"{name}:verify-{finished}"


def plan_replicates(
    trials: list[FrozenTrial], spec: StudySpec, baselines: list[FrozenTrial] | None = None
) -> list[Replicate]:
    """The replicates of a finished search: top-k distinct distilled configs (with ``search.loss``,
    and the best config of every variant among the rest) and the best baseline.

    Args:
        trials: the search study's trials.
        spec: the study file.
        baselines: the baseline sibling's trials (None: the baselines are among ``trials``, as in
            a study made before the sibling existed).
    """
    done = _ranked(trials if baselines is None else [t for t in trials if not is_baseline(t)] + baselines)
    if spec.multi_objective:
        return _plan_front(done, spec)
    configs: list[tuple[str, int, FrozenTrial]] = []
    seen: list[dict[str, Any]] = []
    distilled = [t for t in done if distils(t)]
    for t in distilled:
        if t.params in seen:
            continue
        seen.append(t.params)
        configs.append((DISTILLED, len(configs) + 1, t))
        if len(configs) == spec.verify.top_k:
            break
    if spec.search.loss is not None:  # every variant's best config too, so that variants compare verified
        for variant in spec.search.loss.choices:
            best = next((t for t in distilled if t.params.get("loss") == variant), None)
            if best is not None and best.params not in seen:
                seen.append(best.params)
                configs.append((DISTILLED, len(configs) + 1, best))
    baseline = next((t for t in done if is_baseline(t)), None)
    if baseline is not None:
        configs.append((BASELINE, 0, baseline))
    return [
        Replicate(role, rank, t.number, dict(t.params), seed)  # seed by seed: a seed's replicates can batch
        for seed in student_seeds(spec)
        for role, rank, t in configs
    ]


def _ranked(trials: list[FrozenTrial]) -> list[FrozenTrial]:
    """Complete trials by validation accuracy, best first (the lower number first on ties)."""
    done = complete_with_accuracy(trials)
    done.sort(key=lambda t: (-float(accuracy_of(t)), t.number))  # type: ignore[arg-type]
    return done


def _plan_front(done: list[FrozenTrial], spec: StudySpec) -> list[Replicate]:
    """A multi-objective study's replicates: up to ``top_k`` members of the distilled Pareto front,
    spread along it (the most accurate and the cheapest first), each with a baseline of the same
    student (its searched task args): the best baseline trial with those args, or else the best
    baseline's other params with them. Distilled and baseline of rank r are compared."""
    front = front_of([t for t in done if distils(t)], spec.objectives)
    chosen = spread(front, spec.verify.top_k)
    baselines = [t for t in done if is_baseline(t)]
    names = list(spec.search.task_args or {})
    out: list[tuple[str, int, int, dict[str, Any]]] = []
    for rank, member in enumerate(chosen, start=1):
        out.append((DISTILLED, rank, member.number, dict(member.params)))
        student = {n: member.params[n] for n in names if n in member.params}
        same = next((b for b in baselines if all(b.params.get(n) == v for n, v in student.items())), None)
        if same is not None:
            out.append((BASELINE, rank, same.number, dict(same.params)))
        elif baselines:
            out.append((BASELINE, rank, baselines[0].number, {**baselines[0].params, **student}))
    return [
        Replicate(role, rank, source, params, seed)
        for seed in student_seeds(spec)
        for role, rank, source, params in out
    ]


def load_verification(search: optuna.Study) -> optuna.Study | None:
    """The current verification study of ``search``, or None if none was planned (read only)."""
    name = search.user_attrs.get(VERIFY_ATTR)
    if not isinstance(name, str):
        return None
    try:
        return optuna.load_study(study_name=name, storage=storage_of(search))
    except KeyError:
        return None


def open_verification(search: optuna.Study, spec: StudySpec, wait: float = PLAN_WAIT) -> optuna.Study:
    """The verification study of the finished search, planned by whichever worker creates it."""
    storage = storage_of(search)
    finished = sum(t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in all_trials(search))
    name = verification_name(spec.name, finished)
    for _ in range(3):
        try:
            storage.create_new_study([StudyDirection.MAXIMIZE], name)
        except optuna.exceptions.DuplicatedStudyError:
            study = optuna.load_study(study_name=name, storage=storage)
            if _wait_for_plan(study, wait):
                name_metrics(study, [ACCURACY])  # planned by a tempopt that did not name them
                return study
            log.warning("verification study %s has no plan (its planner died); planning it again", name)
            try:
                optuna.delete_study(study_name=name, storage=storage)
            except KeyError:
                pass  # another worker removed it first
            continue
        study = optuna.load_study(study_name=name, storage=storage)
        name_metrics(study, [ACCURACY])
        sibling = load_baseline(search)
        baselines = sibling.get_trials(deepcopy=False) if sibling is not None else None
        plan = plan_replicates(search.get_trials(deepcopy=False), spec, baselines)
        for r in plan:
            study.enqueue_trial(r.params, user_attrs=r.user_attrs())
        study.set_user_attr(SEARCH_STUDY_ATTR, spec.name)
        study.set_user_attr("plan", [r.key for r in plan])  # last: the other workers wait for it
        search.set_user_attr(VERIFY_ATTR, name)
        return study
    raise TempoptError(f"could not plan the verification study {name!r}; run again to resume.")


def _wait_for_plan(study: optuna.Study, wait: float) -> bool:
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if "plan" in storage_of(study).get_study_user_attrs(study_id_of(study)):
            return True
        time.sleep(0.2)
    return bool(study.get_trials(deepcopy=False))  # trials but no plan yet: a slow planner


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


def pending(study: optuna.Study) -> tuple[int, int, int]:
    """Replicates of a verification study: (planned, complete, running or waiting)."""
    plan = study.user_attrs.get("plan") or []
    trials = study.get_trials(deepcopy=False)
    complete = {t.user_attrs.get("replicate") for t in trials if t.state == TrialState.COMPLETE}
    open_ = sum(1 for t in trials if t.state in (TrialState.RUNNING, TrialState.WAITING))
    return len(plan), len(complete & set(plan)), open_


def _claim(study: optuna.Study, n: int) -> list[optuna.Trial]:
    """Up to ``n`` queued replicates of one student seed (the first queued one's), started."""
    if n == 1:
        trial = retrying(lambda: claim_waiting(study), "starting a replicate")
        return [] if trial is None else [trial]
    waiting = retrying(lambda: study.get_trials(deepcopy=False, states=(TrialState.WAITING,)), "reading the queue")
    if not waiting:
        return []
    seed = waiting[0].user_attrs.get("student_seed")
    claimed = []
    for frozen in (t for t in waiting if t.user_attrs.get("student_seed") == seed):
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
