"""K students of one architecture trained together: one data stream, one teacher lookup per batch.

T and λ only change the loss and lr only the optimizer step, so K jobs that share everything
else (task, epochs, batch size, seed, optimizer, schedule) can run as one: the K students are
stacked (``torch.func.stack_module_state``) and run with ``vmap`` over ``functional_call``,
each with its own temperature, kd_weight and learning rate as ``(K,)`` tensors; the optimizer
step is vectorised over the members with per-member state (AdamW, SGD with Nesterov momentum);
the cosine schedule scales every member's own lr. Each member trains exactly as
:func:`tempopt.distill.job.run_job` would train it alone (the same init, batches, order and
arithmetic), up to floating-point rounding of the batched matrix products.

Members can stop after any epoch (``on_epoch`` returns the indices to stop): the stack is
compacted, so a stopped member costs nothing more.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import torch
from torch import Tensor, nn
from torch.func import stack_module_state

from tempopt.distill.data import BatchSource
from tempopt.distill.device import autocast, resolve_device
from tempopt.distill.job import JobConfig, JobResult, TeacherSignal, sources
from tempopt.distill.losses import loss_class
from tempopt.distill.member_loss import MemberLoss
from tempopt.distill.member_optimizer import StackedOptimizer
from tempopt.distill.seeding import seed_everything
from tempopt.distill.stacked import stacked_forward
from tempopt.errors import SpecError
from tempopt.tasks import Task

MembersCallback = Callable[[int, list[int], list[float]], set[int]]
"""``on_epoch(epoch, members, accuracies)``: the running members' indices and val accuracies
after an epoch; returns the indices (of the original list) to stop."""


@dataclass(frozen=True)
class Member:
    """What differs between the members of one batch."""

    temperature: float
    kd_weight: float
    lr: float
    loss: str = "kd"
    loss_args: dict[str, Any] = field(default_factory=dict)


def can_batch(task: Task) -> str | None:
    """Why the students of ``task`` cannot share a pass (None if they can)."""
    kinds = {type(m) for m in task.student().modules()}
    if any(issubclass(k, nn.modules.batchnorm._BatchNorm) for k in kinds):
        return "the student has BatchNorm, whose running statistics vmap cannot keep per member"
    if any(issubclass(k, nn.Dropout) for k in kinds):
        return "the student has Dropout, whose random masks would differ from a lone job's"
    if task.augment is not None:
        return "the task augments its batches at random"
    return None


def fit_members(
    task: Task,
    base: JobConfig,
    members: list[Member],
    teacher: TeacherSignal | None,
    on_epoch: MembersCallback | None = None,
    measure_test: bool = False,
) -> list[JobResult]:
    """Train one student per member, together, and return one result per member (in order).

    With ``measure_test``, every member that trained to the end is also measured on the held-out
    split example by example, as :func:`tempopt.distill.run_job` does.

    A member whose loss becomes NaN or infinite leaves the stack with ``error`` set on its
    result; the others are not affected.

    Raises:
        SpecError: the members cannot share a pass (:func:`can_batch`), or none are given.
    """
    reason = can_batch(task) or next(
        (r for r in (loss_class(m.loss).batch_refusal for m in members) if r is not None), None
    )
    if reason is not None:
        raise SpecError(f"these trials cannot be batched: {reason}; set batch_trials: 1.")
    if not members:
        raise SpecError("fit_members needs at least one member.")
    if teacher is None and any(m.kd_weight > 0 for m in members):
        raise SpecError("a member with kd_weight > 0 needs a teacher; pass prepare_teacher(task).")
    start = time.perf_counter()
    device = resolve_device(base.device)
    students = []
    for _ in members:  # every member starts where a lone job with this seed starts
        seed_everything(base.seed)
        students.append(task.student().to(device))
    generator = seed_everything(base.seed)
    params, _ = stack_module_state(students)  # {name: (K, ...)}
    template = students[0]
    labelled, transfer, transfer_order, val = sources(task, base, device, teacher is not None)
    state = _State.new(members, params, device)
    optimizer = StackedOptimizer(base)
    forward = stacked_forward(template)
    history: dict[int, list[float]] = {i: [] for i in range(len(members))}
    learned: dict[int, dict[str, list[float]]] = {i: {} for i in range(len(members))}
    stopped: set[int] = set()
    errors: dict[int, str] = {}
    last_step = max(base.epochs * labelled.num_batches() - 1, 1)
    step = 0
    in_callbacks = 0.0  # seconds in on_epoch (the study's storage calls): not the members' compute
    for epoch in range(1, base.epochs + 1):
        factor = _schedule(base, epoch - 1)
        transfer_batches = transfer.batches(transfer_order) if transfer is not None else None
        losses = []
        for batch in labelled.batches(generator):
            extra = next(transfer_batches, None) if transfer_batches is not None else None
            with autocast(device, base.mixed_precision):
                logits = forward(state.params, batch.x)  # (K, B, C)
                t_logits = teacher.logits("train", batch, batch.x) if teacher is not None else None  # (B, C)
                if extra is not None:
                    assert teacher is not None and t_logits is not None
                    logits = torch.cat([logits, forward(state.params, extra.x)], dim=1)  # (K, B + B_t, C)
                    t_logits = torch.cat([t_logits, teacher.logits("transfer", extra, extra.x)])  # (B + B_t, C)
            loss = state.loss(logits.float(), t_logits, batch.y, step / last_step)  # (K,)
            grads = torch.autograd.grad(loss.sum(), state.trainable(), allow_unused=True)  # None: a variant's
            # state that no member used this step (λ = 0 members only): left as it is
            optimizer.step(state, grads, factor)
            losses.append(loss.detach())
            step += 1
        per_member = torch.stack(losses).sum(0)  # (K,)
        accuracies = _evaluate(forward, state.params, val, base.mixed_precision)
        for i, member in enumerate(state.members):
            history[member].append(accuracies[i])
        if teacher is not None:
            for member, values in zip(state.members, state.loss.learned(), strict=True):
                if members[member].kd_weight > 0:
                    for name, value in values.items():
                        learned[member].setdefault(name, []).append(value)
        for i, value in enumerate(per_member.tolist()):
            if not math.isfinite(value):  # this member fails alone; the others go on
                m = members[state.members[i]]
                errors[state.members[i]] = (
                    f"The loss became {value} in epoch {epoch} with T={m.temperature:g}, kd_weight={m.kd_weight:g}, "
                    f"lr={m.lr:g}; lower lr or the temperature range."
                )
        running = [m for m in state.members if m not in errors]
        stop = set()
        if on_epoch is not None and running:
            called = time.perf_counter()
            stop = on_epoch(epoch, running, [accuracies[state.members.index(m)] for m in running])
            in_callbacks += time.perf_counter() - called
        stopped |= stop & set(running)
        leaving = stop | set(errors)
        if leaving & set(state.members) and epoch < base.epochs:
            state.keep([i for i, m in enumerate(state.members) if m not in leaving])
            if not state.members:
                break
    results = [
        JobResult(
            final_accuracy=h[-1],
            best_accuracy=max(h),
            epochs_run=len(h),
            seconds=0.0,
            device=str(device),
            history=h,
            stopped_early=i in stopped,
            error=errors.get(i),
            learned=learned[i],
        )
        for i, h in history.items()
    ]
    if measure_test and state.members:
        held_out = task.test if task.test is not None else task.val
        correct = _correct(forward, state.params, BatchSource(held_out, 1024, device), base.mixed_precision)
        for row, member in enumerate(state.members):
            if member not in errors:
                r = results[member]
                r.test_correct = correct[row]
                r.test_accuracy = correct[row].float().mean().item() if correct.shape[1] else 0.0
                r.test_split = "test" if task.test is not None else "val"
    seconds = time.perf_counter() - start
    for r in results:
        r.seconds, r.compute_seconds = seconds, seconds - in_callbacks
    return results


@dataclass
class _State:
    """The running members: their stacked params, per-member values, loss and optimizer state."""

    members: list[int]
    params: dict[str, Tensor]
    lr: Tensor  # (K,)
    loss: MemberLoss
    slots: dict[str, dict[str, Tensor]]
    step: int = 0

    @classmethod
    def new(cls, members: list[Member], params: dict[str, Tensor], device: torch.device) -> _State:
        as_tensor = lambda values: torch.tensor(values, dtype=torch.float32, device=device)  # noqa: E731
        loss = MemberLoss(
            [m.loss for m in members],
            [m.loss_args for m in members],
            as_tensor([m.temperature for m in members]),
            as_tensor([m.kd_weight for m in members]),
        )
        return cls(
            members=list(range(len(members))),
            params={k: v.detach().clone().requires_grad_(True) for k, v in params.items()},
            lr=torch.tensor([m.lr for m in members], dtype=torch.float64, device=device),
            loss=loss,
            slots={},
        )

    def trainable(self) -> list[Tensor]:
        """The stacked params, then the loss variants' state (a learned T), in a fixed order."""
        return list(self.params.values()) + list(self.loss.state().values())

    def named(self) -> list[tuple[str, Tensor, Tensor | None]]:
        """``(name, tensor, rows)`` in :meth:`trainable`'s order. The stacked params cover every
        member (rows None) and decay; a variant's state covers its members' rows and never decays."""
        rows = self.loss.state_rows()
        return [(k, v, None) for k, v in self.params.items()] + [
            (f"loss.{k}", v, rows[k]) for k, v in self.loss.state().items()
        ]

    def keep(self, rows: list[int]) -> None:
        """Keep only the members at ``rows`` (positions in the current stack)."""
        index = torch.tensor(rows, dtype=torch.long, device=self.lr.device)
        self.members = [self.members[r] for r in rows]
        self.params = {k: v.detach().index_select(0, index).requires_grad_(True) for k, v in self.params.items()}
        self.lr = self.lr[index]
        kept = {f"loss.{k}": local for k, local in self.loss.keep(rows).items()}  # per variant, its own rows
        kept.update((k, index) for k in self.params)
        self.slots = {
            k: {n: s.index_select(0, kept[k]) for n, s in v.items()} for k, v in self.slots.items() if k in kept
        }


