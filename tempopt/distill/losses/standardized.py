"""``standardized``: KD on z-scored logits (Sun et al., 2024).

Every logit vector, the student's and the teacher's, is standardised over its classes before
the usual ``T²·KL`` at the base T: ``(z - mean) / (std + eps)``. A student then matches the
*shape* of the teacher's logits, not their range: the loss is unchanged by shifting a row or
scaling it by a positive factor, so a small student is not asked to reproduce a large teacher's
logit magnitude.

``std`` is the population standard deviation (over C classes, as the paper's formula) or, with
``loss_args: {std: sample}``, the sample one (over C - 1, as the authors' ``logit.std()``). The
sample std is larger by ``sqrt(C / (C - 1))``, so its z-scores are smaller by that factor: the
same as the population variant at a temperature that much higher (22 % at 3 classes, 5 % at
10), with the soft term scaled by the base T² all the same.
"""

from __future__ import annotations

from torch import Tensor

from tempopt.distill.losses._base import Arg, DistillLoss, kl_rows, log_softmax, per_member
from tempopt.distill.losses._registry import register_loss

EPS = 1e-7


def standardize(z: Tensor, divisor: Tensor | float | None = None) -> Tensor:
    """Every row z-scored over the last dim: ``(..., C) -> (..., C)``.

    Args:
        z: logits.
        divisor: what the sum of squared deviations is divided by: C (None, the population
            variance), C - 1 (the sample one), or a tensor that broadcasts against ``z``.

    The variance is floored at ``EPS²`` before its root: a constant row (a zero-initialised head)
    would otherwise give ``0/0`` in the gradient of the std; it still maps to zeros.
    """
    centred = z - z.mean(-1, keepdim=True)
    n = z.shape[-1] if divisor is None else divisor
    std = (centred.square().sum(-1, keepdim=True) / n).clamp_min(EPS * EPS).sqrt()
    return centred / (std + EPS)


@register_loss
class StandardizedKD(DistillLoss):
    """``T²·KL(softmax(std(t)/T) ‖ softmax(std(s)/T))`` with ``std`` a per-row z-score."""

    name = "standardized"
    args = {
        "std": Arg(
            "population",
            choices=("population", "sample"),
            help="the z-score's standard deviation: over C classes (the paper) or C - 1 (the authors' code)",
        ),
    }
    default_temperature = 2.0

    def soft(
        self, student: Tensor, teacher: Tensor, targets: Tensor | None, temperature: Tensor, progress: float
    ) -> Tensor:
        divisor = per_member(student.shape[-1] - self.values["std"], student)  # (K, 1, 1): C or C - 1
        t = per_member(temperature, student)  # (K, 1, 1)
        log_s = log_softmax(standardize(student, divisor) / t)  # (K, N, C)
        log_t = log_softmax(standardize(teacher.detach().unsqueeze(0), divisor) / t)  # (K, N, C)
        return kl_rows(log_t, log_s).mean(-1) * temperature**2
