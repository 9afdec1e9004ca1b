"""What tempopt changes about a task so that it trains, each change said once as a note.

Two mistakes of a task module have a safe repair, and get it rather than a refusal:

- inputs of another floating dtype than the models' parameters (float64 data from NumPy for a
  float32 model): the inputs of every tensor split are cast to the parameters' dtype, when each
  value fits in it;
- a BatchNorm model whose last training batch would hold one example (which BatchNorm cannot
  normalise in training): the last examples of that split are left out, as few as make no batch
  of one for every batch size the study may use (the student's training and transfer batches,
  and the teacher's when it is trained).

:func:`fit_task` applies both. The pre-flight calls it with the models it built and shows the
notes as warnings; every other place a study's task is built
(:func:`~tempopt.study.spec.host.load_spec_task`) calls it too, so that a trial, a verification
replicate and ``tempopt train`` see the data the pre-flight checked.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import torch
from torch import nn
from torch.utils.data import Dataset, Subset, TensorDataset

from tempopt.distill.data import dataset_tensors
from tempopt.distill.job import JobConfig
from tempopt.errors import SpecError, TaskError
from tempopt.study.spec.dimensions import Dimension
from tempopt.study.spec.model import StudySpec
from tempopt.tasks import Task
from tempopt.tasks._user_code import USER_FAILURES

log = logging.getLogger(__name__)

Note = Callable[[str], None]
SPLITS = ("train", "val", "test", "teacher_train", "transfer")
MAX_BATCH_SIZES = 10_000
"""The most batch sizes of a searched range that are checked one by one."""
MAX_LEFT_OUT = 64
"""The most examples left out of a split to avoid a batch of one."""


def fit_task(task: Task, spec: StudySpec, student: Any, teacher: Any, note: Note = log.info) -> Task:
    """``task`` with its inputs cast to the models' dtype and its BatchNorm batches of one avoided.

    Args:
        task: the task as its factory built it (changed in place and returned).
        spec: the study file (its batch sizes).
        student, teacher: the task's models, built (on any device, ``meta`` too).
        note: told each change, one sentence.

    Raises:
        TaskError: inputs whose values do not fit the models' dtype, or a split that no trimming
            rids of a batch of one.
        SpecError: a batch size of 1 for a BatchNorm student.
    """
    dtype = _floating_dtype(student)
    if dtype is not None:
        _cast_inputs(task, dtype, note)
    sizes: dict[str, set[int]] = {}
    if _has_batchnorm(student):
        sizes["train"] = set(student_batch_sizes(spec))
        if 1 in sizes["train"]:
            raise SpecError(
                f"the student of task {task.name!r} has BatchNorm, which cannot train on batches of one example, "
                "and the study may use batch size 1; use a batch size of 2 or more."
            )
    if _has_batchnorm(teacher) and task.teacher_checkpoint is None:
        split = "teacher_train" if task.teacher_train is not None else "train"
        sizes.setdefault(split, set()).add(JobConfig.batch_size)
    for split, used in sizes.items():
        _trim(task, split, sorted(used), note)
    if "train" in sizes and _has_batchnorm(student):
        _trim_transfer(task, sorted(sizes["train"]), note)
    return task


def shape_only(factory: Callable[[], Any]) -> Any | None:
    """What ``factory`` returns when built on the ``meta`` device: its parameters' shapes and
    dtypes without their memory, and without a draw from the random state. None if it cannot
    be built there (a factory that reads a file into its weights, say)."""
    try:
        with torch.device("meta"):
            return factory()
    except USER_FAILURES:
        return None


def model_for_fit(factory: Callable[[], Any]) -> Any:
    """The model :func:`fit_task` looks at: built on ``meta``, else on the CPU (the random state kept)."""
    model = shape_only(factory)
    if model is None:
        with torch.random.fork_rng(devices=[]):
            model = factory()
    return model


def student_batch_sizes(spec: StudySpec) -> list[int]:
    """Every batch size a job of this study may train the student with."""
    searched: Any = spec.search.batch_size
    if not isinstance(searched, Dimension):
        return [int(searched if searched is not None else spec.batch_size)]
    if searched.choices is not None:
        return sorted({int(c) for c in searched.choices})  # type: ignore[arg-type]
    assert searched.low is not None and searched.high is not None
    step = int(searched.step or 1)
    return list(range(int(searched.low), int(searched.high) + 1, step))[:MAX_BATCH_SIZES]


def _floating_dtype(model: Any) -> torch.dtype | None:
    if not isinstance(model, nn.Module):
        return None  # the pre-flight refuses it
    return next((p.dtype for p in model.parameters() if p.is_floating_point()), None)


def _has_batchnorm(model: Any) -> bool:
    return isinstance(model, nn.Module) and any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())


def _cast_inputs(task: Task, dtype: torch.dtype, note: Note) -> None:
    """Cast the floating inputs of every tensor split whose dtype is not ``dtype``."""
    cast = []
    for split in SPLITS:
        dataset = getattr(task, split)
        tensors = dataset_tensors(dataset) if dataset is not None else None
        if tensors is None or not tensors[0].is_floating_point() or tensors[0].dtype == dtype:
            continue
        x = tensors[0]
        if x.numel() and not torch.isfinite(x.to(dtype)).all() and torch.isfinite(x).all():
            largest = x.abs().max().item()
            raise TaskError(
                f"the inputs of the {split} split of task {task.name!r} are {_name(x.dtype)} with values up to "
                f"{largest:.3g}, "
                f"beyond the range of the models' {_name(dtype)}; scale the inputs, or give the models that dtype."
            )
        setattr(task, split, TensorDataset(x.to(dtype), *tensors[1:]))
        cast.append((split, x.dtype))
    if cast:
        splits = ", ".join(f"{split} ({_name(was)})" for split, was in cast)
        note(
            f"the inputs of task {task.name!r} are cast to {_name(dtype)}, the dtype of the student's parameters: "
            f"{splits}; give {_name(dtype)} tensors to skip this."
        )


def _trim(task: Task, split: str, sizes: list[int], note: Note) -> None:
    """Leave out the last examples of ``split`` so that no batch size makes a batch of one."""
    dataset = getattr(task, split)
    n = len(dataset)
    drop = next((k for k in range(min(MAX_LEFT_OUT, n - 2) + 1) if not _single_last(n - k, sizes)), None)
    if drop == 0:
        return
    if drop is None:
        raise TaskError(
            f"the {split} split of task {task.name!r} has {n} examples, which leave a last batch of one for "
            f"BatchNorm with batch sizes {_sizes(sizes)}; give more examples, or other batch sizes."
        )
    setattr(task, split, _head(dataset, n - drop))
    bad = [b for b in sizes if n % b == 1] or sizes
    note(
        f"the {split} split of task {task.name!r} has {n} examples, so with batch size {_sizes(bad)} its last "
        f"batch would hold one example, on which BatchNorm cannot train; its last {_examples(drop)} left out "
        "(to keep them, give a number of examples that does not leave one over)."
    )


def _trim_transfer(task: Task, sizes: list[int], note: Note) -> None:
    """The same for the transfer set, whose batch size follows from the training set's batches."""
    if task.transfer is None or len(task.transfer) == 0:  # type: ignore[arg-type]
        return
    n, train = len(task.transfer), len(task.train)  # type: ignore[arg-type]
    steps = {-(-train // b) for b in sizes}  # transfer batches per epoch: one per training batch

    def single(m: int) -> bool:  # job.sources: ceil(m / steps) transfer examples a step
        return any(_single_last(m, [-(-m // s)]) for s in steps)

    drop = next((k for k in range(min(MAX_LEFT_OUT, n - 2) + 1) if not single(n - k)), None)
    if drop == 0:
        return
    if drop is None:  # e.g. fewer transfer examples than training batches: every transfer batch holds one
        raise TaskError(
            f"the transfer set of task {task.name!r} has {n} examples for up to {max(steps)} training batches an "
            "epoch, which leaves transfer batches of one example for the student's BatchNorm; give more unlabelled "
            "examples, or a larger batch size."
        )
    task.transfer = _head(task.transfer, n - drop)
    note(
        f"the transfer set of task {task.name!r} has {n} examples, so its last batch would hold one example, on "
        f"which the student's BatchNorm cannot train; its last {_examples(drop)} left out."
    )


def _single_last(n: int, sizes: list[int]) -> bool:
    """True if ``n`` examples in batches of some size of ``sizes`` end with a batch of one."""
    return n == 1 or any(b == 1 or n % b == 1 for b in sizes)


def _head(dataset: Dataset, n: int) -> Dataset:
    """The first ``n`` examples of ``dataset``; a tensor dataset stays one (batched by indexing)."""
    tensors = dataset_tensors(dataset)
    if tensors is not None:
        return TensorDataset(*(t[:n] for t in tensors))
    return _Head(dataset, n)


class _Head(Subset):
    """The first ``n`` examples of a dataset, with its fingerprint (the teacher cache's key) kept."""

    def __init__(self, dataset: Dataset, n: int) -> None:
        super().__init__(dataset, range(n))

    def fingerprint(self) -> str:
        from tempopt.distill.data import fingerprint

        return f"{fingerprint(self.dataset)}[:{len(self.indices)}]"


def _name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


def _sizes(sizes: list[int]) -> str:
    return ", ".join(map(str, sizes[:5])) + (", …" if len(sizes) > 5 else "")


def _examples(n: int) -> str:
    return "example is" if n == 1 else f"{n} examples are"
