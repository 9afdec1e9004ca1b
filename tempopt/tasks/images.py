"""What the image tasks share: every task has three disjoint splits, standardised alike.

The splits are train, val (the search selects on it) and test (only the verdict is measured on
it). ``image_folder`` (:mod:`tempopt.tasks.image_folder`) reads class folders, splitting the val
folder in half without a test folder; ``torchvision`` (:mod:`tempopt.tasks.torchvision_datasets`)
takes a dataset's official test split as the test split and cuts val from its official training
split, so nothing is ever selected on the test images. Both standardise every split per channel
with the training set's statistics and build a CNN (or residual) teacher and student.
"""

from __future__ import annotations

import torch
from torch.utils.data import Dataset, TensorDataset

from tempopt.tasks._task import Task
from tempopt.tasks.models import image_model


def materialise(dataset: Dataset) -> TensorDataset:
    """Read every ``(x, y)`` of a dataset once into a TensorDataset (the fast path for jobs)."""
    xs, ys = zip(*(dataset[i] for i in range(len(dataset))), strict=True)  # type: ignore[arg-type]
    return TensorDataset(torch.stack([torch.as_tensor(x) for x in xs]), torch.as_tensor(ys))


def standardise(train: TensorDataset, *others: TensorDataset | None) -> list[TensorDataset | None]:
    """Per-channel standardisation of image tensors with the training set's mean and std."""
    x = train.tensors[0]
    mean = x.mean(dim=(0, 2, 3), keepdim=True)
    std = x.std(dim=(0, 2, 3), keepdim=True).clamp_min(1e-6)
    out: list[TensorDataset | None] = []
    for ds in (train, *others):
        if ds is None:
            out.append(None)
            continue
        out.append(TensorDataset((ds.tensors[0] - mean) / std, *ds.tensors[1:]))
    return out


def split_off(dataset: TensorDataset, n_first: int, seed: int) -> tuple[TensorDataset, TensorDataset]:
    """A seeded random ``n_first`` samples of ``dataset``, and the rest: two disjoint datasets."""
    order = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(seed))
    first, rest = order[:n_first], order[n_first:]
    return TensorDataset(*(t[first] for t in dataset.tensors)), TensorDataset(*(t[rest] for t in dataset.tensors))


def image_task(
    train: TensorDataset,
    val: TensorDataset,
    test: TensorDataset,
    transfer: TensorDataset | None,
    num_classes: int,
    name: str,
    teacher_width: int,
    student_width: int,
    teacher_checkpoint: str | None,
    teacher_epochs: int,
    meta: dict,
    test_note: str,
    teacher_arch: str | None = None,
    student_arch: str | None = None,
) -> Task:
    """The task of image splits: each standardised with ``train``'s statistics, a teacher and a
    student built for their channels (``meta`` gains the two architectures' names)."""
    train_s, val_s, test_s, transfer_s = standardise(train, val, test, transfer)
    channels = train.tensors[0].shape[1]
    teacher, teacher_name = image_model(teacher_arch, "teacher_arch", channels, num_classes, teacher_width, 3)
    student, student_name = image_model(student_arch, "student_arch", channels, num_classes, student_width, 2)
    return Task(
        train=train_s,  # type: ignore[arg-type]
        val=val_s,  # type: ignore[arg-type]
        test=test_s,
        num_classes=num_classes,
        teacher=teacher,
        student=student,
        name=name,
        transfer=transfer_s,
        teacher_checkpoint=teacher_checkpoint,
        teacher_epochs=teacher_epochs,
        description=f"{name}: {teacher_name} teacher -> {student_name} student; {test_note}",
        meta={**meta, "teacher_arch": teacher_name, "student_arch": student_name},
    )
