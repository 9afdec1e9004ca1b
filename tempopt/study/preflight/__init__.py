"""The pre-flight: what can be checked about a study before its storage is opened.

Every command that opens a study for work runs it once, before the storage is touched (``run``
and ``launch`` through :func:`~tempopt.study.preparation.prepare_study`, which a pool worker
runs too, ``submit`` itself): a problem is one sentence and nothing is written. It builds the
task and checks, in this order:

- the device: a torch device, present on this host;
- the teacher's recipe: a checkpoint that exists, loads with ``weights_only=True`` and fits the
  teacher (a ``module.`` prefix is stripped, with a warning), or else at least one training epoch;
- the models: the teacher and the student, built and run once (in eval mode, without gradients)
  on a few training inputs, augmented as in training, give logits of shape ``(B, num_classes)``.

An exception raised in the user's code (the task factory, a model, the augmentation) is one
sentence followed by the frames of the user's own files. A check is a function of a
:class:`Flight` that raises a :class:`~tempopt.errors.TempoptError`; the next one joins
:data:`CHECKS`. The global random state is left as it was found.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from tempopt.distill.checkpoint import load_weights, read_state_dict
from tempopt.distill.data import first_inputs
from tempopt.distill.device import parse_device, resolve_device
from tempopt.errors import SpecError, TaskError, TempoptError
from tempopt.study.spec import StudySpec
from tempopt.study.spec_task import load_spec_task
from tempopt.tasks import Task
from tempopt.tasks._user_code import first_line, user_frames

log = logging.getLogger(__name__)

SAMPLE = 4
"""Training inputs the models are run on."""


@dataclass
class Flight:
    """What the checks look at: the spec, its task, the device; the models, built once."""

    spec: StudySpec
    task: Task
    device: torch.device
    models: dict[str, nn.Module] = field(default_factory=dict)

    def model(self, role: str) -> nn.Module:
        """The task's ``teacher`` or ``student``, built once (the user's factory) and on the device."""
        if role not in self.models:
            factory = self.task.teacher if role == "teacher" else self.task.student
            built = user_call(factory, f"the {role} factory of task {self.task.name!r}", "fix the factory")
            if not isinstance(built, nn.Module):
                raise TaskError(
                    f"the {role} factory of task {self.task.name!r} returned a {type(built).__name__}, "
                    "not a torch.nn.Module; return a fresh model."
                )
            self.models[role] = built.to(self.device).eval()
        return self.models[role]


def preflight(spec: StudySpec, on_this_host: bool = True) -> Flight:
    """Build the spec's task and run every check on it.

    Args:
        spec: the validated study file.
        on_this_host: False for ``tempopt submit``: the study runs on the workers' hosts, so its
            device is only checked to be a device, and the models run on the CPU.

    Raises:
        SpecError, TaskError: one sentence (and the user's frames) naming what to fix.
    """
    device = resolve_device(spec.device) if on_this_host else _named_device(spec.device)
    flight = Flight(spec, load_spec_task(spec), device)
    with torch.random.fork_rng(devices=[]):  # building models draws from it
        for check in CHECKS:
            check(flight)
    return flight


def user_call(fn: Callable[..., Any], what: str, fix: str, *args: Any) -> Any:
    """``fn(*args)``; an exception it raises becomes a TaskError with the user's own frames."""
    try:
        return fn(*args)
    except TempoptError:
        raise
    except Exception as e:
        raise TaskError(f"{what} raised {first_line(e)}; {fix}.", user_frames(e)) from e


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


def check_logits(flight: Flight) -> None:
    """The teacher and the student give ``(B, num_classes)`` logits on training inputs."""
    task = flight.task
    if len(task.train) == 0:  # type: ignore[arg-type]
        return
    name = f"task {task.name!r}"
    x = user_call(first_inputs, f"reading the training set of {name}", "fix the dataset", task.train, SAMPLE)
    x = x.to(flight.device)
    if task.augment is not None:
        augmented = user_call(task.augment, f"the augmentation of {name}", "fix the augmentation function", x)
        if not isinstance(augmented, Tensor) or len(augmented) != len(x):
            got = f"{len(augmented)} inputs" if isinstance(augmented, Tensor) else f"a {type(augmented).__name__}"
            raise TaskError(
                f"the augmentation of {name} turns {len(x)} training inputs into {got}; "
                "return a tensor of one augmented input per input."
            )
        x = augmented
    for role in ("teacher", "student"):
        model = flight.model(role)
        with torch.no_grad():
            out = user_call(model, f"the {role} of {name}, run on {len(x)} training inputs,", "fix the model", x)
        _check_shape(out, f"the {role} of {name}", len(x), task.num_classes)


def _check_shape(out: Any, who: str, batch: int, num_classes: int) -> None:
    if not isinstance(out, Tensor):
        raise TaskError(
            f"{who} returns a {type(out).__name__}, not a tensor of logits; "
            f"return logits of shape (B, num_classes) from forward."
        )
    if tuple(out.shape) != (batch, num_classes):
        raise TaskError(
            f"{who} outputs logits of shape {tuple(out.shape)} for {batch} training inputs, not "
            f"({batch}, {num_classes}) (num_classes={num_classes}); make it output one logit per class."
        )


def _named_device(name: str) -> torch.device:
    parse_device(name)  # a name that is no device is refused here too
    return torch.device("cpu")


CHECKS: list[Callable[[Flight], None]] = [check_teacher_recipe, check_logits]
"""The checks, in order; a later one may use what an earlier one loaded (the teacher's weights)."""
