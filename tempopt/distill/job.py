"""The distillation job: train one student with (T, λ, lr) and report accuracy every epoch.

Read top to bottom: :func:`run_job` builds the student and calls :func:`fit`, the one training
loop, which the teacher's own training uses too (with λ = 0 and no teacher).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils.data import Dataset

from tempopt.distill.data import Batch, BatchSource
from tempopt.distill.device import autocast, resolve_device
from tempopt.distill.losses import DistillLoss, make_loss
from tempopt.distill.seeding import seed_everything
from tempopt.distill.views import AugmentedSource
from tempopt.errors import SpecError, TrainingError
from tempopt.tasks import Task

TRANSFER_STREAM = 7_919_000_001
"""Offset of the transfer order's seed from the job seed: a stream of its own."""

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
    loss_args: dict[str, Any] = field(default_factory=dict)  # the variant's own args (validated in the spec)
    device: str = "auto"
    mixed_precision: bool = True
    num_workers: int = 0
    views: int = 0  # with a replayable augmentation: the fixed views per example (0: fresh ones)
    view_seed: int = 0  # the seed of those views' parameters (the study's teacher seed)

    def describe(self) -> str:
        """``T=…, λ=…, lr=…``: how errors name a job."""
        variant = "" if self.loss == "kd" else f"loss={self.loss}, "
        return f"{variant}T={self.temperature:g}, kd_weight={self.kd_weight:g}, lr={self.lr:g}"


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
    test_accuracy: float | None = None
    test_split: str | None = None  # "test", or "val" for a task without a test split
    test_correct: Tensor | None = field(default=None, repr=False)  # (N,) bool, per held-out example
    error: str | None = None  # why a member of a batched run failed (fit_members); None when it did not
    learned: dict[str, list[float]] = field(default_factory=dict)  # a variant's learned values, per epoch
    compute_seconds: float | None = None  # training and evaluation alone: ``seconds`` less the epoch callbacks


class TeacherSignal:
    """What the training loop needs of a teacher: logits for a batch (see ``teacher.Teacher``)."""

    def logits(self, kind: str, batch: Batch, x: Tensor) -> Tensor:  # pragma: no cover
        raise NotImplementedError


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
    result = fit(student, task, config, use_teacher, on_epoch)
    if measure_test:
        held_out = task.test if task.test is not None else task.val
        device = resolve_device(config.device)
        correct = correct_examples(student, BatchSource(held_out, 1024, device), config.mixed_precision)
        result.test_correct = correct
        result.test_accuracy = correct.float().mean().item() if len(correct) else 0.0
        result.test_split = "test" if task.test is not None else "val"
    return result


def fit(
    model: nn.Module,
    task: Task,
    config: JobConfig,
    teacher: TeacherSignal | None,
    on_epoch: EpochCallback | None = None,
    train: Dataset | None = None,
) -> JobResult:
    """The training loop shared by students and the teacher.

    An epoch is one pass over the labelled set (``train``, default ``task.train``) in
    ``ceil(N / batch_size)`` optimizer steps, whatever ``kd_weight`` is. When there is a
    teacher and the task has a transfer set, every step also takes one transfer batch, sized so
    that an epoch is one pass over the transfer set too, and the soft term averages over the
    labelled and the transfer examples of the step. The labelled order and the transfer order
    come from separate random streams: the same seed gives the same labelled batches in the
    same order for every ``kd_weight``, so ``kd_weight → 0`` trains the student alone.
    """
    if config.epochs < 1:
        raise SpecError(f"epochs={config.epochs} must be at least 1; raise it.")
    start = time.perf_counter()
    device = resolve_device(config.device)
    generator = seed_everything(config.seed)
    model = model.to(device)
    loss_fn = make_loss(config.loss, config.loss_args, device)
    _check_bank(teacher, config)
    labelled, transfer, transfer_order, val = sources(task, config, device, teacher is not None, train)
    optimizer = _make_optimizer(config, list(model.parameters()), loss_fn.parameters())
    scheduler = _make_scheduler(config, optimizer)
    amp = config.mixed_precision
    last_step = max(config.epochs * labelled.num_batches() - 1, 1)

    history: list[float] = []
    learned: dict[str, list[float]] = {}
    stopped = False
    step = 0
    in_callbacks = 0.0  # seconds in on_epoch (the study's storage calls): not the job's compute
    for epoch in range(1, config.epochs + 1):
        model.train()
        losses: list[Tensor] = []  # summed once per epoch: an add per batch costs a kernel launch
        transfer_batches = transfer.batches(transfer_order) if transfer is not None else None
        for batch in labelled.batches(generator):
            extra = next(transfer_batches, None) if transfer_batches is not None else None
            loss = _step_loss(model, task, loss_fn, teacher, batch, extra, config, step / last_step)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            losses.append(loss.detach())
            step += 1
        if teacher is not None and config.kd_weight > 0:
            for name, value in loss_fn.learned()[0].items():
                learned.setdefault(name, []).append(value)
        if scheduler is not None:
            scheduler.step()
        loss_sum = torch.stack(losses).sum().item() if losses else 0.0
        if not math.isfinite(loss_sum):
            raise TrainingError(
                f"The loss became {loss_sum} in epoch {epoch} with {config.describe()}; "
                "lower lr or the temperature range."
            )
        history.append(evaluate(model, val, amp))
        called = time.perf_counter()
        wants_stop = on_epoch is not None and on_epoch(epoch, history[-1])
        in_callbacks += time.perf_counter() - called
        if wants_stop:
            stopped = True
            break

    return JobResult(
        final_accuracy=history[-1],
        best_accuracy=max(history),
        epochs_run=len(history),
        seconds=time.perf_counter() - start,
        compute_seconds=time.perf_counter() - start - in_callbacks,
        device=str(device),
        history=history,
        stopped_early=stopped,
        model=model,
        learned=learned,
    )


