"""The Task contract: data, a teacher and a student."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torch import nn
from torch.utils.data import Dataset

from tempopt.tasks.augmentation import Augmentation

ModelFactory = Callable[[], nn.Module]


@dataclass
class Task:
    """Everything a distillation job needs besides its hyperparameters.

    Args:
        train: labelled training set of ``(x, y)`` pairs.
        val: validation set of ``(x, y)`` pairs; its accuracy is what a study maximises (search
            and pruning select on it).
        num_classes: number of classes of the logits.
        teacher: zero-argument callable returning a fresh teacher ``nn.Module``.
        student: zero-argument callable returning a fresh student ``nn.Module``.
        name: a short name, used in cache keys and reports.
        test: optional held-out set of ``(x, y)`` pairs, disjoint from everything else; only the
            verdict ("did distillation help?") is measured on it. Without it the verdict is
            measured on ``val``, the split the search selected on, and says it is optimistic.
        teacher_train: optional labelled set the teacher is trained on instead of ``train`` (a
            teacher trained on more labels than the student gets); disjoint from val and test.
        transfer: optional unlabelled inputs (a Dataset of ``x`` or ``(x, y)`` whose labels are
            ignored) on which the student also learns from the teacher. This is where
            distillation usually pays off: the teacher labels data the student could not use.
        teacher_checkpoint: optional path to a teacher ``state_dict``; loaded with
            ``weights_only=True`` instead of training the teacher.
        teacher_epochs: epochs to train the teacher when there is no checkpoint.
        teacher_lr: learning rate of the teacher's AdamW optimiser.
        augment: optional random augmentation of the training and transfer batches. A
            replayable :class:`~tempopt.tasks.augmentation.Augmentation` (``sample`` and
            ``apply``) lets the teacher's logits on fixed augmented views be computed once per
            study (the view bank, ``teacher.views``); a plain function of a batch ``x`` (on the
            job's device) works too, but then the teacher runs live on every batch of every trial.
        description: one line shown in reports.
        meta: free-form facts about the task (dataset sizes, arguments), stored with the study.
    """

    train: Dataset
    val: Dataset
    num_classes: int
    teacher: ModelFactory
    student: ModelFactory
    name: str = "custom"
    transfer: Dataset | None = None
    test: Dataset | None = None
    teacher_train: Dataset | None = None
    teacher_checkpoint: str | Path | None = None
    teacher_epochs: int = 30
    teacher_lr: float = 3e-3
    augment: Augmentation | Callable[[Any], Any] | None = None
    description: str = ""
    meta: dict[str, Any] = field(default_factory=dict)
