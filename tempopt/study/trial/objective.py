"""The objective: one Optuna trial is one distillation job."""

from __future__ import annotations

import functools
import json
import os
import socket
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import optuna
from optuna.trial import FrozenTrial

from tempopt.distill import JobConfig, JobResult, Teacher, cache_key, prepare_teacher
from tempopt.distill.config import member_of
from tempopt.distill.cost import parameter_count
from tempopt.distill.data import chance_accuracy
from tempopt.distill.members import can_batch, fit_members
from tempopt.errors import TrainingError
from tempopt.study.optuna_internals import PruneView, set_user_attrs
from tempopt.study.search.baseline import suggest_baseline
from tempopt.study.search.epoch_reports import EpochReports, prune_view
from tempopt.study.search.metrics import COST_ATTRS, PARAMS, student_cost
from tempopt.study.search.space import suggest
from tempopt.study.spec.host import artifacts_dir, cache_dir, load_spec_task
from tempopt.study.spec.losses import batch_refusal, loss_settings
from tempopt.study.spec.model import StudySpec
from tempopt.study.spec.task_args import trial_task_args
from tempopt.study.storage.artifacts import attach_checkpoint
from tempopt.study.storage.retries import retrying
from tempopt.study.stored import BASELINE_ATTR, is_baseline, student_alone
from tempopt.tasks import Task

EpochHook = Callable[[optuna.Trial, int, float], None]
Outcome = float | tuple[float, float] | BaseException
"""How a trial of a batch ended: its value (accuracy, and the cost of a multi-objective study) or
the exception that ended it."""
TASK_CACHE = 16
"""Tasks (with searched task args) a worker keeps built: each distinct student width once."""
CHANCE_MARGIN = 0.01
"""A trial whose best accuracy is within this of the majority-class share learned nothing."""


def worker_id() -> str:
    """``host:pid``, the worker name shown in the report's timeline."""
    return f"{socket.gethostname()}:{os.getpid()}"


def job_config(spec: StudySpec, params: dict[str, Any]) -> JobConfig:
    """The job a spec and a set of searched params describe; a dimension the study file fixes
    (``search: {lr: 0.01}``) comes from the spec where ``params`` has no value for it."""
    params = {**spec.search.fixed(), **params}
    loss, loss_args, temperature = loss_settings(spec, params)
    base = JobConfig(
        temperature=temperature if temperature is not None else 1.0,  # unused by a variant without T
        kd_weight=float(params["kd_weight"]),
        lr=float(params["lr"]),
        epochs=spec.epochs,
        batch_size=spec.batch_size,
        weight_decay=spec.weight_decay,
        optimizer=spec.optimizer,
        schedule=spec.schedule,
        seed=spec.seed,
        loss=loss,
        loss_args=loss_args,
        device=spec.device,
        mixed_precision=spec.mixed_precision,
        num_workers=spec.num_workers,
        views=spec.teacher_views,
        view_seed=spec.teacher.seed,
    )
    extra = {k: params[k] for k in ("weight_decay", "batch_size") if k in params}
    return replace(base, **extra)


