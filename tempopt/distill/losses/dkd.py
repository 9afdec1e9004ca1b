"""``dkd``: decoupled knowledge distillation (Zhao et al., 2022).

With ``p = softmax(z/T)`` and y the row's class, KD's KL splits exactly into a target part and
a non-target part:

    KL(p_t ‖ p_s) = TCKD + (1 - p_t,y)·NCKD,

TCKD the KL between the binary distributions ``[p_y, 1 - p_y]`` and NCKD the KL between the
distributions over the non-target classes alone. The factor ``1 - p_t,y`` silences NCKD exactly
where the teacher is confident; DKD weighs the two parts freely instead, ``α·TCKD + β·NCKD``,
times T² as in ``kd``, faded in over the first ``warmup`` of training.

Everything is computed from logsumexps, so a confident teacher (``p_y`` near 1) gives no
``log 0``: ``log(1 - p_y)`` is the logsumexp of the other classes minus that of all.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from tempopt.distill.losses._base import Arg, DistillLoss, all_targets, per_member
from tempopt.distill.losses._registry import register_loss


def _split(z: Tensor, mask: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Of ``(K, N, C)`` tempered logits: ``log p_y`` and ``log(1 - p_y)`` ``(K, N)``, and the
    non-target log-probabilities ``(K, N, C)`` (finite, meaningless at the target)."""
    everything = z.logsumexp(-1)  # (K, N)
    rest = z.masked_fill(mask, -torch.inf).logsumexp(-1)  # (K, N)
    target = (z * mask).sum(-1)  # (K, N)
    return target - everything, rest - everything, z - rest.unsqueeze(-1)


def tckd_nckd(student: Tensor, teacher: Tensor, targets: Tensor, temperature: Tensor) -> tuple[Tensor, Tensor]:
    """Every row's TCKD and NCKD, without T².

    Args:
        student: ``(K, N, C)`` student logits.
        teacher: ``(N, C)`` teacher logits.
        targets: ``(N,)`` every row's class.
        temperature: ``(K,)`` every member's T.

    Returns:
        ``(K, N)`` TCKD and ``(K, N)`` NCKD.
    """
    t = per_member(temperature, student)
    mask = F.one_hot(targets, student.shape[-1]).bool()  # (N, C)
    s_yes, s_no, s_rest = _split(student / t, mask)
    t_yes, t_no, t_rest = _split(teacher.unsqueeze(0) / t, mask)
    tckd = t_yes.exp() * (t_yes - s_yes) + t_no.exp() * (t_no - s_no)  # (K, N)
    weight = t_rest.masked_fill(mask, -torch.inf).exp()  # (K, N, C), 0 at the target
    nckd = (weight * (t_rest - s_rest)).sum(-1)  # (K, N)
    return tckd, nckd


@register_loss
class DecoupledKD(DistillLoss):
    """``warm·(α·TCKD + β·NCKD)·T²``, averaged over the rows."""

    name = "dkd"
    args = {
        "alpha": Arg(1.0, low=0.0, help="weight of the target-class term"),
        "beta": Arg(8.0, low=0.0, help="weight of the non-target term"),
        "warmup": Arg(0.1, low=0.0, high=1.0, help="share of training over which the loss fades in"),
    }
    default_temperature = 4.0
    needs_targets = True

    def warm(self, progress: float) -> Tensor:
        """``(K,)`` the fade-in factor: ``min(progress/warmup, 1)``, 1 when ``warmup == 0``."""
        warmup = self.values["warmup"]
        return torch.where(warmup > 0, (progress / warmup.clamp_min(1e-12)).clamp(max=1.0), 1.0)

    def soft(
        self, student: Tensor, teacher: Tensor, targets: Tensor | None, temperature: Tensor, progress: float
    ) -> Tensor:
        teacher = teacher.detach()
        tckd, nckd = tckd_nckd(student, teacher, all_targets(targets, teacher), temperature)  # (K, N)
        mixed = self.values["alpha"].unsqueeze(-1) * tckd + self.values["beta"].unsqueeze(-1) * nckd
        return self.warm(progress) * mixed.mean(-1) * temperature**2
