"""K students of one architecture trained together: one data stream, one teacher lookup per batch.

T and λ only change the loss and lr only the optimizer step, so K jobs that share everything
else (task, epochs, batch size, seed, optimizer, schedule) run as one pass of the training loop
(:func:`tempopt.distill.loop.train`), each member with its own temperature, kd_weight and
learning rate. Each member trains exactly as :func:`tempopt.distill.job.run_job` would train it
alone (the same init, batches, order, dropout masks and arithmetic), up to floating-point
rounding of the batched matrix products.

Members can stop after any epoch (``on_epoch`` returns the indices to stop): the stack is
compacted, so a stopped member costs nothing more.
"""

from __future__ import annotations

from torch import nn

from tempopt.distill.config import JobConfig, JobResult, Member, MembersCallback, TeacherSignal, member_config
from tempopt.distill.loop import train
from tempopt.distill.losses import loss_class
from tempopt.distill.seeding import seed_everything
from tempopt.distill.stack import MemberDropout
from tempopt.errors import SpecError
from tempopt.tasks import Task
from tempopt.tasks.augmentation import Augmentation

__all__ = ["Member", "MembersCallback", "can_batch", "fit_members", "member_config"]


def can_batch(task: Task) -> str | None:
    """Why the students of ``task`` cannot share a pass (None if they can)."""
    for kind in {type(m) for m in task.student().modules()}:
        if issubclass(kind, nn.modules.dropout._DropoutNd) and kind not in (nn.Dropout, MemberDropout):
            return f"the student has {kind.__name__}, whose masks are not drawn per member (nn.Dropout is)"
    if task.augment is not None and not isinstance(task.augment, Augmentation):
        return (
            "the task augments with a plain function, whose random draws would differ from a lone job's; "
            "make it a tempopt.Augmentation"
        )
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

    With ``measure_test``, every member that did not fail is also measured on the held-out
    split example by example, as :func:`tempopt.distill.run_job` does.

    A member whose loss becomes NaN or infinite leaves the stack with ``error`` set on its
    result; the others are not affected.

    Raises:
        SpecError: the members cannot share a pass (:func:`can_batch`, a loss variant's
            ``batch_refusal``), or none are given. A batch of one is never refused.
    """
    refusals = (loss_class(m.loss).batch_refusal for m in members)
    reason = (can_batch(task) or next((r for r in refusals if r is not None), None)) if len(members) > 1 else None
    if reason is not None:
        raise SpecError(f"these trials cannot be batched: {reason}; set batch_trials: 1.")
    if not members:
        raise SpecError("fit_members needs at least one member.")
    if teacher is None and any(m.kd_weight > 0 for m in members):
        raise SpecError("a member with kd_weight > 0 needs a teacher; pass prepare_teacher(task).")
    students = []
    for _ in members:  # every member starts where a lone job with this seed starts
        seed_everything(base.seed)
        students.append(task.student())
    return train(task, base, members, students, teacher, on_epoch, measure_test=measure_test)
