"""scikit-learn's 8×8 digits: the fast built-in task (seconds on a CPU).

The 1 797 images are split once, with ``split_seed``, into three disjoint parts: a test split
(only the verdict is measured on it), a validation split (the search selects on it) and a
training pool. The teacher learns from the whole labelled pool by default; the student may get
the labels of only the first ``labelled`` pool images and sees the rest as unlabelled inputs.
sklearn's digits has no two equal images, so the splits are disjoint by content as well.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.utils.data import TensorDataset

from tempopt.errors import TaskError
from tempopt.tasks._task import Task
from tempopt.tasks.models import MLP, check_widths

TEACHER_LABELS = ("all", "labelled")


def split_indices(n: int, val_fraction: float, test_fraction: float, seed: int) -> tuple[Tensor, Tensor, Tensor]:
    """Disjoint ``(test, val, pool)`` index tensors covering ``range(n)``, from one seeded permutation.

    The first ``int(n * test_fraction)`` indices of the permutation are the test split, the next
    ``int(n * val_fraction)`` the validation split and the rest the training pool.

    Raises:
        TaskError: if a fraction is outside (0, 1), they sum to 1 or more, or a split is empty.
    """
    for arg, value in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
        if not 0.0 < value < 1.0:
            raise TaskError(f"{arg}={value} must be between 0 and 1; try 0.2 for val, 0.3 for test.")
    if val_fraction + test_fraction >= 1.0:
        raise TaskError(
            f"val_fraction={val_fraction} plus test_fraction={test_fraction} must be below 1 to leave "
            "training data; lower one of them."
        )
    n_test, n_val = int(n * test_fraction), int(n * val_fraction)
    if n_test == 0 or n_val == 0:
        raise TaskError(
            f"val_fraction={val_fraction} and test_fraction={test_fraction} leave an empty split of {n} "
            "images; raise them."
        )
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    return order[:n_test], order[n_test : n_test + n_val], order[n_test + n_val :]


def make_digits(
    val_fraction: float = 0.2,
    test_fraction: float = 0.3,
    labelled: int | None = None,
    teacher_labels: str = "all",
    student_hidden: int = 16,
    teacher_hidden: int = 256,
    teacher_epochs: int = 40,
    split_seed: int = 0,
) -> Task:
    """1 797 images of 8×8 digits, 10 classes; an MLP teacher and a much narrower MLP student.

    Args:
        val_fraction: share of the images held out for validation (the search selects on it).
        test_fraction: share of the images held out for the final verdict only.
        labelled: keep labels for only the first this many images of the training pool; the rest
            of the pool becomes the unlabelled transfer set (the regime where distillation helps).
            None keeps every label and has no transfer set.
        teacher_labels: ``"all"`` trains the teacher on every label of the pool (more labels than
            the student gets); ``"labelled"`` trains it on the student's labelled images only.
        student_hidden: width of the student's one hidden layer.
        teacher_hidden: width of the teacher's two hidden layers.
        teacher_epochs: epochs to train the teacher.
        split_seed: seed of the test/validation/training split.

    Raises:
        TaskError: for fractions outside (0, 1) or summing to 1 or more, a ``labelled`` outside
            1..pool size, or an unknown ``teacher_labels``.
    """
    from sklearn.datasets import load_digits

    check_widths(student_hidden=student_hidden, teacher_hidden=teacher_hidden)
    if teacher_labels not in TEACHER_LABELS:
        raise TaskError(f"teacher_labels={teacher_labels!r} is not one of {TEACHER_LABELS}; use 'all' or 'labelled'.")
    data = load_digits()
    x = torch.tensor(data.data, dtype=torch.float32) / 16.0  # (N, 64)
    y = torch.tensor(data.target, dtype=torch.long)  # (N,)
    test_idx, val_idx, pool_idx = split_indices(len(y), val_fraction, test_fraction, split_seed)
    train_idx, transfer_idx = _label_first(pool_idx, labelled)
    transfer = TensorDataset(x[transfer_idx]) if len(transfer_idx) else None  # inputs only
    teacher_train = TensorDataset(x[pool_idx], y[pool_idx]) if teacher_labels == "all" else None
    n_teacher = len(pool_idx) if teacher_labels == "all" else len(train_idx)
    return Task(
        train=TensorDataset(x[train_idx], y[train_idx]),
        val=TensorDataset(x[val_idx], y[val_idx]),
        test=TensorDataset(x[test_idx], y[test_idx]),
        teacher_train=teacher_train,
        num_classes=10,
        teacher=lambda: MLP(64, [teacher_hidden, teacher_hidden], 10, dropout=0.1),
        student=lambda: MLP(64, [student_hidden], 10),
        name="digits",
        transfer=transfer,
        teacher_epochs=teacher_epochs,
        description=(
            f"sklearn digits, MLP {teacher_hidden}x2 teacher ({n_teacher} labels) -> MLP {student_hidden} "
            f"student ({len(train_idx)} labels, {len(transfer_idx)} unlabelled)"
        ),
        meta={
            "n_train": len(train_idx),
            "n_val": len(val_idx),
            "n_test": len(test_idx),
            "n_transfer": len(transfer_idx),
            "n_teacher_train": n_teacher,
        },
    )


def _label_first(pool_idx: Tensor, labelled: int | None) -> tuple[Tensor, Tensor]:
    """``(labelled, unlabelled)`` indices: the first ``labelled`` of the pool keep their labels."""
    if labelled is None:
        return pool_idx, pool_idx[:0]
    if not 0 < labelled <= len(pool_idx):
        raise TaskError(f"labelled={labelled} must be between 1 and {len(pool_idx)}; lower it.")
    return pool_idx[:labelled], pool_idx[labelled:]
