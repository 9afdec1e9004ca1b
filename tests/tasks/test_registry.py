"""Finding a task by name: built-ins, ``module:attr`` references and their errors."""

from __future__ import annotations

import textwrap
import uuid

import pytest
import torch
from torch import nn
from torch.utils.data import TensorDataset

import tempopt.tasks._registry as registry
from tempopt.errors import TaskError
from tempopt.tasks import Task, builtin_tasks, load_task, register_task, resolve_factory

FACTORIES = textwrap.dedent(
    """
    import torch
    from torch import nn
    from torch.utils.data import TensorDataset
    from tempopt.tasks import Task

    NOT_CALLABLE = 42

    def make_task(n: int = 8, classes: int = 2):
        x = torch.zeros(n, 3)
        y = torch.arange(n) % classes
        return Task(train=TensorDataset(x, y), val=TensorDataset(x, y), num_classes=classes,
                    teacher=lambda: nn.Linear(3, classes), student=lambda: nn.Linear(3, classes))

    def named_task():
        task = make_task()
        task.name = "mine"
        return task

    def not_a_task():
        return {"train": None}

    def needs(size: int):
        return make_task(size)
    """
)


@pytest.fixture
def user_module(tmp_path, monkeypatch) -> str:
    """A user's module of task factories, importable under a fresh name."""
    name = f"user_tasks_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{name}.py").write_text(FACTORIES)
    monkeypatch.syspath_prepend(str(tmp_path))
    return name


def _one_sentence(message: str) -> bool:
    return message.endswith(".") and "\n" not in message and ". " not in message.replace("e.g. ", "")


def test_builtins_are_registered():
    assert {"digits", "mnist1d", "image_folder", "torchvision"} <= set(builtin_tasks())
    assert builtin_tasks() == sorted(builtin_tasks())
    for name in builtin_tasks():  # each entry of the table names a factory that exists
        assert callable(resolve_factory(name)), name


def test_register_task_makes_a_factory_loadable_by_name(monkeypatch):
    monkeypatch.setattr(registry, "_BUILTIN", dict(registry._BUILTIN))

    @register_task("toy")
    def make_toy(n: int = 4) -> Task:
        x, y = torch.zeros(n, 2), torch.zeros(n, dtype=torch.long)
        return Task(TensorDataset(x, y), TensorDataset(x, y), 2, lambda: nn.Linear(2, 2), lambda: nn.Linear(2, 2))

    assert "toy" in builtin_tasks()
    task = load_task("toy", {"n": 6})
    assert len(task.train) == 6 and task.name == "toy"  # the default name becomes the reference


def test_a_module_reference_loads_the_users_task(user_module):
    task = load_task(f"{user_module}:make_task", {"n": 10, "classes": 5})
    assert isinstance(task, Task) and len(task.train) == 10 and task.num_classes == 5
    assert task.name == "make_task"
    assert load_task(f"{user_module}:named_task").name == "mine"  # a name it gave itself is kept


@pytest.mark.parametrize(
    "ref, words",
    [
        ("no_such_module_zz9:make_task", ["cannot be imported", "no_such_module_zz9", "package.module:make_task"]),
        ("{mod}:missing", ["no callable 'missing'", "package.module:make_task"]),
        ("{mod}:NOT_CALLABLE", ["no callable 'NOT_CALLABLE'", "package.module:make_task"]),
        ("{mod}:not_a_task", ["returned dict", "tempopt.Task"]),
        ("no_such_task", ["built-in task", "digits", "package.module:make_task"]),
        ("digits.py", ["built-in task", "package.module:make_task"]),
        (":make_task", ["module and a function", "package.module:make_task"]),
        ("{mod}:", ["module and a function", "package.module:make_task"]),
    ],
)
def test_a_bad_reference_is_one_sentence_naming_it_and_the_expected_form(user_module, ref, words):
    ref = ref.format(mod=user_module)
    with pytest.raises(TaskError) as info:
        load_task(ref)
    message = str(info.value)
    assert repr(ref) in message
    for word in words:
        assert word in message
    assert _one_sentence(message), message


@pytest.mark.parametrize(
    "ref, args, words",
    [
        ("digits", {"bogus": 1}, ["bogus", "labelled"]),
        ("{mod}:make_task", {"n": 4, "size": 2}, ["size", "n, classes"]),
        ("{mod}:needs", {}, ["missing", "size"]),
        ("image_folder", {}, ["root"]),
    ],
)
def test_task_args_that_do_not_fit_the_factory_are_a_task_error(user_module, ref, args, words):
    ref = ref.format(mod=user_module)
    with pytest.raises(TaskError) as info:
        load_task(ref, args)
    message = str(info.value)
    assert repr(ref) in message and "task_args" in message
    for word in words:
        assert word in message
    assert _one_sentence(message), message


def test_the_task_error_keeps_the_import_error_as_its_cause():
    with pytest.raises(TaskError) as info:
        load_task("no_such_module_zz9:make_task")
    assert isinstance(info.value.__cause__, ImportError)
