"""The distillation job: train one student with (T, λ, lr) and report accuracy every epoch.

Read top to bottom: :func:`run_job` builds the student and calls :func:`fit`, the one training
loop, which the teacher's own training uses too (with λ = 0 and no teacher).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from tempopt.distill.data import Batch, BatchSource
from tempopt.distill.device import autocast, resolve_device
from tempopt.distill.losses import DistillLoss, make_loss
from tempopt.distill.seeding import seed_everything
from tempopt.errors import SpecError, TrainingError
from tempopt.tasks import Task

EpochCallback = Callable[[int, float], bool]
"""Called as ``on_epoch(epoch, val_accuracy)`` after each epoch (1-based); True stops the job."""


@dataclass(frozen=True)
class JobConfig:
    """The hyperparameters of one job. ``temperature``, ``kd_weight`` and ``lr`` are searched."""

    temperature: float
    kd_weight: float
    lr: float
    epochs: int
    batch_size: int = 128
    weight_decay: float = 0.0
    optimizer: str = "adamw"
    schedule: str = "cosine"
    seed: int = 0
    loss: str = "kd"
    device: str = "auto"
    mixed_precision: bool = True
    num_workers: int = 0

    def describe(self) -> str:
        """``T=…, λ=…, lr=…``: how errors name a job."""
        return f"T={self.temperature:g}, kd_weight={self.kd_weight:g}, lr={self.lr:g}"


@dataclass
class JobResult:
    """What a job measured."""

    final_accuracy: float
    best_accuracy: float
    epochs_run: int
    seconds: float
    device: str
    history: list[float] = field(default_factory=list)
    stopped_early: bool = False
    model: nn.Module | None = field(default=None, repr=False)


class TeacherSignal:
    """What the training loop needs of a teacher: logits for a batch (see ``teacher.Teacher``)."""

    def logits(self, kind: str, batch: Batch, x: Tensor) -> Tensor:  # pragma: no cover
        raise NotImplementedError


def run_job(
    task: Task,
    config: JobConfig,
    teacher: TeacherSignal | None = None,
    on_epoch: EpochCallback | None = None,
) -> JobResult:
    """Train a fresh student of ``task`` with ``config``.

    Args:
        task: data, teacher and student.
        config: hyperparameters; ``kd_weight = 0`` trains the student alone (the baseline).
        teacher: the prepared teacher (``prepare_teacher``); required when ``kd_weight > 0``.
        on_epoch: called after every epoch with the validation accuracy; returning True stops.

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
    return fit(student, task, config, use_teacher, on_epoch)


def fit(
    model: nn.Module,
    task: Task,
    config: JobConfig,
    teacher: TeacherSignal | None,
    on_epoch: EpochCallback | None = None,
) -> JobResult:
    """The training loop shared by students and the teacher."""
    if config.epochs < 1:
        raise SpecError(f"epochs={config.epochs} must be at least 1; raise it.")
    start = time.perf_counter()
    device = resolve_device(config.device)
    generator = seed_everything(config.seed)
    model = model.to(device)
    loss_fn = make_loss(config.loss)
    train = BatchSource(task.train, config.batch_size, device, num_workers=config.num_workers)
    transfer = None
    if teacher is not None and task.transfer is not None:
        transfer = BatchSource(
            task.transfer, config.batch_size, device, labelled=False, num_workers=config.num_workers
        )
    val = BatchSource(task.val, max(config.batch_size, 1024), device)
    optimizer = _make_optimizer(config, list(model.parameters()) + loss_fn.parameters())
    scheduler = _make_scheduler(config, optimizer)
    amp = config.mixed_precision

    history: list[float] = []
    stopped = False
    for epoch in range(1, config.epochs + 1):
        model.train()
        losses: list[Tensor] = []  # summed once per epoch: an add per batch costs a kernel launch
        for kind, batch in _epoch_batches(train, transfer, generator):
            x = task.augment(batch.x) if task.augment is not None else batch.x
            teacher_logits = teacher.logits(kind, batch, x) if teacher is not None else None
            with autocast(device, amp):
                student_logits = model(x)  # (B, C)
            loss = _batch_loss(loss_fn, kind, student_logits, teacher_logits, batch.y, config)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            losses.append(loss.detach())
        if scheduler is not None:
            scheduler.step()
        loss_sum = torch.stack(losses).sum().item() if losses else 0.0
        if not math.isfinite(loss_sum):
            raise TrainingError(
                f"The loss became {loss_sum} in epoch {epoch} with {config.describe()}; "
                "lower lr or the temperature range."
            )
        history.append(evaluate(model, val, amp))
        if on_epoch is not None and on_epoch(epoch, history[-1]):
            stopped = True
            break

    return JobResult(
        final_accuracy=history[-1],
        best_accuracy=max(history),
        epochs_run=len(history),
        seconds=time.perf_counter() - start,
        device=str(device),
        history=history,
        stopped_early=stopped,
        model=model,
    )


def _batch_loss(
    loss_fn: DistillLoss,
    kind: str,
    student_logits: Tensor,
    teacher_logits: Tensor | None,
    targets: Tensor | None,
    config: JobConfig,
) -> Tensor:
    """Labelled batches get the full loss; transfer batches only ``λ · soft term``."""
    if kind == "train":
        return loss_fn(student_logits, teacher_logits, targets, config.temperature, config.kd_weight)
    assert teacher_logits is not None
    return config.kd_weight * loss_fn.soft_term(student_logits, teacher_logits, config.temperature)


def _epoch_batches(
    train: BatchSource, transfer: BatchSource | None, generator: torch.Generator
) -> Iterator[tuple[str, Batch]]:
    """Labelled and transfer batches, interleaved at random."""
    if transfer is None:
        for batch in train.batches(generator):
            yield "train", batch
        return
    kinds = torch.cat(
        [torch.zeros(train.num_batches()), torch.ones(transfer.num_batches())]
    )[torch.randperm(train.num_batches() + transfer.num_batches(), generator=generator)]
    sources = {0: ("train", train.batches(generator)), 1: ("transfer", transfer.batches(generator))}
    for k in kinds.tolist():
        name, it = sources[int(k)]
        yield name, next(it)


@torch.no_grad()
def evaluate(model: nn.Module, source: BatchSource, mixed_precision: bool = True) -> float:
    """Top-1 accuracy of ``model`` over ``source``, in eval mode."""
    was_training = model.training
    model.eval()
    correct = torch.zeros((), dtype=torch.long, device=source.device)
    for batch in source.batches():
        with autocast(source.device, mixed_precision):
            logits = model(batch.x)  # (B, C)
        correct += (logits.argmax(dim=-1) == batch.y).sum()
    model.train(was_training)
    return correct.item() / max(len(source), 1)


def _make_optimizer(config: JobConfig, params: list[nn.Parameter]) -> torch.optim.Optimizer:
    if config.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    if config.optimizer == "sgd":
        return torch.optim.SGD(
            params, lr=config.lr, momentum=0.9, nesterov=True, weight_decay=config.weight_decay
        )
    raise SpecError(f"optimizer {config.optimizer!r} is not known; use adamw or sgd.")


def _make_scheduler(
    config: JobConfig, optimizer: torch.optim.Optimizer
) -> torch.optim.lr_scheduler.LRScheduler | None:
    if config.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(config.epochs, 1))
    if config.schedule == "constant":
        return None
    raise SpecError(f"schedule {config.schedule!r} is not known; use cosine or constant.")