def _schedule(base: JobConfig, epoch: int) -> float:
    """The lr factor of ``epoch`` (0-based): torch's CosineAnnealingLR to zero, or 1."""
    if base.schedule == "constant":
        return 1.0
    if base.schedule != "cosine":
        raise SpecError(f"schedule {base.schedule!r} is not known; use cosine or constant.")
    return (1 + math.cos(math.pi * epoch / max(base.epochs, 1))) / 2


@torch.no_grad()
def _evaluate(forward: Callable, params: dict[str, Tensor], source: BatchSource, amp: bool) -> list[float]:
    """Every member's top-1 validation accuracy."""
    correct = None
    for batch in source.batches():
        with autocast(source.device, amp):
            logits = forward(params, batch.x)  # (K, B, C)
        hits = (logits.argmax(-1) == batch.y).sum(1)  # (K,)
        correct = hits if correct is None else correct + hits
    assert correct is not None
    return (correct.double() / max(len(source), 1)).tolist()


@torch.no_grad()
def _correct(forward: Callable, params: dict[str, Tensor], source: BatchSource, amp: bool) -> Tensor:
    """``(K, N)`` bool on the CPU: whether each member classifies each example right."""
    parts = []
    for batch in source.batches():
        with autocast(source.device, amp):
            logits = forward(params, batch.x)  # (K, B, C)
        parts.append((logits.argmax(-1) == batch.y).cpu())
    k = next(iter(params.values())).shape[0]
    return torch.cat(parts, dim=1) if parts else torch.zeros((k, 0), dtype=torch.bool)


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