Source = BatchSource | AugmentedSource


def sources(
    task: Task, config: JobConfig, device: torch.device, with_teacher: bool, train: Dataset | None = None
) -> tuple[Source, Source | None, torch.Generator, BatchSource]:
    """The labelled, transfer (None without a teacher or a transfer set) and validation batches
    of a job, and the transfer order's own generator: one epoch is one pass over each. With an
    augmenting task the labelled and transfer batches come augmented (:mod:`tempopt.distill.views`)."""
    plain = BatchSource(
        task.train if train is None else train, config.batch_size, device, num_workers=config.num_workers
    )
    plain_transfer = None
    unlabelled = task.transfer
    if with_teacher and unlabelled is not None and len(unlabelled) > 0:  # type: ignore[arg-type]
        per_step = -(-len(unlabelled) // plain.num_batches())  # type: ignore[arg-type]
        plain_transfer = BatchSource(unlabelled, per_step, device, labelled=False, num_workers=config.num_workers)
    labelled: Source = plain
    transfer: Source | None = plain_transfer
    if task.augment is not None:
        views = config.views if train is None else 0  # the teacher's own training draws fresh views
        labelled = AugmentedSource(plain, task.augment, views, config.view_seed, config.seed, "train")
        if plain_transfer is not None:
            transfer = AugmentedSource(plain_transfer, task.augment, views, config.view_seed, config.seed, "transfer")
    transfer_order = torch.Generator().manual_seed(config.seed + TRANSFER_STREAM)
    val = BatchSource(task.val, max(config.batch_size, 1024), device)
    return labelled, transfer, transfer_order, val


def _check_bank(teacher: TeacherSignal | None, config: JobConfig) -> None:
    """A teacher's view bank must hold the views the job trains on."""
    bank = getattr(teacher, "bank", None)
    if bank is not None and (bank.views, bank.seed) != (config.views, config.view_seed):
        raise SpecError(
            f"the teacher's view bank holds {bank.views} views of seed {bank.seed}, the job trains on "
            f"{config.views} of seed {config.view_seed}; prepare the teacher with views={config.views} "
            f"and seed={config.view_seed}."
        )


def _step_loss(
    model: nn.Module,
    task: Task,
    loss_fn: DistillLoss,
    teacher: TeacherSignal | None,
    batch: Batch,
    extra: Batch | None,
    config: JobConfig,
    progress: float,
) -> Tensor:
    """The loss of one optimizer step: a labelled batch, plus a transfer batch when given.

    The labelled batch goes through the student on its own, exactly as with ``kd_weight = 0``
    (a BatchNorm student normalises it with its own statistics), then the transfer batch; the
    hard term sees the labelled rows only (the first ``B`` of the ``B + B_t`` logits), the soft
    term every row.
    """
    x = batch.x  # (B, ...), augmented by its source
    teacher_logits = teacher.logits("train", batch, x) if teacher is not None else None  # (B, C)
    with autocast(x.device, config.mixed_precision):
        student_logits = model(x)  # (B, C)
    if extra is not None:
        assert teacher is not None and teacher_logits is not None
        xt = extra.x  # (B_t, ...)
        teacher_logits = torch.cat([teacher_logits, teacher.logits("transfer", extra, xt)])  # (B + B_t, C)
        with autocast(x.device, config.mixed_precision):
            student_logits = torch.cat([student_logits, model(xt)])  # (B + B_t, C)
    return loss_fn(student_logits, teacher_logits, batch.y, config.temperature, config.kd_weight, progress)


@torch.no_grad()
def correct_examples(model: nn.Module, source: BatchSource, mixed_precision: bool = True) -> Tensor:
    """``(N,)`` bool on the CPU: whether ``model`` classifies each example of ``source`` right."""
    was_training = model.training
    model.eval()
    parts = []
    for batch in source.batches():
        with autocast(source.device, mixed_precision):
            logits = model(batch.x)  # (B, C)
        parts.append((logits.argmax(dim=-1) == batch.y).cpu())
    model.train(was_training)
    return torch.cat(parts) if parts else torch.zeros(0, dtype=torch.bool)


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


def _make_optimizer(config: JobConfig, params: list[nn.Parameter], loss_state: list[Tensor]) -> torch.optim.Optimizer:
    """The student's optimizer; a loss variant's state (a learned T) in a group without weight decay."""
    groups: list[dict[str, Any]] = [{"params": params}]
    if loss_state:
        groups.append({"params": loss_state, "weight_decay": 0.0})
    if config.optimizer == "adamw":
        return torch.optim.AdamW(groups, lr=config.lr, weight_decay=config.weight_decay)
    if config.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=config.lr, momentum=0.9, nesterov=True, weight_decay=config.weight_decay)
    raise SpecError(f"optimizer {config.optimizer!r} is not known; use adamw or sgd.")


def _make_scheduler(config: JobConfig, optimizer: torch.optim.Optimizer) -> torch.optim.lr_scheduler.LRScheduler | None:
    if config.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(config.epochs, 1))
    if config.schedule == "constant":
        return None
    raise SpecError(f"schedule {config.schedule!r} is not known; use cosine or constant.")
