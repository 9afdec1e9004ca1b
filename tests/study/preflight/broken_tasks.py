"""A task module as a user writes one, with one mistake per ``case`` (``task_args: {case: ...}``).

``make_task(case="ok")`` is a correct four-class task of tensor datasets; every other case
makes the one mistake its name says. tests/study/preflight/test_preflight_cases.py runs each through
``tempopt run``.
"""

from __future__ import annotations

import sys

import torch
from torch import nn
from torch.utils.data import TensorDataset

from tempopt import Task

CLASSES = 4
FEATURES = 6


def _data(n: int = 40) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return torch.randn(n, FEATURES, generator=g), torch.arange(n) % CLASSES  # (n, 6), (n,)


def _linear(outputs: int = CLASSES):
    return lambda: nn.Linear(FEATURES, outputs)


class RaisingStudent(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.head = nn.Linear(FEATURES, CLASSES)

    def forward(self, x):
        h = self.head(x)
        return h.view(3, -1, 7)  # a reshape that fits no batch


class PairStudent(nn.Module):  # returns (logits, hidden), as Hugging Face models do
    def __init__(self) -> None:
        super().__init__()
        self.head = nn.Linear(FEATURES, CLASSES)

    def forward(self, x):
        return self.head(x), x


class DictStudent(PairStudent):
    def forward(self, x):
        return {"hidden": x, "logits": self.head(x)}


class NanTeacher(PairStudent):
    def forward(self, x):
        return self.head(x) / 0 * 0  # 0/0: NaN


class FixedStudent(nn.Module):  # no parameters: nothing to train
    def forward(self, x):
        return x[:, :CLASSES] * 2


def _batchnorm_student() -> nn.Module:
    return nn.Sequential(nn.Linear(FEATURES, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, CLASSES))


def exiting_factory() -> nn.Module:
    sys.exit(0)


def make_task(case: str = "ok") -> Task:
    x, y = _data()
    fields = dict(
        train=TensorDataset(x, y),
        val=TensorDataset(x, y),
        num_classes=CLASSES,
        teacher=_linear(),
        student=_linear(),
        name="broken",
        teacher_epochs=2,
    )
    if case == "student raises":
        fields["student"] = RaisingStudent
    elif case == "student outputs 3":
        fields["student"] = _linear(3)
    elif case == "teacher outputs 3":
        fields["teacher"] = _linear(3)
    elif case == "num_classes 10":
        fields["num_classes"] = 10
    elif case == "labels above":
        fields["train"] = TensorDataset(x, y + 1)
    elif case == "labels below":
        fields["val"] = TensorDataset(x, y - 1)
    elif case == "float labels":
        fields["train"] = TensorDataset(x, y.float())
    elif case == "one-hot labels":
        fields["train"] = TensorDataset(x, nn.functional.one_hot(y, CLASSES).float())
    elif case == "nan inputs":
        x = x.clone()
        x[7, 2] = float("nan")
        fields["train"] = TensorDataset(x, y)
    elif case == "nan teacher":
        fields["teacher"] = NanTeacher
    elif case == "empty train":
        fields["train"] = TensorDataset(x[:0], y[:0])
    elif case == "empty val":
        fields["val"] = TensorDataset(x[:0], y[:0])
    elif case == "tuple":
        fields["student"] = PairStudent
    elif case == "dict":
        fields["student"] = DictStudent
    elif case == "no parameters":
        fields["student"] = FixedStudent
    elif case == "one class":
        fields.update(num_classes=1, teacher=_linear(1), student=_linear(1))
        fields["train"] = fields["val"] = TensorDataset(x, y * 0)
    elif case == "float64":
        fields["train"] = TensorDataset(x.double(), y)
        fields["val"] = TensorDataset(x.double(), y)
    elif case == "float64 beyond float32":
        fields["train"] = TensorDataset(x.double() * 1e300, y)
    elif case == "batchnorm":
        x, y = _data(33)  # batch size 32: a last batch of one
        fields.update(train=TensorDataset(x, y), student=_batchnorm_student)
    elif case == "exit in factory":
        fields["student"] = exiting_factory
    elif case == "exit in make_task":
        sys.exit(0)
    elif case != "ok":
        raise ValueError(f"no case {case!r}")
    return Task(**fields)  # type: ignore[arg-type]
