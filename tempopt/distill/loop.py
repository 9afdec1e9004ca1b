"""The training loop: K ≥ 1 students of one architecture, one data stream, one teacher lookup per step.

T and λ only change the loss and lr only the optimizer step, so K jobs that share everything
else (task, epochs, batch size, seed, optimizer, schedule) train as one: the students are
stacked (:class:`~tempopt.distill.stack._students.StudentStack`), each member with its own T, λ and lr
as ``(K,)`` tensors, its own optimizer state and its own BatchNorm statistics, and dropout
masks drawn as its lone job draws them. A lone job is a batch of one; the teacher's own
training is one too, with λ = 0 and no teacher.

An epoch is one pass over the labelled set in ``ceil(N / batch_size)`` optimizer steps, whatever
λ is. With a teacher and a transfer set, every step also takes one transfer batch, sized so that
an epoch is one pass over the transfer set too, and the soft term averages over the labelled
and the transfer rows of the step. The labelled order and the transfer order come from separate
random streams: the same seed gives the same labelled batches in the same order for every λ, so
``kd_weight → 0`` trains the student alone.

Members can stop after any epoch (``on_epoch`` returns the indices to stop), and a member whose
loss becomes NaN or infinite fails alone (``error`` on its result): the stack is compacted, so
a member that left costs nothing more, and the others train on unchanged.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn
from torch.utils.data import Dataset

from tempopt.distill.config import JobConfig, JobResult, Member, MembersCallback, TeacherSignal
from tempopt.distill.data import Batch, BatchSource
from tempopt.distill.device import autocast, resolve_device
from tempopt.distill.evaluation import accuracies, hits
from tempopt.distill.seeding import seed_everything
from tempopt.distill.stack import MemberLoss, StackedOptimizer, StudentStack, lr_factor
from tempopt.distill.views import AugmentedSource
from tempopt.errors import SpecError
from tempopt.tasks import Task

TRANSFER_STREAM = 7_919_000_001
"""Offset of the transfer order's seed from the job seed: a stream of its own."""


