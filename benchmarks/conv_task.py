"""A task with a large conv teacher (about 1.2 M parameters) and a small MLP student, for
benchmarks/vs_optuna_script.py: digits as 1×8×8 images. Found as ``conv_task:make_task``."""

from __future__ import annotations

from torch import Tensor, nn

from tempopt.tasks import Task, load_task
from tempopt.tasks.models import MLP


class ConvTeacher(nn.Module):
    """Three 3×3 conv layers (64, 128, 256 channels) over 8×8 digits, then a 512-unit head."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 64, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(64, 128, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(128, 256, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
        )
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(256 * 16, 256), nn.ReLU(), nn.Linear(256, 10))

    def forward(self, x: Tensor) -> Tensor:  # (B, 64) -> (B, 10)
        return self.head(self.features(x.view(-1, 1, 8, 8)))


def make_task(labelled: int | None = None, student_hidden: int = 16, teacher_epochs: int = 15) -> Task:
    task = load_task("digits", {"labelled": labelled, "student_hidden": student_hidden})
    task.teacher = ConvTeacher
    task.student = lambda: MLP(64, [student_hidden], 10)
    task.teacher_epochs = teacher_epochs
    task.name = "digits-conv"
    return task
