"""Making a study ready for a worker: the storage checked, the teacher prepared, the study created
or resumed with its baseline queued, its total stored; and the sampler seed of each worker."""

from __future__ import annotations

import hashlib
import socket
from collections.abc import Callable
from dataclasses import dataclass

import optuna

from tempopt.distill import Teacher
from tempopt.stopping import Interrupted, StopFlag, WorkerStopped
from tempopt.study.spec.model import StudySpec
from tempopt.study.storage.retries import retrying
from tempopt.study.workers.creation import check_compatible, create_or_resume, record_teacher
from tempopt.study.workers.service import set_total
from tempopt.tasks import Task


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
    bank_progress: Callable[[int, int, int], None] | None = None,
    on_study_changed: Callable[[optuna.Study], None] | None = None,
) -> Prepared:
    """Run the pre-flight, open the storage, check the spec against an existing study, prepare the
    teacher, and create or resume the study. Nothing is written to the storage before all checks pass.

    Args:
        spec: the validated study file.
        storage_url: SQLAlchemy URL of the storage.
        worker_index: this worker's index among the host's workers (varies the sampler seed).
        teacher_progress: progress callback of the teacher's training epochs.
        stop: a stop flag; a signal interrupts the task's loading, the storage's opening, the
            teacher's training and the building of its view bank at once (nothing is written
            before they end).
        bank_progress: progress callback of building the teacher's view bank
            (``done, total, bytes``).
        on_study_changed: called with the study when its teacher is new (a new study, or a
            new teacher): what other tools show of it is out of date.

    Raises:
        Interrupted: a signal stopped it before the study was written (exit code 130 or 143).
        SpecError, TaskError: the pre-flight failed (:mod:`tempopt.study.preflight`), or the study
            exists with another search or task.
        StorageError: the storage is unreachable.
    """
    from tempopt.distill import prepare_teacher
    from tempopt.distill.teacher import ensure_cache_dir
    from tempopt.study.preflight import preflight
    from tempopt.study.spec.host import cache_dir
    from tempopt.study.storage.opening import FailureHandling, open_storage

    failure = FailureHandling(spec.failure.heartbeat_interval, spec.failure.grace_period, spec.failure.max_retry)
    try:
        with (stop or StopFlag()).interruptible():  # nothing is written yet: a signal ends it at once
            task = preflight(spec).task  # a task, device or cache folder that cannot be used: nothing is written
            cache = ensure_cache_dir(cache_dir(spec))
            storage = open_storage(storage_url, failure=failure)
            exists = retrying(lambda: check_compatible(storage, spec), "reading the study")
            teacher = prepare_teacher(
                task,
                cache,
                device=spec.device,
                seed=spec.teacher.seed,
                mixed_precision=spec.mixed_precision,
                on_epoch=teacher_progress,
                views=spec.teacher_views,
                on_views=bank_progress,
            )
    except WorkerStopped as e:
        raise Interrupted(e.signum) from None
    existing = 0
    if exists:
        study_id = storage.get_study_id_from_name(spec.name)
        existing = len(storage.get_all_trials(study_id, deepcopy=False))
    seed = sampler_seed(spec.seed, worker_index, existing)
    study = retrying(lambda: create_or_resume(spec, storage, sampler_seed=seed), "creating the study")
    if retrying(lambda: record_teacher(study, teacher), "recording the teacher") and on_study_changed is not None:
        retrying(lambda: on_study_changed(study), "updating the dashboard note")
    retrying(lambda: set_total(study, spec.trials), "storing the study's total")
    return Prepared(study=study, spec=spec, task=task, teacher=teacher)
