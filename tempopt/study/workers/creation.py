"""Creating a study, or joining one: the spec check, the insert, the attributes and the baseline.

A study is made all or nothing: of several workers starting together on a new study, only the
one whose insert creates it writes its attributes and makes its baseline sibling
(``NAME:baseline``, with the first baseline trials queued); the others wait for its spec. A
failure while writing them removes both studies again, and a study left empty by a worker killed
right after the insert is removed and made anew by the next one. A resumed study must have the
same values of every key that changes what a trial computes.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import optuna

import tempopt
from tempopt.distill import Teacher
from tempopt.errors import SpecError
from tempopt.study.optuna_internals import study_id_of
from tempopt.study.search.baseline import BaselineRouter, BaselineSampler, baseline_slots
from tempopt.study.search.metrics import directions, name_metrics
from tempopt.study.search.space import make_pruner, make_sampler
from tempopt.study.spec.model import StudySpec
from tempopt.study.stored import (
    BASELINE_ATTR,
    BASELINE_STUDY_ATTR,
    SEARCH_ID_ATTR,
    SEARCH_STUDY_ATTR,
    SPEC_ATTR,
    TEACHER_KEY_ATTR,
    TEACHER_VIEWS_ATTR,
    TEACHER_VIEWS_BYTES_ATTR,
    baseline_name,
    has_baseline_study,
    load_baseline,
    spec_of,
)

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
    "augment",
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
        if key in stored and _differs(stored[key], current.get(key)):
            raise SpecError(
                f"study {spec.name!r} already exists with a different {key!r} "
                f"({stored.get(key)!r}); restore it in the file or give the study a new name."
            )
    return True


def _differs(stored: Any, current: Any) -> bool:
    """Whether a stored spec's value differs from the file's; a key added to a section since the
    study was made (``teacher.views``) differs only when the file sets it."""
    if isinstance(stored, dict) and isinstance(current, dict):
        added = [value for key, value in current.items() if key not in stored]
        return any(value is not None for value in added) or any(stored[k] != current.get(k) for k in stored)
    return stored != current


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
        stored = storage.get_study_user_attrs(study_id).get(SPEC_ATTR)
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
    study = optuna.load_study(study_name=spec.name, storage=storage, pruner=make_pruner(spec))
    if not has_baseline_study(study) and spec.baseline:  # made before the sibling: baselines among its trials
        study.sampler = BaselineRouter(make_sampler(spec, seed), spec, spec.seed)
    else:
        study.sampler = make_sampler(spec, seed)
    _follow_study_file(study, spec)
    name_metrics(study, spec.objectives)  # a new study, or one made before tempopt named them
    return study


def open_baseline(search: optuna.Study, spec: StudySpec) -> optuna.Study | None:
    """The baseline sibling of ``search`` ready to run trials (its own sampler and pruner), or
    None for a study without one (``baseline: false``, or made before the sibling existed).

    Raises:
        SpecError: the study names a sibling that is gone.
    """
    if not has_baseline_study(search):
        return None
    sibling = load_baseline(search, BaselineSampler(spec, spec.seed))
    if sibling is None:
        raise SpecError(
            f"the baseline study {baseline_name(spec.name)!r} of study {spec.name!r} is missing (deleted?); "
            "delete the study too, or give the study a new name."
        )
    sibling.pruner = make_pruner(spec)
    return sibling


def _follow_study_file(study: optuna.Study, spec: StudySpec) -> None:
    """Store the folder of the study file this study was resumed from (a folder moved, another
    mount), so that workers reading the stored spec find its files where this process does. A
    spec stored without one (an older tempopt's: its paths start at the working directory) keeps
    that meaning."""
    stored = spec_of(study.user_attrs)
    if spec.study_dir is not None and "study_dir" in stored and stored["study_dir"] != spec.study_dir:
        study.set_user_attr(SPEC_ATTR, {**stored, "study_dir": spec.study_dir})


def _write_new_study(spec: StudySpec, storage: optuna.storages.BaseStorage) -> None:
    """The attributes and baseline sibling of a study this worker has just created; the spec is
    written last, since the other workers wait for it."""
    study = optuna.load_study(study_name=spec.name, storage=storage)
    sibling_id = _create_baseline(spec, storage, study_id_of(study)) if spec.baseline else None
    try:
        if sibling_id is not None:
            study.set_user_attr(BASELINE_STUDY_ATTR, baseline_name(spec.name))
        study.set_user_attr("task", spec.task)
        study.set_user_attr("tempopt_version", tempopt.__version__)
        study.set_user_attr(SPEC_ATTR, spec.to_dict())
    except BaseException:
        if sibling_id is not None:
            storage.delete_study(sibling_id)
        raise


def _create_baseline(spec: StudySpec, storage: optuna.storages.BaseStorage, search_id: int) -> int:
    """Make the baseline sibling of the search study ``search_id`` and queue its first trials.

    A sibling of that name that tempopt made before (for an older study of the same name, deleted
    since, or left by a worker that died creating it) is replaced: the search study was only just
    inserted, so no sibling can be its own yet. One tempopt did not make is refused.

    Raises:
        SpecError: a study of the sibling's name exists that is not a tempopt baseline study.
    """
    name = baseline_name(spec.name)
    try:
        sibling_id = storage.create_new_study(directions(spec.objectives), name)
    except optuna.exceptions.DuplicatedStudyError:
        old_id = storage.get_study_id_from_name(name)
        attrs = storage.get_study_user_attrs(old_id)
        if SEARCH_ID_ATTR not in attrs and (attrs or storage.get_all_trials(old_id, deepcopy=False)):
            raise SpecError(
                f"study {name!r} already exists and is not the baseline study tempopt made for {spec.name!r}; "
                "rename or delete it (`optuna delete-study`), or give the study another name."
            ) from None
        log.warning("replacing the baseline study %r of an older study named %r", name, spec.name)
        storage.delete_study(old_id)
        sibling_id = storage.create_new_study(directions(spec.objectives), name)
    try:
        sibling = optuna.load_study(study_name=name, storage=storage)
        sibling.set_user_attr(SEARCH_ID_ATTR, search_id)  # first: the sibling is tempopt's
        name_metrics(sibling, spec.objectives)
        sibling.set_user_attr(SEARCH_STUDY_ATTR, spec.name)
        for params in baseline_slots(spec):
            sibling.enqueue_trial(params, user_attrs={BASELINE_ATTR: True})
    except BaseException:
        storage.delete_study(sibling_id)
        raise
    return sibling_id


def record_teacher(study: optuna.Study, teacher: Teacher) -> bool:
    """Store the teacher's accuracy, cache key and view bank on the study.

    Returns:
        True if the study's teacher changed (a new study, or a new teacher): what other tools show
        of the study (the dashboard note) is out of date.
    """
    changed = study.user_attrs.get(TEACHER_KEY_ATTR) != teacher.key
    if changed:
        study.set_user_attr("teacher_accuracy", teacher.accuracy)
        study.set_user_attr("teacher_test_accuracy", teacher.test_accuracy)
        study.set_user_attr(TEACHER_KEY_ATTR, teacher.key)
    views = teacher.bank.views if teacher.bank is not None else 0
    if study.user_attrs.get(TEACHER_VIEWS_ATTR) != views:
        study.set_user_attr(TEACHER_VIEWS_ATTR, views)
        study.set_user_attr(TEACHER_VIEWS_BYTES_ATTR, teacher.bank.nbytes if teacher.bank is not None else 0)
    return changed
