"""``standardized``: KD on z-scored logits (Sun et al., 2024).

Every logit vector, the student's and the teacher's, is standardised over its classes before
the usual ``T²·KL`` at the base T: ``(z - mean) / (std + eps)``, std the population one. A
student then matches the *shape* of the teacher's logits, not their range: the loss is
unchanged by shifting a row or scaling it by a positive factor, so a small student is not asked
to reproduce a large teacher's logit magnitude.
"""

from __future__ import annotations

from torch import Tensor

from tempopt.distill.losses import register_loss
from tempopt.distill.losses._base import DistillLoss
from tempopt.distill.losses.kd import kd_soft

EPS = 1e-7


def standardize(z: Tensor) -> Tensor:
    """Every row z-scored over the last dim: ``(..., C) -> (..., C)``.

    The variance is floored at ``EPS²`` before its root: a constant row (a zero-initialised head)
    would otherwise give ``0/0`` in the gradient of the std; it still maps to zeros.
    """
    centred = z - z.mean(-1, keepdim=True)
    std = centred.square().mean(-1, keepdim=True).clamp_min(EPS * EPS).sqrt()
    return centred / (std + EPS)


@register_loss
class StandardizedKD(DistillLoss):
    """``T²·KL(softmax(std(t)/T) ‖ softmax(std(s)/T))`` with ``std`` a per-row z-score."""

    name = "standardized"
    default_temperature = 2.0

    def soft(
        self, student: Tensor, teacher: Tensor, targets: Tensor | None, temperature: Tensor, progress: float
    ) -> Tensor:
        return kd_soft(standardize(student), standardize(teacher.detach()), temperature)
