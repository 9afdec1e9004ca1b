"""Creating a study, or joining one: the spec check, the insert, the attributes and the baseline.

A study is made all or nothing: of several workers starting together on a new study, only the
one whose insert creates it writes its attributes and queues the baseline trials; the others wait
for its spec. A failure while writing them removes the study again, and a study left empty by a
worker killed right after the insert is removed and made anew by the next one. A resumed study
must have the same values of every key that changes what a trial computes.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import optuna

import tempopt
from tempopt.distill import Teacher
from tempopt.errors import SpecError
from tempopt.study.baseline import BaselineRouter, baseline_slots
from tempopt.study.objectives import directions, name_metrics
from tempopt.study.search import make_pruner, make_sampler
from tempopt.study.spec import StudySpec
from tempopt.tasks import Task, load_task

log = logging.getLogger(__name__)

COMPARED_KEYS = (
    "task",
    "task_args",
    "epochs",
    "search",
    "seed",
    "loss",
    "loss_args",
    "batch_size",
    "weight_decay",
    "optimizer",
    "schedule",
    "teacher",
    "baseline",
    "baseline_lrs",
    "baseline_share",
    "verify",
    "objectives",
)
"""Spec keys that change what a trial computes: a resumed study must have the same ones (a
key that the stored spec lacks, written by an older tempopt, is not compared)."""
SPEC_WAIT = 10.0
"""Seconds a worker waits for the spec of a study another worker has just created."""


def load_spec_task(spec: StudySpec) -> Task:
    """The spec's task with the spec's teacher overrides applied."""
    task = load_task(spec.task, spec.task_args)
    if spec.teacher.checkpoint is not None:
        task.teacher_checkpoint = spec.teacher.checkpoint
    if spec.teacher.epochs is not None:
        task.teacher_epochs = spec.teacher.epochs
    if spec.teacher.lr is not None:
        task.teacher_lr = spec.teacher.lr
    return task


def check_compatible(storage: optuna.storages.BaseStorage, spec: StudySpec, wait: float | None = None) -> bool:
    """True if the study exists. Raises SpecError if it exists with another search or task.

    A study that another worker has just created gets its spec a moment later: an empty study
    without one is waited for up to ``wait`` seconds.
    """
    try:
        study_id = storage.get_study_id_from_name(spec.name)
    except KeyError:
        return False
    found = storage.get_study_name_from_id(study_id)
    if found != spec.name:  # MariaDB's default collation: names equal but for case or trailing spaces
        raise SpecError(
            f"study name {spec.name!r} clashes with the existing study {found!r} (this database compares "
            "names without case); choose a name that differs in more than case."
        )
    stored = _stored_spec(storage, study_id, SPEC_WAIT if wait is None else wait)
    if stored is None and _remove_orphan(storage, study_id, spec.name):
        return False
    if stored is None:
        raise SpecError(
            f"study {spec.name!r} already exists but was not made by tempopt (it has no 'spec' attribute); "
            "choose another name, or delete it with `optuna delete-study` if a worker died creating it."
        )
    current = spec.to_dict()
    for key in COMPARED_KEYS:
        if key in stored and stored[key] != current.get(key):
            raise SpecError(
                f"study {spec.name!r} already exists with a different {key!r} "
                f"({stored.get(key)!r}); restore it in the file or give the study a new name."
            )
    return True


def _remove_orphan(storage: optuna.storages.BaseStorage, study_id: int, name: str) -> bool:
    """Delete a study left empty by a worker that died creating it; True if it was removed.

    An orphan has no user attributes and no trials; tempopt writes its spec right after the
    insert, so one still without it after the wait will never get it.
    """
    if storage.get_study_user_attrs(study_id) or storage.get_all_trials(study_id, deepcopy=False):
        return False
    log.warning("study %r was left empty by a worker that died creating it; creating it again", name)
    try:
        storage.delete_study(study_id)
    except KeyError:
        pass  # another worker removed it first
    return True


def _stored_spec(storage: optuna.storages.BaseStorage, study_id: int, wait: float) -> dict[str, Any] | None:
    deadline = time.monotonic() + wait
    while True:
        stored = storage.get_study_user_attrs(study_id).get("spec")
        if stored is not None or time.monotonic() >= deadline:
            return stored
        if storage.get_all_trials(study_id, deepcopy=False):
            return None  # a study with trials is not being created: it is someone else's
        time.sleep(0.2)


def create_or_resume(
    spec: StudySpec, storage: optuna.storages.BaseStorage, sampler_seed: int | None = None
) -> optuna.Study:
    """Create the study (with its attributes and the baseline trials) or load it to resume.

    Of several workers starting together on a new study, only the one whose insert creates
    it writes its attributes and queues the baseline; the others wait for its spec. Call
    :func:`check_compatible` first; nothing is written when that raises.
    """
    if not check_compatible(storage, spec):
        try:
            study_id = storage.create_new_study(directions(spec.objectives), spec.name)
        except optuna.exceptions.DuplicatedStudyError:
            check_compatible(storage, spec)  # created by another worker meanwhile
        else:
            try:
                _write_new_study(spec, storage)
            except BaseException:  # all or nothing: no half-made study is left behind
                storage.delete_study(study_id)
                raise
    seed = spec.seed if sampler_seed is None else sampler_seed
    sampler = BaselineRouter(make_sampler(spec, seed), spec, spec.seed)
    study = optuna.load_study(study_name=spec.name, storage=storage, sampler=sampler, pruner=make_pruner(spec))
    name_metrics(study, spec.objectives)  # a new study, or one made before tempopt named them
    return study


def _write_new_study(spec: StudySpec, storage: optuna.storages.BaseStorage) -> None:
    """The attributes and baseline trials of a study this worker has just created."""
    study = optuna.load_study(study_name=spec.name, storage=storage)
    study.set_user_attr("spec", spec.to_dict())  # first: the other workers wait for it
    study.set_user_attr("task", spec.task)
    study.set_user_attr("tempopt_version", tempopt.__version__)
    for params in baseline_slots(spec):
        study.enqueue_trial(params, user_attrs={"baseline": True})


def record_teacher(study: optuna.Study, teacher: Teacher) -> None:
    """Store the teacher's accuracy and cache key on the study, and refresh its dashboard note."""
    if study.user_attrs.get("teacher_key") != teacher.key:
        study.set_user_attr("teacher_accuracy", teacher.accuracy)
        study.set_user_attr("teacher_test_accuracy", teacher.test_accuracy)
        study.set_user_attr("teacher_key", teacher.key)
        refresh_note(study)


def refresh_note(study: optuna.Study) -> None:
    """Save the dashboard note (optuna-dashboard shows it; a study system attr): the spec, the
    teacher and the verdict as they stand (:func:`tempopt.analysis.spec_note`)."""
    import optuna_dashboard

    from tempopt.analysis import spec_note

    optuna_dashboard.save_note(study, spec_note(study))
