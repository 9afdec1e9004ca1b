"""What a job is asked (:class:`JobConfig`, a batch's :class:`Member`) and what it measured
(:class:`JobResult`): the vocabulary of the training loop and of its callers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from torch import Tensor, nn

from tempopt.distill.data import Batch

EpochCallback = Callable[[int, float], bool]
"""Called as ``on_epoch(epoch, val_accuracy)`` after each epoch (1-based); True stops the job."""

MembersCallback = Callable[[int, list[int], list[float]], set[int]]
"""``on_epoch(epoch, members, accuracies)``: the running members' indices and val accuracies
after an epoch; returns the indices (of the original list) to stop."""


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
        return member_of(self).describe()


@dataclass(frozen=True)
class Member:
    """What differs between the members of one batch."""

    temperature: float
    kd_weight: float
    lr: float
    loss: str = "kd"
    loss_args: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        """``T=…, λ=…, lr=…``: how errors name a member (as its lone job)."""
        variant = "" if self.loss == "kd" else f"loss={self.loss}, "
        return f"{variant}T={self.temperature:g}, kd_weight={self.kd_weight:g}, lr={self.lr:g}"


def member_of(config: JobConfig) -> Member:
    """The member a lone job is: its batch of one."""
    return Member(config.temperature, config.kd_weight, config.lr, config.loss, dict(config.loss_args))


def member_config(base: JobConfig, member: Member) -> JobConfig:
    """The lone job a member trains like."""
    return replace(
        base,
        temperature=member.temperature,
        kd_weight=member.kd_weight,
        lr=member.lr,
        loss=member.loss,
        loss_args=dict(member.loss_args),
    )


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
    error: str | None = None  # why the member failed (its loss became NaN); None when it did not
    learned: dict[str, list[float]] = field(default_factory=dict)  # a variant's learned values, per epoch
    compute_seconds: float | None = None  # training and evaluation alone: ``seconds`` less the epoch callbacks


class TeacherSignal:
    """What the training loop needs of a teacher: logits for a batch (see ``teacher.Teacher``)."""

    def logits(self, kind: str, batch: Batch, x: Tensor) -> Tensor:  # pragma: no cover
        raise NotImplementedError