class Objective:
    """Callable for ``study.optimize``-style loops: suggest, run the job, report, prune; one
    trial (``objective(trial)``) is a batch of one (:meth:`batch`).

    The validation accuracy after every epoch is reported with ``trial.report`` and the trial
    is pruned when the study's pruner says so; the pruner compares baseline trials
    (``kd_weight = 0``, user attribute ``baseline``) only with baselines, and distilled trials
    only with distilled ones.
    """

    def __init__(
        self,
        spec: StudySpec,
        task: Task,
        teacher: Teacher | None,
        on_epoch: EpochHook | None = None,
        baseline: bool = False,
    ) -> None:
        self.spec = spec
        self.task = task
        self.teacher = teacher
        self.on_epoch = on_epoch
        self.baseline = baseline  # every trial is a baseline (the objective of a baseline sibling)
        self._chance: float | None = None
        self._tasks: dict[str, tuple[Task, Teacher | None]] = {}
        self._view: PruneView | None = None

    def configure(self, trial: optuna.Trial) -> tuple[dict[str, Any], JobConfig]:
        """A trial's params (asked of it) and its job. A baseline trial (of a baseline sibling,
        marked ``baseline`` here if its queue entry did not say so, or a baseline replicate) is
        asked only what the student alone uses, and trains with ``kd_weight = 0``."""
        if self.baseline and not is_baseline(trial):
            retrying(functools.partial(trial.set_user_attr, BASELINE_ATTR, True), f"starting trial {trial.number}")
        if self.baseline or student_alone(trial):
            params = suggest_baseline(trial, self.spec)
            return params, job_config(self.spec, {**params, "kd_weight": 0.0})
        params = suggest(trial, self.spec)
        return params, job_config(self.spec, params)

    def reports(self, trials: list[optuna.Trial]) -> EpochReports:
        """The reports of one job's trials, pruned from this worker's view of their study."""
        if self._view is None:
            self._view = prune_view(trials[0].study)
        return EpochReports(trials, self._view)

    def finished(self, done: list[FrozenTrial]) -> None:
        """This worker's trials that ended, as told: its pruner sees them without a read."""
        if self._view is not None:
            self._view.finished(done)

    def task_for(self, params: dict[str, Any]) -> tuple[Task, Teacher | None]:
        """The task (and teacher) of a trial: the study's, or one built with its searched task args.

        The teacher is the study's whenever the trial's args leave its cache key unchanged (they
        only change the student); otherwise it comes from the cache, trained once if it is new.
        """
        if not self.spec.search.task_args:
            return self.task, self.teacher
        args = trial_task_args(self.spec, params)
        key = json.dumps(args, sort_keys=True, default=str)
        if key not in self._tasks:
            task = load_spec_task(self.spec.model_copy(update={"task_args": args}))
            teacher = self.teacher
            if teacher is not None and cache_key(task, self.spec.teacher.seed) != teacher.key:
                teacher = prepare_teacher(
                    task,
                    cache_dir(self.spec),
                    device=self.spec.device,
                    seed=self.spec.teacher.seed,
                    mixed_precision=self.spec.mixed_precision,
                    views=self.spec.teacher_views,
                )
            if len(self._tasks) >= TASK_CACHE:
                self._tasks.pop(next(iter(self._tasks)))
            self._tasks[key] = (task, teacher)
        return self._tasks[key]

    def may_prune(self, epoch: int) -> bool:
        """Whether the pruner could stop a trial after ``epoch``: not during the warm-up, whose
        epochs it never prunes (no storage read is spent asking), nor after the last epoch."""
        return self.spec.pruner.name != "none" and self.spec.warmup_epochs < epoch < self.spec.epochs

    def at_chance(self, accuracy: float) -> bool:
        """True if ``accuracy`` is no better than always answering the most frequent class."""
        if self._chance is None:
            self._chance = chance_accuracy(self.task.val)
        return accuracy <= self._chance + max(CHANCE_MARGIN, 2 / max(len(self.task.val), 1))  # type: ignore[arg-type]

    def __call__(self, trial: optuna.Trial) -> float | tuple[float, float]:
        """One trial: a batch of one (:meth:`batch`); how it ended is raised."""
        outcome = self.batch([trial])[0]
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    def batch(self, trials: list[optuna.Trial]) -> list[Outcome]:
        """K ≥ 1 trials of one student trained together (:func:`tempopt.distill.members.fit_members`).

        Every member reports its validation accuracy each epoch and is pruned on its own; a
        pruned member leaves the stack. Returns, per trial, its value (accuracy, and the cost in
        a multi-objective study) or the exception that ended it (``TrialPruned``, a
        ``TrainingError`` for a member whose loss exploded). Trials of a batch share their task
        args (:func:`batch_fallback`).
        """
        asked = [self.configure(trial) for trial in trials]
        configs = [config for _, config in asked]
        task, teacher = self.task_for(asked[0][0])
        members = [member_of(c) for c in configs]
        if len(trials) > 1:
            numbers = [t.number for t in trials]
            for trial in trials:
                retrying(functools.partial(trial.set_user_attr, "batch", numbers), f"starting trial {trial.number}")
        teacher = teacher if any(m.kd_weight > 0 for m in members) else None
        multi = self.spec.multi_objective  # Optuna takes no intermediate values (nor pruning) there
        with self.reports(trials) as reports:

            def on_epoch(epoch: int, running: list[int], accuracies: list[float]) -> set[int]:
                for index, accuracy in zip(running, accuracies, strict=True):
                    if self.on_epoch is not None:
                        self.on_epoch(trials[index], epoch, accuracy)
                    if not multi:
                        reports.report(trials[index], epoch, accuracy)
                if multi or not self.may_prune(epoch):
                    return set()
                prune = reports.should_prune([trials[i] for i in running])  # one read for every member
                return {i for i, p in zip(running, prune, strict=True) if p}

            results = fit_members(task, configs[0], members, teacher, on_epoch)
            for trial, result, config in zip(trials, results, configs, strict=True):
                reports.attach(trial, job_attrs(result, self.at_chance(result.best_accuracy), config.seed))
        return [self._outcome(trial, result, task) for trial, result in zip(trials, results, strict=True)]

    def _outcome(self, trial: optuna.Trial, result: JobResult, task: Task) -> Outcome:
        """How a trial ended, what it keeps (the cost of its student, a checkpoint) recorded."""
        if result.error is not None:
            return TrainingError(result.error)
        if result.stopped_early:
            return optuna.TrialPruned(f"pruned after epoch {result.epochs_run} at {result.final_accuracy:.4f}")
        assert result.model is not None
        if self.spec.multi_objective:
            cost = student_cost(self.spec.objectives[1], result.model, task)
            attrs = {
                "val_per_epoch": result.history,
                COST_ATTRS[self.spec.objectives[1]]: cost,
                COST_ATTRS[PARAMS]: parameter_count(result.model),
            }
            for k, v in attrs.items():
                retrying(functools.partial(trial.set_user_attr, k, v), f"recording trial {trial.number}")
            return result.final_accuracy, cost
        folder = artifacts_dir(self.spec)
        if folder is not None and _beats_best(trial, result.final_accuracy):
            attach_checkpoint(trial, result.model, folder)
        return result.final_accuracy


