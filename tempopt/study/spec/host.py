"""What a spec names on this host: its files and its task.

Relative paths in a study file (``teacher.checkpoint``, ``cache_dir``, ``artifacts``) start at
the study file's folder, wherever tempopt runs from. :func:`~tempopt.study.spec.model.load_spec`
records that folder as the spec's ``study_dir``, which is stored with the study, so that a pool
worker or ``tempopt train`` reading the stored spec finds the same files. Where it cannot:

- a spec without a ``study_dir`` (a study made before tempopt recorded it), or one whose folder
  does not exist on this host (a worker on another host), starts relative paths at the working
  directory, as tempopt always did;
- a file or folder that is not in the study file's folder but is in the working directory is
  used from there with a warning, so that a study begun when paths started at the working
  directory resumes from the same study file.

Without ``cache_dir`` the teacher cache is ``.tempopt-cache`` in the working directory (where
the Compose file and the Kubernetes manifests mount a shared one).
"""

from __future__ import annotations

import logging
from pathlib import Path

from tempopt.distill import DEFAULT_CACHE_DIR
from tempopt.study.spec.model import StudySpec
from tempopt.tasks import Task, load_task
from tempopt.tasks.augmentation import from_settings

log = logging.getLogger(__name__)
_warned: set[Path] = set()


def study_path(spec: StudySpec, value: str | Path, key: str) -> Path:
    """The absolute path a path of the study file means (``key`` names it in a warning)."""
    path = Path(value).expanduser()
    if path.is_absolute():
        return path
    home = Path(spec.study_dir) if spec.study_dir else None
    if home is None or not home.is_dir():
        return Path.cwd() / path
    here = home / path
    old = Path.cwd() / path
    if here.exists() or not old.exists() or here == old:
        return here
    if old not in _warned:
        _warned.add(old)
        log.warning(
            "%s %r is not in the study file's folder (%s) but in the working directory: using %s; move it next to "
            "the study file or give an absolute path",
            key,
            str(value),
            home,
            old,
        )
    return old


def cache_dir(spec: StudySpec) -> Path:
    """The teacher cache folder: ``cache_dir``, else ``.tempopt-cache`` in the working directory."""
    if spec.cache_dir is None:
        return Path.cwd() / DEFAULT_CACHE_DIR
    return study_path(spec, spec.cache_dir, "cache_dir")


def artifacts_dir(spec: StudySpec) -> Path | None:
    """The artifact folder of the study file's ``artifacts``, if it sets one."""
    return None if spec.artifacts is None else study_path(spec, spec.artifacts, "artifacts")


def load_spec_task(spec: StudySpec) -> Task:
    """The spec's task with the spec's teacher overrides and ``augment`` applied (its checkpoint an
    absolute path), fitted to its models as the pre-flight fitted it (:mod:`tempopt.study.spec.task_fit`)."""
    from tempopt.study.spec.task_fit import fit_task, model_for_fit  # it imports the training code

    task = task_as_written(spec)
    return fit_task(task, spec, model_for_fit(task.student), model_for_fit(task.teacher))


def task_as_written(spec: StudySpec) -> Task:
    """The spec's task with the spec's teacher overrides and ``augment`` applied (its checkpoint an
    absolute path)."""
    task = load_task(spec.task, spec.task_args)
    if spec.teacher.checkpoint is not None:
        task.teacher_checkpoint = study_path(spec, spec.teacher.checkpoint, "teacher.checkpoint")
    if spec.teacher.epochs is not None:
        task.teacher_epochs = spec.teacher.epochs
    if spec.teacher.lr is not None:
        task.teacher_lr = spec.teacher.lr
    if spec.augment is not None:
        task.augment = from_settings(spec.augment.crop, spec.augment.flip, spec.augment.shift)
    return task
