"""Tasks: the data, teacher and student a study distils. Built-ins register themselves here."""

from tempopt.tasks import digits, images, mnist, mnist1d  # noqa: E402,F401  (register built-ins)
from tempopt.tasks._registry import builtin_tasks, load_task, register_task, resolve_factory
from tempopt.tasks._task import Task

__all__ = ["Task", "builtin_tasks", "load_task", "register_task", "resolve_factory"]
