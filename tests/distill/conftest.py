"""Tiny tasks for the engine's tests: Gaussian blobs, MLPs, a few epochs on one CPU thread."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace

import pytest
import torch
from torch import nn
from torch.utils.data import Dataset, TensorDataset

from tempopt.tasks import Task

NUM_CLASSES = 3
DIM = 8


def blobs(n: int, seed: int, spread: float = 1.5) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` points ``(n, DIM)`` around one centre per class, and their labels ``(n,)``."""
    g = torch.Generator().manual_seed(seed)
    centres = torch.randn(NUM_CLASSES, DIM, generator=torch.Generator().manual_seed(1234)) * spread
    y = torch.randint(0, NUM_CLASSES, (n,), generator=g)
    return centres[y] + torch.randn(n, DIM, generator=g), y


def teacher_mlp(hidden: int = 32) -> nn.Module:
    """Dropout and batch norm make eval mode matter: a teacher left in train mode would show."""
    return nn.Sequential(
        nn.Linear(DIM, hidden), nn.BatchNorm1d(hidden), nn.ReLU(), nn.Dropout(0.2), nn.Linear(hidden, NUM_CLASSES)
    )


def student_mlp() -> nn.Module:
    return nn.Sequential(nn.Linear(DIM, 16), nn.ReLU(), nn.Linear(16, NUM_CLASSES))


def tiny_task(
    n_train: int = 96,
    n_val: int = 60,
    n_transfer: int = 80,
    teacher_hidden: int = 32,
    data_seed: int = 0,
    **overrides,
) -> Task:
    """A 3-class task that trains in a fraction of a second; fresh tensors on every call."""
    x, y = blobs(n_train, data_seed)
    xv, yv = blobs(n_val, data_seed + 1)
    fields = dict(
        train=TensorDataset(x, y),
        val=TensorDataset(xv, yv),
        num_classes=NUM_CLASSES,
        teacher=lambda: teacher_mlp(teacher_hidden),
        student=student_mlp,
        name="tiny",
        transfer=TensorDataset(blobs(n_transfer, data_seed + 2)[0]) if n_transfer else None,
        teacher_epochs=20,
        teacher_lr=3e-2,
    )
    fields.update(overrides)
    return Task(**fields)


class PlainDataset(Dataset):
    """A dataset that is not a TensorDataset: it goes through the DataLoader path."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor | None = None) -> None:
        self.x, self.y = x, y
        self.reads = 0

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int):
        self.reads += 1
        return self.x[i] if self.y is None else (self.x[i], int(self.y[i]))


@pytest.fixture
def make_task() -> Callable[..., Task]:
    """``make_task(**overrides)``: a fresh tiny task (see :func:`tiny_task`)."""
    return tiny_task


@pytest.fixture
def tiny() -> SimpleNamespace:
    """The building blocks of the tiny tasks, for tests that assemble their own."""
    return SimpleNamespace(task=tiny_task, teacher=teacher_mlp, student=student_mlp, blobs=blobs, Plain=PlainDataset)


@pytest.fixture
def teacher_for(tmp_path) -> Callable[[Task], object]:
    """The prepared (trained, cached) teacher of a task."""
    from tempopt.distill import prepare_teacher

    return lambda task: prepare_teacher(task, tmp_path, device="cpu")