def _beats_best(trial: optuna.Trial, value: float) -> bool:
    """True if ``value`` is above every completed trial's so far."""
    try:
        return value > trial.study.best_value
    except ValueError:  # no completed trial yet
        return True


def record_job(
    trial: optuna.Trial, result: JobResult, at_chance: bool, seed: int, extra: dict[str, Any] | None = None
) -> None:
    """What the job measured (and the student ``seed`` it ran with, and ``extra``), as user attrs
    written in one transaction."""
    set_user_attrs(trial, {**job_attrs(result, at_chance, seed), **(extra or {})})


def job_attrs(result: JobResult, at_chance: bool, seed: int) -> dict[str, Any]:
    """The user attrs of what a job measured (and the student ``seed`` it ran with)."""
    attrs: dict[str, Any] = {"at_chance": True} if at_chance else {}  # a trial that learned nothing says so
    attrs.update(
        seed=seed,
        job_seconds=round(result.seconds, 4),
        epochs_run=result.epochs_run,
        device=result.device,
        best_val_accuracy=result.best_accuracy,
    )
    if result.compute_seconds is not None:  # training and evaluation alone, without the epoch's storage calls
        attrs["compute_seconds"] = round(result.compute_seconds, 4)
    for name, values in result.learned.items():  # e.g. learned_temperature: the final value, and per epoch
        attrs[name] = values[-1]
        attrs[f"{name}_per_epoch"] = [round(v, 5) for v in values]
    return attrs


def batch_fallback(spec: StudySpec, task: Task) -> str | None:
    """Why this study's trials cannot be trained together (None if they can)."""
    searched = [k for k in ("batch_size", "weight_decay") if k in spec.search.dimensions()]
    if searched:
        return f"search.{searched[0]} is searched, and members of a batch share it"
    if spec.search.task_args:
        return f"search.task_args.{next(iter(spec.search.task_args))} is searched, so every trial has its own student"
    if spec.multi_objective:
        return "objectives has a cost, and multi-objective trials are measured one student at a time"
    refusal = batch_refusal(spec)
    if refusal is not None:
        return refusal
    if spec.artifacts is not None:
        return "artifacts are kept per trial, from a model each trial owns"
    return can_batch(task)