def train(
    task: Task,
    base: JobConfig,
    members: list[Member],
    students: list[nn.Module],
    teacher: TeacherSignal | None,
    on_epoch: MembersCallback | None = None,
    train_set: Dataset | None = None,
    measure_test: bool = False,
) -> list[JobResult]:
    """Train ``students[i]`` as ``members[i]`` (in place, together) and return one result each.

    Args:
        task: data (``train_set``, default ``task.train``, is the labelled set).
        base: what the members share (their own T, λ, lr and loss variant are ignored here).
        members: what differs; ``students``: one fresh student per member, of one architecture.
        teacher: the teacher, or None when no member distils.
        on_epoch: after each epoch, with the running members' accuracies; returns those to stop.
        measure_test: also measure every member that did not fail on the held-out split
            (``task.test``, or ``task.val`` without one) example by example.

    Returns:
        Per member: its accuracies, why it stopped, and its student, trained to where it left.
    """
    if base.epochs < 1:
        raise SpecError(f"epochs={base.epochs} must be at least 1; raise it.")
    start = time.perf_counter()
    device = resolve_device(base.device)
    generator = seed_everything(base.seed)  # the labelled order
    stack = StudentStack([s.to(device) for s in students], base.seed)
    _check_bank(teacher, base)
    labelled, transfer, transfer_order, val = sources(task, base, device, teacher is not None, train_set)
    state = _State.new(members, stack, device)
    optimizer = StackedOptimizer(base)
    runs = [_Run() for _ in members]
    last_step = max(base.epochs * labelled.num_batches() - 1, 1)
    step = 0
    in_callbacks = 0.0  # seconds in on_epoch (the study's storage calls): not the members' compute
    for epoch in range(1, base.epochs + 1):
        factor = lr_factor(base, epoch - 1)
        transfer_batches = transfer.batches(transfer_order) if transfer is not None else None
        losses: list[Tensor] = []  # summed once per epoch: an add per batch costs a kernel launch
        for batch in labelled.batches(generator):
            extra = next(transfer_batches, None) if transfer_batches is not None else None
            loss = _step_loss(stack, state.loss, task, teacher, batch, extra, base.mixed_precision, step / last_step)
            grads = torch.autograd.grad(loss.sum(), state.trainable(), allow_unused=True)  # None: a variant's
            # state that no member used this step (λ = 0 members only): left as it is
            optimizer.step(state, grads, factor)
            losses.append(loss.detach())  # (K,)
            step += 1
        per_member = torch.stack(losses).sum(0).tolist()  # (K,)
        accuracy = accuracies(hits(stack.evaluate, len(stack), val, base.mixed_precision))  # (K,)
        learned = state.loss.learned() if teacher is not None else [{}] * len(stack)
        for row, member in enumerate(state.members):
            runs[member].record(accuracy[row], learned[row] if members[member].kd_weight > 0 else {})
            if not math.isfinite(per_member[row]):  # this member fails alone; the others go on
                runs[member].error = (
                    f"The loss became {per_member[row]} in epoch {epoch} with {members[member].describe()}; "
                    "lower lr or the temperature range."
                )
        running = [m for m in state.members if runs[m].error is None]
        stop: set[int] = set()
        if on_epoch is not None and running:
            called = time.perf_counter()
            stop = on_epoch(epoch, running, [accuracy[state.members.index(m)] for m in running]) & set(running)
            in_callbacks += time.perf_counter() - called
        for m in stop:
            runs[m].stopped = True
        staying = [row for row, m in enumerate(state.members) if m not in stop and runs[m].error is None]
        if not staying or epoch == base.epochs:
            break
        if len(staying) < len(state.members):
            _write(stack, state.members, students, [r for r in range(len(stack)) if r not in staying])
            state.keep(staying)
    stack.close()
    _write(stack, state.members, students, range(len(stack)))
    results = [run.result(device, student) for run, student in zip(runs, students, strict=True)]
    if measure_test:
        held_out = task.test if task.test is not None else task.val
        correct = hits(stack.evaluate, len(stack), BatchSource(held_out, 1024, device), base.mixed_precision).cpu()
        for row, member in enumerate(state.members):
            if runs[member].error is None:
                r = results[member]
                r.test_correct = correct[row]
                r.test_accuracy = correct[row].float().mean().item() if correct.shape[1] else 0.0
                r.test_split = "test" if task.test is not None else "val"
    seconds = time.perf_counter() - start
    for r in results:
        r.seconds, r.compute_seconds = seconds, seconds - in_callbacks
    return results


Source = BatchSource | AugmentedSource


def sources(
    task: Task, config: JobConfig, device: torch.device, with_teacher: bool, train: Dataset | None = None
) -> tuple[Source, Source | None, torch.Generator, BatchSource]:
    """The labelled, transfer (None without a teacher or a transfer set) and validation batches
    of a job, and the transfer order's own generator: one epoch is one pass over each. With an
    augmenting task the labelled and transfer batches come augmented (:mod:`tempopt.distill.views`):
    every member of a batch trains on the same views, as its lone job would."""
    labelled_set = task.train if train is None else train
    plain = BatchSource(labelled_set, config.batch_size, device, num_workers=config.num_workers)
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
    stack: StudentStack,
    loss: MemberLoss,
    task: Task,
    teacher: TeacherSignal | None,
    batch: Batch,
    extra: Batch | None,
    mixed_precision: bool,
    progress: float,
) -> Tensor:
    """``(K,)`` the members' losses of one optimizer step: a labelled batch, plus a transfer batch.

    The labelled batch goes through the students on its own, exactly as with ``kd_weight = 0``
    (a BatchNorm student normalises it with its own statistics), then the transfer batch; the
    hard term sees the labelled rows only (the first ``B`` of the ``B + B_t`` rows), the soft
    term every row. The transfer batch leaves the running statistics of a member with λ = 0 as
    they were, and draws its dropout masks from a stream of its own: such a member trains
    exactly as the student alone, which sees no transfer batch.
    """
    x, xt = batch.x, extra.x if extra is not None else None  # (B, ...), (B_t, ...): augmented by their sources
    with autocast(x.device, mixed_precision):
        logits = stack.forward(x)  # (K, B, C)
        t_logits = teacher.logits("train", batch, x) if teacher is not None else None  # (B, C)
        if extra is not None and xt is not None:
            assert teacher is not None and t_logits is not None
            distils = loss.kd_weight > 0  # (K,): a member with λ = 0 trains as alone, without transfer batches
            logits = torch.cat([logits, stack.forward(xt, transfer=True, update=distils)], dim=1)  # (K, B + B_t, C)
            t_logits = torch.cat([t_logits, teacher.logits("transfer", extra, xt)])  # (B + B_t, C)
    return loss(logits.float(), t_logits, batch.y, progress)


