"""Tasks: the data, teacher and student a study distils.

The built-in tasks are named in the registry and imported when one is built; the names below
are imported when first read, so the list of task names costs no torch import.
"""

from typing import TYPE_CHECKING

from tempopt.lazy_exports import lazy_exports
from tempopt.tasks._registry import builtin_tasks, load_task, register_task, resolve_factory

if TYPE_CHECKING:
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

__getattr__, __dir__ = lazy_exports(
    __name__,
    {"._task": ("Task",), ".augmentation": ("Augmentation", "Compose", "Crop", "Flip", "Shift")},
)
