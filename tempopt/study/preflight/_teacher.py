"""The pre-flight's check of the teacher's recipe: a checkpoint that loads and fits, or training."""

from __future__ import annotations

import logging
from pathlib import Path

from tempopt.distill.teacher import load_weights, read_state_dict
from tempopt.errors import SpecError, TaskError
from tempopt.study.preflight._flight import Flight

log = logging.getLogger(__name__)


def check_teacher_recipe(flight: Flight) -> None:
    """A checkpoint that exists, loads with ``weights_only=True`` and fits; or a trained teacher."""
    task, spec = flight.task, flight.spec
    if task.teacher_checkpoint is None:
        if task.teacher_epochs < 1:
            where = "key 'teacher.epochs'" if spec.teacher.epochs is not None else f"task {task.name!r}"
            raise SpecError(
                f"{where} gives the teacher {task.teacher_epochs} training epochs and there is no teacher "
                "checkpoint, so the teacher would be untrained; set teacher.epochs to 1 or more, or give "
                "teacher.checkpoint."
            )
        return
    path = Path(task.teacher_checkpoint).absolute()
    in_spec = spec.teacher.checkpoint is not None  # else the task's own, relative to the working directory
    what = "teacher.checkpoint" if in_spec else "teacher_checkpoint"
    if not path.is_file():
        written = spec.teacher.checkpoint if in_spec else str(task.teacher_checkpoint)
        from_file = in_spec and spec.study_dir is not None and Path(spec.study_dir).is_dir()
        start = "the study file's folder" if from_file else "the working directory"
        raise TaskError(
            f"{what} {written!r} was looked for at {str(path)!r}, which is not a file; give the path of a saved "
            f"state_dict (a relative path starts at {start})."
        )
    state, note = read_state_dict(path, what)
    if note is not None:
        log.warning(note)
    load_weights(flight.model("teacher"), state, path, f"the teacher of task {task.name!r}", what)