def _write(stack: StudentStack, members: list[int], students: list[nn.Module], rows: range | list[int]) -> None:
    """Copy the members at ``rows`` of the stack into their own students."""
    for row in rows:
        stack.write(row, students[members[row]])


@dataclass
class _Run:
    """One member's course: its accuracies and learned values per epoch, and how it ended."""

    history: list[float] = field(default_factory=list)
    learned: dict[str, list[float]] = field(default_factory=dict)
    stopped: bool = False
    error: str | None = None

    def record(self, accuracy: float, learned: dict[str, float]) -> None:
        self.history.append(accuracy)
        for name, value in learned.items():
            self.learned.setdefault(name, []).append(value)

    def result(self, device: torch.device, student: nn.Module) -> JobResult:
        return JobResult(
            final_accuracy=self.history[-1],
            best_accuracy=max(self.history),
            epochs_run=len(self.history),
            seconds=0.0,
            device=str(device),
            history=self.history,
            stopped_early=self.stopped,
            model=student,
            error=self.error,
            learned=self.learned,
        )


@dataclass
class _State:
    """The running members: their stack, per-member lr, loss and optimizer state."""

    members: list[int]
    stack: StudentStack
    lr: Tensor  # (K,) float64, as torch's schedulers keep lr as a Python float
    loss: MemberLoss
    slots: dict[str, dict[str, Tensor]]
    step: int = 0

    @classmethod
    def new(cls, members: list[Member], stack: StudentStack, device: torch.device) -> _State:
        as_tensor = lambda values: torch.tensor(values, dtype=torch.float32, device=device)  # noqa: E731
        loss = MemberLoss(
            [m.loss for m in members],
            [m.loss_args for m in members],
            as_tensor([m.temperature for m in members]),
            as_tensor([m.kd_weight for m in members]),
        )
        lr = torch.tensor([m.lr for m in members], dtype=torch.float64, device=device)
        return cls(members=list(range(len(members))), stack=stack, lr=lr, loss=loss, slots={})

    def trainable(self) -> list[Tensor]:
        """The stacked params, then the loss variants' state (a learned T), in a fixed order."""
        return list(self.stack.params.values()) + list(self.loss.state().values())

    def named(self) -> list[tuple[str, Tensor, Tensor | None]]:
        """``(name, tensor, rows)`` in :meth:`trainable`'s order. The stacked params cover every
        member (rows None) and decay; a variant's state covers its members' rows and never decays."""
        rows = self.loss.state_rows()
        return [(k, v, None) for k, v in self.stack.params.items()] + [
            (f"loss.{k}", v, rows[k]) for k, v in self.loss.state().items()
        ]

    def keep(self, rows: list[int]) -> None:
        """Keep only the members at ``rows`` (positions in the current stack)."""
        index = torch.tensor(rows, dtype=torch.long, device=self.lr.device)
        self.members = [self.members[r] for r in rows]
        self.stack.keep(rows)
        self.lr = self.lr[index]
        kept = {f"loss.{k}": local for k, local in self.loss.keep(rows).items()}  # per variant, its own rows
        kept.update((k, index) for k in self.stack.params)
        self.slots = {
            k: {n: s.index_select(0, kept[k]) for n, s in v.items()} for k, v in self.slots.items() if k in kept
        }
