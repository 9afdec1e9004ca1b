"""The pre-flight's checks of a task's data: its classes, and every split it gives.

A tensor split (``TensorDataset``) is checked whole, which takes a pass over its tensors; any
other dataset through its first :data:`~tempopt.study.preflight._flight.SAMPLE` items, read
as training reads them.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor
from torch.utils.data import Dataset

from tempopt.distill.data import dataset_tensors
from tempopt.errors import TaskError
from tempopt.study.preflight._flight import SAMPLE, Flight, user_call

LABELLED = ("train", "val", "test", "teacher_train")
"""The splits of ``(x, y)`` pairs; ``transfer`` holds inputs (its labels, if any, are ignored)."""
REQUIRED = ("train", "val")


def check_num_classes(flight: Flight) -> None:
    """``num_classes`` is a whole number of at least 2."""
    task = flight.task
    c = task.num_classes
    if isinstance(c, bool) or not isinstance(c, int) or c < 2:
        raise TaskError(
            f"task {task.name!r} has num_classes={c!r}; a classifier needs a whole number of at least 2 classes "
            "(with one, every answer is right), so give the number of classes of its labels."
        )


def check_splits(flight: Flight) -> None:
    """Every split given is non-empty; labels are class indices ``0 .. num_classes-1``; inputs are finite."""
    task = flight.task
    for split in (*LABELLED, "transfer"):
        dataset = getattr(task, split)
        if dataset is None:
            continue
        what = f"the {split} split of task {task.name!r}"
        n = user_call(len, f"len() of {what}", "give the dataset a __len__", dataset)
        if n == 0:
            if split == "transfer":
                continue  # no transfer batches: the job trains on the labelled split alone
            left_out = "" if split in REQUIRED else ", or leave it out (None)"
            raise TaskError(f"{what} is empty (0 examples); give it labelled examples{left_out}.")
        x, y = _inputs_and_labels(dataset, n, what, labelled=split in LABELLED)
        if y is not None:
            _check_labels(y, what, task.num_classes)
        _check_finite(x, what)


def _inputs_and_labels(dataset: Dataset, n: int, what: str, labelled: bool) -> tuple[Tensor, Tensor | None]:
    """The inputs and labels of a tensor split, or of the first few items of another dataset."""
    tensors = dataset_tensors(dataset)
    if tensors is not None:
        if labelled and len(tensors) < 2:
            raise TaskError(f"{what} holds inputs without labels; give a TensorDataset(x, y) of inputs and labels.")
        return tensors[0], tensors[1] if labelled else None
    read = dataset.__getitem__
    items = [user_call(read, f"reading item {i} of {what}", "fix the dataset", i) for i in range(min(n, SAMPLE))]
    pairs = [item if isinstance(item, (tuple, list)) else (item,) for item in items]
    if labelled and any(len(p) < 2 for p in pairs):
        raise TaskError(f"{what} gives items without a label; return (x, y) pairs from __getitem__.")
    stack = lambda: torch.stack([torch.as_tensor(p[0]) for p in pairs])  # noqa: E731
    x = user_call(stack, f"stacking the inputs of {what}", "return inputs of one shape")
    return x, torch.as_tensor([_scalar(p[1], what) for p in pairs]) if labelled else None


def _scalar(label: Any, what: str) -> Any:
    value = torch.as_tensor(label)
    if value.numel() != 1:
        raise TaskError(f"{what} gives labels of shape {tuple(value.shape)}; give one class index per example.")
    return value.item()


def _check_labels(y: Tensor, what: str, num_classes: int) -> None:
    if y.dim() != 1:
        hint = " (one-hot? give y.argmax(1))" if y.dim() == 2 and y.shape[1] == num_classes else ""
        raise TaskError(f"the labels of {what} have shape {tuple(y.shape)}; give one class index per example{hint}.")
    if y.is_floating_point() or y.is_complex():
        raise TaskError(
            f"the labels of {what} are {str(y.dtype).removeprefix('torch.')}, not class indices; give integer "
            "labels 0 .. num_classes-1 (y.long())."
        )
    low, high = int(y.min()), int(y.max())
    if low < 0 or high >= num_classes:
        fix = f"raise num_classes to {high + 1}, or relabel" if low >= 0 else "relabel them"
        raise TaskError(
            f"the labels of {what} run from {low} to {high}, outside 0 .. {num_classes - 1} "
            f"(num_classes={num_classes}); {fix}."
        )


def _check_finite(x: Tensor, what: str) -> None:
    if not (x.is_floating_point() or x.is_complex()):
        return
    bad = ~torch.isfinite(x.reshape(len(x), -1)).all(dim=1)  # (N,) an example with a NaN or an infinity
    if bad.any():
        first = int(bad.nonzero()[0])
        kind = "NaN" if torch.isnan(x[first]).any() else "infinite"
        count = int(bad.sum())
        raise TaskError(
            f"the inputs of {what} are not all finite: {count} example(s) hold {kind} values, the first is example "
            f"{first}; clean or drop them before building the task."
        )
