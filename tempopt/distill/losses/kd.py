"""``kd``: Hinton et al.'s soft term, ``T²·KL(softmax(t/T) ‖ softmax(s/T))``.

Both logits are divided by T, and the soft term is scaled by T² so that its gradient keeps the
same magnitude whatever T is (Hinton et al., 2015, section 2); without that, T and the loss
weight become entangled.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from tempopt.distill.losses._base import DistillLoss, kl_rows, log_softmax, per_member
from tempopt.distill.losses._registry import register_loss


def soft_kd_term(student_logits: Tensor, teacher_logits: Tensor, temperature: float) -> Tensor:
    """``T^2 * KL(softmax(teacher/T) || softmax(student/T))`` of one job, averaged over the batch.

    Args:
        student_logits: ``(B, C)`` logits of the student.
        teacher_logits: ``(B, C)`` logits of the teacher; no gradient flows into them.
        temperature: the softening temperature T > 0.

    Returns:
        A scalar tensor.
    """
    log_p_student = F.log_softmax(student_logits.float() / temperature, dim=-1)  # (B, C)
    log_p_teacher = F.log_softmax(teacher_logits.detach().float() / temperature, dim=-1)  # (B, C)
    kl = F.kl_div(log_p_student, log_p_teacher, reduction="batchmean", log_target=True)
    return kl * temperature**2


def kd_soft(student: Tensor, teacher: Tensor, temperature: Tensor) -> Tensor:
    """Every member's ``T²·KL`` at its own T: ``(K, N, C)``, ``(N, C)``, ``(K,)`` -> ``(K,)``."""
    t = per_member(temperature, student)
    log_s = log_softmax(student / t)  # (K, N, C)
    log_t = log_softmax(teacher.unsqueeze(0) / t)  # (K, N, C)
    return kl_rows(log_t, log_s).mean(-1) * temperature**2


@register_loss
class KDLoss(DistillLoss):
    """Hinton et al.'s soft term: ``T^2 * KL(softmax(t/T) || softmax(s/T))``."""

    name = "kd"

    def soft(
        self, student: Tensor, teacher: Tensor, targets: Tensor | None, temperature: Tensor, progress: float
    ) -> Tensor:
        return kd_soft(student, teacher.detach(), temperature)
