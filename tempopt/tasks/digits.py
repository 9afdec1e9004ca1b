"""scikit-learn's 8×8 digits: the fast built-in task (seconds on a CPU)."""

from __future__ import annotations

import torch
from torch.utils.data import TensorDataset

from tempopt.errors import TaskError
from tempopt.tasks._registry import register_task
from tempopt.tasks._task import Task
from tempopt.tasks.models import MLP


@register_task("digits")
def make_digits(
    val_fraction: float = 0.3,
    labelled: int | None = None,
    student_hidden: int = 16,
    teacher_hidden: int = 256,
    teacher_epochs: int = 40,
    split_seed: int = 0,
) -> Task:
    """1 797 images of 8×8 digits, 10 classes; an MLP teacher and a much narrower MLP student.

    Args:
        val_fraction: share of the images held out for validation.
        labelled: keep labels for only this many training images; the rest of the training
            split becomes the unlabelled transfer set (the regime where distillation helps).
            None keeps every label and has no transfer set.
        student_hidden: width of the student's one hidden layer.
        teacher_hidden: width of the teacher's two hidden layers.
        teacher_epochs: epochs to train the teacher.
        split_seed: seed of the train/validation split.
    """
    from sklearn.datasets import load_digits

    if not 0.0 < val_fraction < 1.0:
        raise TaskError(f"val_fraction={val_fraction} must be between 0 and 1; try 0.3.")
    data = load_digits()
    x = torch.tensor(data.data, dtype=torch.float32) / 16.0  # (N, 64)
    y = torch.tensor(data.target, dtype=torch.long)
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(split_seed))
    n_val = int(len(y) * val_fraction)
    val_idx, train_idx = order[:n_val], order[n_val:]
    transfer = None
    if labelled is not None:
        if not 0 < labelled <= len(train_idx):
            raise TaskError(f"labelled={labelled} must be between 1 and {len(train_idx)}; lower it.")
        if labelled < len(train_idx):  # with every label kept there is nothing to transfer on
            transfer = TensorDataset(x[train_idx[labelled:]])
        train_idx = train_idx[:labelled]
    return Task(
        train=TensorDataset(x[train_idx], y[train_idx]),
        val=TensorDataset(x[val_idx], y[val_idx]),
        num_classes=10,
        teacher=lambda: MLP(64, [teacher_hidden, teacher_hidden], 10, dropout=0.1),
        student=lambda: MLP(64, [student_hidden], 10),
        name="digits",
        transfer=transfer,
        teacher_epochs=teacher_epochs,
        description=f"sklearn digits, MLP {teacher_hidden}x2 teacher -> MLP {student_hidden} student",
        meta={"n_train": len(train_idx), "n_val": n_val, "n_transfer": len(transfer or [])},
    )
