"""The distillation job: train one student with (T, λ, lr) and report accuracy every epoch.

A lone job is a batch of one: :func:`run_job` builds the student and :func:`fit` trains it
through the one training loop (:func:`tempopt.distill.loop.train`), which the teacher's own
training uses too (with λ = 0 and no teacher), as do K trials trained together
(:func:`tempopt.distill.members.fit_members`).
"""

from __future__ import annotations

from torch import nn
from torch.utils.data import Dataset

from tempopt.distill import loop
from tempopt.distill.config import EpochCallback, JobConfig, JobResult, Member, TeacherSignal, member_of
from tempopt.distill.evaluation import correct_examples, evaluate
from tempopt.distill.loop import TRANSFER_STREAM, sources
from tempopt.distill.seeding import seed_everything
from tempopt.errors import SpecError, TrainingError
from tempopt.tasks import Task

__all__ = [
    "TRANSFER_STREAM",
    "EpochCallback",
    "JobConfig",
    "JobResult",
    "Member",
    "TeacherSignal",
    "correct_examples",
    "evaluate",
    "fit",
    "run_job",
    "sources",
]


def run_job(
    task: Task,
    config: JobConfig,
    teacher: TeacherSignal | None = None,
    on_epoch: EpochCallback | None = None,
    measure_test: bool = False,
) -> JobResult:
    """Train a fresh student of ``task`` with ``config``.

    Args:
        task: data, teacher and student.
        config: hyperparameters; ``kd_weight = 0`` trains the student alone (the baseline).
        teacher: the prepared teacher (``prepare_teacher``); required when ``kd_weight > 0``.
        on_epoch: called after every epoch with the validation accuracy; returning True stops.
        measure_test: after training, also measure the held-out split (``task.test``, or
            ``task.val`` when the task has none) example by example.

    Returns:
        The final and best validation accuracy, epochs run, seconds spent, and the student.

    Raises:
        TrainingError: if the loss becomes NaN or infinite.
    """
    if config.kd_weight > 0 and teacher is None:
        raise SpecError(f"kd_weight={config.kd_weight:g} needs a teacher; pass prepare_teacher(task).")
    seed_everything(config.seed)
    student = task.student()
    use_teacher = teacher if config.kd_weight > 0 else None
    return fit(student, task, config, use_teacher, on_epoch, measure_test=measure_test)


def fit(
    model: nn.Module,
    task: Task,
    config: JobConfig,
    teacher: TeacherSignal | None,
    on_epoch: EpochCallback | None = None,
    train: Dataset | None = None,
    measure_test: bool = False,
) -> JobResult:
    """Train ``model`` (in place) as a batch of one; ``train`` replaces ``task.train`` (the
    teacher's own training set).

    Raises:
        TrainingError: if the loss becomes NaN or infinite.
    """

    def stop(epoch: int, running: list[int], accuracies: list[float]) -> set[int]:
        return {0} if on_epoch is not None and on_epoch(epoch, accuracies[0]) else set()

    result = loop.train(task, config, [member_of(config)], [model], teacher, stop, train, measure_test)[0]
    if result.error is not None:
        raise TrainingError(result.error)
    return result
