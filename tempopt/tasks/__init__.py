"""Tasks: the data, teacher and student a study distils. Built-ins register themselves here."""

from tempopt.tasks import digits, images, mnist, mnist1d  # noqa: E402,F401  (register built-ins)
from tempopt.tasks._registry import builtin_tasks, load_task, register_task, resolve_factory
from tempopt.tasks._task import Task
from tempopt.tasks.augmentation import Augmentation, Compose, Crop, Flip, Shift

__all__ = [
    "Augmentation",
    "Compose",
    "Crop",
    "Flip",
    "Shift",
    "Task",
    "builtin_tasks",
    "load_task",
    "register_task",
    "resolve_factory",
]
