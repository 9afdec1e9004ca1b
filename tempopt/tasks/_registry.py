"""Finding a task by name: a built-in one, or a user's ``package.module:make_task``."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tempopt.errors import TaskError
from tempopt.references import Kind, resolve
from tempopt.tasks._user_code import USER_FAILURES, first_line, raised, user_frames

if TYPE_CHECKING:
    from tempopt.tasks._task import Task

TaskFactory = Callable[..., "Task"]

# The built-in tasks, imported (with torch) only when one is resolved: a study file's task name
# is checked against this table without importing any of them.
_BUILTIN_REFS: dict[str, str] = {
    "digits": "tempopt.tasks.digits:make_digits",
    "image_folder": "tempopt.tasks.image_folder:make_image_folder",
    "mnist": "tempopt.tasks.mnist:make_mnist",
    "mnist1d": "tempopt.tasks.mnist1d:make_mnist1d",
    "torchvision": "tempopt.tasks.torchvision_datasets:make_torchvision",
}
_BUILTIN: dict[str, TaskFactory] = {}  # registered with register_task

TASK: Kind[TaskFactory] = Kind(
    noun="task",
    form="package.module:make_task",
    part="a function",
    accepts=callable,
    expected="callable",
    fix="expose a function that returns a tempopt.Task",
    error=TaskError,
    failures=USER_FAILURES,
    frames=user_frames,
    raised=raised,
)


def register_task(name: str) -> Callable[[TaskFactory], TaskFactory]:
    """Decorator that makes a task factory available by ``name`` in study files."""

    def deco(factory: TaskFactory) -> TaskFactory:
        _BUILTIN[name] = factory
        return factory

    return deco


def _registered() -> dict[str, TaskFactory | str]:
    """Every task by name: the reference of a built-in one, or the factory registered with
    :func:`register_task` (which wins over a built-in of the same name)."""
    return {**_BUILTIN_REFS, **_BUILTIN}


def builtin_tasks() -> list[str]:
    """Names of the built-in tasks (and of those registered with :func:`register_task`)."""
    return sorted(_registered())


def resolve_factory(ref: str) -> TaskFactory:
    """The factory a task reference names, without calling it.

    Args:
        ref: a built-in name (``digits``) or ``"package.module:attribute"``.

    Raises:
        TaskError: one sentence saying what was not found and the expected form.
    """
    return resolve(ref, _registered(), TASK)


def check_task_args(ref: str, args: dict[str, Any]) -> None:
    """Raise TaskError if ``args`` are not keyword arguments the factory of ``ref`` accepts."""
    factory = resolve_factory(ref)
    try:
        signature = inspect.signature(factory)
    except (TypeError, ValueError):  # no signature available (builtins); accept
        return
    try:
        signature.bind(**args)
    except TypeError as e:
        accepted = ", ".join(signature.parameters) or "none"
        raise TaskError(
            f"task_args {sorted(args)} do not fit task {ref!r} ({e}); give only the arguments it takes ({accepted})."
        ) from e


def load_task(ref: str, args: dict[str, Any] | None = None) -> Task:
    """Build the task a reference names.

    Args:
        ref: a built-in name or ``"package.module:make_task"``.
        args: keyword arguments for the factory (``task_args`` in a study file).

    Raises:
        TaskError: if the reference or its arguments are bad, or it does not return a Task.
    """
    args = args or {}
    check_task_args(ref, args)
    from tempopt.tasks._task import Task  # torch: imported when a task is built, not when names are read

    try:
        task = resolve_factory(ref)(**args)
    except TaskError:
        raise
    except USER_FAILURES as e:  # a factory's own error (a bad value in task_args, a missing file…), or exit
        given = f" with task_args {args}" if args else ""
        raise TaskError(
            f"task {ref!r} failed to build{given} ({first_line(e)}); fix the task_args or the task factory.",
            user_frames(e),
        ) from e
    if not isinstance(task, Task):
        raise TaskError(f"task {ref!r} returned {type(task).__name__}, not a tempopt.Task; return Task(...).")
    if task.name == "custom":
        task.name = ref.replace(":", ".").rsplit(".", 1)[-1] if ":" in ref else ref
    return task
