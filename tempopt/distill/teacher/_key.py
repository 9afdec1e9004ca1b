"""The teacher cache key: a content hash of everything the teacher and its logits depend on.

The task name, the data (train, val, test, transfer and the teacher's own training set), the
teacher's architecture and code, and either its checkpoint's bytes or its training recipe
(epochs, learning rate, seed and the augmentation: a replayable one's classes, source and
configuration, a plain function's name and source).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

from tempopt.distill.data import fingerprint
from tempopt.distill.teacher._checkpoint import file_sha256
from tempopt.distill.teacher._source_hash import augmentation_code, callable_code, classes_code
from tempopt.tasks import Task
from tempopt.tasks.augmentation import Augmentation

CACHE_FORMAT = 2


def cache_key(task: Task, seed: int = 0) -> str:
    """The content hash that identifies a teacher and its logits."""
    recipe: dict[str, object] = {
        "format": CACHE_FORMAT,
        "task": task.name,
        "train": fingerprint(task.train),
        "val": fingerprint(task.val),
        "transfer": fingerprint(task.transfer),
        "test": fingerprint(task.test),
        "teacher_train": fingerprint(task.teacher_train),
        "architecture": repr(task.teacher()),
        "code": teacher_code(task),
        "num_classes": task.num_classes,
    }
    if task.teacher_checkpoint is not None:
        recipe["checkpoint"] = file_sha256(Path(task.teacher_checkpoint))
    else:  # the teacher is trained by ``fit``, which augments its batches too
        augment = augmentation_key(task.augment)
        recipe["training"] = {"epochs": task.teacher_epochs, "lr": task.teacher_lr, "seed": seed, "augment": augment}
    return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()


def teacher_code(task: Task) -> str:
    """A hash of the source of every class the teacher is built from (torch's own by name).

    Two task modules with the same task name, data and ``repr`` but another ``forward`` make
    different teachers: the key must tell them apart.
    """
    return classes_code(task.teacher())


def augmentation_key(augment: Augmentation | Callable | None) -> list[str | None] | None:
    """What the key records of a task's augmentation: a replayable one's classes, source and
    configuration; a plain function's name and source (with the values it captured)."""
    if augment is None:
        return None
    if isinstance(augment, Augmentation):
        return ["replayable", _callable_name(augment), augmentation_code(augment)]
    return [_callable_name(augment), callable_code(augment)]


def _callable_name(fn: object) -> str | None:
    """``module.qualname`` of a function or callable object: stable across processes."""
    if fn is None:
        return None
    named = fn if hasattr(fn, "__qualname__") else type(fn)
    return f"{getattr(named, '__module__', '?')}.{named.__qualname__}"
