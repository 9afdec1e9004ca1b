"""A complete user task: two Gaussian blobs per class in 20 dimensions, an MLP teacher and a
linear student. Run it with:  tempopt run examples/my_task.yaml
"""

import torch
from torch import nn
from torch.utils.data import TensorDataset

from tempopt import Task


def _blobs(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    centres = torch.randn(8, 20, generator=torch.Generator().manual_seed(0))  # (8 blobs, 20)
    blob = torch.randint(0, 8, (n,), generator=g)
    x = centres[blob] + torch.randn(n, 20, generator=g)  # (n, 20)
    return x, blob % 4  # 4 classes, two blobs each


def make_task() -> Task:
    x_train, y_train = _blobs(300, seed=1)
    x_val, y_val = _blobs(1000, seed=2)
    x_test, y_test = _blobs(1000, seed=4)
    x_unlabelled, _ = _blobs(2000, seed=3)
    return Task(
        train=TensorDataset(x_train, y_train),
        val=TensorDataset(x_val, y_val),  # what the search selects on
        test=TensorDataset(x_test, y_test),  # held out: only the verdict is measured on it
        num_classes=4,
        teacher=lambda: nn.Sequential(nn.Linear(20, 128), nn.ReLU(), nn.Linear(128, 4)),
        student=lambda: nn.Linear(20, 4),  # a linear student
        name="blobs",
        transfer=TensorDataset(x_unlabelled),  # unlabelled inputs the teacher labels
        teacher_epochs=30,
    )
