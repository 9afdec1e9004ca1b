"""The pre-flight's checks of a task's models: something to train, data that fits them, and
finite logits of shape ``(B, num_classes)`` on a few training inputs."""

from __future__ import annotations

import logging
from typing import Any

import torch
from torch import Tensor

from tempopt.distill.data import first_inputs
from tempopt.distill.views import augment_once
from tempopt.errors import TaskError
from tempopt.study.preflight._flight import SAMPLE, Flight, user_call
from tempopt.study.spec.task_fit import fit_task

log = logging.getLogger(__name__)


def check_trainable(flight: Flight) -> None:
    """The student has parameters to train; so has the teacher, unless a checkpoint gives its weights."""
    task = flight.task
    roles = ("student",) if task.teacher_checkpoint is not None else ("student", "teacher")
    for role in roles:
        model = flight.model(role)
        if not any(p.requires_grad for p in model.parameters()):
            raise TaskError(
                f"the {role} of task {task.name!r} ({type(model).__name__}) has no trainable parameters, so there is "
                f"nothing to train; return a model with parameters from the {role} factory."
            )


def fit_data(flight: Flight) -> None:
    """Cast the inputs to the models' dtype and avoid BatchNorm's batches of one, with a warning each."""
    fit_task(flight.task, flight.spec, flight.model("student"), flight.model("teacher"), note=log.warning)


def check_logits(flight: Flight) -> None:
    """The teacher and the student give finite ``(B, num_classes)`` logits on training inputs."""
    task = flight.task
    name = f"task {task.name!r}"
    x = user_call(first_inputs, f"reading the training set of {name}", "fix the dataset", task.train, SAMPLE)
    x = x.to(flight.device)
    if task.augment is not None:
        generator = torch.Generator().manual_seed(0)
        augmented = user_call(
            augment_once, f"the augmentation of {name}", "fix the augmentation", task.augment, x, generator
        )
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
        who = f"the {role} of {name}"
        _check_shape(out, who, len(x), task.num_classes)
        if not torch.isfinite(out).all():
            kind = "NaN" if torch.isnan(out).any() else "infinite"
            loaded = role == "teacher" and task.teacher_checkpoint is not None
            cause = "the checkpoint's weights or forward" if loaded else "forward"
            raise TaskError(
                f"{who} gives {kind} logits on {len(x)} finite training inputs; fix {cause} (a division by zero, "
                "a log or square root of a negative number)."
            )


def _check_shape(out: Any, who: str, batch: int, num_classes: int) -> None:
    if not isinstance(out, Tensor):
        raise TaskError(f"{who} returns {_described(out)}, not a tensor of logits; {_which(out, batch, num_classes)}.")
    if tuple(out.shape) != (batch, num_classes):
        raise TaskError(
            f"{who} outputs logits of shape {tuple(out.shape)} for {batch} training inputs, not "
            f"({batch}, {num_classes}) (num_classes={num_classes}); make it output one logit per class."
        )


def _described(out: Any) -> str:
    if isinstance(out, (tuple, list)):
        return f"a {type(out).__name__} of {len(out)}"
    return f"a {type(out).__name__}"


def _which(out: Any, batch: int, num_classes: int) -> str:
    """Which element of a tuple or a dict to return from forward, when one has the logits' shape."""
    if isinstance(out, dict):
        items = list(out.items())
    elif isinstance(out, (tuple, list)):
        items = list(enumerate(out))
    else:
        items = []
    fits = [k for k, v in items if isinstance(v, Tensor) and tuple(v.shape) == (batch, num_classes)]
    if not fits:
        return f"return logits of shape (B, num_classes) from forward (num_classes={num_classes})"
    key = "logits" if "logits" in fits else fits[0]
    element = f"key {key!r}" if isinstance(out, dict) else f"element {key}"
    return (
        f"its {element} has the logits' shape ({batch}, {num_classes}): return only it from forward, or wrap "
        f"the model in a module whose forward returns model(x)[{key!r}]"
    )
